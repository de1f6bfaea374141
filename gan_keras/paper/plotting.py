"""Matplotlib for the theory plots: pyplot on the Agg backend, and saving a figure as a PNG.

matplotlib is imported on first use, so the experiments themselves (and
importing their modules) do not need it.

Example:

>>> from gan_keras.paper.plotting import pyplot, save_png
>>> fig, ax = pyplot().subplots()
>>> save_png(fig, "/tmp/plot.png")
'/tmp/plot.png'
"""

import os

__all__ = ["pyplot", "save_png"]


def pyplot():
    """`matplotlib.pyplot`, on the non-interactive Agg backend (no display needed).

    Example:

    >>> fig, axes = pyplot().subplots(1, 2)
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_png(fig, path):
    """Saves `fig` as a PNG (110 dpi) at `path`, making its directory; closes it and returns `path`.

    Example:

    >>> save_png(pyplot().figure(), "/tmp/figures/empty.png")
    '/tmp/figures/empty.png'
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fig.savefig(path, dpi=110)
    pyplot().close(fig)
    return path
