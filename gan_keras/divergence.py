"""Runs gone wrong: stop one that diverged, before it overwrites a good
checkpoint; warn about one whose discriminator has won (mode collapse)."""

import math
import sys

import keras


class DivergenceError(RuntimeError):
    """Training produced a NaN or Inf loss; the message names the step."""


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
            values = ", ".join(f"{k}={v}" for k, v in sorted(bad.items()))
            raise DivergenceError(f"training diverged at step {step}: {values}")


# Mean D(G(z)) over an epoch below this: D has won. In our measured runs of the
# paper preset, none that went below it recovered and none that stayed above
# it collapsed (docs/reliability.md).
D_WON_THRESHOLD = 0.01


class WarnWhenDiscriminatorWins(keras.callbacks.Callback):
    """Prints one warning to stderr when an epoch's mean D(G(z)) falls below `threshold`.

    Then D rejects nearly every sample, G's samples stop improving and, in
    the runs measured here, training did not recover: the collapse of
    Algorithm 1 in the paper's reference notes, and of some seeds of the
    paper preset. Training goes on (a user may want to watch); the warning
    says what to do instead.

    Example:

    >>> gan.fit(data, epochs=20, callbacks=[WarnWhenDiscriminatorWins()])  # doctest: +SKIP
    """

    def __init__(self, threshold=D_WON_THRESHOLD, stream=None):
        super().__init__()
        self.threshold = float(threshold)
        self.stream = stream
        self.warned = False

    def on_epoch_end(self, epoch, logs=None):
        d_fake = (logs or {}).get("d_fake")
        if self.warned or d_fake is None or not float(d_fake) < self.threshold:
            return
        self.warned = True
        print(
            f"warning: the discriminator has won at epoch {epoch + 1}: mean D(G(z)) = "
            f"{float(d_fake):.4f} < {self.threshold}; the generator has stopped learning "
            "(mode collapse) and such runs did not recover in our measurements. Stop and "
            "start again with another --seed (see docs/reliability.md).",
            file=self.stream or sys.stderr,
        )
