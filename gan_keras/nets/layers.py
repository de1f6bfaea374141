"""Custom Keras layers used by the paper's models."""

import keras
import tensorflow as tf
from keras import ops

__all__ = [
    "MaskedDropout",
    "Maxout",
    "max_over_pieces",
]


@tf.function(jit_compile=True, reduce_retracing=True)
def _max_of_pieces(z):
    return tf.reduce_max(z, axis=-1)


@tf.function(jit_compile=True, reduce_retracing=True)
def _max_of_pieces_gradient(z, y, dy):
    # TensorFlow's own gradient of reduce_max (math_grad._MinOrMaxGrad), op for op.
    indicators = tf.cast(tf.equal(y[..., None], z), dy.dtype)
    return indicators / tf.reduce_sum(indicators, axis=-1, keepdims=True) * dy[..., None]


@tf.custom_gradient
def max_over_pieces(z):
    """`tf.reduce_max(z, axis=-1)` and its gradient, each compiled by XLA into one loop.

    The values and the gradient are TensorFlow's to the bit: the gradient of
    a unit is split evenly among its tied pieces, `indicators / count * dy`,
    the same element-wise ops as TensorFlow's gradient of `reduce_max`, which
    XLA fuses into one pass (TensorFlow's kernels take five, and the max over
    a last axis of 5 is slow in them). For the paper's D layer, 0.63 ms for
    the max and its gradient instead of 0.85 with TensorFlow's kernels, and a
    step 3% (simultaneous) to 5% (alternating) faster (docs/performance.md).

    Example:

    >>> z = tf.constant([[[1.0, 3.0, 3.0], [2.0, 0.0, -1.0]]])
    >>> max_over_pieces(z).numpy().tolist()
    [[3.0, 2.0]]
    """
    y = _max_of_pieces(z)
    return y, lambda dy: _max_of_pieces_gradient(z, y, dy)


@keras.saving.register_keras_serializable(package="gan_keras")
class Maxout(keras.layers.Layer):
    """Maxout layer (Goodfellow et al., 2013): the max over `pieces` affine maps.

    Computes `h_i = max_j (x W_{ij} + b_{ij})` for `units` outputs, each the
    maximum of `pieces` linear pieces. The kernel has shape
    `[input_dim, units * pieces]`; the pieces of unit `i` are the consecutive
    columns `i * pieces ... i * pieces + pieces - 1` (pylearn2's layout).

    Example:

    >>> layer = Maxout(units=240, pieces=5)
    >>> tuple(layer(keras.ops.zeros((2, 784))).shape)
    (2, 240)
    """

    def __init__(
        self,
        units,
        pieces,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if units < 1 or pieces < 1:
            raise ValueError(
                f"Maxout: `units` and `pieces` must be >= 1, got units={units}, "
                f"pieces={pieces}."
            )
        self.units = units
        self.pieces = pieces
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape):
        self.kernel = self.add_weight(
            name="kernel",
            shape=(input_shape[-1], self.units * self.pieces),
            initializer=self.kernel_initializer,
        )
        self.bias = self.add_weight(
            name="bias",
            shape=(self.units * self.pieces,),
            initializer=self.bias_initializer,
        )

    def call(self, inputs):
        z = ops.matmul(inputs, self.kernel) + self.bias
        return max_over_pieces(ops.reshape(z, (-1, self.units, self.pieces)))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units,
            pieces=self.pieces,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            bias_initializer=keras.initializers.serialize(self.bias_initializer),
        )
        return config


@keras.saving.register_keras_serializable(package="gan_keras")
class MaskedDropout(keras.layers.Dropout):
    """`keras.layers.Dropout` with the same masks, applied as one multiply.

    Keras's dropout (`tf.nn.experimental.stateless_dropout`) scales its input
    and then selects the kept units: two passes over the activations forward
    and two backward. This layer draws the same uniform numbers from the same
    seed stream and turns them into `scale` or 0 (off the critical path: the
    mask depends only on the seed), then multiplies once forward and once
    backward. A kept unit gets exactly Keras's value and gradient; a dropped
    one gets `x * 0`, a zero with `x`'s sign where Keras gives `+0` (and NaN
    for an infinite `x`). Those zeros vanish in the sums of the next layer:
    training with it ends at the same bits as with `keras.layers.Dropout`
    (tests/test_gan.py; docs/performance.md).

    Example:

    >>> layer = MaskedDropout(0.5, seed=1)
    >>> tuple(layer(keras.ops.ones((2, 3)), training=True).shape)
    (2, 3)
    """

    def call(self, inputs, training=False):
        if not training or self.rate <= 0 or self.noise_shape is not None:
            return super().call(inputs, training=training)
        dtype = inputs.dtype
        seed = self.seed_generator.next()
        if seed.dtype != tf.int32:  # as Keras's TF backend turns the int64 seed state into int32
            seed = tf.cast(tf.math.floormod(seed, tf.int32.max - 1), tf.int32)
        uniform = tf.random.stateless_uniform(tf.shape(inputs), seed, dtype=dtype)
        scale = tf.constant(1 / (1 - self.rate), dtype)
        return inputs * tf.where(uniform >= self.rate, scale, tf.zeros([], dtype))
