"""`--on_collapse`: a run whose discriminator has won is rolled back, warned about or stopped.

The collapse is forced, not simulated: a callback puts the run into the
state a collapsed run ends in (docs/reliability.md): G draws one image for
every z (its output layer saturated to a blank image, where its gradient
vanishes) and D rejects it (D's output bias set to -10, so D(G(z)) ~ 5e-5).
Training then goes on for real, and the real `CollapseGuard` sees D's win in
the epoch's mean D(G(z)).
"""

import glob
import io
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorboard.backend.event_processing import event_accumulator

from gan_keras.training import COLLAPSE_RECOVERIES_TAG, TrainConfig, run
from gan_keras.training.checkpointing import RESTARTS_KEY
from gan_keras.training.divergence import CollapseError, CollapseGuard

STEPS = 50
THRESHOLD = 0.01  # train.py's default


class BreakGenerator(keras.callbacks.Callback):
    """At the start of epoch `at` (1-based), `times` times in all: G draws a blank image, D rejects it."""

    def __init__(self, at, times=1):
        super().__init__()
        self.at = at
        self.times = times
        self.broken_epochs = []

    def on_epoch_begin(self, epoch, logs=None):
        if epoch + 1 == self.at and len(self.broken_epochs) < self.times:
            output = [layer for layer in self.model.generator.net if hasattr(layer, "kernel")][-1]
            output.kernel.assign(tf.zeros_like(output.kernel))
            output.bias.assign(tf.fill(output.bias.shape, -30.0))
            d_output = self.model.discriminator.net[-1]
            d_output.bias.assign(tf.fill(d_output.bias.shape, -10.0))
            self.broken_epochs.append(epoch + 1)


class EpochDFake(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.rows = []

    def on_epoch_end(self, epoch, logs=None):
        self.rows.append((epoch + 1, float(logs["d_fake"])))


def config(tmp_path, tfds_dir, **overrides):
    values = dict(model_dir=str(tmp_path / "run"), data_dir=tfds_dir, epochs=4, steps_per_epoch=STEPS, verbose=0)
    return TrainConfig(**{**values, **overrides})


def restarts(model_dir):
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(os.path.join(model_dir, "checkpoints")))
    return int(reader.get_tensor(f"{RESTARTS_KEY}/.ATTRIBUTES/VARIABLE_VALUE"))


def seed_states(model_dir):
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(os.path.join(model_dir, "checkpoints")))
    return {n: reader.get_tensor(n) for n in reader.get_variable_to_shape_map() if n.startswith("seed_states/")}


@pytest.mark.slow
def test_a_forced_collapse_is_rolled_back_and_the_run_recovers(tfds_dir, tmp_path, capfd):
    breaker, d_fake = BreakGenerator(at=3), EpochDFake()
    gan = run(config(tmp_path, tfds_dir, epochs=5), callbacks=[breaker, d_fake])
    model_dir = str(tmp_path / "run")

    # G and D broken at the start of epoch 3: D has won at its end; the run
    # goes back to the oldest kept checkpoint (epoch 1), trains epochs 2-5 on
    # new streams, and D does not win again.
    assert breaker.broken_epochs == [3]
    won, back = 3, 1
    assert [e for e, _ in d_fake.rows] == [1, 2, 3, 2, 3, 4, 5], d_fake.rows
    assert d_fake.rows[2][1] < THRESHOLD, d_fake.rows
    assert all(v > 0.2 for _, v in d_fake.rows[3:]), d_fake.rows
    assert gan.g_optimizer.iterations.numpy() == 5 * STEPS
    assert restarts(model_dir) == 1
    assert np.isfinite(gan.generator.sample(4, seed=[0, 0]).numpy()).all()
    # The collapsed epoch was never checkpointed; the new streams were used.
    kept = sorted(os.path.basename(p) for p in glob.glob(f"{model_dir}/checkpoints/*.index"))
    assert kept == ["ckpt-3.index", "ckpt-4.index", "ckpt-5.index"], kept
    noise_seed = config(tmp_path, tfds_dir).stream_seed("noise", restart=1)
    states = seed_states(model_dir)
    assert any(state[0] == noise_seed for state in states.values()), states

    err = capfd.readouterr().err
    warnings = [line for line in err.splitlines() if line.startswith("warning: the discriminator has won")]
    assert len(warnings) == 1, err
    assert f"epoch {won}:" in warnings[0] and f"recovery 1 of at most 5: rolled back to epoch {back}" in warnings[0]

    # TensorBoard has the recovery at the step of the rollback target.
    events = glob.glob(f"{model_dir}/logs/steps/events.out.tfevents.*")
    values = []
    for path in events:
        acc = event_accumulator.EventAccumulator(path, size_guidance={"tensors": 0})
        acc.Reload()
        if COLLAPSE_RECOVERIES_TAG in acc.Tags()["tensors"]:
            values += [(e.step, float(tf.make_ndarray(e.tensor_proto))) for e in acc.Tensors(COLLAPSE_RECOVERIES_TAG)
                       if e.tensor_proto.dtype != tf.string.as_datatype_enum]
    assert values == [(back * STEPS, 1.0)], values


@pytest.mark.slow
def test_stop_ends_the_run_with_one_line_naming_the_last_good_checkpoint(tfds_dir, tmp_path):
    d_fake = EpochDFake()
    with pytest.raises(CollapseError) as error:
        run(config(tmp_path, tfds_dir, epochs=3, on_collapse="stop"), callbacks=[BreakGenerator(at=2), d_fake])
    won = d_fake.rows[-1][0]
    assert d_fake.rows[-1][1] < THRESHOLD and all(v >= THRESHOLD for _, v in d_fake.rows[:-1]), d_fake.rows
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(f"the discriminator has won at epoch {won}: mean D(G(z)) = ")
    assert message.endswith("(--on_collapse=stop); the last good checkpoint is "
                            f"{tmp_path / 'run' / 'checkpoints' / f'ckpt-{won - 1}'}.")


@pytest.mark.slow
def test_recoveries_are_bounded(tfds_dir, tmp_path):
    # G is broken at epoch 2 every time: the run gives up after one recovery.
    with pytest.raises(CollapseError, match="again after --max_recoveries=1 recoveries"):
        run(config(tmp_path, tfds_dir, epochs=3, max_recoveries=1), callbacks=[BreakGenerator(at=2, times=5)])


def test_warn_policy_warns_once_and_trains_on():
    stream = io.StringIO()
    guard = CollapseGuard("warn", stream=stream)
    guard.set_model(keras.Sequential())
    guard.on_epoch_end(6, {"d_fake": 0.0208})
    assert stream.getvalue() == ""
    guard.on_epoch_end(7, {"d_fake": 0.0091})
    guard.on_epoch_end(8, {"d_fake": 0.0017})
    lines = stream.getvalue().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "warning: the discriminator has won at epoch 8: mean D(G(z)) = 0.0091 < 0.01;"
    )
    assert "--on_collapse=recover" in lines[0]
    assert CollapseGuard("warn", threshold=0.1).threshold == 0.1
    assert guard.healthy() and not getattr(guard.model, "stop_training", False)


def test_the_guard_stops_fit_for_recover_and_stop():
    for policy in ("recover", "stop"):
        guard = CollapseGuard(policy)
        guard.set_model(keras.Sequential())
        guard.on_epoch_end(0, {"d_fake": 0.2})
        assert guard.healthy()
        guard.on_epoch_end(1, {"d_fake": np.float32(0.004)})
        assert not guard.healthy() and guard.collapsed_epoch == 2 and guard.model.stop_training
    with pytest.raises(ValueError, match="recover, warn, stop"):
        CollapseGuard("retry")
