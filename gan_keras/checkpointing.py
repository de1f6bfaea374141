"""Checkpoints of a whole training run, and resuming from them.

A checkpoint holds G, D, both optimisers (slots, and `iterations`, which the
learning-rate and momentum schedules are functions of), the seed state of the
noise and dropout, the number of finished epochs, the number of collapse
recoveries (which select the run's random streams, `gan_keras.streams`) and,
if the run averages G's weights, the EMA generator. The GAN step counter is the generator optimiser's
`iterations`.
"""

import keras
import tensorflow as tf

# The checkpoint key of the averaged generator (a run with --ema_decay).
EMA_KEY = "ema_generator"
# The key of the count of collapse recoveries; checkpoints made before
# --on_collapse lack it (and had none).
RESTARTS_KEY = "restarts"


def seed_states(gan):
    """The state variables of every `SeedGenerator` in the GAN: noise and dropout.

    Checkpointing them makes a resumed run draw the same noise and dropout
    masks as an unbroken one.
    """
    return [v.value for v in gan.variables if v.path.endswith("seed_generator_state")]


def _has_key(path, key):
    return any(name == key or name.startswith(key + "/") for name, _ in tf.train.list_variables(path))


def has_ema(path):
    """Whether the checkpoint at `path` holds an EMA generator."""
    return _has_key(path, EMA_KEY)


def checkpoint_epoch(path):
    """The finished epochs of a checkpoint saved by `GANCheckpoint` (its number)."""
    return int(path.rsplit("-", 1)[1])


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
        self.restarts = tf.Variable(0, dtype=tf.int64, trainable=False, name="restarts")
        self.objects = dict(
            generator=gan.generator,
            discriminator=gan.discriminator,
            d_optimizer=gan.d_optimizer,
            g_optimizer=gan.g_optimizer,
            seed_states=seed_states(gan),
            epoch=self.epoch,
            **{RESTARTS_KEY: self.restarts},
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
        without them starts its average from the restored G; a checkpoint
        made before collapse recoveries were counted had none.
        """
        path = path or self.latest
        if not path:
            return 0
        missing = {key for key in (EMA_KEY, RESTARTS_KEY) if key in self.objects and not _has_key(path, key)}
        status = self.checkpoint.restore(path)  # also its save counter
        if not missing:
            status.assert_existing_objects_matched()
        else:
            status.expect_partial()
            objects = {name: obj for name, obj in self.objects.items() if name not in missing}
            tf.train.Checkpoint(**objects).restore(path).assert_existing_objects_matched()
        if EMA_KEY in missing:
            self.gan.reset_ema()
        if RESTARTS_KEY in missing:
            self.restarts.assign(0)
        return int(self.epoch.numpy())

    def save(self, epoch):
        """Saves the state after `epoch` finished epochs; returns the path."""
        self.epoch.assign(epoch)
        return self.manager.save(checkpoint_number=epoch)


class CheckpointEveryEpoch(keras.callbacks.Callback):
    """Saves a `GANCheckpoint` at the end of every epoch.

    With a `guard` (`divergence.CollapseGuard`, earlier in the callback
    list), an epoch at whose end D has won is not saved, so the kept
    checkpoints stay ones to roll back to.
    """

    def __init__(self, checkpoint, guard=None):
        super().__init__()
        self.checkpoint = checkpoint
        self.guard = guard

    def on_epoch_end(self, epoch, logs=None):
        if self.guard is None or self.guard.healthy():
            self.checkpoint.save(epoch + 1)
