"""The 1-D toy problem and the exact quantities of the paper's Section 4.

Every theory experiment (`dstar`, `gradients`, `figure1`) works on the real
line, where the paper's objects can be computed rather than estimated:

- densities p(x) of `tfp.distributions` (anything with `sample(n, seed)` and
  `log_prob(x)`) or of plain callables, and 1-D samples `[n, 1]` from a
  distribution or a `points` `Generator`;
- the optimal discriminator D* = p_data / (p_data + p_g) (Proposition 1);
- the Jensen-Shannon divergence, and the optimal value
  C(G) = -log 4 + 2 JSD(p_data || p_g) (Theorem 1);
- a trained D (a `points` `Discriminator`) read off on a grid, and a KDE of
  G's samples, to draw against them;
- the toy data of Fig. 1, p_data = N(4, 0.5), with G's latent size.

Example:

>>> from gan_keras.paper import toy
>>> p_data, p_g = toy.tfd.Normal(1.0, 1.0), toy.tfd.Normal(-1.0, 1.0)
>>> toy.optimal_discriminator(p_data, p_g, [0.0, 1.0]).round(3)
array([0.5  , 0.881])
>>> round(toy.optimal_value(p_data, p_data), 4)  # -log 4
-1.3863
"""

import math

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

__all__ = [
    "FIG1_DATA",
    "FIG1_LATENT_DIM",
    "MINUS_LOG_4",
    "TheoryError",
    "default_data_dist",
    "density",
    "discriminate",
    "jensen_shannon",
    "kde",
    "optimal_discriminator",
    "optimal_value",
    "sample_points",
    "tfd",
]

tfd = tfp.distributions

# -V(D, G) at the global optimum: C(G) = -log 4 exactly when p_g = p_data.
MINUS_LOG_4 = -math.log(4.0)
# Fig. 1's setting: p_data = N(4, 0.5); G maps 4-d uniform noise to R.
FIG1_DATA = (4.0, 0.5)
FIG1_LATENT_DIM = 4


class TheoryError(ValueError):
    """Settings or data the checks cannot run with; one line."""


def default_data_dist():
    """p_data of the 1-D toy: `tfd.Normal(4, 0.5)`.

    Example:

    >>> float(default_data_dist().mean()), float(default_data_dist().stddev())
    (4.0, 0.5)
    """
    return tfd.Normal(*FIG1_DATA)


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
        return np.asarray(p.log_prob(tf.constant(x, getattr(p, "dtype", None) or tf.float32)), np.float64)
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

    >>> from gan_keras.nets.models import Discriminator
    >>> discriminate(Discriminator(arch="points", image_shape=(1,)), [0.0, 1.0]).shape
    (2,)
    """
    logits = discriminator(_as_points(x), training=False)
    return tf.sigmoid(tf.reshape(logits, [-1])).numpy().astype(np.float64)


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
        ends = [float(p.mean()) + sign * 12.0 * float(p.stddev()) for p in (p_data, p_g) for sign in (-1.0, 1.0)]
        x = np.linspace(min(ends), max(ends), 20001)
    return MINUS_LOG_4 + 2.0 * jensen_shannon(p_data, p_g, x)
