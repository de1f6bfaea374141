"""The generator and discriminator: the paper's MLPs, a small conv pair, toy MLPs.

`arch="mlp"` is the paper's MNIST model (from the authors' released
configuration); `arch="conv"` is a small DCGAN-style pair for 28x28 or 32x32
images (height and width divisible by 4); `arch="points"` is a small ReLU MLP
pair for points in R^d (the 1-D toy of the paper's Fig. 1, the 2-D ring of
eight Gaussians), with `image_shape=(d,)` and a linear generator output.
"""

import numpy as np
import keras
from keras import layers

from gan_keras import noise as noise_lib
from gan_keras.layers import Maxout

ARCHS = ("mlp", "conv", "points")
# Hidden units of each of the two hidden layers of the `points` MLPs.
POINTS_HIDDEN = 128


def check_arch(arch):
    """Raises `ValueError` unless `arch` is one of `ARCHS`."""
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {', '.join(ARCHS)}; got {arch!r}.")


def _check_image_shape(arch, image_shape):
    if arch == "points":
        if len(image_shape) != 1:
            raise ValueError(f"arch='points' needs image_shape=(d,) for points in R^d; got {image_shape}.")
        return
    if len(image_shape) != 3:
        raise ValueError(f"image_shape must be (height, width, channels); got {image_shape}.")
    if arch == "conv" and (image_shape[0] % 4 or image_shape[1] % 4):
        raise ValueError(
            f"arch='conv' needs height and width divisible by 4; got {image_shape}."
        )


def _track_stack(model, layer_stack):
    """Keeps the layers as `model.net` and each as attribute `layer_<i>`.

    `tf.train.Checkpoint` follows attributes but not lists (Keras 3 wraps a
    list in a `TrackedList` that TF's object graph does not walk): without
    the attributes, a checkpoint of the model alone would hold no weights.
    """
    for i, layer in enumerate(layer_stack):
        setattr(model, f"layer_{i}", layer)
    model.net = layer_stack


def _build_stack(layer_stack, input_shape):
    """Builds each layer of a stack in turn from the input shape.

    Keras 3's `Model.build()` does not build sub-layers (keras#18823), and the
    weights must exist before a checkpoint or weights file is restored.
    """
    shape = tuple(input_shape)
    for layer in layer_stack:
        layer.build(shape)
        shape = layer.compute_output_shape(shape)


def output_bias_from_mean(pixel_mean, eps=1e-7):
    """The logit of the per-pixel data mean, clipped away from 0 and 1.

    Initialising a sigmoid output's bias to this makes the untrained generator
    produce the data's marginals (pylearn2's `init_bias_target_marginals`).

    Example:

    >>> output_bias_from_mean(np.array([0.5, 0.0])).round(2)
    array([  0.  , -16.12])
    """
    p = np.clip(np.asarray(pixel_mean, dtype=np.float64), eps, 1.0 - eps)
    return np.log(p) - np.log1p(-p)


@keras.saving.register_keras_serializable(package="gan_keras")
class Generator(keras.Model):
    """G: maps noise z ~ p_z to images in [0, 1].

    Args:
        latent_dim: dimension of z (paper: 100).
        image_shape: `(height, width, channels)` of the images produced.
        arch: `"mlp"` (paper: 1200 ReLU -> 1200 ReLU -> sigmoid), `"conv"`,
            or `"points"` (128 ReLU -> 128 ReLU -> linear, for points in R^d).
        noise: the prior p_z, `"uniform"` on [-sqrt 3, sqrt 3] (paper) or
            `"gaussian"`; used by `sample`.
        output_bias: optional initial bias of the sigmoid output layer (flat
            pixels for `"mlp"`, channels for `"conv"`), e.g.
            `output_bias_from_mean(pixel_mean)`. It is a weight, so it is not
            part of the config: a reloaded model gets it from its weights.

    Example:

    >>> g = Generator(latent_dim=100, image_shape=(28, 28, 1))
    >>> g.sample(16, seed=[0, 1]).shape
    TensorShape([16, 28, 28, 1])
    """

    def __init__(
        self,
        latent_dim=100,
        image_shape=(28, 28, 1),
        arch="mlp",
        noise="uniform",
        output_bias=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_arch(arch)
        noise_lib.check_noise_kind(noise)
        image_shape = tuple(int(d) for d in image_shape)
        _check_image_shape(arch, image_shape)
        self.latent_dim = int(latent_dim)
        self.image_shape = image_shape
        self.arch = arch
        self.noise = noise
        bias_init = "zeros" if output_bias is None else keras.initializers.Constant(
            np.asarray(output_bias, dtype=np.float32)
        )
        if arch == "mlp":
            init = keras.initializers.RandomUniform(-0.05, 0.05)
            stack = [
                layers.Dense(1200, activation="relu", kernel_initializer=init),
                layers.Dense(1200, activation="relu", kernel_initializer=init),
                layers.Dense(
                    int(np.prod(image_shape)),
                    activation="sigmoid",
                    kernel_initializer=init,
                    bias_initializer=bias_init,
                ),
                layers.Reshape(image_shape),
            ]
        elif arch == "points":
            stack = [
                layers.Dense(POINTS_HIDDEN, activation="relu"),
                layers.Dense(POINTS_HIDDEN, activation="relu"),
                layers.Dense(image_shape[0], bias_initializer=bias_init),
            ]
        else:
            h, w, c = image_shape
            stack = [
                layers.Dense(128 * (h // 4) * (w // 4), activation="relu"),
                layers.Reshape((h // 4, w // 4, 128)),
                layers.Conv2DTranspose(64, 4, strides=2, padding="same", activation="relu"),
                layers.Conv2DTranspose(
                    c,
                    4,
                    strides=2,
                    padding="same",
                    activation="sigmoid",
                    bias_initializer=bias_init,
                ),
            ]
        _track_stack(self, stack)

    def call(self, z, training=None):
        x = z
        for layer in self.net:
            x = layer(x, training=training)
        return x

    def build(self, input_shape=None):
        _build_stack(self.net, (None, self.latent_dim))

    def sample_noise(self, num_samples, seed):
        """Draws `num_samples` z's from p_z with a `[2]` int seed (stateless)."""
        return noise_lib.sample_noise(self.noise, (num_samples, self.latent_dim), seed)

    def sample(self, num_samples, seed):
        """Draws `num_samples` images: G(z) with z ~ p_z from a `[2]` int seed."""
        return self(self.sample_noise(num_samples, seed), training=False)

    def get_config(self):
        config = super().get_config()
        config.update(
            latent_dim=self.latent_dim,
            image_shape=list(self.image_shape),
            arch=self.arch,
            noise=self.noise,
        )
        return config


@keras.saving.register_keras_serializable(package="gan_keras")
class Discriminator(keras.Model):
    """D: maps images to the logit of the probability that they are real.

    Returns logits of shape `[batch, 1]`; `sigmoid(logits)` is D(x). Losses use
    the logits directly, which is numerically stable.

    Args:
        image_shape: `(height, width, channels)` of the input images.
        arch: `"mlp"` (paper: maxout 240x5 -> maxout 240x5 -> 1), `"conv"`,
            or `"points"` (128 ReLU -> 128 ReLU -> 1, no dropout).
        seed: optional int seed of the dropout masks (for reproducible runs).
        dropout: whether to use dropout (the paper's D does).

    Dropout follows the released configuration: keep probability 0.8 on the
    input, 0.5 on the input of each later layer, active only when `training`.
    Under `tf.distribute`, replicas share the dropout seed state.

    Example:

    >>> d = Discriminator(image_shape=(28, 28, 1))
    >>> d(keras.ops.zeros((2, 28, 28, 1))).shape
    (2, 1)
    """

    def __init__(self, image_shape=(28, 28, 1), arch="mlp", seed=None, dropout=True, **kwargs):
        super().__init__(**kwargs)
        check_arch(arch)
        image_shape = tuple(int(d) for d in image_shape)
        _check_image_shape(arch, image_shape)
        self.image_shape = image_shape
        self.arch = arch
        self.seed = seed
        self.dropout = dropout
        seeds = [None] * 3 if seed is None else [seed + i for i in range(3)]
        if arch == "mlp":
            init = keras.initializers.RandomUniform(-0.005, 0.005)
            stack = [
                layers.Flatten(),
                layers.Dropout(0.2, seed=seeds[0]),
                Maxout(240, 5, kernel_initializer=init),
                layers.Dropout(0.5, seed=seeds[1]),
                Maxout(240, 5, kernel_initializer=init),
                layers.Dropout(0.5, seed=seeds[2]),
                layers.Dense(1, kernel_initializer=init),
            ]
        elif arch == "points":
            stack = [
                layers.Dense(POINTS_HIDDEN, activation="relu"),
                layers.Dense(POINTS_HIDDEN, activation="relu"),
                layers.Dense(1),
            ]
        else:
            stack = [
                layers.Dropout(0.2, seed=seeds[0]),
                layers.Conv2D(64, 4, strides=2, padding="same"),
                layers.LeakyReLU(0.2),
                layers.Dropout(0.5, seed=seeds[1]),
                layers.Conv2D(128, 4, strides=2, padding="same"),
                layers.LeakyReLU(0.2),
                layers.Flatten(),
                layers.Dropout(0.5, seed=seeds[2]),
                layers.Dense(1),
            ]
        if not dropout:
            stack = [layer for layer in stack if not isinstance(layer, layers.Dropout)]
        _track_stack(self, stack)

    def call(self, images, training=None):
        x = images
        for layer in self.net:
            x = layer(x, training=training)
        return x

    def build(self, input_shape=None):
        _build_stack(self.net, (None, *self.image_shape))

    def get_config(self):
        config = super().get_config()
        config.update(
            image_shape=list(self.image_shape), arch=self.arch, seed=self.seed, dropout=self.dropout
        )
        return config
