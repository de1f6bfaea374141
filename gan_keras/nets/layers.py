"""Custom Keras layers used by the paper's models."""

import keras
from keras import ops

__all__ = [
    "Maxout",
]


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
        # The max over the middle axis of [batch, pieces, units]: the same ops
        # and values as over the last axis of [batch, units, pieces] (the
        # gradient still splits evenly among tied pieces), but the gradient's
        # broadcasts run along contiguous rows of units, about 5% of the
        # paper's step faster (benchmarks/maxout_variants.py).
        z = ops.transpose(ops.reshape(z, (-1, self.units, self.pieces)), (0, 2, 1))
        return ops.max(z, axis=1)

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
