"""TensorBoard monitoring: what a tiny resumed run writes, read back as TensorBoard reads it."""

import contextlib
import json
import math
import os
import socket
import subprocess
import sys
import time
import urllib.request

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorboard.backend.event_processing import event_accumulator

from gan_keras import training
from gan_keras.data import images
from gan_keras.training import monitoring

UPDATE_FREQ = 4
STEPS_PER_EPOCH = 10
PARZEN_KEY = "parzen_ll_10samples"
STEP_SCALARS = [
    "metrics/d_loss",
    "metrics/g_loss",
    "metrics/d_real",
    "metrics/d_fake",
    "metrics/value",
    "optimizer/d_learning_rate",
    "optimizer/g_learning_rate",
    "optimizer/d_momentum",
    "optimizer/g_momentum",
    "speed/steps_per_second",
]
EPOCH_SCALARS = [f"epoch_{name}" for name in ("d_loss", "g_loss", "d_real", "d_fake", "value", PARZEN_KEY)]


@pytest.fixture(scope="module")
def monitored_run(tfds_dir, tmp_path_factory):
    """One epoch, then a resumed second epoch with steps_per_execution=5, both monitored
    by what training.run sets up, the Parzen estimate included."""
    model_dir = str(tmp_path_factory.mktemp("monitored_run"))
    for epochs, steps_per_execution in ((1, 1), (2, 5)):
        config = training.TrainConfig(
            model_dir=model_dir,
            data_dir=tfds_dir,
            epochs=epochs,
            steps_per_epoch=STEPS_PER_EPOCH,
            steps_per_execution=steps_per_execution,
            log_every_steps=UPDATE_FREQ,
            histograms=True,
            parzen_every_epochs=1,
            parzen_samples=10,
            verbose=0,
        )
        gan = training.run(config)
    return {"log_dir": os.path.join(model_dir, "logs"), "gan": gan}


def read_run(run_dir):
    """`{tag: (plugin name, [(step, value), ...])}` of a TensorBoard run directory."""
    accumulator = event_accumulator.EventAccumulator(
        run_dir, size_guidance={event_accumulator.TENSORS: 0, event_accumulator.IMAGES: 0}
    )
    accumulator.Reload()
    return {
        tag: (
            accumulator.SummaryMetadata(tag).plugin_data.plugin_name,
            [(e.step, tf.make_ndarray(e.tensor_proto)) for e in accumulator.Tensors(tag)],
        )
        for tag in accumulator.Tags()[event_accumulator.TENSORS]
    }


@pytest.fixture(scope="module")
def steps_run(monitored_run):
    return read_run(os.path.join(monitored_run["log_dir"], monitoring.STEPS_SUBDIR))


@pytest.mark.slow
def test_step_scalars_use_the_global_step_across_a_resume(steps_run):
    for tag in STEP_SCALARS:
        plugin, events = steps_run[tag]
        steps = [step for step, _ in events]
        assert plugin == "scalars"
        # First fit: a point at 4 and 8; resumed fit (executions of 5 steps,
        # ending at 15 and 20): after 15 and 20, the first executions reaching
        # a multiple of 4.
        assert steps == [4, 8, 15, 20], tag
        assert all(math.isfinite(float(value)) for _, value in events), tag


@pytest.mark.slow
def test_step_scalar_values_are_sane(steps_run):
    def values(tag):
        return np.array([float(v) for _, v in steps_run[tag][1]])

    for tag in ("metrics/d_real", "metrics/d_fake"):
        assert np.all((values(tag) > 0) & (values(tag) < 1)), tag
    for tag in ("metrics/d_loss", "metrics/g_loss"):
        assert np.all(values(tag) > 0), tag
    # At the start of training D is near chance: V(D, G) near -log 4.
    np.testing.assert_allclose(values("metrics/value"), -math.log(4), atol=0.1)
    lr = values("optimizer/g_learning_rate")
    assert np.all(np.diff(lr) < 0) and lr[0] < 0.1 and lr[-1] > 0.09
    np.testing.assert_allclose(values("optimizer/d_momentum"), 0.5)
    assert np.all(values("speed/steps_per_second") > 0)


@pytest.mark.slow
def test_epoch_logs_are_written_per_epoch_with_extra_keys(monitored_run):
    train_run = read_run(os.path.join(monitored_run["log_dir"], "train"))
    for tag in EPOCH_SCALARS:
        plugin, events = train_run[tag]
        assert plugin == "scalars" and [step for step, _ in events] == [0, 1], tag
    parzen = [float(v) for _, v in train_run[f"epoch_{PARZEN_KEY}"][1]]
    assert len(parzen) == 2 and all(np.isfinite(parzen)), parzen


@pytest.mark.slow
def test_fixed_noise_grid_per_epoch_is_the_generator_on_fixed_z(monitored_run, steps_run):
    plugin, events = steps_run[monitoring.SAMPLES_TAG]
    assert plugin == "images"
    assert [step for step, _ in events] == [0, 10, 20]  # untrained G, then every epoch end
    width, height, png = events[-1][1]
    image = tf.io.decode_png(png).numpy()
    assert (int(width), int(height)) == (291, 291) and image.shape == (291, 291, 1)
    # The grid is of the generator that is sampled from: the average of G by default.
    expected = images.sample_grid(monitored_run["gan"].inference_generator, 10, 10, seed=(0, 0))
    np.testing.assert_array_equal(image, expected)


@pytest.mark.slow
def test_histograms_and_config_text(steps_run):
    for network, layers in (("generator", (0, 1, 2)), ("discriminator", (2, 4, 6))):
        for i in layers:
            matches = [t for t in steps_run if t.startswith(f"{network}/layer{i}_")]
            assert len(matches) == 2, (network, i, matches)  # kernel and bias
            for tag in matches:
                plugin, events = steps_run[tag]
                assert plugin == "histograms" and [s for s, _ in events] == [10, 20]
    plugin, events = steps_run[monitoring.CONFIG_TAG]
    assert plugin == "text" and [step for step, _ in events] == [0, 10]
    assert "| steps_per_execution | `5` |" in events[-1][1].item().decode()


def test_optimizer_scalars_of_plain_optimizers():
    assert monitoring.optimizer_scalars(keras.optimizers.SGD(0.1, momentum=0.5)) == {
        "learning_rate": pytest.approx(0.1),
        "momentum": 0.5,
    }
    assert list(monitoring.optimizer_scalars(keras.optimizers.Adam(1e-3))) == ["learning_rate"]


def test_update_freq_must_be_positive():
    with pytest.raises(ValueError, match="update_freq must be >= 1"):
        monitoring.monitoring_callbacks("/tmp/unused", update_freq=0)


def _free_port():
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get_json(url):
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


@pytest.mark.multiprocess
@pytest.mark.slow
def test_tensorboard_serves_the_scalar_tags(monitored_run):
    port = _free_port()
    tensorboard = os.path.join(os.path.dirname(sys.executable), "tensorboard")
    process = subprocess.Popen(
        [tensorboard, "--logdir", monitored_run["log_dir"], "--host", "127.0.0.1",
         "--port", str(port), "--load_fast=false"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        tags, deadline = {}, time.monotonic() + 60
        while time.monotonic() < deadline:
            assert process.poll() is None, "tensorboard exited early"
            try:
                tags = _get_json(f"http://127.0.0.1:{port}/data/plugin/scalars/tags")
            except OSError:
                pass
            if set(EPOCH_SCALARS) <= set(tags.get("train", {})) and set(STEP_SCALARS) <= set(
                tags.get("steps", {})
            ):
                break
            time.sleep(1)
        assert set(EPOCH_SCALARS) <= set(tags.get("train", {})), tags
        assert set(STEP_SCALARS) <= set(tags.get("steps", {})), tags
        images = _get_json(f"http://127.0.0.1:{port}/data/plugin/images/tags")
        assert monitoring.SAMPLES_TAG in images["steps"]
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
