"""The mode-collapse toy: a mixture of 8 Gaussians on a ring (`--dataset=ring8`).

The data are points in R^2 drawn from 8 equally likely isotropic Gaussians
(std 0.02) centred on a circle of radius 2. A generator that has collapsed
onto a few modes (the "Helvetica scenario") is easy to see and to count:

- `modes_covered`: modes with at least 1% of the samples within 3 std of
  their centre (0 to 8);
- `high_quality_fraction`: the fraction of samples within 3 std of some
  centre (real data: 99.9%, since 1 - exp(-9/2) of a 2-D Gaussian's mass
  lies within 3 std).

Train on it with

    python train.py --dataset=ring8 --arch=points --model_dir=runs/ring8

which logs both numbers every epoch (console and TensorBoard) and redraws
`MODEL_DIR/ring8/ring8_training.png`, a scatter plot of G's samples over
training.
"""

import glob
import os

import numpy as np

from gan_keras.utils import storage
from gan_keras.utils.periodic import EveryEpochs

__all__ = [
    "MODE_FRACTION",
    "NAME",
    "NUM_CLASSES",
    "NUM_MODES",
    "QUALITY_STDS",
    "RADIUS",
    "SNAPSHOT_SUBDIR",
    "SPLITS",
    "STD",
    "TRAINING_FIGURE",
    "RingCallback",
    "load_split",
    "mode_centers",
    "mode_metrics",
    "sample_ring8",
    "scatter_image",
    "training_panels",
    "write_scatter",
]

NAME = "ring8"
NUM_MODES = 8
# The class label of a point is its mode (for --conditional).
NUM_CLASSES = NUM_MODES
RADIUS = 2.0
STD = 0.02
# A sample is "high quality" within this many std of a centre.
QUALITY_STDS = 3.0
# A mode is "covered" when it holds at least this fraction of the samples.
MODE_FRACTION = 0.01
# Fixed splits, drawn from fixed seeds: the dataset is the same everywhere.
SPLITS = {"train": (50_000, 0), "validation": (10_000, 1), "test": (10_000, 2)}
SNAPSHOT_SUBDIR = NAME
TRAINING_FIGURE = "ring8_training.png"


def mode_centers():
    """The 8 centres `[8, 2]`, at angles 0, 45, ..., 315 degrees on the circle of radius 2."""
    angles = 2.0 * np.pi * np.arange(NUM_MODES) / NUM_MODES
    return RADIUS * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def sample_ring8(num_samples, seed, with_labels=False):
    """`num_samples` float32 points `[n, 2]` of the mixture, from an int seed.

    With `with_labels`, also each point's mode (0-7) as its class label,
    which makes ring8 a labelled dataset for `--conditional`.

    Example:

    >>> sample_ring8(5, seed=0).shape
    (5, 2)
    """
    rng = np.random.default_rng(seed)
    modes = rng.integers(NUM_MODES, size=num_samples)
    points = (mode_centers()[modes] + STD * rng.standard_normal((num_samples, 2))).astype(np.float32)
    return (points, modes) if with_labels else points


def load_split(role, with_labels=False):
    """The fixed points of a split: `"train"` (50,000), `"validation"` or `"test"` (10,000)."""
    if role not in SPLITS:
        raise ValueError(f"role must be one of {', '.join(SPLITS)}; got {role!r}.")
    return sample_ring8(*SPLITS[role], with_labels=with_labels)


def mode_metrics(samples):
    """How many modes the samples cover and how many samples are good.

    Args:
        samples: points `[n, 2]`.

    Returns:
        A dict: `modes_covered` (modes holding >= 1% of the samples within
        3 std of their centre), `high_quality_fraction` (samples within 3 std
        of a centre) and `mode_counts` (those samples per mode).

    Example:

    >>> mode_metrics(sample_ring8(10_000, seed=0))["modes_covered"]
    8
    """
    samples = np.asarray(samples, dtype=np.float64)
    if samples.ndim != 2 or samples.shape[1] != 2 or not len(samples):
        raise ValueError(f"samples must be points [n, 2] with n >= 1; got shape {samples.shape}.")
    distances = np.linalg.norm(samples[:, None, :] - mode_centers()[None], axis=-1)
    nearest = distances.argmin(axis=1)
    good = distances[np.arange(len(samples)), nearest] <= QUALITY_STDS * STD
    counts = np.bincount(nearest[good], minlength=NUM_MODES)
    return {
        "modes_covered": int((counts >= MODE_FRACTION * len(samples)).sum()),
        "high_quality_fraction": float(good.mean()),
        "mode_counts": counts.tolist(),
    }


def _figure(panels):
    """A matplotlib figure of scatter panels `[(title, samples), ...]` over the ring's modes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(2.6 * len(panels), 2.8), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    centers = mode_centers()
    for ax, (title, samples) in zip(axes, panels):
        samples = np.asarray(samples)
        ax.scatter(samples[:, 0], samples[:, 1], s=2, alpha=0.3, color="tab:green", linewidths=0)
        ax.scatter(centers[:, 0], centers[:, 1], s=12, color="black", marker="x", linewidths=1)
        ax.set_xlim(-3, 3), ax.set_ylim(-3, 3), ax.set_aspect("equal")
        ax.set_xticks([]), ax.set_yticks([])
        ax.set_title(title, fontsize=9)
    figure.tight_layout()
    return figure


def scatter_image(samples, title="samples"):
    """A uint8 RGB picture `[h, w, 3]` of a scatter plot of 2-D samples (for TensorBoard).

    Example:

    >>> scatter_image(sample_ring8(100, seed=0)).shape  # doctest: +SKIP
    (280, 260, 3)
    """
    figure = _figure([(title, samples)])
    figure.canvas.draw()
    return np.asarray(figure.canvas.buffer_rgba())[..., :3].copy()


def write_scatter(panels, path):
    """Writes scatter panels `[(title, samples), ...]` side by side as a PNG, atomically."""
    with storage.replacing(path) as tmp:
        _figure(panels).savefig(tmp, format="png")


def _snapshot_path(out_dir, epoch):
    return os.path.join(out_dir, f"samples_epoch{epoch:05d}.npy")


def training_panels(out_dir, max_panels=6):
    """Up to `max_panels` snapshots saved in `out_dir`, evenly spread over training, last included."""
    paths = sorted(glob.glob(os.path.join(out_dir, "samples_epoch*.npy")))
    if len(paths) > max_panels:
        keep = np.unique(np.linspace(0, len(paths) - 1, max_panels).round().astype(int))
        paths = [paths[i] for i in keep]
    panels = []
    for path in paths:
        samples = np.load(path)
        epoch = int(os.path.basename(path)[len("samples_epoch") : -len(".npy")])
        metrics = mode_metrics(samples)
        title = f"epoch {epoch}: {metrics['modes_covered']} modes, {metrics['high_quality_fraction']:.0%} good"
        panels.append((title, samples))
    return panels


class RingCallback(EveryEpochs):
    """Logs `modes_covered` and `high_quality_fraction`, and draws samples over training.

    At the end of every `every_epochs`-th epoch (and of the first epoch of each
    `fit`), draws `num_samples` samples of G with a fixed seed, adds the two
    metrics to the epoch logs (Keras' TensorBoard callback, placed after this
    one, writes them), saves the samples as `out_dir/samples_epochNNNNN.npy`
    and redraws `out_dir/ring8_training.png` from the saved snapshots, so the
    figure survives a resumed run.

    Example:

    >>> gan.fit(data, epochs=20, callbacks=[RingCallback("runs/ring8/ring8")])  # doctest: +SKIP
    """

    def __init__(self, out_dir, every_epochs=1, num_samples=2500, seed=(0, 0)):
        super().__init__(every_epochs)
        self.out_dir = str(out_dir)
        self.num_samples = int(num_samples)
        self.seed = tuple(seed)

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        os.makedirs(self.out_dir, exist_ok=True)

    def on_epoch_end(self, epoch, logs=None):
        if not self.due(epoch):
            return
        samples = np.asarray(self.target_generator().sample(self.num_samples, seed=self.seed))
        metrics = mode_metrics(samples)
        if logs is not None:
            logs["modes_covered"] = metrics["modes_covered"]
            logs["high_quality_fraction"] = metrics["high_quality_fraction"]
        np.save(_snapshot_path(self.out_dir, epoch + 1), samples)
        write_scatter(training_panels(self.out_dir), os.path.join(self.out_dir, TRAINING_FIGURE))
