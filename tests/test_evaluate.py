"""Evaluating a training run: restore, the CLI, and the training callback."""

import csv
import json
import os
import shutil

import keras
import numpy as np
import pytest
from cli_runner import run_commands

from gan_keras import data as data_lib
from gan_keras.evaluation import parzen
from gan_keras.evaluation.callbacks import ParzenCallback
from gan_keras.evaluation.classifier_metrics import classifier_metrics
from gan_keras.evaluation.parzen import DEFAULT_SIGMAS
from gan_keras.evaluation.protocol import load_protocol_data
from gan_keras.training import TrainConfig, build_gan
from gan_keras.training.restoring import load_generator

SEED = np.array([3, 4], np.int32)
SIZES = ["--num_samples=200", "--num_valid=200", "--num_test=300"]
BAD_FLAGS = [
    (["--sigma=-1"], "--sigma"),
    (["--num_samples=0"], "--num_samples"),
    ([], "--model_dir"),
    (["--model_dir={tmp}/missing"], "--model_dir"),
    (["--model_dir={tmp}"], "--model_dir"),  # exists, but empty
]


@pytest.fixture(scope="module")
def images(tfds_dir):
    """A few test and validation images (uint8)."""
    return {
        "test": data_lib.load_images("mnist", "test")[:300],
        "valid": data_lib.load_images("mnist", "validation")[:200],
    }


@pytest.fixture(scope="module")
def runs(trained_run, tmp_path_factory):
    """`{name: result}` of each `python -m gan_keras.evaluate` command line, all in one process."""
    tmp = tmp_path_factory.mktemp("evaluate_cli")
    model_dir = tmp / "run"  # a copy: the default output is MODEL_DIR/parzen.json
    shutil.copytree(trained_run["model_dir"], model_dir)
    keras_file = tmp / "file" / "generator.keras"
    keras_file.parent.mkdir()
    shutil.copy(os.path.join(trained_run["model_dir"], "generator.keras"), keras_file)
    commands = {
        "newest": [f"--model_dir={model_dir}", *SIZES],
        "generator": [f"--generator={keras_file}", *SIZES, "--seed=3,4", "--noclassifier_metrics"],
        "older checkpoint": [f"--model_dir={trained_run['model_dir']}", *SIZES, f"--output={tmp / 'ckpt1.json'}",
                             f"--checkpoint={os.path.join(trained_run['model_dir'], 'checkpoints', 'ckpt-1')}"],
    }
    for i, (flags, names) in enumerate(BAD_FLAGS):
        bad = tmp / f"bad{i}"
        bad.mkdir()
        flags = [f.format(tmp=bad) for f in flags]
        if not any(f.startswith("--model_dir") for f in flags) and names != "--model_dir":
            flags.append(f"--model_dir={bad}")
        commands[f"bad {i}"] = flags
    results = run_commands("-m gan_keras.evaluate", list(commands.values()))
    return {"tmp": tmp, "model_dir": model_dir, "keras_file": keras_file, **dict(zip(commands, results))}


def succeeded(result):
    assert result["status"] == 0 and result["traceback"] is None, result
    return result


def in_process(generator, images, seed=parzen.SAMPLE_SEED, num_samples=200):
    """The Parzen estimate and classifier metrics of `generator`, computed here as the CLI should."""
    samples = parzen.generator_samples(generator, num_samples, seed)
    want = parzen.parzen_evaluate(samples, images["test"], images["valid"], num_samples=num_samples, seed=seed,
                                  num_valid=len(images["valid"]))
    return want, classifier_metrics(samples, images["test"])


def assert_same_scores(saved, want, metrics=None):
    assert saved["sigma"] == pytest.approx(want["sigma"])
    assert saved["log_likelihood"] == pytest.approx(want["log_likelihood"], abs=1e-6)
    assert saved["standard_error"] == pytest.approx(want["standard_error"], abs=1e-6)
    if metrics is not None:
        got = saved["classifier_metrics"]
        assert got["mnist_score"] == pytest.approx(metrics["mnist_score"], rel=1e-5)
        assert got["frechet_distance"] == pytest.approx(metrics["frechet_distance"], rel=1e-4)
        assert got["classes_covered"] == metrics["classes_covered"]
        assert got["class_histogram"] == pytest.approx(metrics["class_histogram"], abs=1e-6)


@pytest.mark.multiprocess
@pytest.mark.slow
def test_cli_writes_parzen_json(runs, trained_run, images):
    result = succeeded(runs["newest"])
    model_dir = str(runs["model_dir"])
    line = [x for x in result["stdout"].splitlines() if x.startswith("Parzen log-likelihood:")]
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
    line = [x for x in result["stdout"].splitlines() if x.startswith("MNIST score:")]
    assert len(line) == 1 and "200 samples" in line[0] and "300 reference images" in line[0]
    # Exactly the numbers of the library on the run's newest generator and the default seed.
    generator = load_generator(trained_run["model_dir"]).generator
    assert_same_scores(saved, *in_process(generator, images))


@pytest.mark.multiprocess
@pytest.mark.slow
def test_cli_scores_a_generator_file_as_parzen_evaluate_does(runs, images):
    # evaluate --generator=PATH: the same numbers as the library on the same generator and seed.
    from gan_keras.training.restoring import load_generator_file

    result = succeeded(runs["generator"])
    keras_file = runs["keras_file"]
    assert f"Generator: the saved weights from {keras_file}.\n" in result["stdout"]  # no "epoch None"
    with open(keras_file.parent / "parzen.json") as f:
        saved = json.load(f)
    generator = load_generator_file(str(keras_file)).generator
    want, _ = in_process(generator, images, seed=SEED)
    assert_same_scores(saved, want)


@pytest.mark.multiprocess
@pytest.mark.slow
def test_cli_scores_an_older_checkpoint_when_asked(runs, trained_run, images):
    result = succeeded(runs["older checkpoint"])
    older = os.path.join(trained_run["model_dir"], "checkpoints", "ckpt-1")
    assert f"from {older}, epoch 1." in result["stdout"]
    with open(runs["tmp"] / "ckpt1.json") as f:
        saved = json.load(f)
    assert saved["epoch"] == 1 and saved["source"] == older
    assert not os.path.exists(os.path.join(trained_run["model_dir"], "parzen.json"))  # --output was honoured
    generator = load_generator(trained_run["model_dir"], checkpoint=older).generator
    assert_same_scores(saved, *in_process(generator, images))
    with open(runs["model_dir"] / "parzen.json") as f:
        newest = json.load(f)
    assert saved["log_likelihood"] != newest["log_likelihood"]  # another generator than the newest


@pytest.mark.multiprocess
@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(BAD_FLAGS)), ids=[" ".join(f) or "no flags" for f, _ in BAD_FLAGS])
def test_cli_bad_flags_fail_with_one_line(runs, index):
    names = BAD_FLAGS[index][1]
    result = runs[f"bad {index}"]
    assert result["status"] != 0
    last = result["message"]
    assert last.startswith("evaluate: error:") and names in last, result
    assert "\n" not in last
    assert result["traceback"] is None and "Traceback" not in result["stderr"]


def test_protocol_data_default_sizes_and_bounds(tfds_dir):
    # Too many images had been capped without a word; the CLI's messages are rows of docs/reliability.md.
    test, valid = load_protocol_data("mnist")
    assert (len(test), len(valid)) == (10000, parzen.NUM_VALID)
    test, valid = load_protocol_data("mnist", num_valid=10000, num_test=10)
    assert (len(test), len(valid)) == (10, 10000)
    for kwargs, message in (({"num_test": 10001}, "--num_test=10001: mnist has 10000 test images; pass 1 to 10000."),
                            ({"num_valid": 0}, "--num_valid=0: mnist has 10000 validation images; pass 1 to 10000.")):
        with pytest.raises(ValueError) as error:
            load_protocol_data("mnist", **kwargs)
        assert str(error.value) == message


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
