"""The paper's experiments: the theory of Section 4 checked numerically, Fig. 1, Figs. 2 and 3."""

__all__ = []
