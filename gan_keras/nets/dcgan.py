"""The DCGAN of Radford et al. (2015): the layer stacks of `arch="dcgan"`.

For square images whose side is a power of 2 >= 32 (the paper: 64x64). G
projects z to a 4x4 map of `BASE_FILTERS * 2**(n-1)` channels and doubles its
size `n = log2(side) - 2` times with 5x5 stride-2 transposed convolutions,
halving the channels (64x64: 4x4x1024 -> 8x8x512 -> 16x16x256 -> 32x32x128 ->
64x64xC, the paper's Fig. 1). D mirrors it with 5x5 stride-2 convolutions
(64x64: 128 -> 256 -> 512 -> 1024 channels) and a linear logit.

As in the paper: batch norm after every layer but G's output and D's input
layer, ReLU in G, LeakyReLU(0.2) in D, no pooling and no dropout, weights
from N(0, 0.02) (batch norm's scale from N(1, 0.02), as the authors' code).
G's output is a sigmoid, not the paper's tanh: this project's images are in
[0, 1], as for the other architectures.

Batch norm here: momentum 0.9 and epsilon 1e-5 (PyTorch's defaults, which the
reference DCGAN code uses), and `synchronized=True`, so that under
`tf.distribute` the statistics are those of the global batch and N replicas
take the same step as one device (docs/dcgan.md).
"""

import keras
from keras import layers

__all__ = [
    "BASE_FILTERS",
    "KERNEL_SIZE",
    "MIN_SIZE",
    "batch_norm",
    "check_image_shape",
    "discriminator_stack",
    "generator_stack",
    "weight_init",
]

# Channels of G's last hidden layer and D's first (the paper's 64x64 model: 128).
BASE_FILTERS = 128
KERNEL_SIZE = 5
# The smallest image side; G starts from a 4x4 map.
MIN_SIZE = 32
_START = 4


def weight_init():
    """The paper's initialiser of every kernel: N(0, 0.02).

    Example:

    >>> weight_init().stddev
    0.02
    """
    return keras.initializers.RandomNormal(0.0, 0.02)


def batch_norm():
    """A DCGAN batch norm layer: scale from N(1, 0.02), synchronized across replicas.

    Example:

    >>> batch_norm().synchronized
    True
    """
    return layers.BatchNormalization(
        momentum=0.9,
        epsilon=1e-5,
        gamma_initializer=keras.initializers.RandomNormal(1.0, 0.02),
        synchronized=True,
    )


def check_image_shape(image_shape):
    """Raises a one-line `ValueError` unless `image_shape` is `(s, s, c)` with `s` a power of 2 >= 32.

    Example:

    >>> check_image_shape((64, 64, 3))
    >>> check_image_shape((28, 28, 1))
    Traceback (most recent call last):
    ...
    ValueError: arch='dcgan' needs square images whose side is a power of 2 >= 32 (32x32, 64x64, 128x128, ...); got 28x28.
    """
    height, width = int(image_shape[0]), int(image_shape[1])
    if height != width or height < MIN_SIZE or height & (height - 1):
        raise ValueError(
            f"arch='dcgan' needs square images whose side is a power of 2 >= {MIN_SIZE} "
            f"({MIN_SIZE}x{MIN_SIZE}, {2 * MIN_SIZE}x{2 * MIN_SIZE}, {4 * MIN_SIZE}x{4 * MIN_SIZE}, ...); "
            f"got {height}x{width}."
        )


def _filters(side):
    """Channels of the hidden feature maps from 4x4 up to side/2: 64 -> [1024, 512, 256, 128]."""
    levels = side.bit_length() - 1 - (_START.bit_length() - 1)  # log2(side / 4)
    return [BASE_FILTERS * 2**i for i in reversed(range(levels))]


def generator_stack(image_shape, output_bias_initializer="zeros"):
    """G's layers: z -> 4x4 map -> ... -> `image_shape`, sigmoid output.

    Example:

    >>> stack = generator_stack((32, 32, 3))
    >>> [layer.filters for layer in stack if isinstance(layer, layers.Conv2DTranspose)]
    [256, 128, 3]
    """
    check_image_shape(image_shape)
    side, _, channels = image_shape
    filters = _filters(side)
    init = weight_init()
    stack = [
        layers.Dense(_START * _START * filters[0], use_bias=False, kernel_initializer=init),
        layers.Reshape((_START, _START, filters[0])),
        batch_norm(),
        layers.ReLU(),
    ]
    for width in filters[1:]:
        stack += [
            layers.Conv2DTranspose(
                width, KERNEL_SIZE, strides=2, padding="same", use_bias=False, kernel_initializer=init
            ),
            batch_norm(),
            layers.ReLU(),
        ]
    stack.append(
        layers.Conv2DTranspose(
            channels,
            KERNEL_SIZE,
            strides=2,
            padding="same",
            activation="sigmoid",
            kernel_initializer=init,
            bias_initializer=output_bias_initializer,
        )
    )
    return stack


def discriminator_stack(image_shape):
    """D's layers: `image_shape` -> ... -> 4x4 map -> one logit; no batch norm on the input layer.

    Example:

    >>> stack = discriminator_stack((64, 64, 1))
    >>> [layer.filters for layer in stack if isinstance(layer, layers.Conv2D)]
    [128, 256, 512, 1024]
    """
    check_image_shape(image_shape)
    filters = _filters(int(image_shape[0]))[::-1]
    init = weight_init()
    stack = [
        layers.Conv2D(filters[0], KERNEL_SIZE, strides=2, padding="same", kernel_initializer=init),
        layers.LeakyReLU(0.2),
    ]
    for width in filters[1:]:
        stack += [
            layers.Conv2D(width, KERNEL_SIZE, strides=2, padding="same", use_bias=False, kernel_initializer=init),
            batch_norm(),
            layers.LeakyReLU(0.2),
        ]
    return stack + [layers.Flatten(), layers.Dense(1, kernel_initializer=init)]
