"""Evaluating a training run: restore, the CLI, and the training callback."""

import csv
import json
import os
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest

from gan_keras import data as data_lib
from gan_keras.evaluation.callbacks import ParzenCallback
from gan_keras.evaluation.parzen import DEFAULT_SIGMAS
from gan_keras.training import TrainConfig, build_gan

SEED = np.array([3, 4], np.int32)


def evaluate(*flags):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run(
        [sys.executable, "-m", "gan_keras.evaluate", *flags],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


@pytest.fixture(scope="module")
def images(tfds_dir):
    """A few test and validation images (uint8)."""
    return {
        "test": data_lib.load_images("mnist", "test")[:300],
        "valid": data_lib.load_images("mnist", "validation")[:200],
    }


def test_cli_writes_parzen_json(trained_run, tmp_path):
    model_dir = str(tmp_path / "run")
    shutil.copytree(trained_run["model_dir"], model_dir)
    result = evaluate(
        f"--model_dir={model_dir}", "--num_samples=200", "--num_valid=200", "--num_test=300"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    line = [x for x in result.stdout.splitlines() if x.startswith("Parzen log-likelihood:")]
    assert len(line) == 1 and "200 samples, 300 test images" in line[0]
    with open(os.path.join(model_dir, "parzen.json")) as f:
        saved = json.load(f)
    assert (saved["num_samples"], saved["num_valid"], saved["num_test"]) == (200, 200, 300)
    assert saved["epoch"] == 2 and saved["source"].endswith("ckpt-2")
    assert saved["sigma"] in [pytest.approx(s) for s in DEFAULT_SIGMAS]
    assert len(saved["sigma_table"]) == 10
    # After 40 steps the samples are blurs: far below Table 1's 225, but finite.
    assert -3000 < saved["log_likelihood"] < 225
    assert 0 < saved["standard_error"] < 50
    assert not [f for f in os.listdir(model_dir) if f.startswith(".tmp") or f.endswith(".tmp")]
    # The same 200 samples, judged by the MNIST classifier against the 300 test images.
    metrics = saved["classifier_metrics"]
    assert (metrics["num_samples"], metrics["num_reference"]) == (200, 300)
    assert 1 <= metrics["mnist_score"] <= 10
    assert metrics["frechet_distance"] > 0
    assert 0 <= metrics["classes_covered"] <= 10 and len(metrics["class_histogram"]) == 10
    assert sum(metrics["class_histogram"]) == pytest.approx(1.0)
    line = [x for x in result.stdout.splitlines() if x.startswith("MNIST score:")]
    assert len(line) == 1 and "200 samples" in line[0] and "300 reference images" in line[0]


def test_cli_scores_a_generator_file_as_parzen_evaluate_does(trained_run, images, tmp_path):
    # evaluate --generator=PATH: the same numbers as the library on the same generator and seed.
    from gan_keras.evaluation.parzen import generator_samples, parzen_evaluate
    from gan_keras.training.restoring import load_generator_file

    keras_file = tmp_path / "generator.keras"
    shutil.copy(os.path.join(trained_run["model_dir"], "generator.keras"), keras_file)
    result = evaluate(f"--generator={keras_file}", "--num_samples=200", "--num_valid=200", "--num_test=300",
                      "--seed=3,4", "--noclassifier_metrics")
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"Generator: the saved weights from {keras_file}" in result.stdout
    with open(tmp_path / "parzen.json") as f:
        saved = json.load(f)
    generator = load_generator_file(str(keras_file)).generator
    want = parzen_evaluate(generator_samples(generator, 200, SEED), images["test"], images["valid"],
                           num_samples=200, seed=SEED, num_valid=200)
    assert saved["sigma"] == pytest.approx(want["sigma"])
    assert saved["log_likelihood"] == pytest.approx(want["log_likelihood"], abs=1e-6)
    assert saved["standard_error"] == pytest.approx(want["standard_error"], abs=1e-6)


@pytest.mark.parametrize(
    "flags, names",
    [
        (["--sigma=-1"], "--sigma"),
        (["--num_samples=0"], "--num_samples"),
        ([], "--model_dir"),
        (["--model_dir={tmp}/missing"], "--model_dir"),
        (["--model_dir={tmp}"], "--model_dir"),  # exists, but empty
    ],
)
def test_cli_bad_flags_fail_with_one_line(flags, names, tmp_path):
    flags = [f.format(tmp=tmp_path) for f in flags]
    if not any(f.startswith("--model_dir") for f in flags) and names != "--model_dir":
        flags.append(f"--model_dir={tmp_path}")
    result = evaluate(*flags)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("evaluate: error:") and names in last, result.stderr[-2000:]
    assert "Traceback" not in result.stderr


def test_callback_logs_every_n_epochs_and_feeds_csv_logger(images, tmp_path):
    gan = build_gan(TrainConfig(steps_per_epoch=2), (28, 28, 1))
    callback = ParzenCallback(
        None, images["valid"], images["test"], every_epochs=2, num_samples=100, sigmas=[0.2, 0.5]
    )
    assert callback.key == "parzen_ll_100samples"
    csv_path = str(tmp_path / "log.csv")
    real = data_lib.TrainingData(images["valid"], batch_size=100).dataset(seed=0)
    gan.fit(
        real,
        epochs=3,
        steps_per_epoch=2,
        verbose=0,
        shuffle=False,
        callbacks=[callback, keras.callbacks.CSVLogger(csv_path)],
    )
    with open(csv_path) as f:
        rows = list(csv.DictReader(f))
    values = [row["parzen_ll_100samples"] for row in rows]
    # Epoch 1 (first of the fit) and epoch 2 (every 2nd) are evaluated; epoch 3 is not.
    assert np.isfinite(float(values[0])) and np.isfinite(float(values[1]))
    assert values[2] == "NA"


def test_callback_rejects_bad_settings(images):
    with pytest.raises(ValueError, match="every_epochs"):
        ParzenCallback(None, images["valid"], images["test"], every_epochs=0)
    with pytest.raises(ValueError, match="sigma must be > 0"):
        ParzenCallback(None, images["valid"], images["test"], sigmas=[0.1, -0.1])
