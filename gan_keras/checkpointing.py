"""Checkpoints of a whole training run, and resuming from them.

A checkpoint holds G, D, both optimisers (slots, and `iterations`, which the
learning-rate and momentum schedules are functions of), the seed state of the
noise and dropout, the number of finished epochs and, if the run averages G's
weights, the EMA generator. The GAN step counter is the generator optimiser's
`iterations`.
"""

import keras
import tensorflow as tf

# The checkpoint key of the averaged generator (a run with --ema_decay).
EMA_KEY = "ema_generator"


def seed_states(gan):
    """The state variables of every `SeedGenerator` in the GAN: noise and dropout.

    Checkpointing them makes a resumed run draw the same noise and dropout
    masks as an unbroken one.
    """
    return [v.value for v in gan.variables if v.path.endswith("seed_generator_state")]


def has_ema(path):
    """Whether the checkpoint at `path` holds an EMA generator."""
    return any(name.startswith(EMA_KEY + "/") for name, _ in tf.train.list_variables(path))


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
        self.objects = dict(
            generator=gan.generator,
            discriminator=gan.discriminator,
            d_optimizer=gan.d_optimizer,
            g_optimizer=gan.g_optimizer,
            seed_states=seed_states(gan),
            epoch=self.epoch,
        )
        if gan.ema_generator is not None:
            self.objects[EMA_KEY] = gan.ema_generator
        self.checkpoint = tf.train.Checkpoint(**self.objects)
        self.manager = tf.train.CheckpointManager(self.checkpoint, directory, max_to_keep)

    @property
    def latest(self):
        """Path of the newest checkpoint, or None."""
        return self.manager.latest_checkpoint

    def restore(self, path=None):
        """Restores `path` (default: the newest); returns the finished epochs (0 if none).

        A run that starts averaging G's weights when resumed from a checkpoint
        without them starts its average from the restored G.
        """
        path = path or self.latest
        if not path:
            return 0
        if EMA_KEY in self.objects and not has_ema(path):
            objects = {name: obj for name, obj in self.objects.items() if name != EMA_KEY}
            tf.train.Checkpoint(**objects).restore(path).assert_existing_objects_matched()
            self.gan.reset_ema()
        else:
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
