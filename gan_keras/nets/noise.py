"""The generator's noise prior p_z, drawn with stateless random ops.

Stateless ops make a draw a pure function of its seed: training derives seeds
from a checkpointed `keras.random.SeedGenerator` (so a resumed run draws the
same noise), and the exported `sample` signature takes the seed from the user.
"""

import math

import tensorflow as tf

__all__ = [
    "NOISE_KINDS",
    "UNIFORM_BOUND",
    "check_noise_kind",
    "sample_noise",
]

NOISE_KINDS = ("uniform", "gaussian")

# The released MNIST configuration draws z uniformly on [-sqrt(3), sqrt(3)]:
# zero mean and unit variance, like the standard normal.
UNIFORM_BOUND = math.sqrt(3.0)


def check_noise_kind(kind):
    """Raises `ValueError` unless `kind` is one of `NOISE_KINDS`."""
    if kind not in NOISE_KINDS:
        raise ValueError(
            f"noise must be one of {', '.join(NOISE_KINDS)}; got {kind!r}."
        )


def sample_noise(kind, shape, seed):
    """Draws noise of the given kind.

    Args:
        kind: `"uniform"` (U[-sqrt 3, sqrt 3], the paper's) or `"gaussian"` (N(0, 1)).
        shape: output shape, e.g. `(batch, latent_dim)`.
        seed: an int32 tensor of shape `[2]`; the same seed gives the same noise.

    Example:

    >>> z = sample_noise("uniform", (4, 100), seed=tf.constant([1, 2]))
    >>> z.shape
    TensorShape([4, 100])
    """
    check_noise_kind(kind)
    seed = tf.cast(seed, tf.int32)
    if kind == "uniform":
        return tf.random.stateless_uniform(
            shape, seed, minval=-UNIFORM_BOUND, maxval=UNIFORM_BOUND
        )
    return tf.random.stateless_normal(shape, seed)
