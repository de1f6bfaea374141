"""Averaging G's weights (`--ema_decay`): the recurrence, resume, and what evaluation and export use."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from cli_runner import finish_commands, start_commands

from gan_keras import GAN, Discriminator, Generator, paper_optimizer
from gan_keras.training import ConfigError, TrainConfig, run
from gan_keras.training.checkpointing import GANCheckpoint, has_ema
from gan_keras.training.restoring import load_generator

SEED = [3, 4]
DECAY = 0.9


def make_gan(ema_decay, ema_power=8.0):
    keras.utils.set_random_seed(0)
    gan = GAN(Generator(latent_dim=10), Discriminator(seed=1), seed=0, ema_decay=ema_decay, ema_power=ema_power)
    gan.compile(paper_optimizer(), paper_optimizer())
    gan.build_optimizers()
    return gan


def training_data(steps):
    images = np.random.default_rng(0).uniform(size=(8 * steps, 1, 28, 28, 1)).astype("float32")
    return tf.data.Dataset.from_tensor_slices(images).batch(8)


class RecordG(keras.callbacks.Callback):
    """G's weights after every step."""

    def __init__(self):
        super().__init__()
        self.weights = []

    def on_train_batch_end(self, batch, logs=None):
        self.weights.append([np.asarray(v) for v in self.model.generator.weights])


@pytest.mark.slow
def test_ema_follows_its_recurrence_and_leaves_training_unchanged():
    steps = 100  # the warm-up reaches DECAY at step 81
    plain, averaged = make_gan(None), make_gan(DECAY)
    start = [np.asarray(v) for v in averaged.generator.weights]
    for e, g in zip(averaged.ema_generator.get_weights(), start):
        np.testing.assert_array_equal(e, g)  # a copy of G at first
    record = RecordG()
    plain.fit(training_data(steps), epochs=1, verbose=0)
    averaged.fit(training_data(steps), epochs=1, verbose=0, callbacks=[record])

    for a, b in zip(plain.generator.weights, averaged.generator.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))  # G's trajectory is untouched
    want = start
    for step, weights in enumerate(record.weights, start=1):
        decay = min(DECAY, step / (step + 9))  # the warm-up: 0.1, 0.18, ... for these first steps
        want = [decay * e + (1 - decay) * w for e, w in zip(want, weights)]
    assert len(record.weights) == steps
    for got, expected, last in zip(averaged.ema_generator.weights, want, record.weights[-1]):
        np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-5, atol=1e-7)
        assert not np.allclose(expected, last)  # the average lags behind G
    assert averaged.inference_generator is averaged.ema_generator
    assert plain.inference_generator is plain.generator and plain.ema_generator is None
    assert not averaged.ema_generator.trainable_weights


@pytest.mark.slow
@pytest.mark.parametrize("compile_args", [dict(jit_compile=True), dict(steps_per_execution=2)], ids=["xla", "spe2"])
def test_the_average_is_the_same_under_xla_and_several_steps_per_call(compile_args):
    reference = make_gan(DECAY)
    reference.fit(training_data(4), epochs=1, verbose=0)
    keras.utils.set_random_seed(0)
    gan = GAN(Generator(latent_dim=10), Discriminator(seed=1), seed=0, ema_decay=DECAY)
    gan.compile(paper_optimizer(), paper_optimizer(), **compile_args)
    gan.build_optimizers()
    gan.fit(training_data(4), epochs=1, verbose=0)
    assert int(gan.g_optimizer.iterations) == 4
    for a, b in zip(gan.ema_generator.weights, reference.ema_generator.weights):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(
    "arch, image_shape, num_classes",
    [("conv", (28, 28, 1), 0), ("points", (2,), 0), ("mlp", (28, 28, 1), 10)],
    ids=["conv", "points", "conditional"],
)
def test_every_generator_kind_is_averaged(arch, image_shape, num_classes):
    from gan_keras.training import build_gan

    gan = build_gan(TrainConfig(arch=arch, ema_decay=DECAY), image_shape, num_classes=num_classes)
    assert gan.ema_generator.num_classes == num_classes
    for e, g in zip(gan.ema_generator.weights, gan.generator.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(e), np.asarray(g))
    assert gan.inference_generator.sample(3, seed=SEED).shape == (3, *image_shape)


@pytest.mark.slow
def test_metric_callbacks_score_the_average():
    from gan_keras.evaluation import parzen
    from gan_keras.evaluation.callbacks import ParzenCallback

    images = np.random.default_rng(1).uniform(size=(60, 28, 28, 1)).astype("float32")
    callback = ParzenCallback(None, images[:30], images[30:], num_samples=40)
    gan = make_gan(DECAY)
    history = gan.fit(training_data(100), epochs=1, verbose=0, callbacks=[callback])  # past the warm-up, the average lags G
    logged = history.history[callback.key][-1]
    for generator, same in ((gan.ema_generator, True), (gan.generator, False)):
        result = parzen.parzen_evaluate(generator, images[30:], images[:30], num_samples=40)
        assert (result["log_likelihood"] == pytest.approx(logged, abs=1e-6)) == same


def test_power_one_weighs_each_step_by_its_number():
    # Below the cap, ema_power=1 is the mean of G at steps 0..T weighted by s + 1
    # (closed form of the recurrence d_t = t / (t + 2)), not an exponential forgetting.
    steps = 12
    gan = make_gan(0.999999, ema_power=1.0)
    start = [np.asarray(v) for v in gan.generator.weights]
    record = RecordG()
    gan.fit(training_data(steps), epochs=1, verbose=0, callbacks=[record])
    history = [start] + record.weights
    weights = np.arange(1, steps + 2, dtype=np.float64)
    weights /= weights.sum()
    for i, got in enumerate(gan.ema_generator.weights):
        want = sum(w * np.asarray(h[i], np.float64) for w, h in zip(weights, history))
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-6)
    assert GAN.from_config(gan.get_config()).ema_power == 1.0
    assert TrainConfig.preset("table1").ema_power == 1.0 and TrainConfig().ema_power == 8.0


def test_bad_power_is_refused_naming_the_argument():
    with pytest.raises(ValueError, match=r"^ema_power must be >= 0"):
        GAN(Generator(), Discriminator(), ema_decay=0.9, ema_power=-1)
    with pytest.raises(ConfigError, match=r"^--ema_power must be >= 0 .*got -0.5"):
        TrainConfig(ema_power=-0.5).validate()


def test_bad_decay_is_refused_naming_the_argument():
    for decay in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError, match=r"^ema_decay must be in \(0, 1\)"):
            GAN(Generator(), Discriminator(), ema_decay=decay)
    for decay in (-0.1, 1.0):
        with pytest.raises(ConfigError, match=r"^--ema_decay must be in \[0, 1\)"):
            TrainConfig(ema_decay=decay).validate()


def test_a_run_without_averaging_resumed_with_it_starts_the_average_from_g(tmp_path):
    plain = make_gan(None)
    plain.fit(training_data(2), epochs=1, verbose=0)
    path = GANCheckpoint(plain, str(tmp_path)).save(1)
    assert not has_ema(path)

    averaged = make_gan(DECAY)
    assert GANCheckpoint(averaged, str(tmp_path)).restore(path) == 1
    for g, e in zip(plain.generator.weights, averaged.ema_generator.weights):
        np.testing.assert_array_equal(np.asarray(g), np.asarray(e))


@pytest.fixture(scope="module")
def ema_run(tfds_dir, tmp_path_factory):
    """A 2-epoch run with averaging, and an unbroken twin resumed after epoch 1."""
    settings = dict(data_dir=tfds_dir, steps_per_epoch=10, verbose=0, ema_decay=DECAY)
    whole = str(tmp_path_factory.mktemp("ema_whole"))
    gan = run(TrainConfig(model_dir=whole, epochs=2, **settings))
    resumed = str(tmp_path_factory.mktemp("ema_resumed"))
    run(TrainConfig(model_dir=resumed, epochs=1, **settings))
    resumed_gan = run(TrainConfig(model_dir=resumed, epochs=2, **settings))
    return {"whole": whole, "gan": gan, "resumed": resumed, "resumed_gan": resumed_gan}


@pytest.mark.slow
def test_resume_continues_the_average_exactly(ema_run):
    for a, b in zip(ema_run["gan"].ema_generator.weights, ema_run["resumed_gan"].ema_generator.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def assert_same_weights(model, other):
    for a, b in zip(model.weights, other.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.slow
def test_evaluation_and_generator_keras_use_the_average_unless_asked_not_to(ema_run):
    gan, model_dir = ema_run["gan"], ema_run["whole"]
    assert not np.allclose(gan.ema_generator.get_weights()[0], gan.generator.get_weights()[0])

    restored = load_generator(model_dir)
    assert restored.ema and restored.epoch == 2
    assert_same_weights(restored.generator, gan.ema_generator)
    trained = load_generator(model_dir, ema=False)
    assert not trained.ema
    assert_same_weights(trained.generator, gan.generator)
    keras_file = keras.saving.load_model(os.path.join(model_dir, "generator.keras"), compile=False)
    assert_same_weights(keras_file, gan.ema_generator)


EXPORT_DIRS = {"": "default", "--noema": "noema"}  # export.py flag -> its --export_dir


@pytest.fixture(scope="module")
def cli_runs(ema_run, tmp_path_factory):
    """`python -m gan_keras.evaluate` and `export.py` on the averaged run, with and without --ema (two processes)."""
    tmp = tmp_path_factory.mktemp("ema_cli")
    evaluate_rows = {
        flag: [f"--model_dir={ema_run['whole']}", "--num_samples=200", "--num_test=200", "--num_valid=100",
               "--noclassifier_metrics", f"--output={tmp / f'{flag}.json'}", flag]
        for flag in ("--ema", "--noema")
    }
    export_rows = {
        flag: [f"--model_dir={ema_run['whole']}", f"--export_dir={tmp / EXPORT_DIRS[flag]}", *([flag] if flag else [])]
        for flag in EXPORT_DIRS
    }
    evaluating = start_commands("-m gan_keras.evaluate", list(evaluate_rows.values()))
    exporting = start_commands("export.py", list(export_rows.values()))
    return {
        "tmp": tmp,
        "evaluate": dict(zip(evaluate_rows, finish_commands(evaluating))),
        "export": dict(zip(export_rows, finish_commands(exporting))),
    }


@pytest.mark.multiprocess
@pytest.mark.slow
def test_evaluate_cli_reports_which_weights_it_scored(cli_runs):
    results = {}
    for flag, done in cli_runs["evaluate"].items():
        assert done["status"] == 0 and done["traceback"] is None, done
        with open(cli_runs["tmp"] / f"{flag}.json") as f:
            results[flag] = json.load(f)
        weights = "averaged (EMA) weights" if flag == "--ema" else "trained weights"
        assert f"Generator: {weights} from " in done["stdout"]
    assert results["--ema"]["ema"] and not results["--noema"]["ema"]
    assert results["--ema"]["log_likelihood"] != results["--noema"]["log_likelihood"]


@pytest.mark.multiprocess
@pytest.mark.slow
def test_export_cli_serves_the_average_unless_noema(ema_run, cli_runs):
    gan = ema_run["gan"]
    z = np.asarray(gan.generator.sample_noise(3, np.asarray(SEED, np.int32)))
    for flag, generator in (("", gan.ema_generator), ("--noema", gan.generator)):
        done = cli_runs["export"][flag]
        assert done["status"] == 0 and done["traceback"] is None, done
        export_dir = cli_runs["tmp"] / EXPORT_DIRS[flag]
        served = tf.saved_model.load(str(export_dir / "1")).signatures["serving_default"]
        np.testing.assert_allclose(served(z=tf.constant(z))["images"], generator(z), rtol=1e-5, atol=1e-6)
        keras_file = keras.saving.load_model(str(export_dir / "generator.keras"), compile=False)
        assert_same_weights(keras_file, generator)


@pytest.mark.slow
def test_export_serves_the_average(ema_run, tmp_path):
    from gan_keras.serving import export_from_model_dir

    path = export_from_model_dir(ema_run["whole"], str(tmp_path / "gan"))
    served = tf.saved_model.load(path).signatures["serving_default"]
    restored = load_generator(ema_run["whole"])
    z = np.asarray(restored.generator.sample_noise(3, np.asarray(SEED, np.int32)))
    images = served(z=tf.constant(z))["images"]
    np.testing.assert_allclose(images, ema_run["gan"].ema_generator(z), rtol=1e-5, atol=0)
    # The .keras copy written next to the SavedModel holds exactly the average.
    keras_file = keras.saving.load_model(str(tmp_path / "gan" / "generator.keras"), compile=False)
    assert_same_weights(keras_file, ema_run["gan"].ema_generator)
