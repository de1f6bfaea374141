"""The generator and discriminator: the paper's MLPs, a small conv pair, DCGAN, toy MLPs.

`arch="mlp"` is the paper's MNIST model (from the authors' released
configuration); `arch="conv"` is a small DCGAN-style pair for 28x28 or 32x32
images (height and width divisible by 4); `arch="dcgan"` is the DCGAN of
Radford et al. (2015) for square images of side 32, 64, ... (`gan_keras.nets.dcgan`);
`arch="points"` is a small ReLU MLP
pair for points in R^d (the 1-D toy of the paper's Fig. 1, the 2-D ring of
eight Gaussians), with `image_shape=(d,)` and a linear generator output.
"""

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from gan_keras.nets import dcgan
from gan_keras.nets import noise as noise_lib
from gan_keras.nets.layers import MaskedDropout, Maxout
from gan_keras.nets.streams import reseed_generator

__all__ = [
    "ARCHS",
    "POINTS_HIDDEN",
    "Discriminator",
    "Generator",
    "check_arch",
    "check_image_shape",
    "output_bias_from_mean",
]

ARCHS = ("mlp", "conv", "points", "dcgan")
# Hidden units of each of the two hidden layers of the `points` MLPs.
POINTS_HIDDEN = 128


def check_arch(arch):
    """Raises `ValueError` unless `arch` is one of `ARCHS`."""
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {', '.join(ARCHS)}; got {arch!r}.")


def check_image_shape(arch, image_shape):
    """Raises a one-line `ValueError` unless `arch` can model images of `image_shape`.

    Example:

    >>> check_image_shape("dcgan", (48, 48, 3))
    Traceback (most recent call last):
    ...
    ValueError: arch='dcgan' needs square images whose side is a power of 2 >= 32 (32x32, 64x64, 128x128, ...); got 48x48.
    """
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
    if arch == "dcgan":
        dcgan.check_image_shape(image_shape)


def _track_stack(model, layer_stack):
    """Keeps the layers as `model.net` and each as attribute `layer_<i>`.

    `tf.train.Checkpoint` follows attributes but not lists (Keras 3 wraps a
    list in a `TrackedList` that TF's object graph does not walk): without
    the attributes, a checkpoint of the model alone would hold no weights.
    """
    for i, layer in enumerate(layer_stack):
        setattr(model, f"layer_{i}", layer)
    model.net = layer_stack


def _build_stack(layer_stack, input_shape, label_at=None, num_classes=0):
    """Builds each layer of a stack in turn from the input shape.

    Keras 3's `Model.build()` does not build sub-layers (keras#18823), and the
    weights must exist before a checkpoint or weights file is restored. A
    conditional network's one-hot label joins the features before layer
    `label_at`, which widens their last axis by `num_classes`.
    """
    shape = tuple(input_shape)
    for i, layer in enumerate(layer_stack):
        if i == label_at:
            shape = (*shape[:-1], shape[-1] + num_classes)
        layer.build(shape)
        shape = layer.compute_output_shape(shape)


def _check_num_classes(num_classes):
    if int(num_classes) < 0 or int(num_classes) == 1:
        raise ValueError(
            f"num_classes must be 0 (unconditional) or >= 2 (conditional); got {num_classes}."
        )
    return int(num_classes)


def _run_stack(layer_stack, x, labels, label_at, num_classes, training):
    """Runs a stack, concatenating the one-hot `labels` to the features before layer `label_at`.

    Before a convolution (features `[batch, h, w, c]`) the one-hot label is
    repeated at every position, as `num_classes` constant feature maps.
    """
    for i, layer in enumerate(layer_stack):
        if i == label_at and labels is not None:
            one_hot = tf.one_hot(tf.cast(tf.reshape(labels, [-1]), tf.int32), num_classes, dtype=x.dtype)
            if x.shape.rank == 4:
                shape = tf.concat([tf.shape(x)[:-1], [num_classes]], axis=0)
                one_hot = tf.broadcast_to(one_hot[:, None, None, :], shape)
            x = tf.concat([x, one_hot], axis=-1)
        x = layer(x, training=training)
    return x


def _split_inputs(inputs, num_classes, what):
    """`(x, labels)` of a network's inputs: `x` alone, or `(x, labels)` if conditional."""
    conditional = isinstance(inputs, (tuple, list))
    if conditional != bool(num_classes):
        raise ValueError(
            f"this {what} has num_classes={num_classes}: call it on "
            + ("(inputs, labels)." if num_classes else "inputs alone, without labels.")
        )
    return tuple(inputs) if conditional else (inputs, None)


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
            `"dcgan"` (Radford et al. 2015, sigmoid output; `gan_keras.nets.dcgan`)
            or `"points"` (128 ReLU -> 128 ReLU -> linear, for points in R^d).
        noise: the prior p_z, `"uniform"` on [-sqrt 3, sqrt 3] (paper) or
            `"gaussian"`; used by `sample`.
        output_bias: optional initial bias of the sigmoid output layer (flat
            pixels for `"mlp"`, channels for `"conv"`), e.g.
            `output_bias_from_mean(pixel_mean)`. It is a weight, so it is not
            part of the config: a reloaded model gets it from its weights.
        num_classes: 0 for G(z); N >= 2 for the conditional G(z, c) of the
            paper's Section 7, called on `(z, labels)` with int labels in
            [0, N): the one-hot label is concatenated to z.

    Example:

    >>> g = Generator(latent_dim=100, image_shape=(28, 28, 1))
    >>> g.sample(16, seed=[0, 1]).shape
    TensorShape([16, 28, 28, 1])
    >>> cg = Generator(num_classes=10)
    >>> cg.sample(3, seed=[0, 1], labels=[7, 7, 1]).shape
    TensorShape([3, 28, 28, 1])
    """

    def __init__(
        self,
        latent_dim=100,
        image_shape=(28, 28, 1),
        arch="mlp",
        noise="uniform",
        output_bias=None,
        num_classes=0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_arch(arch)
        noise_lib.check_noise_kind(noise)
        self.num_classes = _check_num_classes(num_classes)
        image_shape = tuple(int(d) for d in image_shape)
        check_image_shape(arch, image_shape)
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
        elif arch == "dcgan":
            stack = dcgan.generator_stack(image_shape, bias_init)
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

    def call(self, inputs, training=None):
        z, labels = _split_inputs(inputs, self.num_classes, "Generator")
        return _run_stack(self.net, z, labels, 0, self.num_classes, training)

    def build(self, input_shape=None):
        _build_stack(self.net, (None, self.latent_dim), 0, self.num_classes)

    def sample_noise(self, num_samples, seed):
        """Draws `num_samples` z's from p_z with a `[2]` int seed (stateless)."""
        return noise_lib.sample_noise(self.noise, (num_samples, self.latent_dim), seed)

    def sample_inputs(self, num_samples, seed, labels=None):
        """G's inputs for `num_samples` samples: z, or `(z, labels)` if conditional.

        z comes from `sample_noise(num_samples, seed)`; a conditional G's
        labels are `labels` if given, else uniform over the classes, drawn
        from a seed derived from `seed`.
        """
        z = self.sample_noise(num_samples, seed)
        if not self.num_classes:
            if labels is not None:
                raise ValueError("labels are for a conditional Generator (num_classes >= 2).")
            return z
        if labels is None:
            label_seed = tf.random.experimental.stateless_fold_in(tf.cast(seed, tf.int32), 1)
            labels = tf.random.stateless_uniform(
                [num_samples], label_seed, minval=0, maxval=self.num_classes, dtype=tf.int32
            )
        return z, tf.cast(labels, tf.int32)

    def sample(self, num_samples, seed, labels=None):
        """Draws `num_samples` float32 images G(z) (or G(z, labels)) with z ~ p_z from a `[2]` int seed."""
        # float32 whatever the compute dtype (mixed precision): evaluation and images need it.
        return keras.ops.cast(self(self.sample_inputs(num_samples, seed, labels), training=False), "float32")

    def get_config(self):
        config = super().get_config()
        config.update(
            latent_dim=self.latent_dim,
            image_shape=list(self.image_shape),
            arch=self.arch,
            noise=self.noise,
            num_classes=self.num_classes,
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
            `"dcgan"` (Radford et al. 2015: strided convs, batch norm, no
            dropout, so it needs `dropout=False`) or `"points"` (128 ReLU ->
            128 ReLU -> 1, no dropout).
        seed: optional int seed of the dropout masks (for reproducible runs).
        dropout: whether to use dropout (the paper's D does).
        num_classes: 0 for D(x); N >= 2 for the conditional D(x, c), called
            on `(images, labels)`: the one-hot label is concatenated to the
            input of the first hidden layer (`"mlp"`, after the input
            dropout; `"points"`), of the last dense layers (`"conv"`), or
            to the image as `num_classes` constant channels (`"dcgan"`).

    Dropout follows the released configuration: keep probability 0.8 on the
    input, 0.5 on the input of each later layer, active only when `training`
    (`MaskedDropout`: Keras's masks, applied as one multiply). Under
    `tf.distribute`, replicas share the dropout seed state.

    Example:

    >>> d = Discriminator(image_shape=(28, 28, 1))
    >>> tuple(d(keras.ops.zeros((2, 28, 28, 1))).shape)
    (2, 1)
    """

    def __init__(
        self, image_shape=(28, 28, 1), arch="mlp", seed=None, dropout=True, num_classes=0, **kwargs
    ):
        super().__init__(**kwargs)
        check_arch(arch)
        self.num_classes = _check_num_classes(num_classes)
        image_shape = tuple(int(d) for d in image_shape)
        check_image_shape(arch, image_shape)
        if arch == "dcgan" and dropout:
            raise ValueError("arch='dcgan' has no dropout in D (Radford et al. 2015); pass dropout=False.")
        self.image_shape = image_shape
        self.arch = arch
        self.seed = seed
        self.dropout = dropout
        seeds = [None] * 3 if seed is None else [seed + i for i in range(3)]
        if arch == "mlp":
            init = keras.initializers.RandomUniform(-0.005, 0.005)
            stack = [
                layers.Flatten(),
                MaskedDropout(0.2, seed=seeds[0]),
                Maxout(240, 5, kernel_initializer=init),
                MaskedDropout(0.5, seed=seeds[1]),
                Maxout(240, 5, kernel_initializer=init),
                MaskedDropout(0.5, seed=seeds[2]),
                layers.Dense(1, kernel_initializer=init),
            ]
        elif arch == "points":
            stack = [
                layers.Dense(POINTS_HIDDEN, activation="relu"),
                layers.Dense(POINTS_HIDDEN, activation="relu"),
                layers.Dense(1),
            ]
        elif arch == "dcgan":
            stack = dcgan.discriminator_stack(image_shape)
        else:
            stack = [
                MaskedDropout(0.2, seed=seeds[0]),
                layers.Conv2D(64, 4, strides=2, padding="same"),
                layers.LeakyReLU(0.2),
                MaskedDropout(0.5, seed=seeds[1]),
                layers.Conv2D(128, 4, strides=2, padding="same"),
                layers.LeakyReLU(0.2),
                layers.Flatten(),
                MaskedDropout(0.5, seed=seeds[2]),
                layers.Dense(1),
            ]
        if not dropout:
            stack = [layer for layer in stack if not isinstance(layer, layers.Dropout)]
        _track_stack(self, stack)
        # Where a conditional D's one-hot label joins the features: flat ones,
        # or dcgan's input image (as constant channels).
        first_hidden = {"mlp": Maxout, "points": layers.Dense, "conv": layers.Flatten, "dcgan": layers.Conv2D}[arch]
        self._label_at = next(i for i, layer in enumerate(stack) if isinstance(layer, first_hidden))
        self._label_at += arch == "conv"  # after conv's Flatten

    def call(self, inputs, training=None):
        images, labels = _split_inputs(inputs, self.num_classes, "Discriminator")
        return _run_stack(self.net, images, labels, self._label_at, self.num_classes, training)

    def build(self, input_shape=None):
        _build_stack(self.net, (None, *self.image_shape), self._label_at, self.num_classes)

    def dropout_layers(self):
        """D's `Dropout` layers, input side first (empty without dropout)."""
        return [layer for layer in self.net if isinstance(layer, layers.Dropout)]

    def reseed(self, seed):
        """Moves the dropout masks onto the stream of `seed`, keeping each layer's draw count.

        Layer `i` draws from `seed + i`, as a new `Discriminator(seed=seed)`
        would. Used when a run is rolled back after a collapse.

        Example:

        >>> d = Discriminator(seed=1)
        >>> d.reseed(7)
        """
        for i, layer in enumerate(self.dropout_layers()):
            reseed_generator(layer.seed_generator, seed + i)

    def get_config(self):
        config = super().get_config()
        config.update(
            image_shape=list(self.image_shape),
            arch=self.arch,
            seed=self.seed,
            dropout=self.dropout,
            num_classes=self.num_classes,
        )
        return config
