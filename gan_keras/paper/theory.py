"""The paper's theory (Section 4) checked numerically, and its Fig. 1 redrawn: all of it at once.

    gan-keras-theory --out=docs [--seed=0] [--nomnist]

(the CLI, `gan_keras/cli/theory.py`, calls `run_all`) writes to `--out`:

- `theory_dstar.png`: a trained D against D* = p_data / (p_data + p_g), and
  D ~ 1/2 with V ~ -log 4 at p_g = p_data (`dstar`);
- `theory_gradients.png`: the generator's gradient norm under the minimax and
  the non-saturating loss while D learns to reject G's samples, on the
  paper's MNIST models and on the 1-D toy (`gradients`);
- `theory_fig1.png`: Fig. 1, a 1-D GAN over training (`figure1`);
- `theory_results.json`: the measured numbers (docs/theory.md quotes them).

Everything uses the package's own models (`arch="points"` for the 1-D
problems, the paper's MLPs for MNIST), losses and `GAN`; the distributions
are `tfp.distributions` (`toy`).

Example:

>>> from gan_keras.paper.theory import run_all
>>> results = run_all("docs", mnist=False)  # doctest: +SKIP
>>> sorted(results)  # doctest: +SKIP
['dstar', 'figure1', 'gradients', 'seed']
"""

import os

import numpy as np

from gan_keras import data as data_lib
from gan_keras.paper.dstar import dstar_experiment, plot_dstar
from gan_keras.paper.figure1 import plot_figure1, train_figure1
from gan_keras.paper.gradients import mnist_gradient_norms, plot_gradients, toy_gradient_norms
from gan_keras.paper.toy import FIG1_DATA, TheoryError
from gan_keras.utils.cli import first_line
from gan_keras.utils.storage import write_json

__all__ = ["DSTAR_FILE", "FIG1_FILE", "GRADIENTS_FILE", "RESULTS_FILE", "TheoryError", "run_all"]

FIG1_FILE = "theory_fig1.png"
DSTAR_FILE = "theory_dstar.png"
GRADIENTS_FILE = "theory_gradients.png"
RESULTS_FILE = "theory_results.json"


def _plain(value):
    """JSON-able copy: arrays dropped (they are plotted), floats rounded."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if not isinstance(v, np.ndarray)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float):
        return round(value, 6)
    return value


def run_all(out_dir, seed=0, mnist=True, data_dir=None, dstar_steps=2000, mnist_d_steps=200):
    """Runs every check, writes the three PNGs and `theory_results.json` to `out_dir`.

    Returns the results dict (as written to the JSON).

    Raises:
        TheoryError: `mnist` is set and MNIST cannot be loaded from `data_dir`.

    Example:

    >>> run_all("docs")["gradients"]["mnist"]["end"]["ratio"]  # doctest: +SKIP
    1.1e-05
    """
    results = dict(seed=seed)
    dstar = dstar_experiment(steps=dstar_steps, seed=seed)
    plot_dstar(dstar, os.path.join(out_dir, DSTAR_FILE))
    results["dstar"] = _plain(dstar)

    runs = {}
    if mnist:
        try:
            images = data_lib.load_images("mnist", "train", data_dir)
        except Exception as e:  # TFDS raises several kinds; report one line.
            raise TheoryError(
                f"cannot load MNIST (data_dir={data_lib.resolve_data_dir(data_dir)}): {first_line(e)}; "
                "pass --data_dir or --nomnist"
            ) from None
        runs["MNIST, paper's G and D (paper_optimizer, batch 100)"] = mnist_gradient_norms(
            d_steps=mnist_d_steps, seed=seed, images=images
        )
    runs["1-D toy, points G and D (Adam 1e-3, batch 256)"] = toy_gradient_norms(seed=seed)
    plot_gradients(runs, os.path.join(out_dir, GRADIENTS_FILE))
    results["gradients"] = {
        ("mnist" if title.startswith("MNIST") else "toy"): dict(start=records[0], end=records[-1], records=records)
        for title, records in runs.items()
    }

    snapshots, history = train_figure1(seed=seed)
    plot_figure1(snapshots, os.path.join(out_dir, FIG1_FILE))
    results["figure1"] = dict(
        data_mean=FIG1_DATA[0],
        data_std=FIG1_DATA[1],
        snapshots=[s.to_json() for s in snapshots],
        history=history,
    )
    results = _plain(results)
    write_json(os.path.join(out_dir, RESULTS_FILE), results, indent=1)
    return results
