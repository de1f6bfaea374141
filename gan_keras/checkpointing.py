"""Checkpoints of a whole training run, and resuming from them.

A checkpoint holds G, D, both optimisers (slots, and `iterations`, which the
learning-rate and momentum schedules are functions of), the seed state of the
noise and dropout, and the number of finished epochs. The GAN step counter is
the generator optimiser's `iterations`.
"""

import keras
import tensorflow as tf


def seed_states(gan):
    """The state variables of every `SeedGenerator` in the GAN: noise and dropout.

    Checkpointing them makes a resumed run draw the same noise and dropout
    masks as an unbroken one.
    """
    return [v.value for v in gan.variables if v.path.endswith("seed_generator_state")]


class GANCheckpoint:
    """A `tf.train.CheckpointManager` over everything a run needs to resume.

    The optimisers must be built (`GAN.build_optimizers`) before `restore`,
    or their slots are silently skipped.

    Example:

    >>> ckpt = GANCheckpoint(gan, "runs/mnist/checkpoints")  # doctest: +SKIP
    >>> initial_epoch = ckpt.restore()  # 0 for a new run  # doctest: +SKIP
    """

    def __init__(self, gan, directory, max_to_keep=3):
        self.gan = gan
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self.checkpoint = tf.train.Checkpoint(
            generator=gan.generator,
            discriminator=gan.discriminator,
            d_optimizer=gan.d_optimizer,
            g_optimizer=gan.g_optimizer,
            seed_states=seed_states(gan),
            epoch=self.epoch,
        )
        self.manager = tf.train.CheckpointManager(self.checkpoint, directory, max_to_keep)

    @property
    def latest(self):
        """Path of the newest checkpoint, or None."""
        return self.manager.latest_checkpoint

    def restore(self, path=None):
        """Restores `path` (default: the newest); returns the finished epochs (0 if none)."""
        path = path or self.latest
        if path:
            self.checkpoint.restore(path).assert_existing_objects_matched()
        return int(self.epoch.numpy())

    def save(self, epoch):
        """Saves the state after `epoch` finished epochs; returns the path."""
        self.epoch.assign(epoch)
        return self.manager.save(checkpoint_number=epoch)


class CheckpointEveryEpoch(keras.callbacks.Callback):
    """Saves a `GANCheckpoint` at the end of every epoch."""

    def __init__(self, checkpoint):
        super().__init__()
        self.checkpoint = checkpoint

    def on_epoch_end(self, epoch, logs=None):
        self.checkpoint.save(epoch + 1)
