"""Building a run's GAN from its config, and writing its generator and sample grid."""


import numpy as np
import tensorflow as tf

from gan_keras.data import images as images_lib
from gan_keras.nets.gan import GAN
from gan_keras.nets.models import Discriminator, Generator, output_bias_from_mean
from gan_keras.nets.optimizers import adam_optimizer, paper_optimizer
from gan_keras.nets.precision import dtype_policy, float32_copy, loss_scaled
from gan_keras.utils import storage

__all__ = [
    "build_gan",
    "save_generator",
    "write_sample_grid",
]


def build_gan(config, image_shape, pixel_mean=None, updates_per_epoch=500, num_classes=0):
    """Builds and compiles the GAN of a config, with built optimisers (`config.optimizer` for both).

    Args:
        config: a `TrainConfig`.
        image_shape: `(height, width, channels)` of the data.
        num_classes: classes of a conditional GAN (`config.num_classes()`).
        pixel_mean: optional per-pixel mean of the training data in [0, 1];
            the generator's output bias starts at its logit (the paper's init).
        updates_per_epoch: GAN steps per pass over the data (sets the epoch of
            the momentum schedule).

    A run of `config.epochs` epochs calls each `tf.function` call's steps one
    after another if `config.unrolls` says so (long runs, by default).

    Example:

    >>> from gan_keras import TrainConfig
    >>> gan = build_gan(TrainConfig(), (28, 28, 1))
    """
    with dtype_policy(config.mixed_precision):
        output_bias = None
        if pixel_mean is not None:
            mean = np.asarray(pixel_mean).reshape(-1, image_shape[-1])
            mean = mean.reshape(-1) if config.arch == "mlp" else mean.mean(axis=0)
            output_bias = output_bias_from_mean(mean)
        generator = Generator(
            latent_dim=config.latent_dim,
            image_shape=image_shape,
            arch=config.arch,
            noise=config.noise,
            output_bias=output_bias,
            num_classes=num_classes,
            name="generator",
        )
        discriminator = Discriminator(
            image_shape=image_shape,
            arch=config.arch,
            seed=config.stream_seed("dropout"),
            dropout=config.d_dropout,
            num_classes=num_classes,
            name="discriminator",
        )
        gan = GAN(
            generator,
            discriminator,
            k=config.k,
            update=config.update,
            seed=config.stream_seed("noise"),
            ema_decay=config.ema_decay or None,
            ema_power=config.ema_power,
        )

    def optimizer(name, updates):
        # The learning-rate schedule is the same for both kinds.
        common = dict(
            learning_rate=config.learning_rate,
            lr_decay=config.lr_decay,
            min_learning_rate=config.min_learning_rate,
            name=name,
        )
        if config.optimizer == "adam":
            inner = adam_optimizer(beta_1=config.adam_beta1, beta_2=config.adam_beta2, **common)
        else:
            inner = paper_optimizer(
                momentum_initial=config.momentum_initial,
                momentum_final=config.momentum_final,
                momentum_saturate_epoch=config.momentum_saturate_epoch,
                updates_per_epoch=updates,
                **common,
            )
        return loss_scaled(inner, config.mixed_precision)  # float16: one loss scale per network

    steps_per_epoch = config.steps_per_epoch or updates_per_epoch
    gan.compile(
        d_optimizer=optimizer("d_optimizer", updates_per_epoch * config.k),  # k D updates a step
        g_optimizer=optimizer("g_optimizer", updates_per_epoch),
        g_loss=config.g_loss,
        jit_compile=config.jit_compile,
        steps_per_execution=config.steps_per_call(steps_per_epoch, one_device=not tf.distribute.has_strategy()),
        unroll_steps=config.unrolls(config.epochs * steps_per_epoch),
    )
    gan.build_optimizers()
    return gan


def save_generator(generator, path):
    """Saves a generator as a float32 `.keras` file atomically (temp file + rename); a failed save leaves no temp file."""
    with storage.replacing(path) as tmp:
        float32_copy(generator).save(tmp)


def write_sample_grid(generator, path, rows=10, cols=10, seed=(0, 0)):
    """Writes a `rows x cols` PNG grid of samples (a scatter plot for points) drawn with a fixed seed."""
    images_lib.write_png(path, images_lib.sample_picture(generator, seed, rows, cols))

