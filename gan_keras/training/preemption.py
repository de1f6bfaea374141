"""Mid-epoch checkpoints: on preemption (SIGTERM, SIGINT), every N steps, every N minutes.

On a preemptible machine SIGTERM is how a job ends, and an epoch of a large
dataset can take hours. `PreemptionSignals` turns SIGTERM and SIGINT into a
flag; `StepCheckpoints` saves a checkpoint at the current step when it is
set (or every `--checkpoint_every_steps` steps / `--checkpoint_every_minutes`)
and then stops the run with `Preempted`. The checkpoint records the finished
epochs and the steps done in the next (`GANCheckpoint.save`); `run()` resumes
the rest of that epoch and then whole epochs, bit-identical to an unbroken run
(the batch order is a function of the step; `ResumeEpochMetrics` gives the
epoch's logged means the sums they had).
"""

import signal
import threading
import time

import keras

__all__ = [
    "SIGNALS",
    "Preempted",
    "PreemptionSignals",
    "ResumeEpochMetrics",
    "StepCheckpoints",
]

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Preempted(Exception):
    """A preemption signal stopped the run after a checkpoint; the message says where."""


class PreemptionSignals:
    """While entered, SIGTERM and SIGINT set `received` (the signal's name) instead of ending the process.

    The first signal puts back the previous handlers, so a second one ends
    the process as it would have. Outside the main thread (where Python
    cannot set handlers) it does nothing.

    Example:

    >>> with PreemptionSignals() as signals:
    ...     signals.received is None
    True
    """

    def __init__(self):
        self.received = None
        self._previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._handle) for s in SIGNALS}
        return self

    def __exit__(self, *exc):
        self._restore()

    def _handle(self, signum, frame):
        self.received = signal.Signals(signum).name
        self._restore()

    def _restore(self):
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous = {}


class StepCheckpoints(keras.callbacks.Callback):
    """Saves mid-epoch checkpoints; on a preemption signal, saves and raises `Preempted`.

    Steps are the GAN's (its G optimiser's `iterations`). The epoch's last
    step is left to the end-of-epoch checkpoint (`CheckpointEveryEpoch`,
    earlier in the callback list); a signal during it stops the run at the
    epoch's end. Put this callback after the logging callbacks, so they have
    written the step it stops at.

    Args:
        checkpoint: the run's `GANCheckpoint`.
        steps_per_epoch: GAN steps of a whole epoch.
        signals: a `PreemptionSignals` (or None: no preemption handling).
        every_steps: also save when the step is a multiple of this (0: off).
        every_minutes: also save when this long has passed since the last save (0: off).
        epoch_step: steps of the first epoch done before this fit (a resumed mid-epoch checkpoint).

    Example:

    >>> gan.fit(data, callbacks=[..., StepCheckpoints(ckpt, 500, signals, every_steps=100)])  # doctest: +SKIP
    """

    def __init__(self, checkpoint, steps_per_epoch, signals=None, every_steps=0, every_minutes=0, epoch_step=0):
        super().__init__()
        self.checkpoint = checkpoint
        self.steps_per_epoch = steps_per_epoch
        self.signals = signals
        self.every_steps = every_steps
        self.every_seconds = every_minutes * 60
        self.epoch_step = epoch_step
        self.last_save = time.monotonic()

    def _step(self):
        return int(self.model.g_optimizer.iterations.numpy())

    def _preempted(self):
        return self.signals is not None and self.signals.received

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self.epoch_start = self._step() - self.epoch_step
        self.epoch_step = 0

    def on_train_batch_end(self, batch, logs=None):
        step = self._step()
        done = step - self.epoch_start
        if done >= self.steps_per_epoch:
            return
        due = (self.every_steps and step % self.every_steps == 0) or (
            self.every_seconds and time.monotonic() - self.last_save >= self.every_seconds
        )
        if due or self._preempted():
            path = self.checkpoint.save(self.epoch, done)
            self.last_save = time.monotonic()
            if self._preempted():
                self._stop(step, path, f"epoch {self.epoch + 1}, {done} of its {self.steps_per_epoch} steps done")

    def on_epoch_end(self, epoch, logs=None):
        self.last_save = time.monotonic()
        if self._preempted():
            self._stop(self._step(), self.checkpoint.latest, f"end of epoch {epoch + 1}")

    def _stop(self, step, path, where):
        raise Preempted(
            f"{self.signals.received} at step {step} ({where}): saved {path or 'nothing (no checkpoint yet)'}; "
            "rerun the same command to resume."
        )


class ResumeEpochMetrics(keras.callbacks.Callback):
    """Puts back the running sums of the logged means at the start of a resumed partial epoch.

    `fit` resets the GAN's metrics when an epoch begins; a run resumed in the
    middle of an epoch gets the sums the checkpoint held, so the epoch's mean
    D(G(z)) (which the collapse guard judges) and its logs are those of the
    unbroken run. Put it first in the callback list.

    Example:

    >>> gan.fit(data, epochs=e + 1, initial_epoch=e, callbacks=[ResumeEpochMetrics(gan), ...])  # doctest: +SKIP
    """

    def __init__(self, gan):
        super().__init__()
        self.saved = [(v, v.numpy()) for metric in gan.metrics for v in metric.variables]

    def on_epoch_begin(self, epoch, logs=None):
        for variable, value in self.saved:
            variable.assign(value)
        self.saved = []
