"""Stopping a run that diverged, before it overwrites a good checkpoint."""

import math

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
