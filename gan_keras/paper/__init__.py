"""The paper's experiments: the theory of Section 4 checked numerically, Fig. 1, Figs. 2 and 3.

One idea per module, each readable top to bottom:

- `toy`: the 1-D toy problem and Section 4's exact quantities (densities,
  D*, JSD, C(G)), shared by the theory experiments;
- `value_function`: V(D, G), and D trained alone to maximise it;
- `dstar`: a trained D against D* (Proposition 1), V against C(G) (Theorem 1);
- `gradients`: G's gradient, minimax vs non-saturating loss, while D learns;
- `figure1`: Fig. 1 redrawn, a 1-D GAN over training;
- `theory`: all three theory plots and `theory_results.json` (`gan-keras-theory`);
- `plotting`: matplotlib (Agg) and saving a PNG, for the plots above;
- `figures`: Figs. 2 and 3 from a trained model dir (`gan-keras-figures`).
"""

__all__ = []
