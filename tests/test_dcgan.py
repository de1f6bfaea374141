"""`--arch=dcgan` (Radford et al. 2015) and `--optimizer=adam`: the networks, the preset, training, resume, export, strategies.

Data are random uint8 images (`data.TrainingData`) or TFDS's mock CIFAR-10
(32x32x3); batches are tiny and runs a few steps: the tests check the
plumbing, not the quality of the samples.
"""

import dataclasses
import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from cli_runner import run_commands

from gan_keras import Discriminator, Generator
from gan_keras import data as data_lib
from gan_keras.nets import dcgan
from gan_keras.serving import export_saved_model
from gan_keras.training import PRESETS, ConfigError, TrainConfig, build_gan, check_compatible, load_config, run
from gan_keras.training.config import CONFIG_FILE

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def weights_of(*models):
    return [np.asarray(v) for model in models for v in model.weights]


def layer_kinds(model):
    return [type(layer).__name__ for layer in model.net]


@pytest.mark.parametrize("shape", [(32, 32, 3), (64, 64, 1)])
def test_networks_follow_the_paper(shape):
    keras.utils.set_random_seed(0)
    g, d = Generator(image_shape=shape, arch="dcgan"), Discriminator(image_shape=shape, arch="dcgan", dropout=False)
    images = np.asarray(g.sample(3, seed=[1, 2]))
    assert images.shape == (3, *shape) and 0 <= images.min() and images.max() <= 1  # sigmoid: this project's [0, 1]
    assert tuple(d(images).shape) == (3, 1)
    strided = 3 if shape[0] == 32 else 4  # 4x4 -> side
    g_kinds, d_kinds = layer_kinds(g), layer_kinds(d)
    assert g_kinds.count("Conv2DTranspose") == strided and g_kinds.count("BatchNormalization") == strided
    assert g_kinds[-1] == "Conv2DTranspose" and g.net[-1].activation.__name__ == "sigmoid"  # no BN on G's output
    assert d_kinds[:2] == ["Conv2D", "LeakyReLU"]  # no BN on D's input layer
    assert d_kinds.count("Conv2D") == strided and d_kinds.count("BatchNormalization") == strided - 1
    assert "Dropout" not in d_kinds and "ReLU" in g_kinds
    assert all(layer.negative_slope == pytest.approx(0.2) for layer in d.net if type(layer).__name__ == "LeakyReLU")
    assert [layer.filters for layer in d.net if type(layer).__name__ == "Conv2D"][0] == dcgan.BASE_FILTERS
    kernels = np.concatenate([np.asarray(v).ravel() for v in g.weights + d.weights if v.path.endswith("kernel")])
    assert kernels.std() == pytest.approx(0.02, rel=0.02) and abs(kernels.mean()) < 1e-3  # N(0, 0.02)
    gammas = np.concatenate([np.asarray(v).ravel() for v in g.weights if v.path.endswith("gamma")])
    assert gammas.mean() == pytest.approx(1.0, abs=0.01) and gammas.std() == pytest.approx(0.02, rel=0.1)
    assert all(layer.synchronized for layer in g.net + d.net if type(layer).__name__ == "BatchNormalization")


@pytest.mark.parametrize("shape", [(28, 28, 1), (48, 48, 3), (32, 64, 3), (16, 16, 1)])
def test_bad_sizes_are_one_line_errors_naming_the_arch_and_the_sizes(shape):
    message = r"^arch='dcgan' needs square images whose side is a power of 2 >= 32 \(32x32, 64x64, 128x128, \.\.\.\); got \d+x\d+\.$"
    with pytest.raises(ValueError, match=message):
        Generator(image_shape=shape, arch="dcgan")
    with pytest.raises(ValueError, match=message):
        Discriminator(image_shape=shape, arch="dcgan", dropout=False)


def test_bad_config_is_a_one_line_config_error(tfds_dir):
    with pytest.raises(ConfigError, match=r"^--arch=dcgan needs square images .* \(32x32, 64x64, 128x128, \.\.\.\); --dataset=mnist has 28x28x1\.$"):
        TrainConfig.preset("dcgan", data_dir=tfds_dir).validate()
    with pytest.raises(ConfigError, match=r"^--arch=dcgan has no dropout in D .*--nod_dropout, or use --preset=dcgan\.$"):
        TrainConfig(arch="dcgan").validate()
    with pytest.raises(ValueError, match=r"^arch='dcgan' has no dropout in D .*pass dropout=False\.$"):
        Discriminator(image_shape=(32, 32, 3), arch="dcgan")
    with pytest.raises(ConfigError, match=r"^--optimizer='rmsprop' is not valid; accepted: sgd, adam\.$"):
        TrainConfig(optimizer="rmsprop").validate()
    for name in ("adam_beta1", "adam_beta2"):
        with pytest.raises(ConfigError, match=rf"^--{name} must be in \[0, 1\); got 1.0\.$"):
            TrainConfig(**{name: 1.0}).validate()


def test_the_preset_has_the_published_settings_and_the_others_are_unchanged():
    assert PRESETS["default"] == {}
    assert PRESETS["paper"] == {"batch_size": 100, "ema_decay": 0.0, "on_collapse": "warn"}
    assert TrainConfig().optimizer == TrainConfig.preset("paper").optimizer == "sgd"
    config = TrainConfig.preset("dcgan")
    assert (config.arch, config.batch_size, config.optimizer, config.d_dropout) == ("dcgan", 128, "adam", False)
    gan = build_gan(config, (32, 32, 3))
    for optimizer in (gan.d_optimizer, gan.g_optimizer):
        assert isinstance(optimizer, keras.optimizers.Adam)
        assert float(optimizer.learning_rate) == pytest.approx(2e-4, rel=1e-6)
        assert (optimizer.beta_1, optimizer.beta_2, optimizer.epsilon) == (0.5, 0.999, 1e-8)
    optimizer.iterations.assign(10**6)
    assert float(optimizer.learning_rate) == pytest.approx(2e-4, rel=1e-6)  # constant, as published
    sgd = build_gan(TrainConfig(), (28, 28, 1)).d_optimizer
    assert type(sgd).__name__ == "ScheduledMomentumSGD"


def test_old_configs_load_as_sgd_and_resuming_with_another_optimizer_is_refused(tmp_path):
    old = dataclasses.asdict(TrainConfig(model_dir=str(tmp_path)))
    for name in ("optimizer", "adam_beta1", "adam_beta2"):
        del old[name]  # a config.json written before these fields existed
    (tmp_path / CONFIG_FILE).write_text(json.dumps(old))
    saved = load_config(str(tmp_path))
    assert saved.optimizer == "sgd"
    check_compatible(TrainConfig(model_dir=str(tmp_path), adam_beta1=0.9), saved)  # betas may change, as the lr may
    with pytest.raises(ConfigError, match=r"^--model_dir=.* holds a run trained with --optimizer='sgd', not 'adam'; .*the same --optimizer\.$"):
        check_compatible(TrainConfig(model_dir=str(tmp_path), optimizer="adam"), saved)


def train_steps(shape, update="simultaneous", k=1, num_classes=0, steps=2, batch_size=4):
    """A dcgan-preset GAN with EMA after `steps` steps on random images; returns it, its logs and its start."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(batch_size * k * steps, *shape), dtype=np.uint8)
    labels = rng.integers(0, num_classes, size=len(images)) if num_classes else None
    config = TrainConfig.preset("dcgan", batch_size=batch_size, update=update, k=k, ema_decay=0.9)
    data = data_lib.TrainingData(images, batch_size=batch_size, k=k, labels=labels)
    keras.utils.set_random_seed(0)
    gan = build_gan(config, data.image_shape, data.pixel_mean(), data.steps_per_epoch, num_classes)
    start = weights_of(gan.generator, gan.discriminator)
    history = gan.fit(data.dataset(0), epochs=1, steps_per_epoch=steps, verbose=0, shuffle=False).history
    return gan, history, start


def check_trained(gan, history, start, steps=2, k=1):
    assert int(gan.g_optimizer.iterations) == steps and int(gan.d_optimizer.iterations) == steps * k
    assert all(np.isfinite(values[-1]) for values in history.values())
    variables = gan.generator.weights + gan.discriminator.weights
    moved = {v.path.rsplit("/", 1)[1] for v, w in zip(variables, start, strict=True) if not np.array_equal(v, w)}
    assert {"kernel", "gamma", "beta", "moving_mean", "moving_variance"} <= moved
    assert all(not np.array_equal(v, w) for v, w in zip(variables, start) if v.trainable)  # every trainable weight
    # The average covers BN's moving statistics too (they are weights), so the
    # averaged G's inference mode uses statistics averaged alike.
    assert [v.path.rsplit("/", 1)[1] for v in gan.ema_generator.weights] == [
        v.path.rsplit("/", 1)[1] for v in gan.generator.weights
    ]
    labels = [0, 1, 2, 3] if gan.generator.num_classes else None
    samples = np.asarray(gan.inference_generator.sample(4, seed=[0, 1], labels=labels))  # inference mode
    assert np.isfinite(samples).all() and 0 <= samples.min() and samples.max() <= 1 and samples.std() > 0
    return samples


@pytest.mark.parametrize("update, k", [("simultaneous", 1), ("alternating", 2)])
def test_trains_at_32(update, k):
    check_trained(*train_steps((32, 32, 3), update, k), k=k)


def test_conditional_trains_at_32_and_the_label_reaches_both_networks():
    gan, history, start = train_steps((32, 32, 3), num_classes=10)
    samples = check_trained(gan, history, start)
    z = gan.generator.sample_noise(2, [3, 3])
    z = tf.concat([z[:1], z[:1]], axis=0)
    pair = np.asarray(gan.generator((z, tf.constant([0, 5])), training=False))
    assert not np.allclose(pair[0], pair[1])  # the same z, another class: another image
    logits = np.asarray(gan.discriminator((tf.constant(samples[:2]), tf.constant([0, 5])), training=False))
    same = np.asarray(gan.discriminator((tf.constant(samples[:2]), tf.constant([0, 0])), training=False))
    assert logits[1] != pytest.approx(same[1])


@pytest.mark.slow
@pytest.mark.parametrize("update", ["simultaneous", "alternating"])
def test_trains_at_64(update):
    check_trained(*train_steps((64, 64, 1), update, batch_size=2))


@pytest.fixture(scope="module")
def mock_cifar10(tmp_path_factory):
    """TFDS's mock CIFAR-10 (32x32x3, the same random images at every load) for the module's tests."""
    patch = pytest.MonkeyPatch()
    patch.setenv("TFDS_DATA_DIR", str(tmp_path_factory.mktemp("no_data_here")))
    with tfds.testing.mock_data(num_examples=32):
        yield
    patch.undo()


@pytest.fixture(scope="module")
def dcgan_runs(mock_cifar10, tmp_path_factory):
    """The dcgan preset on mock CIFAR-10: 2 epochs of 2 steps, and the same run stopped after epoch 1 and resumed."""
    settings = dict(dataset="cifar10", batch_size=4, steps_per_epoch=2, ema_decay=0.9, verbose=0)
    whole = str(tmp_path_factory.mktemp("dcgan_whole"))
    gan = run(TrainConfig.preset("dcgan", model_dir=whole, epochs=2, **settings))
    resumed = str(tmp_path_factory.mktemp("dcgan_resumed"))
    run(TrainConfig.preset("dcgan", model_dir=resumed, epochs=1, **settings))
    resumed_gan = run(TrainConfig.preset("dcgan", model_dir=resumed, epochs=2, **settings))
    return {"whole": whole, "gan": gan, "resumed": resumed, "resumed_gan": resumed_gan, "settings": settings}


@pytest.mark.slow
def test_resume_is_exact_with_adam_and_batch_norm(dcgan_runs):
    gan, resumed = dcgan_runs["gan"], dcgan_runs["resumed_gan"]
    assert int(resumed.g_optimizer.iterations) == 4
    for a, b in zip(
        weights_of(gan.generator, gan.discriminator, gan.ema_generator) + [np.asarray(v) for v in gan.d_optimizer.variables + gan.g_optimizer.variables],
        weights_of(resumed.generator, resumed.discriminator, resumed.ema_generator)
        + [np.asarray(v) for v in resumed.d_optimizer.variables + resumed.g_optimizer.variables],
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)
    assert load_config(dcgan_runs["resumed"]).optimizer == "adam"
    with pytest.raises(ConfigError, match=r"holds a run trained with --optimizer='adam', not 'sgd'"):
        run(TrainConfig.preset("dcgan", model_dir=dcgan_runs["resumed"], epochs=3, **{**dcgan_runs["settings"], "optimizer": "sgd"}))


@pytest.mark.slow
def test_export_serves_the_averaged_generator(dcgan_runs, tmp_path):
    generator = dcgan_runs["gan"].inference_generator
    export_saved_model(generator, str(tmp_path / "1"))
    loaded = tf.saved_model.load(str(tmp_path / "1"))
    z = generator.sample_noise(3, [0, 7])
    images = loaded.signatures["serving_default"](z=z)["images"].numpy()
    assert images.shape == (3, 32, 32, 3)
    np.testing.assert_allclose(images, np.asarray(generator(z, training=False)), atol=1e-5)  # inference mode
    sampled = loaded.signatures["sample"](num_samples=tf.constant(2), seed=tf.constant(0))["images"].numpy()
    np.testing.assert_allclose(sampled, np.asarray(generator.sample(2, seed=[0, 0])), atol=1e-5)


# The command lines: train.py and export.py in one fresh Python on TFDS's mock CIFAR-10.
# The context is kept referenced (in `sys`): collected, it would undo the mock.
MOCK_CIFAR10 = (
    "import sys, tensorflow_datasets as tfds\n"
    "sys.dcgan_mock = tfds.testing.mock_data(num_examples=32)\n"
    "sys.dcgan_mock.__enter__()\n"
)


@pytest.mark.slow
@pytest.mark.multiprocess
def test_train_py_and_export_py(tmp_path, tfds_dir):
    run_dir, export_dir = tmp_path / "run", tmp_path / "models"
    common = ["--epochs=1", "--steps_per_epoch=2", "--batch_size=4", "--verbose=0"]
    results = run_commands(
        {
            "train.py": [
                ["--preset=dcgan", "--dataset=cifar10", f"--model_dir={run_dir}", *common],
                ["--preset=dcgan", "--dataset=cifar10", f"--model_dir={run_dir}", "--optimizer=sgd", *common],
                ["--preset=dcgan", f"--data_dir={tfds_dir}", f"--model_dir={tmp_path / 'mnist'}", *common],
                ["--arch=dcgan", "--dataset=cifar10", f"--model_dir={tmp_path / 'dropout'}", *common],
            ],
            "export.py": [[f"--model_dir={run_dir}", f"--export_dir={export_dir}"]],
        },
        env=dict(os.environ, TFDS_DATA_DIR=str(tmp_path / "no_data_here")),
        setup=MOCK_CIFAR10,
    )
    trained, other_optimizer, mnist, dropout, exported = results
    assert trained["status"] == 0 and exported["status"] == 0, (trained, exported)
    assert other_optimizer["message"].startswith("train.py: error: --model_dir=")
    assert "--optimizer='adam', not 'sgd'" in other_optimizer["message"]
    assert mnist["message"].startswith("train.py: error: --arch=dcgan needs square images")
    assert dropout["message"] == (
        "train.py: error: --arch=dcgan has no dropout in D (Radford et al. 2015): add --nod_dropout, or use --preset=dcgan."
    )
    assert all("\n" not in r["message"] for r in (other_optimizer, mnist, dropout))
    assert json.loads((run_dir / CONFIG_FILE).read_text())["optimizer"] == "adam"
    loaded = tf.saved_model.load(str(export_dir / "1"))
    images = loaded.signatures["sample"](num_samples=tf.constant(2), seed=tf.constant(0))["images"].numpy()
    assert images.shape == (2, 32, 32, 3) and np.isfinite(images).all()


@pytest.mark.slow
@pytest.mark.multiprocess
def test_helpfull_lists_the_preset_and_the_optimizer_flags():
    out = subprocess.run([sys.executable, "train.py", "--helpfull"], capture_output=True, text=True, cwd=REPO, timeout=300).stdout
    assert "dcgan: --arch=dcgan, --d_dropout=False, --batch_size=128, --optimizer=adam" in " ".join(out.split())
    for flag in ("--optimizer", "--adam_beta1", "--adam_beta2"):
        assert flag in out


# Under MirroredStrategy, in a fresh Python (logical devices are set before
# TensorFlow starts): one replica or two logical CPUs, against one device. One
# Python per run: a second MirroredStrategy in a process that ran one collides
# with its collective instance keys (as in tests/test_distribute.py).
MIRRORED = textwrap.dedent(
    """
    import json, sys
    import keras, numpy as np, tensorflow as tf
    replicas = int(sys.argv[1])
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * replicas)
    from gan_keras import data as data_lib
    from gan_keras.training import TrainConfig, build_gan

    rng = np.random.default_rng(0)
    images, labels = rng.integers(0, 256, (16, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, 16)

    def train(strategy, config):
        data = data_lib.TrainingData(images, 4, labels=labels if config.conditional else None)
        keras.utils.set_random_seed(0)
        with strategy.scope():
            gan = build_gan(config, data.image_shape, data.pixel_mean(), data.steps_per_epoch,
                            10 if config.conditional else 0)
        history = gan.fit(data.dataset(0), epochs=1, steps_per_epoch=3, verbose=0, shuffle=False).history
        weights = [np.asarray(v) for m in (gan.generator, gan.discriminator, gan.ema_generator) for v in m.weights]
        return gan, {k: v[-1] for k, v in history.items()}, weights

    settings = json.loads(sys.argv[2])
    config = TrainConfig.preset("dcgan", batch_size=4, ema_decay=0.9, **settings)
    _, one_logs, one_weights = train(tf.distribute.OneDeviceStrategy("/cpu:0"), config)
    gan, logs, weights = train(tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(replicas)]), config)
    assert gan.distribute_strategy.num_replicas_in_sync == replicas
    # How far the worst weight is beyond float noise, 1e-3 relative and 1e-5 absolute: the
    # replicas sum BN's moments and their gradients in another order, and BN's betas get
    # small gradients, sums of large terms that nearly cancel (seen: 4e-4 on G's output
    # kernel, 3e-6 absolute on betas near 1e-3, after 3 steps).
    worst = max(float(np.max(np.abs(a - b)) - 1e-3 * np.max(np.abs(a))) for a, b in zip(one_weights, weights))
    samples = np.asarray(gan.inference_generator.sample(4, seed=[0, 0], labels=[0, 1, 2, 3] if config.conditional else None))
    print(json.dumps({"worst": worst, "finite": bool(np.isfinite(samples).all()), "one": one_logs, "mirrored": logs}))
    """
)
# SGD's step is linear in the gradient, so the weights of N replicas stay
# within float noise of one device's; Adam's first steps are about
# lr * sign(gradient) and turn that noise in near-zero gradients into
# differences of lr: for the preset, the logs are compared. (With
# unsynchronized batch norm, two replicas' weights differ by 2x and their
# losses by 3x here.)
MIRRORED_RUNS = [  # (replicas, settings)
    (1, {}),
    (2, dict(optimizer="sgd", learning_rate=0.01, update="simultaneous")),
    (2, dict(optimizer="sgd", learning_rate=0.01, update="alternating", conditional=True)),
    (2, dict(conditional=True)),
]


@pytest.mark.slow
@pytest.mark.multiprocess
def test_mirrored_follows_the_one_device_trajectory():
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", MIRRORED, str(replicas), json.dumps(settings)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for replicas, settings in MIRRORED_RUNS
    ]
    for (replicas, settings), process in zip(MIRRORED_RUNS, processes):
        stdout, stderr = process.communicate(timeout=900)
        assert process.returncode == 0, stderr[-3000:]
        report = json.loads(stdout.strip().splitlines()[-1])
        assert report["finite"], report
        # Synchronized batch norm: two replicas normalise over the global batch, as one device does.
        if replicas == 1 or settings.get("optimizer") == "sgd":
            assert report["worst"] <= (0 if replicas == 1 else 1e-5), (settings, report)
        for name, value in report["one"].items():
            assert report["mirrored"][name] == pytest.approx(value, rel=1e-3, abs=1e-5), (name, settings, report)
