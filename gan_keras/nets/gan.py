"""`GAN`: a Keras model whose `train_step` trains G and D adversarially."""

import keras
import tensorflow as tf

from gan_keras.nets import losses
from gan_keras.nets.streams import reseed_generator

__all__ = [
    "GAN",
    "UPDATES",
    "ema_decay_at",
    "num_classes",
]

UPDATES = ("simultaneous", "alternating")


def num_classes(network):
    """The classes a network is conditioned on: 0 for an unconditional or a plain Keras model."""
    return getattr(network, "num_classes", 0)


def _multi_worker(strategy):
    """Whether `strategy` spans several worker processes."""
    return isinstance(
        strategy, tf.distribute.MultiWorkerMirroredStrategy
    ) and strategy.extended._in_multi_worker_mode()  # Keras' own test, too.


def ema_decay_at(decay, step, power=8.0):
    """The EMA decay used at G step `step` (1-based): `min(decay, step / (step + power + 1))`.

    Until the cap `decay` is reached the average is a polynomial-decay
    average (Shamir & Zhang, 2013): after `t` steps it weighs G's weights
    of step `s` in proportion to `s ** power`, so it spans the whole run so
    far, with its weight on the last `1 / (power + 1)` or so (`power=0`: the
    plain mean of all steps; `power=8`, the default, is the warm-up of
    `tf.train.ExponentialMovingAverage` with `num_updates`). From step
    `(power + 1) * decay / (1 - decay)` on it is an exponential moving average
    over about `1 / (1 - decay)` steps (10,000 for 0.9999).

    Example:

    >>> [round(float(ema_decay_at(0.9999, t)), 4) for t in (1, 1000, 10**6)]
    [0.1, 0.9911, 0.9999]
    >>> [round(float(ema_decay_at(0.999995, t, power=1.0)), 4) for t in (1, 1000)]
    [0.3333, 0.998]
    """
    step = tf.cast(step, tf.float32)
    return tf.minimum(tf.constant(decay, tf.float32), step / (step + (power + 1.0)))


@keras.saving.register_keras_serializable(package="gan_keras")
class GAN(keras.Model):
    """Trains a `Generator` against a `Discriminator` with `fit`.

    Each element of the training dataset holds the `k` real minibatches of one
    step as `[m, k, height, width, channels]` (`m` = minibatch size;
    minibatch `i` is `element[:, i]`, see `data.TrainingData`); `train_step`
    runs one iteration of the chosen update rule on it:

    - `update="simultaneous"` (default; the authors' released code, which
      produced Table 1): one forward pass on `m` real images and `m` samples;
      D descends `0.5 * (BCE(D(x), 1) + BCE(D(G(z)), 0))`, G its loss through
      the same dropout-masked pass; both gradients are taken at the same
      parameters and applied together. Needs `k=1`.
    - `update="alternating"` (Algorithm 1 of the paper): `k` discriminator
      steps, each on its own `m` real images and fresh noise, then one
      generator step on fresh noise. With the paper's hyperparameters it is
      prone to mode collapse on MNIST (see README).

    Conditional GAN (paper, Section 7): when G and D have `num_classes >= 2`,
    elements are `(images, labels)` with labels `[m, k]`, and G and D see the
    class: G(z, c) with the labels of the real minibatch (so the classes of the
    samples follow the data's), D(x, c) on real and fake pairs. The
    alternating rule's G step uses the labels of the last D step's minibatch.

    Metrics: `d_loss` (the loss D's step minimised), `g_loss`, `d_real` (mean
    D(x)), `d_fake` (mean D(G(z))) and `value`, the estimate of V(D, G). In the
    alternating rule they come from the last D step and the G step.

    Losses are averaged over the *global* batch (`tf.nn.compute_average_loss`),
    so the update is the same on one device and on N replicas.

    Weight averaging (not in the paper): with `ema_decay` in (0, 1), the GAN
    also keeps `ema_generator`, an exponential moving average of G's weights,
    `ema <- d * ema + (1 - d) * G` after every G step, which starts as a copy
    of G; `d = min(ema_decay, t / (t + ema_power + 1))` at G step `t`
    (`ema_decay_at`; the default `ema_power=8` is the warm-up of
    `tf.train.ExponentialMovingAverage`), so the average forgets the
    untrained initial weights early and, until the cap `ema_decay` is
    reached, weighs step `s` in proportion to `s ** ema_power`. It does not change training; it is the generator
    to sample from (`inference_generator`), because averaging smooths out the
    step-to-step oscillation of adversarial training (Yazici et al., 2019).

    Example:

    >>> from gan_keras import Discriminator, Generator, paper_optimizer
    >>> gan = GAN(Generator(), Discriminator(), seed=0, ema_decay=0.9999)
    >>> gan.compile(d_optimizer=paper_optimizer(), g_optimizer=paper_optimizer())
    >>> gan.fit(dataset, epochs=1, steps_per_epoch=500)  # doctest: +SKIP
    >>> gan.inference_generator.sample(16, seed=[0, 0])  # doctest: +SKIP
    """

    def __init__(
        self,
        generator,
        discriminator,
        k=1,
        update="simultaneous",
        seed=None,
        ema_decay=None,
        ema_power=8.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if update not in UPDATES:
            raise ValueError(f"update must be one of {', '.join(UPDATES)}; got {update!r}.")
        if int(k) < 1:
            raise ValueError(f"k must be >= 1; got {k}.")
        if update == "simultaneous" and k != 1:
            raise ValueError(f"k={k} needs update='alternating'; the simultaneous update has k=1.")
        if num_classes(generator) != num_classes(discriminator):
            raise ValueError(
                f"generator and discriminator must have the same num_classes; got "
                f"{num_classes(generator)} and {num_classes(discriminator)}."
            )
        if ema_decay is not None and not 0 < ema_decay < 1:
            raise ValueError(f"ema_decay must be in (0, 1), or None for no averaging; got {ema_decay}.")
        if ema_power < 0:
            raise ValueError(f"ema_power must be >= 0; got {ema_power}.")
        self.generator = generator
        self.discriminator = discriminator
        self.ema_decay = ema_decay
        self.ema_power = float(ema_power)
        self.ema_generator = None
        if ema_decay is not None:
            self.ema_generator = generator.__class__.from_config(
                {**generator.get_config(), "name": f"ema_{generator.name}"}
            )
            self.ema_generator.trainable = False
        self.k = int(k)
        self.update = update
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.unroll_steps = False  # set by `compile`
        self._trackers = {
            name: keras.metrics.Mean(name=name)
            for name in ("d_loss", "g_loss", "d_real", "d_fake", "value")
        }

    def compile(self, d_optimizer, g_optimizer, g_loss="non_saturating", unroll_steps=False, **kwargs):
        """Configures training.

        Args:
            d_optimizer, g_optimizer: one optimiser per network, e.g.
                `paper_optimizer()`.
            g_loss: `"non_saturating"` (default) or `"minimax"`.
            unroll_steps: on one device, call the step `steps_per_execution`
                times one after another in a `fit` call's `tf.function`,
                instead of in Keras's `tf.while_loop`: the same arithmetic,
                and the executor may start a step's noise, data and dropout
                masks before the step before it has ended. 2-3% faster a
                step on a CPU, for 1-2 s more tracing at the first call
                (docs/performance.md): for long runs (`train.py`'s
                `--unroll_steps=auto` turns it on for them). For endless data
                only: where Keras's loop stops a call's steps when the data
                end, an unrolled call fails there.
            **kwargs: passed to `keras.Model.compile` (`jit_compile`,
                `steps_per_execution`, ...).
        """
        losses.check_g_loss(g_loss)
        super().compile(optimizer=None, **kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.g_loss = g_loss
        self.unroll_steps = bool(unroll_steps)

    def make_train_function(self, force=False):
        """Keras's training function, or with `unroll_steps` its steps called one after another (one replica, no XLA, > 1 step)."""
        steps = self.steps_per_execution
        keras_own = self.run_eagerly or self.jit_compile or self.distribute_strategy.num_replicas_in_sync > 1
        if not self.unroll_steps or steps == 1 or keras_own:
            return super().make_train_function(force)
        if self.train_function is None or force:
            # The step as Keras traces it (no AutoGraph conversion), once, and
            # called `steps` times: TensorFlow inlines the calls into one graph.
            one_step = tf.function(tf.autograph.experimental.do_not_convert(self.train_step), reduce_retracing=True)

            @tf.function(autograph=False)
            def train_function(iterator):
                for _ in range(steps):
                    logs = one_step(iterator.get_next())
                return logs

            self.train_function = train_function
        return self.train_function

    def build(self, input_shape=None):
        """Builds G and D, and the EMA generator as a copy of G (the GAN has no weights of its own)."""
        for network in (self.generator, self.discriminator):
            if not network.built:
                network.build()
        if self.ema_generator is not None and not self.ema_generator.built:
            self.ema_generator.build()
            self.reset_ema()

    def reseed(self, noise_seed, dropout_seed):
        """Moves the noise and D's dropout masks onto new streams, keeping their draw counts.

        Used when a run is rolled back after a collapse (`--on_collapse=recover`).

        Example:

        >>> gan.reseed(noise_seed=11, dropout_seed=12)  # doctest: +SKIP
        """
        reseed_generator(self.seed_generator, noise_seed)
        if hasattr(self.discriminator, "reseed"):
            self.discriminator.reseed(dropout_seed)

    @property
    def inference_generator(self):
        """The generator to sample from: `ema_generator` if weights are averaged, else `generator`."""
        return self.generator if self.ema_generator is None else self.ema_generator

    def reset_ema(self):
        """Sets the EMA generator's weights to G's (e.g. when averaging starts mid-run)."""
        for average, variable in zip(self.ema_generator.weights, self.generator.weights, strict=True):
            average.assign(variable)

    def build_optimizers(self):
        """Builds both networks and creates the optimisers' slots.

        Call it inside the strategy scope before training or restoring a
        checkpoint: Keras creates slots lazily in the first step otherwise,
        which breaks under `tf.distribute` (keras#23085) and skips slots on
        restore. A built GAN is also not called symbolically by `fit`.
        """
        if not self.built:
            self.build()
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)

    @property
    def metrics(self):
        return list(self._trackers.values())

    def call(self, inputs, training=False):
        """G on `z` (or `(z, labels)` if conditional)."""
        return self.generator(inputs, training=training)

    def _noise(self, batch_size):
        """Noise for this replica's share of the global minibatch.

        The global minibatch's noise is drawn from one seed and each replica
        keeps its slice, so N replicas use the same z as one device.
        """
        seed = self.seed_generator.next()
        replicas = self.distribute_strategy.num_replicas_in_sync
        if replicas == 1:
            return self.generator.sample_noise(batch_size, seed)
        z = self.generator.sample_noise(batch_size * replicas, seed)
        replica = tf.distribute.get_replica_context().replica_id_in_sync_group
        return z[replica * batch_size : (replica + 1) * batch_size]

    def _with_labels(self, x, labels):
        """A network's input: `x`, or `(x, labels)` for a conditional GAN."""
        return x if labels is None else (x, labels)

    def _generate(self, batch_size, labels):
        """G's samples on fresh noise (for the given labels if conditional)."""
        return self.generator(self._with_labels(self._noise(batch_size), labels), training=True)

    def _discriminate(self, real, fake, labels):
        """D's logits on real and fake images in one pass (dropout is per example)."""
        pair_labels = None if labels is None else tf.concat([labels, labels], axis=0)
        logits = self._logits(tf.concat([real, tf.cast(fake, real.dtype)], axis=0), pair_labels)
        real_logits, fake_logits = tf.split(logits, 2)
        return real_logits, fake_logits

    def _logits(self, images, labels):
        """D's logits on `images` as a float32 vector, whatever D computes in (mixed precision)."""
        logits = self.discriminator(self._with_labels(images, labels), training=True)
        return tf.cast(tf.reshape(logits, [-1]), tf.float32)

    def _record(self, d_loss, g_loss, real_logits, fake_logits):
        value = -losses.discriminator_loss(real_logits, fake_logits)
        for name, values in (
            ("d_loss", d_loss),
            ("g_loss", g_loss),
            ("d_real", tf.sigmoid(real_logits)),
            ("d_fake", tf.sigmoid(fake_logits)),
            ("value", value),
        ):
            self._trackers[name].update_state(values)
        logs = {name: tracker.result() for name, tracker in self._trackers.items()}
        if _multi_worker(self.distribute_strategy):
            # Keras 3 reduces logs across workers with strategy.reduce("MEAN",
            # v, axis=0), which needs an axis (keras#20601): give it one.
            logs = {name: tf.reshape(value, [1]) for name, value in logs.items()}
        return logs

    def train_step(self, data):
        if isinstance(data, (tuple, list)):
            real, labels = data[0], (data[1] if len(data) > 1 else None)
        else:
            real, labels = data, None
        if bool(num_classes(self.generator)) != (labels is not None):
            raise ValueError(
                "a conditional GAN trains on (images, labels) elements and an unconditional "
                f"one on images alone; this one has num_classes={num_classes(self.generator)}."
            )
        minibatches = tf.unstack(real, num=self.k, axis=1)
        label_batches = [None] * self.k if labels is None else tf.unstack(labels, num=self.k, axis=1)
        if self.update == "simultaneous":
            return self._simultaneous_step(minibatches[0], label_batches[0])
        return self._alternating_step(minibatches, label_batches)

    def _simultaneous_step(self, real, labels):
        batch_size = tf.shape(real)[0]
        d_vars = self.discriminator.trainable_variables
        g_vars = self.generator.trainable_variables
        with tf.GradientTape(persistent=True) as tape:
            fake = self._generate(batch_size, labels)
            real_logits, fake_logits = self._discriminate(real, fake, labels)
            d_loss = 0.5 * losses.discriminator_loss(real_logits, fake_logits)
            g_loss = losses.generator_loss(fake_logits, self.g_loss)
            d_objective = self.d_optimizer.scale_loss(tf.nn.compute_average_loss(d_loss))
            g_objective = self.g_optimizer.scale_loss(tf.nn.compute_average_loss(g_loss))
        d_grads = tape.gradient(d_objective, d_vars)
        g_grads = tape.gradient(g_objective, g_vars)
        del tape
        self.d_optimizer.apply(d_grads, d_vars)
        self.g_optimizer.apply(g_grads, g_vars)
        self._update_ema()
        return self._record(d_loss, g_loss, real_logits, fake_logits)

    def _alternating_step(self, minibatches, label_batches):
        d_vars = self.discriminator.trainable_variables
        g_vars = self.generator.trainable_variables
        # A Python loop: k is static, and optimizer.apply inside tf.while_loop
        # fails under tf.distribute (keras#20582).
        for real_batch, labels in zip(minibatches, label_batches):
            batch_size = tf.shape(real_batch)[0]
            fake = self._generate(batch_size, labels)
            with tf.GradientTape() as tape:
                real_logits, fake_logits = self._discriminate(real_batch, fake, labels)
                d_loss = losses.discriminator_loss(real_logits, fake_logits)
                d_objective = self.d_optimizer.scale_loss(tf.nn.compute_average_loss(d_loss))
            self.d_optimizer.apply(tape.gradient(d_objective, d_vars), d_vars)
        with tf.GradientTape() as tape:
            fake = self._generate(batch_size, labels)
            g_fake_logits = self._logits(fake, labels)
            g_loss = losses.generator_loss(g_fake_logits, self.g_loss)
            g_objective = self.g_optimizer.scale_loss(tf.nn.compute_average_loss(g_loss))
        self.g_optimizer.apply(tape.gradient(g_objective, g_vars), g_vars)
        self._update_ema()
        return self._record(d_loss, g_loss, real_logits, fake_logits)

    def _update_ema(self):
        """ema <- d * ema + (1 - d) * G with d = ema_decay_at(step), on every replica's copy."""
        if self.ema_generator is None:
            return
        decay = ema_decay_at(self.ema_decay, self.g_optimizer.iterations, self.ema_power)

        def update(strategy):
            # Mirrored variables are updated in cross-replica context, as
            # Keras' optimisers update theirs.
            for average, variable in zip(self.ema_generator.weights, self.generator.weights, strict=True):
                strategy.extended.update(
                    average.value,
                    lambda a, v: a.assign(decay * a + (1 - decay) * v),
                    args=(variable.value,),
                    group=False,
                )

        tf.distribute.get_replica_context().merge_call(update)

    def get_config(self):
        config = super().get_config()
        config.update(
            generator=keras.saving.serialize_keras_object(self.generator),
            discriminator=keras.saving.serialize_keras_object(self.discriminator),
            k=self.k,
            update=self.update,
            seed=self.seed,
            ema_decay=self.ema_decay,
            ema_power=self.ema_power,
        )
        return config

    @classmethod
    def from_config(cls, config):
        config["generator"] = keras.saving.deserialize_keras_object(config["generator"])
        config["discriminator"] = keras.saving.deserialize_keras_object(config["discriminator"])
        return cls(**config)
