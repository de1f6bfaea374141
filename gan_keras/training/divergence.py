"""Runs gone wrong: stop one that diverged, before it overwrites a good
checkpoint; catch one whose discriminator has won (mode collapse)."""

import math
import sys

import keras

__all__ = [
    "COLLAPSE_POLICIES",
    "D_WON_THRESHOLD",
    "CollapseError",
    "CollapseGuard",
    "DivergenceError",
    "StopOnDivergence",
]


class DivergenceError(RuntimeError):
    """Training produced a NaN or Inf loss; the message names the step (or the steps of its `tf.function` call)."""


class StopOnDivergence(keras.callbacks.Callback):
    """Raises `DivergenceError` as soon as a logged metric is NaN or Inf.

    Unlike `keras.callbacks.TerminateOnNaN`, which lets the epoch end (and an
    end-of-epoch checkpoint save the broken weights), this aborts `fit` at
    once, so the newest checkpoint on disk is the last good one.

    Example:

    >>> gan.fit(data, callbacks=[StopOnDivergence(), checkpoint_callback])  # doctest: +SKIP
    """

    def on_train_batch_end(self, batch, logs=None):
        bad = {k: float(v) for k, v in (logs or {}).items() if not math.isfinite(float(v))}
        if bad:
            step = int(self.model.g_optimizer.iterations.numpy())
            # Callbacks see each call's last step: the bad one is among the call's steps.
            per_call = getattr(self.model, "steps_per_execution", 1)
            where = f"at step {step}" if per_call == 1 else f"in steps {step - per_call + 1}-{step}"
            values = ", ".join(f"{k}={v}" for k, v in sorted(bad.items()))
            raise DivergenceError(f"training diverged {where}: {values}")


# Mean D(G(z)) over an epoch below this: D has won. In our measured runs of the
# paper preset, none that went below it recovered and none that stayed above
# it collapsed (docs/reliability.md).
D_WON_THRESHOLD = 0.01
# What a run does when D has won (`--on_collapse`).
COLLAPSE_POLICIES = ("recover", "warn", "stop")


class CollapseError(RuntimeError):
    """D has won and the run stopped (`--on_collapse=stop`, or out of recoveries)."""


class CollapseGuard(keras.callbacks.Callback):
    """Watches for the discriminator winning: an epoch's mean D(G(z)) below `threshold`.

    Then D rejects nearly every sample, G's samples collapse onto one blob and,
    in the runs measured here, training did not recover by itself (the
    collapse of Algorithm 1 in the paper's reference notes, and of some seeds
    of the paper preset; docs/reliability.md traces one). What it does:

    - `policy="warn"`: prints one warning to stderr; training goes on.
    - `policy="recover"` or `"stop"`: ends `fit` at that epoch's end and sets
      `collapsed_epoch` (1-based); that epoch's checkpoint is not saved (see
      `healthy`). `gan_keras.training.run` then rolls the run back to an
      earlier checkpoint on new random streams, or stops with one line.

    Example:

    >>> guard = CollapseGuard("recover")
    >>> gan.fit(data, epochs=20, callbacks=[guard, CheckpointEveryEpoch(ckpt, guard)])  # doctest: +SKIP
    >>> guard.collapsed_epoch  # None: D never won  # doctest: +SKIP
    """

    def __init__(self, policy="warn", threshold=D_WON_THRESHOLD, stream=None):
        super().__init__()
        if policy not in COLLAPSE_POLICIES:
            raise ValueError(f"policy must be one of {', '.join(COLLAPSE_POLICIES)}; got {policy!r}.")
        self.policy = policy
        self.threshold = float(threshold)
        self.stream = stream
        self.warned = False
        self.collapsed_epoch = None
        self.d_fake = None

    def healthy(self):
        """False once D has won under `recover`/`stop`: that state is not checkpointed."""
        return self.collapsed_epoch is None

    def on_epoch_end(self, epoch, logs=None):
        d_fake = (logs or {}).get("d_fake")
        if d_fake is None or not float(d_fake) < self.threshold:
            return
        self.d_fake = float(d_fake)
        if self.policy != "warn":
            self.collapsed_epoch = epoch + 1
            self.model.stop_training = True
            return
        if self.warned:
            return
        self.warned = True
        print(
            f"warning: the discriminator has won at epoch {epoch + 1}: mean D(G(z)) = "
            f"{self.d_fake:.4f} < {self.threshold}; the generator has stopped learning "
            "(mode collapse) and such runs did not recover in our measurements. Stop and "
            "rerun with --on_collapse=recover (see docs/reliability.md).",
            file=self.stream or sys.stderr,
        )
