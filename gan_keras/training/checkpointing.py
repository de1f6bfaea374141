"""Checkpoints of a whole training run, and resuming from them.

A checkpoint holds G, D, both optimisers (slots, and `iterations`, which the
learning-rate and momentum schedules are functions of), the seed state of the
noise and dropout, the number of finished epochs, the number of collapse
recoveries (which select the run's random streams, `gan_keras.nets.streams`) and,
if the run averages G's weights, the EMA generator. The GAN step counter is the generator optimiser's
`iterations`.

`ckpt-N` is the state after N finished epochs, or, for a mid-epoch save
(preemption, `--checkpoint_every_steps`), part of the way through epoch N:
then `epoch_step` > 0 counts the steps done in it and `epoch_metrics` holds
the running sums of its logged means, so the resumed epoch ends as the
unbroken one would. The end of epoch N overwrites its mid-epoch `ckpt-N`.

A checkpoint that cannot be read (truncated, half copied) is moved aside to
`checkpoints/corrupt/` and the one before it is used (`restore_first_valid`).
"""

import os
import sys

import keras
import tensorflow as tf

from gan_keras.utils import storage
from gan_keras.utils.cli import first_line

__all__ = [
    "CORRUPT_SUBDIR",
    "EMA_KEY",
    "EPOCH_STEP_KEY",
    "METRICS_KEY",
    "OPTIONAL_KEYS",
    "RESTARTS_KEY",
    "CheckpointError",
    "CheckpointEveryEpoch",
    "GANCheckpoint",
    "checkpoint_epoch",
    "checkpoint_files",
    "checkpoint_paths",
    "has_ema",
    "move_aside",
    "saved_checkpoints",
    "seed_states",
]

# The checkpoint key of the averaged generator (a run with --ema_decay).
EMA_KEY = "ema_generator"
# The key of the count of collapse recoveries; checkpoints made before
# --on_collapse lack it (and had none).
RESTARTS_KEY = "restarts"
# Keys of the mid-epoch state; checkpoints made before mid-epoch saves lack
# them (and were all made at an epoch's end).
EPOCH_STEP_KEY = "epoch_step"
METRICS_KEY = "epoch_metrics"
OPTIONAL_KEYS = (EMA_KEY, RESTARTS_KEY, EPOCH_STEP_KEY, METRICS_KEY)
# Where unreadable checkpoints are moved, inside the checkpoint dir.
CORRUPT_SUBDIR = "corrupt"


class CheckpointError(RuntimeError):
    """No checkpoint of a run can be restored; the message names them."""


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
    """The number of a checkpoint saved by `GANCheckpoint`: its epoch (finished, or in progress).

    Example:

    >>> checkpoint_epoch("runs/mnist/checkpoints/ckpt-12")
    12
    """
    return int(path.rsplit("-", 1)[1])


def checkpoint_files(path):
    """The files of the checkpoint `path` (its `.index` and data shards).

    Example:

    >>> checkpoint_files("/nonexistent/ckpt-1")
    []
    """
    directory, prefix = os.path.split(path)
    if not os.path.isdir(directory):
        return []
    return sorted(os.path.join(directory, n) for n in os.listdir(directory) if n.startswith(prefix + "."))


def checkpoint_paths(directory):
    """The kept checkpoints of `directory`, oldest first (as saved); `[]` if none.

    From the `checkpoint` state file; if that is missing or unreadable while
    checkpoint files exist, from the files themselves, by number, so a broken
    state file never makes a run start again from scratch.

    Example:

    >>> checkpoint_paths("/nonexistent")
    []
    """
    state = tf.train.get_checkpoint_state(directory)
    if state is not None:
        return list(state.all_model_checkpoint_paths)
    return saved_checkpoints(directory)


def saved_checkpoints(directory):
    """Every checkpoint on disk in `directory`, by number: the kept ones and those kept for good.

    Example:

    >>> saved_checkpoints("/nonexistent")
    []
    """
    if not os.path.isdir(directory):
        return []
    names = [n[: -len(".index")] for n in os.listdir(directory) if n.startswith("ckpt-") and n.endswith(".index")]
    return sorted((os.path.join(directory, n) for n in names), key=checkpoint_epoch)


def move_aside(path):
    """Moves the files of checkpoint `path` to `corrupt/` beside it; returns where.

    Example:

    >>> move_aside("runs/mnist/checkpoints/ckpt-3")  # doctest: +SKIP
    'runs/mnist/checkpoints/corrupt'
    """
    target = os.path.join(os.path.dirname(path), CORRUPT_SUBDIR)
    os.makedirs(target, exist_ok=True)
    for name in checkpoint_files(path):
        os.replace(name, os.path.join(target, os.path.basename(name)))
    return target


class GANCheckpoint:
    """A `tf.train.CheckpointManager` over everything a run needs to resume.

    The optimisers must be built (`GAN.build_optimizers`) before `restore`,
    or their slots are silently skipped.

    Example:

    >>> ckpt = GANCheckpoint(gan, "runs/mnist/checkpoints")  # doctest: +SKIP
    >>> initial_epoch = ckpt.restore()  # 0 for a new run  # doctest: +SKIP

    Besides the last `max_to_keep`, with `keep_every_hours` > 0 one
    checkpoint per that many hours of training is kept for good (a learning
    curve, a tail average); `saved_checkpoints` lists them with the rest.
    """

    def __init__(self, gan, directory, max_to_keep=3, keep_every_hours=0.0):
        self.gan = gan
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self.restarts = tf.Variable(0, dtype=tf.int64, trainable=False, name="restarts")
        self.epoch_step = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch_step")
        self.objects = dict(
            generator=gan.generator,
            discriminator=gan.discriminator,
            d_optimizer=gan.d_optimizer,
            g_optimizer=gan.g_optimizer,
            seed_states=seed_states(gan),
            epoch=self.epoch,
            **{RESTARTS_KEY: self.restarts, EPOCH_STEP_KEY: self.epoch_step},
            **{METRICS_KEY: [v.value for metric in gan.metrics for v in metric.variables]},
        )
        if gan.ema_generator is not None:
            self.objects[EMA_KEY] = gan.ema_generator
        self.checkpoint = tf.train.Checkpoint(**self.objects)
        self.max_to_keep = max_to_keep
        self.keep_every_hours = keep_every_hours or None
        self.manager = self._manager(directory)

    def _manager(self, directory):
        return tf.train.CheckpointManager(
            self.checkpoint, directory, self.max_to_keep, keep_checkpoint_every_n_hours=self.keep_every_hours
        )

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
        missing = {key for key in OPTIONAL_KEYS if key in self.objects and not _has_key(path, key)}
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
        if EPOCH_STEP_KEY in missing:
            self.epoch_step.assign(0)
        return int(self.epoch.numpy())

    def restore_first_valid(self, paths, move=True):
        """Restores the first of `paths` that reads whole; returns `(path, finished epochs)`.

        Each one that fails is reported in one line on stderr and, if `move`,
        moved aside to `corrupt/` (never deleted), so the next run does not
        trip over it. With no paths, returns `(None, 0)`: a new run.

        Raises:
            CheckpointError: if none restores; they are left in place.

        Example:

        >>> ckpt.restore_first_valid(["run/checkpoints/ckpt-3", "run/checkpoints/ckpt-2"])  # doctest: +SKIP
        warning: checkpoint run/checkpoints/ckpt-3 cannot be restored (...); moved to run/checkpoints/corrupt; using run/checkpoints/ckpt-2.
        ('run/checkpoints/ckpt-2', 2)
        """
        failures = []
        for path in paths:
            try:
                epoch = self.restore(path)
            except Exception as e:  # TF raises OpError, DataLossError, IndexError, AssertionError, ...
                failures.append((path, first_line(e)))
                continue
            for bad, why in failures:
                moved = f"moved to {move_aside(bad)}" if move else "left in place"
                print(f"warning: checkpoint {bad} cannot be restored ({why}); {moved}; using {path}.", file=sys.stderr)
            if move and (failures or self.latest is None):  # bad ones, or an unreadable state file
                self._forget([bad for bad, _ in failures])
            return path, epoch
        if failures:
            bad, why = failures[0]
            raise CheckpointError(
                f"no checkpoint of {os.path.dirname(bad)} can be restored ({len(failures)} tried; "
                f"{os.path.basename(bad)}: {why}); they are left in place: restore a copy, or move them "
                "away to start the run again."
            )
        return None, 0

    def _forget(self, bad):
        """Rewrites the state file without the checkpoints `bad` (and from the files, if it was unreadable)."""
        directory = self.manager.directory
        kept = [p for p in checkpoint_paths(directory) if p not in bad]
        if kept:
            tf.compat.v1.train.update_checkpoint_state(directory, kept[-1], all_model_checkpoint_paths=kept)
        self.manager = self._manager(directory)

    def save(self, epoch, epoch_step=0):
        """Saves the state after `epoch` finished epochs and `epoch_step` steps of the next; returns the path.

        A mid-epoch state (`epoch_step` > 0) is numbered `epoch + 1`, the
        epoch in progress, whose end overwrites it.

        Raises:
            storage.StorageError: one line naming the checkpoint and the last
                good one, if the disk is full or the dir unwritable.
        """
        number = epoch + 1 if epoch_step else epoch
        path = os.path.join(self.manager.directory, f"ckpt-{number}")
        kept = f"the last good checkpoint is {self.latest or 'none (none was saved)'}"
        with storage.writing(path, kept, cleanup=path + "_temp"):
            self.epoch.assign(epoch)
            self.epoch_step.assign(epoch_step)
            return self.manager.save(checkpoint_number=number)


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
