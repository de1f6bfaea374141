"""The paper's theory (Section 4) checked numerically, and its Fig. 1 redrawn.

    python -m gan_keras.theory --out=docs [--seed=0] [--no_mnist]

writes `theory_dstar.png` (a trained D against D* = p_data / (p_data + p_g),
and D ~ 1/2 with V ~ -log 4 at p_g = p_data), `theory_gradients.png` (the
generator's gradient norm under the minimax and the non-saturating loss while
D learns to reject G's samples), `theory_fig1.png` (Fig. 1: a 1-D GAN over
training) and `theory_results.json` (the measured numbers) to `--out`.

Everything here uses the package's own models (`arch="points"` for the 1-D
problems, the paper's MLPs for MNIST), losses and `GAN`; the distributions are
`tfp.distributions` (anything with `sample(n, seed)` and `log_prob(x)`).
"""

import dataclasses
import json
import math
import os

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from gan_keras import data as data_lib
from gan_keras.nets import losses
from gan_keras.nets.gan import GAN
from gan_keras.nets.models import Discriminator, Generator
from gan_keras.utils.cli import first_line

tfd = tfp.distributions

FIG1_FILE = "theory_fig1.png"
DSTAR_FILE = "theory_dstar.png"
GRADIENTS_FILE = "theory_gradients.png"
RESULTS_FILE = "theory_results.json"
# -V(D, G) at the global optimum: C(G) = -log 4 exactly when p_g = p_data.
MINUS_LOG_4 = -math.log(4.0)


class TheoryError(ValueError):
    """Settings or data the checks cannot run with; one line."""


def _seed(seed, i=0):
    """A `[2]` int32 stateless seed derived from an int seed."""
    return tf.constant([int(seed), int(i)], tf.int32)


def _as_points(x):
    """`x` as float32 points `[n, 1]`."""
    return tf.reshape(tf.cast(x, tf.float32), [-1, 1])


@tf.autograph.experimental.do_not_convert  # (a Generator's Keras call inside tf.function)
def sample_points(source, num_samples, seed):
    """`num_samples` 1-D points `[n, 1]` from a distribution or a generator.

    Args:
        source: a scalar `tfp.distributions.Distribution` or a `Generator`
            with `image_shape=(1,)`; both have `sample(n, seed)`.
        num_samples: int.
        seed: a `[2]` int stateless seed.

    Example:

    >>> sample_points(tfd.Normal(4.0, 0.5), 3, seed=[0, 1]).shape
    TensorShape([3, 1])
    """
    return _as_points(source.sample(num_samples, seed=tf.cast(seed, tf.int32)))


def _log_density(p, x):
    """log p(x) in float64 for a distribution (`log_prob`) or a density callable."""
    x = np.asarray(x, np.float64)
    if hasattr(p, "log_prob"):
        return np.asarray(p.log_prob(tf.constant(x, getattr(p, "dtype", None) or tf.float32)),
                          np.float64)
    with np.errstate(divide="ignore"):
        return np.log(np.asarray(p(x), np.float64))


def density(p, x):
    """p(x) on a grid, as float64 NumPy, for a distribution or a density callable.

    Example:

    >>> density(tfd.Normal(0.0, 1.0), [0.0]).round(4)
    array([0.3989])
    """
    return np.exp(_log_density(p, x))


def optimal_discriminator(p_data, p_g, x):
    """D*(x) = p_data(x) / (p_data(x) + p_g(x)) on a grid (paper, Proposition 1).

    Computed as `sigmoid(log p_data - log p_g)`, which is exact in the tails
    where both densities underflow. Where neither density has mass (both
    zero) D* is undefined and the result is NaN.

    Args:
        p_data, p_g: `tfp.distributions` (with `log_prob`) or callables
            returning densities.
        x: grid points, shape `[n]`.

    Example:

    >>> optimal_discriminator(tfd.Normal(1.0, 1.0), tfd.Normal(-1.0, 1.0), [0.0, 1.0]).round(3)
    array([0.5  , 0.881])
    """
    log_data, log_g = _log_density(p_data, x), _log_density(p_g, x)
    with np.errstate(invalid="ignore", over="ignore"):
        diff = log_data - log_g
        return np.where(np.isneginf(log_data) & np.isneginf(log_g), np.nan, 1.0 / (1.0 + np.exp(-diff)))


def discriminate(discriminator, x):
    """D(x) = sigmoid(logit) of a `points` discriminator on grid points `[n]`, as NumPy.

    Example:

    >>> discriminate(Discriminator(arch="points", image_shape=(1,)), [0.0, 1.0]).shape
    (2,)
    """
    logits = discriminator(_as_points(x), training=False)
    return tf.sigmoid(tf.reshape(logits, [-1])).numpy().astype(np.float64)


def value_function(discriminator, data_source, g_source, num_samples=100_000, seed=(0, 123)):
    """Monte Carlo V(D, G) = E log D(x) + E log(1 - D(G(z))) on fresh samples.

    It is minus the mean of `losses.discriminator_loss`. Returns a float.

    Example:

    >>> d = Discriminator(arch="points", image_shape=(1,))
    >>> value_function(d, tfd.Normal(0., 1.), tfd.Normal(0., 1.)) <= MINUS_LOG_4 + 1e-3
    True
    """
    seed = tf.constant(seed, tf.int32)
    real = sample_points(data_source, num_samples, seed)
    fake = sample_points(g_source, num_samples, seed + [0, 1])
    real_logits = tf.reshape(discriminator(real, training=False), [-1])
    fake_logits = tf.reshape(discriminator(fake, training=False), [-1])
    return -float(tf.reduce_mean(losses.discriminator_loss(real_logits, fake_logits)))


def _mean_discriminator_loss(discriminator, real, fake):
    """D's mean `losses.discriminator_loss` on a real and a fake batch, in one pass (as `GAN`)."""
    logits = tf.reshape(discriminator(tf.concat([real, fake], 0), training=True), [-1])
    real_logits, fake_logits = tf.split(logits, 2)
    return tf.reduce_mean(losses.discriminator_loss(real_logits, fake_logits))


@dataclasses.dataclass
class TrainedDiscriminator:
    """What `train_discriminator` returns.

    Attributes:
        discriminator: the trained `Discriminator`.
        value: V(D, G) of the trained D on fresh samples (`value_function`).
        steps: D's updates.
        losses: the mean `discriminator_loss` (-V on the minibatch) per step.
    """

    discriminator: Discriminator
    value: float
    steps: int
    losses: np.ndarray


def train_discriminator(
    data_dist,
    g_dist,
    steps=2000,
    batch_size=512,
    learning_rate=1e-3,
    discriminator=None,
    seed=0,
    eval_samples=100_000,
):
    """Trains D with `losses.discriminator_loss` against fixed p_data and p_g.

    Each step draws `batch_size` fresh samples from each source and takes one
    Adam step on the mean loss (that is, ascends V(D, G)); the learning rate
    decays to 0 along a cosine, so D settles instead of following minibatch
    noise. With enough steps D approaches D* (Proposition 1) and V approaches
    C(G) = -log 4 + 2 JSD(p_data || p_g).

    Args:
        data_dist: p_data, a scalar `tfp.distributions.Distribution`.
        g_dist: p_g, a distribution or a 1-D `Generator` (kept fixed).
        steps, batch_size, learning_rate: the optimisation.
        discriminator: a `Discriminator(arch="points", image_shape=(1,))` to
            train further; default: a new one (weights from `seed`).
        seed: int; the samples (and a new D's weights) derive from it.
        eval_samples: samples per source for the final `value`.

    Returns:
        A `TrainedDiscriminator`.

    Example:

    >>> same = train_discriminator(tfd.Normal(0., 1.), tfd.Normal(0., 1.), steps=2000)
    >>> abs(same.value - MINUS_LOG_4) < 0.03
    True
    """
    if discriminator is None:
        keras.utils.set_random_seed(seed)
        discriminator = Discriminator(arch="points", image_shape=(1,))
    if not discriminator.built:
        discriminator.build()
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, max(int(steps), 1))
    optimizer = keras.optimizers.Adam(schedule)
    variables = discriminator.trainable_variables
    optimizer.build(variables)

    @tf.function
    def train(num_steps):
        history = tf.TensorArray(tf.float32, size=num_steps)
        for i in tf.range(num_steps):
            base = tf.stack([tf.constant(int(seed), tf.int32), 2 * i])
            real = sample_points(data_dist, batch_size, base)
            fake = sample_points(g_dist, batch_size, base + [0, 1])
            with tf.GradientTape() as tape:
                loss = _mean_discriminator_loss(discriminator, real, fake)
            optimizer.apply(tape.gradient(loss, variables), variables)
            history = history.write(i, loss)
        return history.stack()

    history = train(tf.constant(int(steps), tf.int32)).numpy()
    value = value_function(discriminator, data_dist, g_dist, eval_samples, seed=(int(seed), -1))
    return TrainedDiscriminator(discriminator, value, int(steps), history)


def jensen_shannon(p, q, x):
    """JSD(p || q) in nats by the trapezoid rule on an even 1-D grid `x`.

    `C(G) = -log 4 + 2 JSD(p_data || p_g)` is the value of the optimal D
    (paper, Theorem 1), the number a trained D's V should approach.

    Example:

    >>> x = np.linspace(-10, 10, 2001)
    >>> round(jensen_shannon(tfd.Normal(0., 1.), tfd.Normal(0., 1.), x), 6)
    0.0
    """
    x = np.asarray(x, np.float64)
    log_p, log_q = _log_density(p, x), _log_density(q, x)
    log_m = np.logaddexp(log_p, log_q) - math.log(2.0)  # in logs: no 0/0 in the tails
    with np.errstate(invalid="ignore"):
        terms = 0.5 * np.where(np.isneginf(log_p), 0.0, np.exp(log_p) * (log_p - log_m))
        terms += 0.5 * np.where(np.isneginf(log_q), 0.0, np.exp(log_q) * (log_q - log_m))
    return float(np.sum(0.5 * (terms[1:] + terms[:-1]) * np.diff(x)))


def kde(samples, x, bandwidth=None):
    """A Gaussian kernel density estimate of 1-D `samples` on the grid `x`.

    `bandwidth` defaults to Scott's rule, `1.06 std n^(-1/5)`.

    Example:

    >>> kde(np.zeros(100) + np.arange(100) % 2, [0.5]).shape
    (1,)
    """
    samples = np.asarray(samples, np.float64).ravel()
    x = np.asarray(x, np.float64)
    if bandwidth is None:
        bandwidth = 1.06 * max(samples.std(), 1e-3) * len(samples) ** -0.2
    u = (x[:, None] - samples[None, :]) / bandwidth
    return np.exp(-0.5 * u * u).sum(axis=1) / (len(samples) * bandwidth * math.sqrt(2 * math.pi))


def optimal_value(p_data, p_g, x=None):
    """C(G) = max_D V(D, G) = -log 4 + 2 JSD(p_data || p_g) (paper, Theorem 1).

    The JSD is integrated on `x`, by default an even grid of 20,001 points
    spanning both distributions' means +- 12 standard deviations (a grid cut
    at the tails misses mass and biases C(G) low).

    Example:

    >>> round(optimal_value(tfd.Normal(0., 1.), tfd.Normal(0., 1.)), 4)
    -1.3863
    """
    if x is None:
        ends = [
            float(p.mean()) + sign * 12.0 * float(p.stddev())
            for p in (p_data, p_g)
            for sign in (-1.0, 1.0)
        ]
        x = np.linspace(min(ends), max(ends), 20001)
    return MINUS_LOG_4 + 2.0 * jensen_shannon(p_data, p_g, x)


# ---------------------------------------------------------------------------
# The generator's gradient: minimax vs non-saturating loss.


def generator_gradient_norms(generator, discriminator, z):
    """||grad_theta_G|| of the mean minimax and the mean non-saturating G loss.

    Both losses are taken through the same forward pass of D in inference mode
    (no dropout), on the same noise `z`. Per sample, the minimax loss
    `log(1 - D(G(z)))` has derivative `-D` in D's logit and the
    non-saturating `-log D(G(z))` has `-(1 - D)`: when D rejects the samples
    (D(G(z)) -> 0) the minimax gradient vanishes (paper, Section 3).

    Returns:
        A dict: `minimax` and `non_saturating` (global L2 norms over G's
        variables), `ratio` (minimax / non_saturating) and `d_fake` (mean
        D(G(z))).

    Example:

    >>> g, d = Generator(), Discriminator()
    >>> norms = generator_gradient_norms(g, d, g.sample_noise(100, seed=[0, 1]))
    >>> sorted(norms)
    ['d_fake', 'minimax', 'non_saturating', 'ratio']
    """
    variables = generator.trainable_variables
    with tf.GradientTape(persistent=True) as tape:
        fake_logits = tf.reshape(discriminator(generator(z, training=False), training=False), [-1])
        minimax = tf.reduce_mean(losses.generator_loss(fake_logits, "minimax"))
        non_saturating = tf.reduce_mean(losses.generator_loss(fake_logits, "non_saturating"))
    norm_mm = float(tf.linalg.global_norm(tape.gradient(minimax, variables)))
    norm_ns = float(tf.linalg.global_norm(tape.gradient(non_saturating, variables)))
    del tape
    return dict(
        minimax=norm_mm,
        non_saturating=norm_ns,
        ratio=norm_mm / norm_ns if norm_ns > 0 else float("nan"),
        d_fake=float(tf.reduce_mean(tf.sigmoid(fake_logits))),
    )


def gradient_norms_while_d_learns(
    generator, discriminator, real_batch, optimizer, d_steps, every, batch_size, seed=0, eval_noise=1000
):
    """Trains D against the fixed, untrained G and measures G's gradients on the way.

    This is the start of training the paper worries about: G is still bad
    and D learns to reject its samples. Every `every` D steps (and at step 0,
    where D(G(z)) ~ 1/2: the control) it records `generator_gradient_norms`
    on one fixed batch of `eval_noise` z's.

    Args:
        generator, discriminator: built models; only D is trained.
        real_batch: `real_batch(step)` -> `batch_size` real examples.
        optimizer: D's optimiser (e.g. `paper_optimizer()` or Adam).
        d_steps, every: D's updates and the measuring interval.
        batch_size: fake examples per D step (as many as real ones).
        seed: int; the noise derives from it.
        eval_noise: size of the measuring batch of z.

    Returns:
        A list of dicts, `generator_gradient_norms(...)` plus `d_step`.

    Example:

    >>> records = gradient_norms_while_d_learns(g, d, batches, Adam(1e-3), 200, 50, 100)  # doctest: +SKIP
    >>> records[-1]["ratio"] < 0.1  # doctest: +SKIP
    True
    """
    variables = discriminator.trainable_variables
    optimizer.build(variables)

    @tf.function
    def d_step(real, z):
        with tf.GradientTape() as tape:
            loss = _mean_discriminator_loss(discriminator, real, generator(z, training=False))
        optimizer.apply(tape.gradient(loss, variables), variables)
        return loss

    z_eval = generator.sample_noise(eval_noise, _seed(seed, -1))
    records = []
    for step in range(int(d_steps) + 1):
        if step % every == 0 or step == d_steps:
            records.append(dict(d_step=step, **generator_gradient_norms(generator, discriminator, z_eval)))
        if step < d_steps:
            d_step(real_batch(step), generator.sample_noise(batch_size, _seed(seed, step)))
    return records


def mnist_gradient_norms(d_steps=200, every=20, batch_size=100, data_dir=None, seed=0, images=None):
    """`gradient_norms_while_d_learns` for the paper's MNIST models.

    G and D are `Generator()` and `Discriminator()` (the paper's MLPs, D with
    dropout while it trains); D takes `d_steps` steps of the paper's optimiser
    (`paper_optimizer()`: SGD, learning rate 0.1, momentum 0.5) on minibatches
    of `batch_size` real MNIST training images and as many samples of the
    untrained G.

    Args:
        images: the MNIST training images as uint8 (default: loaded with
            `data.load_images("mnist", "train", data_dir)`).

    Example:

    >>> round(mnist_gradient_norms(d_steps=200)[-1]["ratio"], 6)  # doctest: +SKIP
    1.1e-05
    """
    from gan_keras.nets.optimizers import paper_optimizer

    if images is None:
        images = data_lib.load_images("mnist", "train", data_dir)
    keras.utils.set_random_seed(seed)
    generator, discriminator = Generator(), Discriminator(seed=seed)
    generator.build()
    discriminator.build()
    order = np.random.default_rng(seed).permutation(len(images))

    def real_batch(step):
        start = (step * batch_size) % (len(images) - batch_size)
        return data_lib.to_float(images[np.sort(order[start : start + batch_size])])

    return gradient_norms_while_d_learns(
        generator, discriminator, real_batch, paper_optimizer(), d_steps, every, batch_size, seed
    )


def toy_gradient_norms(data_dist=None, d_steps=300, every=25, batch_size=256, seed=0):
    """`gradient_norms_while_d_learns` for the 1-D toy (Fig. 1's models).

    G is an untrained `Generator(arch="points", image_shape=(1,),
    latent_dim=4)` (its samples sit near 0), p_data defaults to N(4, 0.5),
    and D, a `points` discriminator, takes Adam steps (learning rate 1e-3).

    Example:

    >>> round(toy_gradient_norms(d_steps=300)[-1]["ratio"], 4)  # doctest: +SKIP
    0.0036
    """
    data_dist = data_dist or default_data_dist()
    keras.utils.set_random_seed(seed)
    generator = Generator(latent_dim=FIG1_LATENT_DIM, image_shape=(1,), arch="points")
    discriminator = Discriminator(arch="points", image_shape=(1,))
    generator.build()
    discriminator.build()

    def real_batch(step):
        return sample_points(data_dist, batch_size, _seed(seed + 1, step))

    return gradient_norms_while_d_learns(
        generator, discriminator, real_batch, keras.optimizers.Adam(1e-3), d_steps, every, batch_size, seed
    )


# ---------------------------------------------------------------------------
# Fig. 1: a 1-D GAN over training.

# Fig. 1's setting: p_data = N(4, 0.5); G maps 4-d uniform noise to R.
FIG1_DATA = (4.0, 0.5)
FIG1_LATENT_DIM = 4
FIG1_GRID = (-1.5, 6.5)


def default_data_dist():
    """p_data of the 1-D toy: `tfd.Normal(4, 0.5)`."""
    return tfd.Normal(*FIG1_DATA)


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


# ---------------------------------------------------------------------------
# D* and the value at p_g = p_data.

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

    Returns:
        A dict: `max_abs_error` (max |D - D*| where the mixture density is
        at least `mass_threshold`), `mean_abs_error` (|D - D*| weighted by the
        mixture density on the whole grid), `value` (the trained D's V),
        `optimal_value` (C(G), `optimal_value(p_data, p_g)`), `dstar_min`/`dstar_max`
        (the range of D* where it was compared) and `mass_threshold`.

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


# ---------------------------------------------------------------------------
# Plots (matplotlib, Agg backend).


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path):
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fig.savefig(path, dpi=110)
    _pyplot().close(fig)
    return path


def plot_figure1(snapshots, path, ymax=1.3):
    """Draws Fig. 1 from `Snapshot`s, one panel each, and saves it as a PNG.

    As in the paper: the data density black and dotted, p_g green and solid,
    D blue and dashed. Densities above `ymax` (the untrained G's narrow
    spike) are clipped; each panel's title gives p_g's mean and std.

    Example:

    >>> plot_figure1(train_figure1()[0], "docs/theory_fig1.png")  # doctest: +SKIP
    'docs/theory_fig1.png'
    """
    plt = _pyplot()
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
    return _save(fig, path)


def plot_dstar(results, path):
    """Draws `dstar_experiment`'s results (D vs D*; D ~ 1/2 at p_g = p_data) as a PNG."""
    plt = _pyplot()
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
    return _save(fig, path)


def plot_gradients(runs, path):
    """Draws G's gradient norms (minimax vs non-saturating) while D learns, one panel per run.

    Args:
        runs: `{title: records}` with records from `gradient_norms_while_d_learns`.
    """
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(runs), figsize=(5.2 * len(runs), 3.8), squeeze=False)
    for ax, (title, records) in zip(axes[0], runs.items()):
        steps = [r["d_step"] for r in records]
        ax.semilogy(steps, [r["non_saturating"] for r in records], "g-o", ms=3, label="non-saturating -log D(G(z))")
        ax.semilogy(steps, [r["minimax"] for r in records], "r-s", ms=3, label="minimax log(1 - D(G(z)))")
        ax.set_xlabel("D steps against the fixed, untrained G")
        ax.set_ylabel("||grad G||")
        twin = ax.twinx()
        twin.plot(steps, [r["d_fake"] for r in records], "b--", lw=1, label="mean D(G(z))")
        twin.set_ylim(0, 1)
        twin.set_ylabel("mean D(G(z))", color="b")
        last = records[-1]
        ax.set_title(f"{title}\nend: ratio {last['ratio']:.2g} at D(G(z)) = {last['d_fake']:.3f}", fontsize=9)
        lines = ax.get_legend_handles_labels()
        more = twin.get_legend_handles_labels()
        ax.legend(lines[0] + more[0], lines[1] + more[1], loc="lower left", fontsize=7)
    fig.tight_layout()
    return _save(fig, path)


# ---------------------------------------------------------------------------
# Everything, for the docs and the command line.


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
        ("mnist" if title.startswith("MNIST") else "toy"): dict(
            start=records[0], end=records[-1], records=records
        )
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
    with open(os.path.join(out_dir, RESULTS_FILE), "w") as f:
        json.dump(results, f, indent=1)
    return results
