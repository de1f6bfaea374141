"""Fig. 1 redrawn: a 1-D GAN over training, with p_data, p_g and D in four panels.

The paper's Fig. 1 shows a GAN near convergence on the real line: the data
density (black, dotted), the generator's density p_g (green, solid) and the
discriminator D (blue, dashed), in four moments:

- (a) the start: both networks untrained;
- (b) D trained with G fixed: D approaches D* = p_data / (p_data + p_g);
- (c) after a few GAN steps: p_g has moved toward the data, up D's slope;
- (d) at the end: p_g = p_data and D = 1/2 everywhere.

`train_figure1` runs this with the package's own `GAN`, `Generator` and
`Discriminator` (`arch="points"`) and takes a `Snapshot` at each moment;
`plot_figure1` draws them.

Example:

>>> from gan_keras.paper import figure1
>>> snapshots, history = figure1.train_figure1(seed=0)  # doctest: +SKIP
>>> figure1.plot_figure1(snapshots, "docs/theory_fig1.png")  # doctest: +SKIP
'docs/theory_fig1.png'
"""

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from gan_keras.nets.gan import GAN
from gan_keras.nets.models import Discriminator, Generator
from gan_keras.paper.plotting import pyplot, save_png
from gan_keras.paper.toy import (
    FIG1_LATENT_DIM,
    TheoryError,
    _seed,
    default_data_dist,
    density,
    discriminate,
    kde,
    sample_points,
)
from gan_keras.paper.value_function import train_discriminator

__all__ = ["FIG1_GRID", "Snapshot", "plot_figure1", "snapshot", "train_figure1"]

# The x range Fig. 1 is drawn over (p_data = N(4, 0.5); the untrained G sits near 0).
FIG1_GRID = (-1.5, 6.5)


@dataclasses.dataclass
class Snapshot:
    """p_data, p_g and D on a grid at one moment of training (a panel of Fig. 1).

    Attributes:
        label: the panel's caption.
        step: GAN steps (G updates) so far.
        x: the grid.
        p_data: the data density on `x`.
        p_g: a KDE of G's samples on `x`.
        d: D(x) on `x`.
        g_mean, g_std: mean and standard deviation of G's samples.
    """

    label: str
    step: int
    x: np.ndarray
    p_data: np.ndarray
    p_g: np.ndarray
    d: np.ndarray
    g_mean: float
    g_std: float

    def to_json(self):
        """The scalars (`label`, `step`, `g_mean`, `g_std`) as a dict; the curves are plotted, not saved."""
        return dict(label=self.label, step=self.step, g_mean=self.g_mean, g_std=self.g_std)


def snapshot(label, step, generator, discriminator, data_dist, x, num_samples=5000, seed=0):
    """A `Snapshot` of G and D now.

    Example:

    >>> snap = snapshot("start", 0, g, d, default_data_dist(), np.linspace(-1, 6, 141))  # doctest: +SKIP
    """
    samples = sample_points(generator, num_samples, _seed(seed, 12345)).numpy().ravel()
    return Snapshot(
        label=label,
        step=int(step),
        x=np.asarray(x, np.float64),
        p_data=density(data_dist, x),
        p_g=kde(samples, x),
        d=discriminate(discriminator, x),
        g_mean=float(samples.mean()),
        g_std=float(samples.std()),
    )


def _points_dataset(data_dist, steps, batch_size, seed):
    """`steps` GAN elements `[m, 1, 1]` (k = 1 minibatch of 1-D points) of p_data."""
    x = sample_points(data_dist, steps * batch_size, _seed(seed, 7)).numpy()
    return tf.data.Dataset.from_tensor_slices(x.reshape(steps, batch_size, 1, 1))


def train_figure1(
    data_dist=None,
    d_steps=200,
    early_steps=100,
    steps=1500,
    batch_size=256,
    learning_rate=1e-3,
    seed=0,
    grid=None,
):
    """Trains a 1-D GAN with the package's `GAN` and takes Fig. 1's four snapshots.

    G is `Generator(arch="points", image_shape=(1,), latent_dim=4)` with
    uniform noise, D a `points` discriminator. The run:

    (a) start: both untrained;
    (b) D trained with G fixed (`train_discriminator`, `d_steps` Adam steps):
        D approaches D* = p_data / (p_data + p_g);
    (c) after the first few steps of `GAN(update="alternating", k=1)` with
        the non-saturating G loss and Adam(`learning_rate`, beta_1=0.5) for
        both networks: p_g moves toward the data, up D's slope. The snapshot
        is taken once p_g's mean has gone half way to the data's (checked
        every 5 steps), or after `early_steps` steps;
    (d) after `steps` GAN steps in all: p_g ~ p_data and D ~ 1/2.

    Returns:
        `(snapshots, history)`: four `Snapshot`s and, after each `fit`
        (every 5 GAN steps until (c), then every 50), a dict with `step`,
        `g_mean`, `g_std`, `d_real`, `d_fake`.

    Raises:
        TheoryError: unless 0 < `early_steps` < `steps`.

    Example:

    >>> snapshots, history = train_figure1(seed=0)  # doctest: +SKIP
    >>> round(snapshots[-1].g_mean, 1), round(snapshots[-1].g_std, 1)  # doctest: +SKIP
    (4.0, 0.5)
    """
    if not 0 < early_steps < steps:
        raise TheoryError(f"need 0 < early_steps < steps; got early_steps={early_steps}, steps={steps}.")
    data_dist = data_dist or default_data_dist()
    x = np.linspace(*(grid or FIG1_GRID), 321)
    keras.utils.set_random_seed(seed)
    generator = Generator(latent_dim=FIG1_LATENT_DIM, image_shape=(1,), arch="points", noise="uniform")
    discriminator = Discriminator(arch="points", image_shape=(1,))
    generator.build()
    discriminator.build()

    def snap(label, step):
        return snapshot(label, step, generator, discriminator, data_dist, x, seed=seed)

    snapshots = [snap("(a) start", 0)]
    train_discriminator(
        data_dist, generator, d_steps, batch_size, learning_rate, discriminator, seed, eval_samples=1000
    )
    snapshots.append(snap(f"(b) D trained {d_steps} steps, G fixed", 0))

    gan = GAN(generator, discriminator, k=1, update="alternating", seed=seed)
    gan.compile(
        d_optimizer=keras.optimizers.Adam(learning_rate, beta_1=0.5),
        g_optimizer=keras.optimizers.Adam(learning_rate, beta_1=0.5),
        g_loss="non_saturating",
        steps_per_execution=50,
    )
    dataset = _points_dataset(data_dist, steps, batch_size, seed)
    start_mean = snapshots[0].g_mean
    history = []
    done = 0
    early = True
    while done < steps:
        # (c) is the first moment (checked every 5 steps, at most `early_steps`)
        # at which p_g's mean has gone half way to the data's; then every 50.
        stop = min(done + (5 if early else 50), steps)
        logs = gan.fit(dataset.skip(done).take(stop - done), epochs=1, verbose=0).history
        done = stop
        samples = sample_points(generator, 5000, _seed(seed, 12345)).numpy().ravel()
        history.append(
            dict(
                step=done,
                g_mean=float(samples.mean()),
                g_std=float(samples.std()),
                d_real=float(logs["d_real"][-1]),
                d_fake=float(logs["d_fake"][-1]),
            )
        )
        data_mean = float(data_dist.mean())
        halfway = abs(samples.mean() - start_mean) >= 0.5 * abs(data_mean - start_mean)
        if early and (halfway or done >= early_steps):
            snapshots.append(snap(f"(c) after {done} GAN steps", done))
            early = False
    snapshots.append(snap(f"(d) after {steps} GAN steps", steps))
    return snapshots, history


def plot_figure1(snapshots, path, ymax=1.3):
    """Draws Fig. 1 from `Snapshot`s, one panel each, and saves it as a PNG.

    As in the paper: the data density black and dotted, p_g green and solid,
    D blue and dashed. Densities above `ymax` (the untrained G's narrow
    spike) are clipped; each panel's title gives p_g's mean and std.

    Example:

    >>> plot_figure1(train_figure1()[0], "docs/theory_fig1.png")  # doctest: +SKIP
    'docs/theory_fig1.png'
    """
    plt = pyplot()
    fig, axes = plt.subplots(1, len(snapshots), figsize=(4.0 * len(snapshots), 3.4), sharey=True)
    for ax, snap in zip(np.atleast_1d(axes), snapshots):
        ax.plot(snap.x, snap.p_data, "k:", lw=2, label="p_data")
        ax.plot(snap.x, np.minimum(snap.p_g, ymax), "g-", lw=1.8, label="p_g (KDE of G's samples)")
        ax.plot(snap.x, snap.d, "b--", lw=1.8, label="D(x)")
        ax.axhline(0.5, color="0.8", lw=0.8, zorder=0)
        ax.set_ylim(0, ymax)
        ax.set_xlim(snap.x[0], snap.x[-1])
        ax.set_title(f"{snap.label}\np_g: mean {snap.g_mean:.2f}, std {snap.g_std:.2f}", fontsize=9)
        ax.set_xlabel("x")
    np.atleast_1d(axes)[0].legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return save_png(fig, path)
