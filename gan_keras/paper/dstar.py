"""A trained D against the optimal D* = p_data / (p_data + p_g) (Proposition 1 and Theorem 1).

D, a `points` discriminator, is trained alone (`train_discriminator`) against
two fixed 1-D densities, then read off on a grid and compared with D*:

- (a) p_data = N(1, 1) against a wider p_g = N(-1, 1.5): D* rises above 1/2
  near the data and falls back to 0 in both tails, and D should follow it;
  its V should reach C(G) = -log 4 + 2 JSD(p_data || p_g);
- (b) p_g = p_data = N(0, 1): D* = 1/2 everywhere, and V = -log 4.

Example:

>>> from gan_keras.paper import dstar
>>> results = dstar.dstar_experiment(steps=2000)  # doctest: +SKIP
>>> dstar.plot_dstar(results, "docs/theory_dstar.png")  # doctest: +SKIP
'docs/theory_dstar.png'
"""

import numpy as np

from gan_keras.paper.plotting import pyplot, save_png
from gan_keras.paper.toy import density, discriminate, optimal_discriminator, optimal_value, tfd
from gan_keras.paper.value_function import train_discriminator

__all__ = [
    "DSTAR_DATA",
    "DSTAR_G",
    "DSTAR_GRID",
    "MASS_THRESHOLD",
    "compare_with_optimum",
    "dstar_experiment",
    "plot_dstar",
]

# Proposition 1's check: p_data = N(1, 1) against a wider p_g = N(-1, 1.5), so
# D* rises above 1/2 near the data and falls back to 0 in both tails.
DSTAR_DATA = (1.0, 1.0)
DSTAR_G = (-1.0, 1.5)
DSTAR_GRID = (-5.0, 5.0)
# D is compared with D* where the mixture (p_data + p_g) / 2 is at least this
# (about the central 93% of the mixture's mass here): D is only trained on
# samples, so it is unconstrained where neither density puts any.
MASS_THRESHOLD = 0.05


def compare_with_optimum(trained, p_data, p_g, x, mass_threshold=MASS_THRESHOLD):
    """How far a trained D is from D*, and its V from C(G) = -log 4 + 2 JSD.

    Args:
        trained: a `TrainedDiscriminator` (from `train_discriminator`).
        p_data, p_g: the densities it was trained against.
        x: the grid, shape `[n]`.
        mass_threshold: where the mixture density is at least this, D is
            compared with D* point by point.

    Returns:
        A dict: `max_abs_error` (max |D - D*| where the mixture density is
        at least `mass_threshold`), `mean_abs_error` (|D - D*| weighted by the
        mixture density on the whole grid), `value` (the trained D's V),
        `optimal_value` (C(G), `optimal_value(p_data, p_g)`), `dstar_min`/`dstar_max`
        (the range of D* where it was compared), `max_abs_d_minus_half` (max
        |D - 1/2| there) and `mass_threshold`.

    Example:

    >>> t = train_discriminator(tfd.Normal(1., 1.), tfd.Normal(-1., 1.5))  # doctest: +SKIP
    >>> compare_with_optimum(t, tfd.Normal(1., 1.), tfd.Normal(-1., 1.5), x)["max_abs_error"]  # doctest: +SKIP
    0.01
    """
    x = np.asarray(x, np.float64)
    d_star = optimal_discriminator(p_data, p_g, x)
    d = discriminate(trained.discriminator, x)
    mixture = 0.5 * (density(p_data, x) + density(p_g, x))
    mass = mixture >= mass_threshold
    error = np.abs(d - d_star)
    return dict(
        max_abs_error=float(error[mass].max()),
        mean_abs_error=float(np.sum(error * mixture) / np.sum(mixture)),
        value=trained.value,
        optimal_value=optimal_value(p_data, p_g),
        dstar_min=float(d_star[mass].min()),
        dstar_max=float(d_star[mass].max()),
        max_abs_d_minus_half=float(np.abs(d - 0.5)[mass].max()),
        mass_threshold=mass_threshold,
    )


def dstar_experiment(steps=2000, seed=0):
    """Trains D for `steps` against (a) N(1, 1) vs N(-1, 1.5), (b) N(0, 1) vs itself.

    Returns `{"different": ..., "same": ...}`: each `compare_with_optimum(...)`
    plus the curves to plot (`x`, `p_data`, `p_g`, `d_star`, `d`).

    Example:

    >>> round(dstar_experiment(steps=2000)["same"]["value"], 4)  # doctest: +SKIP
    -1.3863
    """
    x = np.linspace(*DSTAR_GRID, 401)
    cases = {
        "different": (tfd.Normal(*DSTAR_DATA), tfd.Normal(*DSTAR_G)),
        "same": (tfd.Normal(0.0, 1.0), tfd.Normal(0.0, 1.0)),
    }
    results = {}
    for name, (p_data, p_g) in cases.items():
        trained = train_discriminator(p_data, p_g, steps=steps, seed=seed)
        results[name] = dict(
            compare_with_optimum(trained, p_data, p_g, x),
            steps=steps,
            x=x,
            p_data=density(p_data, x),
            p_g=density(p_g, x),
            d_star=optimal_discriminator(p_data, p_g, x),
            d=discriminate(trained.discriminator, x),
        )
    return results


def plot_dstar(results, path):
    """Draws `dstar_experiment`'s results (D vs D*; D ~ 1/2 at p_g = p_data) as a PNG.

    One panel per case: p_data black dotted, p_g green, D* orange, the
    trained D blue dashed; each title gives V, C(G) and max |D - D*|.
    Returns `path`.

    Example:

    >>> plot_dstar(dstar_experiment(), "docs/theory_dstar.png")  # doctest: +SKIP
    'docs/theory_dstar.png'
    """
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    titles = {
        "different": "p_data = N(1, 1), p_g = N(-1, 1.5)",
        "same": "p_g = p_data = N(0, 1)",
    }
    for ax, (name, r) in zip(axes, results.items()):
        ax.plot(r["x"], r["p_data"], "k:", lw=2, label="p_data")
        ax.plot(r["x"], r["p_g"], "g-", lw=1.5, label="p_g")
        ax.plot(r["x"], r["d_star"], color="orange", lw=3, alpha=0.6, label="D* = p_data/(p_data+p_g)")
        ax.plot(r["x"], r["d"], "b--", lw=1.5, label=f"trained D ({r['steps']} steps)")
        ax.set_ylim(0, 1.05)
        ax.set_title(
            f"{titles.get(name, name)}\nV = {r['value']:.4f}, C(G) = {r['optimal_value']:.4f}, "
            f"max|D-D*| = {r['max_abs_error']:.3f}",
            fontsize=9,
        )
        ax.set_xlabel("x")
    axes[0].legend(loc="upper left", fontsize=7)
    fig.tight_layout()
    return save_png(fig, path)
