"""The conditional GAN p(x | c) of the paper's Section 7 (`--conditional`)."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from gan_keras import GAN, Discriminator, Generator, data, paper_optimizer, serving, training
from gan_keras.cli.evaluate import evaluate_model_dir
from gan_keras.data import ring
from gan_keras.evaluation import parzen
from gan_keras.evaluation.classifier_metrics import classifier_metrics
from gan_keras.evaluation.protocol import conditional_labels, evaluate_generator, load_protocol_data
from gan_keras.paper.figures import interpolation_grid
from gan_keras.training.restoring import Restored, load_generator


def test_the_label_reaches_both_networks():
    g = Generator(num_classes=10)
    z = g.sample_noise(4, seed=[0, 0])
    zeros, ones = (np.asarray(g((z, tf.fill([4], c)))) for c in (0, 1))
    assert np.abs(zeros - ones).max() > 1e-4
    d = Discriminator(num_classes=10, dropout=False)
    assert np.abs(np.asarray(d((zeros, tf.fill([4], 0)))) - np.asarray(d((zeros, tf.fill([4], 1))))).max() > 1e-6
    # `sample` draws labels uniformly unless given.
    np.testing.assert_array_equal(g.sample(4, seed=[0, 0], labels=[1] * 4), ones)
    labels = np.asarray(g.sample_inputs(5000, seed=[0, 1])[1])
    assert set(labels) == set(range(10)) and abs(np.bincount(labels).min() - 500) < 80


def test_conditional_networks_refuse_calls_without_labels_and_bad_class_counts():
    with pytest.raises(ValueError, match=r"num_classes=10: call it on \(inputs, labels\)"):
        Generator(num_classes=10)(tf.zeros([2, 100]))
    with pytest.raises(ValueError, match="call it on inputs alone"):
        Discriminator()((tf.zeros([2, 28, 28, 1]), tf.zeros([2], tf.int32)))
    with pytest.raises(ValueError, match=r"num_classes must be 0 \(unconditional\) or >= 2"):
        Generator(num_classes=1)
    with pytest.raises(ValueError, match="same num_classes"):
        GAN(Generator(num_classes=10), Discriminator())


def test_a_conditional_generator_round_trips_through_a_keras_file(tmp_path):
    g = Generator(latent_dim=8, num_classes=10, arch="conv")
    before = np.asarray(g.sample(6, seed=[3, 4]))
    g.save(tmp_path / "g.keras")
    loaded = keras.models.load_model(tmp_path / "g.keras")
    assert loaded.num_classes == 10
    np.testing.assert_array_equal(before, np.asarray(loaded.sample(6, seed=[3, 4])))


def nearest_mode(points):
    return np.linalg.norm(np.asarray(points)[:, None] - ring.mode_centers()[None], axis=-1).argmin(axis=1)


@pytest.mark.slow
def test_conditioning_on_the_mode_puts_each_class_on_its_own_mode_of_ring8():
    """The unconditional ring8 GAN hops between modes (docs/mode_collapse.md); given the
    mode as its class, G(z, c) learns to put class c on mode c."""
    images, labels = data.load_labelled_images("ring8", "train")
    train = data.TrainingData(images, batch_size=100, labels=labels)
    gan = GAN(
        Generator(latent_dim=16, image_shape=(2,), arch="points", num_classes=8),
        Discriminator(image_shape=(2,), arch="points", num_classes=8),
        seed=0,
    )
    gan.compile(d_optimizer=paper_optimizer(learning_rate=0.01), g_optimizer=paper_optimizer(learning_rate=0.01))
    gan.build_optimizers()
    classes = np.repeat(np.arange(8), 250)

    def on_own_mode():
        return (nearest_mode(gan.generator.sample(len(classes), seed=[0, 0], labels=classes)) == classes).mean()

    before = on_own_mode()
    keras.utils.set_random_seed(0)
    gan.fit(train.dataset(seed=0), epochs=8, steps_per_epoch=500, verbose=0)
    after = on_own_mode()
    assert before < 0.4 and after > 0.9, (before, after)


def test_a_conditional_mnist_run_draws_one_row_per_class_and_restores(conditional_run):
    model_dir = conditional_run["model_dir"]
    grid = tf.io.decode_png(tf.io.read_file(os.path.join(model_dir, "samples.png")))
    assert grid.shape == (10 * 29 + 1, 10 * 29 + 1, 1)
    restored = load_generator(model_dir)
    assert restored.generator.num_classes == 10 and restored.epoch == 1
    np.testing.assert_allclose(
        # load_generator returns the averaged G by default, as the run samples from it.
        restored.generator.sample(10, seed=[1, 1]), conditional_run["gan"].inference_generator.sample(10, seed=[1, 1]),
        atol=1e-6,
    )
    assert interpolation_grid(restored.generator, rows=3, cols=4).shape == (3 * 29 + 1, 4 * 29 + 1, 1)
    with pytest.raises(training.ConfigError, match="--conditional=True"):
        training.run(
            training.TrainConfig(model_dir=model_dir, data_dir=conditional_run["config"].data_dir, epochs=2, verbose=0)
        )


def test_a_conditional_mnist_run_is_evaluated_with_its_label_accuracy(conditional_run):
    result = evaluate_model_dir(conditional_run["model_dir"], num_samples=200, num_test=200, num_valid=100)
    metrics = result["classifier_metrics"]
    assert 0.0 <= metrics["label_accuracy"] <= 1.0
    assert np.isfinite(result["log_likelihood"])
    # The classifier's verdict on the same samples against the labels they were drawn for.
    generator = load_generator(conditional_run["model_dir"]).generator
    samples = parzen.generator_samples(generator, 200, parzen.SAMPLE_SEED)
    labels = conditional_labels(generator, 200, parzen.SAMPLE_SEED)
    test = data.load_images("mnist", "test", conditional_run["config"].data_dir)[:200]
    want = classifier_metrics(samples, test, labels=labels)
    assert metrics["label_accuracy"] == pytest.approx(want["label_accuracy"])
    assert metrics["mnist_score"] == pytest.approx(want["mnist_score"], rel=1e-5)


def class_mean_generator(data_dir, steps=100):
    """A conditional G fitted to draw, for every z, its label's mean training digit.

    Fitted by regression, not adversarially: a conditional GAN takes far longer
    to condition on MNIST (its label accuracy is still ~0.1 after 1,200 steps
    of the default preset), but a generator that draws its labels is what the
    metric must tell from one that ignores them.
    """
    images, labels = data.load_labelled_images("mnist", "train", data_dir)
    means = tf.constant(np.stack([images[labels == c].mean(axis=0) for c in range(10)]) / 255.0, tf.float32)
    keras.utils.set_random_seed(0)
    generator = Generator(num_classes=10)
    optimizer = keras.optimizers.Adam(3e-3)

    @tf.function
    def fit_step(step):
        z, c = generator.sample_inputs(100, seed=tf.stack([step, 7]))
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean((generator((z, c), training=True) - tf.gather(means, c)) ** 2)
        optimizer.apply_gradients(zip(tape.gradient(loss, generator.trainable_variables), generator.trainable_variables))

    for step in range(steps):
        fit_step(tf.constant(step))
    return generator


@pytest.mark.slow
def test_label_accuracy_tells_a_generator_that_draws_its_labels_from_ones_that_ignore_them(conditional_run):
    config = conditional_run["config"]
    train = data.TrainingData(data.load_images("mnist", "train", config.data_dir), batch_size=100)
    generators = {
        "untrained": training.build_gan(config, (28, 28, 1), train.pixel_mean(), num_classes=10).generator,
        "GAN, 10 steps": load_generator(conditional_run["model_dir"]).generator,
        "draws its label": class_mean_generator(config.data_dir),
    }
    test, valid = load_protocol_data("mnist", config.data_dir, 100, 300)
    accuracy = {
        name: evaluate_generator(Restored(generator, name), test, valid, num_samples=300)["classifier_metrics"][
            "label_accuracy"]
        for name, generator in generators.items()
    }
    # Ignoring the label: agreement by chance, ~0.1; drawing it: the classifier agrees.
    assert abs(accuracy["untrained"] - 0.1) <= 0.1 and abs(accuracy["GAN, 10 steps"] - 0.1) <= 0.1, accuracy
    assert accuracy["draws its label"] >= 0.8, accuracy


def test_the_exported_conditional_generator_takes_z_and_label(conditional_run, tmp_path):
    generator = conditional_run["gan"].generator
    version_dir = serving.export(generator, str(tmp_path / "export"))
    loaded = tf.saved_model.load(version_dir)  # as TF Serving: no gan_keras objects
    z = generator.sample_noise(3, seed=[5, 5])
    labels = tf.constant([0, 4, 9])
    images = loaded.signatures["serving_default"](z=z, label=labels)["images"]
    np.testing.assert_allclose(images, generator((z, labels)), atol=1e-6)
    sevens = loaded.signatures["sample"](num_samples=tf.constant(4), seed=tf.constant(2), label=tf.constant(7))
    np.testing.assert_allclose(sevens["images"], generator.sample(4, seed=[2, 0], labels=[7] * 4), atol=1e-6)
    assert loaded.signatures["interpolate"](
        z_start=z[0], z_end=z[1], num_steps=tf.constant(5), label=tf.constant(3)
    )["images"].shape == (5, 28, 28, 1)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"label must be in \[0, 9\]"):
        loaded.signatures["sample"](num_samples=tf.constant(4), seed=tf.constant(2), label=tf.constant(10))
    with pytest.raises(tf.errors.InvalidArgumentError, match="label must have one entry per row of z"):
        loaded.signatures["serving_default"](z=z, label=tf.constant([1, 2]))


def test_the_alternating_rule_trains_a_conditional_gan_on_k_labelled_minibatches():
    images, labels = data.load_labelled_images("ring8", "train")
    train = data.TrainingData(images[:2000], batch_size=50, k=2, labels=labels[:2000])
    real, real_labels = next(iter(train.dataset(seed=0)))
    assert real.shape == (50, 2, 2) and real_labels.shape == (50, 2)
    # The labels travel with their points: each label is its point's mode.
    np.testing.assert_array_equal(nearest_mode(tf.reshape(real, [-1, 2])), tf.reshape(real_labels, [-1]))
    gan = GAN(
        Generator(latent_dim=8, image_shape=(2,), arch="points", num_classes=8),
        Discriminator(image_shape=(2,), arch="points", num_classes=8),
        k=2,
        update="alternating",
        seed=0,
    )
    gan.compile(d_optimizer=paper_optimizer(learning_rate=0.01), g_optimizer=paper_optimizer(learning_rate=0.01))
    gan.build_optimizers()
    history = gan.fit(train.dataset(seed=0), epochs=1, steps_per_epoch=5, verbose=0).history
    assert int(gan.d_optimizer.iterations) == 10 and int(gan.g_optimizer.iterations) == 5
    assert all(np.isfinite(v[0]) for v in history.values())
