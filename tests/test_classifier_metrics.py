"""Classifier-based metrics: the shipped MNIST classifier, the metrics on real data, the callback."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from cli_runner import run_commands
from tensorboard.backend.event_processing import event_accumulator

from gan_keras import data as data_lib
from gan_keras.evaluation import classifier as classifier_lib
from gan_keras.evaluation import classifier_metrics as cm
from gan_keras.evaluation import parzen
from gan_keras.evaluation.callbacks import ClassifierMetricsCallback
from gan_keras.evaluation.protocol import evaluate_generator
from gan_keras.nets.models import Generator
from gan_keras.training import TrainConfig, build_gan
from gan_keras.training.restoring import Restored


@pytest.fixture(scope="module")
def test_split(tfds_dir):
    """The 10,000 MNIST test images and labels, and the shipped classifier's outputs on them."""
    images, labels = data_lib.load_labelled_images("mnist", "test")
    probs, features = cm.classifier_outputs(images)
    return {"images": images, "labels": labels, "probs": probs, "features": features}


@pytest.fixture(scope="module")
def validation_features(tfds_dir):
    """Features of the 10,000 validation images (train[50000:])."""
    return cm.classifier_outputs(data_lib.load_images("mnist", "validation"))[1]


def test_shipped_classifier_is_accurate_on_the_test_split(test_split):
    model = classifier_lib.load_classifier()
    assert model.get_layer(classifier_lib.FEATURES_LAYER).output.shape == (None, 128)
    accuracy = np.mean(np.argmax(test_split["probs"], axis=1) == test_split["labels"])
    assert accuracy >= 0.99
    # The module's own helper agrees.
    some = slice(0, 2000)
    assert classifier_lib.accuracy(model, test_split["images"][some], test_split["labels"][some]) == (
        pytest.approx(np.mean(np.argmax(test_split["probs"][some], 1) == test_split["labels"][some]))
    )


def test_real_test_split_scores_near_the_maximum_and_covers_all_digits(test_split):
    assert 9.5 <= cm.mnist_score(test_split["probs"]) <= 10.0
    histogram, covered = cm.class_coverage(test_split["probs"])
    assert covered == 10
    assert histogram.sum() == pytest.approx(1.0)
    assert np.all(np.abs(histogram - np.bincount(test_split["labels"]) / 10_000) < 0.005)


def test_single_class_generator_scores_one_and_covers_one_class(test_split):
    ones = test_split["images"][test_split["labels"] == 1]
    result = cm.classifier_metrics(ones, test_split["images"])
    assert result["mnist_score"] < 1.2
    assert result["classes_covered"] == 1
    assert result["class_histogram"][1] > 0.95
    assert (result["num_samples"], result["num_reference"]) == (len(ones), 10_000)
    # Far from the test distribution, much farther than another real split is.
    assert result["frechet_distance"] > 20 * cm.frechet_distance(
        test_split["features"][:5000], test_split["features"][5000:]
    )
    assert cm.result_line(result).startswith("MNIST score: ")


def test_frechet_distance_small_between_real_splits_large_for_untrained_generator(
    test_split, validation_features
):
    real = cm.frechet_distance(validation_features, test_split["features"])
    samples = parzen.generator_samples(Generator(), 2000, seed=(0, 1))
    _, fake_features = cm.classifier_outputs(samples)
    fake = cm.frechet_distance(fake_features, test_split["features"])
    assert 0 < real < 5
    assert fake > 100 * real
    assert cm.frechet_distance(test_split["features"], test_split["features"]) == 0.0


def test_frechet_distance_agrees_with_the_eigenvalues_of_the_product():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(500, 6)) @ rng.normal(size=(6, 6)) + 1.0
    b = rng.normal(size=(400, 6)) * [1, 2, 3, 0.5, 1, 0.1]
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # Independent route: the eigenvalues of S_a S_b (real, >= 0) are those of the symmetric form.
    trace_sqrt = np.sum(np.sqrt(np.linalg.eigvals(cov_a @ cov_b).real))
    expected = np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_sqrt
    assert cm.frechet_distance(a, b) == pytest.approx(expected, rel=1e-9)
    assert cm.frechet_distance(a, b) == pytest.approx(cm.frechet_distance(b, a), rel=1e-9)
    # Fewer vectors than dimensions: rank-deficient covariances still give a finite value.
    assert np.isfinite(cm.frechet_distance(a[:3], b[:4]))


def test_inputs_are_validated_with_one_line_errors():
    with pytest.raises(ValueError, match=r"^images must be a non-empty batch of 28x28x1 images.*shape \(2, 32, 32, 3\)"):
        cm.classifier_outputs(np.zeros((2, 32, 32, 3), np.uint8))
    with pytest.raises(ValueError, match=r"^reference_images must be uint8 \(0..255\) or float in \[0, 1\]"):
        cm.classifier_metrics(np.zeros((2, 28, 28, 1)), np.full((2, 28, 28, 1), 255.0))
    with pytest.raises(ValueError, match="features_a and features_b must have the same dimension"):
        cm.frechet_distance(np.zeros((3, 2)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match="n >= 2"):
        cm.frechet_distance(np.zeros((1, 2)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="probs must hold probabilities"):
        cm.mnist_score(np.full((3, 10), 0.5))
    with pytest.raises(ValueError, match=r"threshold must be in \(0, 1\]"):
        cm.class_coverage(np.eye(10), threshold=0)
    # [n, 28, 28] is taken as one channel.
    probs, features = cm.classifier_outputs(np.zeros((2, 28, 28), np.uint8))
    assert probs.shape == (2, 10) and features.shape == (2, 128)


def _read_epoch_scalars(log_dir):
    accumulator = event_accumulator.EventAccumulator(
        os.path.join(log_dir, "train"), size_guidance={event_accumulator.TENSORS: 0}
    )
    accumulator.Reload()
    return {
        tag: [(e.step, float(tf.make_ndarray(e.tensor_proto))) for e in accumulator.Tensors(tag)]
        for tag in accumulator.Tags()[event_accumulator.TENSORS]
    }


def test_callback_feeds_tensorboard(test_split, tmp_path):
    gan = build_gan(TrainConfig(steps_per_epoch=2), (28, 28, 1))
    callback = ClassifierMetricsCallback(
        None, test_split["images"][:500], every_epochs=2, num_samples=200, seed=(5, 6)
    )
    log_dir = str(tmp_path / "logs")
    real = data_lib.TrainingData(test_split["images"][:400], batch_size=100).dataset(seed=0)
    history = gan.fit(
        real,
        epochs=3,
        steps_per_epoch=2,
        verbose=0,
        shuffle=False,
        callbacks=[callback, keras.callbacks.TensorBoard(log_dir)],
    )
    # Epoch 1 (first of the fit) and epoch 2 (every 2nd) are evaluated; epoch 3 is not.
    assert len(history.history["mnist_score"]) == 2
    scalars = _read_epoch_scalars(log_dir)
    for key in ClassifierMetricsCallback.KEYS:
        assert [step for step, _ in scalars[f"epoch_{key}"]] == [0, 1], key
    last = {key: scalars[f"epoch_{key}"][-1][1] for key in ClassifierMetricsCallback.KEYS}
    # The logged values are those of classifier_metrics on the same samples.
    samples = parzen.generator_samples(gan.generator, 200, seed=(5, 6))
    expected = cm.classifier_metrics(samples, test_split["images"][:500])
    for key in ClassifierMetricsCallback.KEYS:
        assert last[key] == pytest.approx(expected[key], rel=1e-4), key
    assert 1 <= last["mnist_score"] <= 10 and last["frechet_distance"] > 0


def test_callback_rejects_bad_settings(test_split):
    with pytest.raises(ValueError, match="every_epochs"):
        ClassifierMetricsCallback(None, test_split["images"][:10], every_epochs=0)
    with pytest.raises(ValueError, match="num_samples"):
        ClassifierMetricsCallback(None, test_split["images"][:10], num_samples=1)
    with pytest.raises(ValueError, match="^reference_images must be a non-empty batch of 28x28x1"):
        ClassifierMetricsCallback(None, np.zeros((10, 32, 32, 3), np.uint8))


def test_evaluate_generator_skips_other_shapes_with_a_note():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(40, 32, 32, 3), dtype=np.uint8)
    restored = Restored(Generator(image_shape=(32, 32, 3)), "test")
    kwargs = dict(num_samples=30, sigma=0.5, dataset="cifar10")
    result = evaluate_generator(restored, images, images, **kwargs)
    assert "classifier_metrics" not in result
    assert result["classifier_metrics_skipped"] == (
        "classifier metrics skipped: the MNIST classifier needs 28x28x1 images; cifar10 has 32x32x3."
    )
    assert np.isfinite(result["log_likelihood"])
    with pytest.raises(ValueError, match="^--classifier_metrics: the MNIST classifier needs 28x28x1"):
        evaluate_generator(restored, images, images, classifier_metrics=True, **kwargs)
    off = evaluate_generator(restored, images, images, classifier_metrics=False, **kwargs)
    assert off["classifier_metrics_skipped"] == "classifier metrics skipped: turned off."


def test_train_classifier_learns_on_a_small_subset(tfds_dir, test_split):
    images, labels = data_lib.load_labelled_images("mnist", "validation")
    model = classifier_lib.train_classifier(images[:2000], labels[:2000], epochs=1, batch_size=64)
    assert classifier_lib.accuracy(model, test_split["images"][:1000], test_split["labels"][:1000]) > 0.5
    with pytest.raises(ValueError, match="labels must be given"):
        classifier_lib.train_classifier(images[:10], labels[:5])


def test_a_training_run_logs_the_metrics_when_asked(conditional_run):
    """train.py's --classifier_metrics_every_epochs, through training.run, read back from TensorBoard."""
    from gan_keras import training

    config = conditional_run["config"]
    assert (config.classifier_metrics_every_epochs, config.epochs) == (1, 1)
    scalars = _read_epoch_scalars(os.path.join(config.model_dir, "logs"))
    for key in (*ClassifierMetricsCallback.KEYS, "label_accuracy"):
        assert [step for step, _ in scalars[f"epoch_{key}"]] == [0], key
    assert 0 <= scalars["epoch_label_accuracy"][0][1] <= 1
    with pytest.raises(training.ConfigError, match="--classifier_metrics_every_epochs needs 28x28x1 images"):
        TrainConfig(dataset="ring8", arch="points", classifier_metrics_every_epochs=1).validate()


def test_label_accuracy_is_the_classifier_agreeing_with_the_labels(test_split):
    """Real test digits with their own labels score the classifier's accuracy; shuffled labels, chance."""
    images, labels = test_split["images"][:2000], test_split["labels"][:2000]
    own = cm.classifier_metrics(images, images, labels=labels)["label_accuracy"]
    shuffled = cm.classifier_metrics(images, images, labels=np.random.default_rng(0).permutation(labels))
    assert own >= 0.98
    assert abs(shuffled["label_accuracy"] - 0.1) < 0.03
    assert cm.label_accuracy(test_split["probs"][:2000], labels) == pytest.approx(own)


@pytest.mark.multiprocess
@pytest.mark.slow
def test_classifier_command_line_refuses_bad_flags_with_one_line(tmp_path):
    """`python -m gan_keras.cli.classifier` (gan-keras-classifier): each bad setting, one line naming it."""
    empty = tmp_path / "no_data"
    empty.mkdir()
    rows = {
        f"--output={tmp_path}/missing/c.keras": (
            f"classifier: error: --output={tmp_path}/missing/c.keras: directory {tmp_path}/missing does not exist."),
        "--output=classifier.h5": "classifier: error: flag --output=classifier.h5: --output must be a path ending in .keras.",
        "--epochs=0": "classifier: error: flag --epochs=0: --epochs must be >= 1.",
        "--batch_size=0": "classifier: error: flag --batch_size=0: --batch_size must be >= 1.",
        "--learning_rate=0": "classifier: error: flag --learning_rate=0.0: --learning_rate must be > 0.",
        f"--data_dir={empty}": f"classifier: error: dataset 'mnist' is not prepared in {empty}; prepare it",
    }
    commands = [[flag] if flag.startswith("--output") else [flag, f"--output={tmp_path}/c.keras"] for flag in rows]
    for (flag, message), result in zip(rows.items(), run_commands("-m gan_keras.cli.classifier", commands)):
        assert result["status"] == 1 and result["traceback"] is None, result
        assert result["message"].startswith(message) and "\n" not in result["message"], (flag, result["message"])
        assert "Traceback" not in result["stderr"]
    assert sorted(os.listdir(tmp_path)) == ["no_data"]  # nothing written
