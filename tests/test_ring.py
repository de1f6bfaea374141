"""The ring8 mode-collapse toy: its data, its metrics, and a run that logs them."""

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from tensorboard.backend.event_processing import event_accumulator

from gan_keras import data, training
from gan_keras.data import ring

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_the_dataset_is_fixed_and_on_the_ring():
    train = data.load_images("ring8", "train")
    assert train.shape == (50_000, 2) and train.dtype == np.float32
    np.testing.assert_array_equal(train, data.load_images("ring8", "train"))
    assert not np.array_equal(train[:10_000], data.load_images("ring8", "test"))
    radii = np.linalg.norm(train, axis=1)
    assert abs(radii.mean() - ring.RADIUS) < 0.01 and radii.std() < 3 * ring.STD
    assert data.image_shape("ring8") == (2,)
    assert data.TrainingData(train, batch_size=100).pixel_mean() is None


def test_real_data_covers_all_modes_with_high_quality():
    metrics = ring.mode_metrics(data.load_images("ring8", "test"))
    assert metrics["modes_covered"] == 8
    # Within 3 std of a 2-D Gaussian: 1 - exp(-4.5) = 98.9% of the mass.
    assert abs(metrics["high_quality_fraction"] - (1 - np.exp(-4.5))) < 0.005
    assert sum(metrics["mode_counts"]) == pytest.approx(10_000 * metrics["high_quality_fraction"])


def test_a_collapsed_generator_covers_one_mode_and_a_blurry_one_has_few_good_samples():
    points = data.load_images("ring8", "test")
    nearest = np.linalg.norm(points[:, None] - ring.mode_centers()[None], axis=-1).argmin(axis=1)
    collapsed = ring.mode_metrics(points[nearest == 3])
    assert collapsed["modes_covered"] == 1 and collapsed["mode_counts"][3] == sum(collapsed["mode_counts"])
    # Two modes, but one with under 1% of the samples: it does not count.
    mostly_one = np.concatenate([points[nearest == 3][:990], points[nearest == 5][:9]])
    assert ring.mode_metrics(mostly_one)["modes_covered"] == 1
    # Every mode, but 4x too wide: 1 - exp(-4.5 / 16) = 24.5% of samples are good.
    blurry = ring.mode_centers()[nearest] + 4 * (points - ring.mode_centers()[nearest])
    metrics = ring.mode_metrics(blurry)
    assert metrics["modes_covered"] == 8 and abs(metrics["high_quality_fraction"] - 0.245) < 0.02


@pytest.mark.multiprocess
@pytest.mark.slow
def test_train_py_takes_the_ring8_flags(tmp_path):
    flags = ["--dataset=ring8", "--arch=points", f"--model_dir={tmp_path}", "--epochs=1", "--steps_per_epoch=5"]
    result = subprocess.run(
        [sys.executable, os.path.join(REPO, "train.py"), *flags, "--verbose=2"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "modes_covered:" in result.stdout and "high_quality_fraction:" in result.stdout


def test_metrics_refuse_what_is_not_2d_points():
    with pytest.raises(ValueError, match=r"samples must be points \[n, 2\]"):
        ring.mode_metrics(np.zeros((5, 28, 28, 1)))


def test_a_point_dataset_and_the_points_arch_go_together():
    for dataset, arch in (("ring8", "mlp"), ("mnist", "points")):
        with pytest.raises(training.ConfigError, match="--arch=points is for the point dataset ring8"):
            training.TrainConfig(dataset=dataset, arch=arch).validate()
    with pytest.raises(training.ConfigError, match="--parzen_every_epochs is for image datasets"):
        training.TrainConfig(dataset="ring8", arch="points", parzen_every_epochs=1).validate()


def scalars(log_dir, tag):
    accumulator = event_accumulator.EventAccumulator(log_dir, size_guidance={"tensors": 0, "images": 0})
    accumulator.Reload()
    return [float(tf.make_ndarray(event.tensor_proto)) for event in accumulator.Tensors(tag)]


@pytest.mark.slow
def test_a_ring8_run_logs_modes_and_draws_the_samples_over_training(tmp_path):
    model_dir = str(tmp_path / "ring8")
    for epochs in (2, 3):  # the second run resumes the first
        training.run(
            training.TrainConfig(
                dataset="ring8", arch="points", model_dir=model_dir, epochs=epochs, steps_per_epoch=50, verbose=0
            )
        )
    out_dir = os.path.join(model_dir, ring.SNAPSHOT_SUBDIR)
    snapshots = sorted(f for f in os.listdir(out_dir) if f.endswith(".npy"))
    assert snapshots == [f"samples_epoch{e:05d}.npy" for e in (1, 2, 3)]
    # The figure is redrawn from all snapshots, the resumed run's included.
    assert [title.split(":")[0] for title, _ in ring.training_panels(out_dir)] == ["epoch 1", "epoch 2", "epoch 3"]
    figure = tf.io.decode_png(tf.io.read_file(os.path.join(out_dir, ring.TRAINING_FIGURE)))
    assert figure.shape[1] > 2.5 * figure.shape[0]  # three panels side by side
    # The logged numbers are those of the saved samples.
    train_logs = os.path.join(model_dir, "logs", "train")
    last = ring.mode_metrics(np.load(os.path.join(out_dir, snapshots[-1])))
    assert scalars(train_logs, "epoch_modes_covered")[-1] == last["modes_covered"]
    assert scalars(train_logs, "epoch_high_quality_fraction")[-1] == pytest.approx(last["high_quality_fraction"])
    # TensorBoard's sample image and samples.png are scatter plots here.
    accumulator = event_accumulator.EventAccumulator(os.path.join(model_dir, "logs", "steps"), size_guidance={"tensors": 0})
    accumulator.Reload()
    assert "samples/fixed_noise" in accumulator.Tags()["tensors"]
    assert tf.io.decode_png(tf.io.read_file(os.path.join(model_dir, "samples.png"))).shape[-1] == 3
