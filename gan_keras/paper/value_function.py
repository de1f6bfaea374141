"""The value function V(D, G), and D trained alone to maximise it.

    V(D, G) = E_{x ~ p_data} log D(x) + E_{z ~ p_z} log(1 - D(G(z)))

is minus the mean of the package's `losses.discriminator_loss`, so D ascends
V by descending that loss, as in `GAN`'s train step. Here G is held fixed
(a distribution or a 1-D `Generator`), which is the inner maximisation of
the paper's Section 4: with enough steps D approaches D* (Proposition 1,
`toy.optimal_discriminator`) and V approaches C(G) (Theorem 1,
`toy.optimal_value`).

Example:

>>> from gan_keras.paper import toy
>>> from gan_keras.paper.value_function import train_discriminator
>>> p = toy.tfd.Normal(0.0, 1.0)
>>> abs(train_discriminator(p, p, steps=2000).value - toy.MINUS_LOG_4) < 0.03  # doctest: +SKIP
True
"""

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from gan_keras.nets import losses
from gan_keras.nets.models import Discriminator
from gan_keras.paper.toy import sample_points

__all__ = ["TrainedDiscriminator", "train_discriminator", "value_function"]


def value_function(discriminator, data_source, g_source, num_samples=100_000, seed=(0, 123)):
    """Monte Carlo V(D, G) = E log D(x) + E log(1 - D(G(z))) on fresh samples.

    It is minus the mean of `losses.discriminator_loss`. Returns a float.

    Example:

    >>> from gan_keras.paper.toy import MINUS_LOG_4, tfd
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

    >>> from gan_keras.paper.toy import MINUS_LOG_4, tfd
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
