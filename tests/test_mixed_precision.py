"""Mixed precision (`--mixed_precision`): low-precision compute, float32 weights, losses and saved generators."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from gan_keras import GAN, Discriminator, Generator, paper_optimizer
from gan_keras.nets.precision import dtype_policy, float32_copy, loss_scaled
from gan_keras.serving import export_from_model_dir
from gan_keras.training import ConfigError, TrainConfig, check_compatible, load_config, run
from gan_keras.training.restoring import load_generator, load_generator_file


def test_bfloat16_run_trains_and_saves_float32_generators(tfds_dir, tmp_path):
    config = TrainConfig(
        model_dir=str(tmp_path / "run"), data_dir=tfds_dir, epochs=1, steps_per_epoch=20, mixed_precision="mixed_bfloat16",
        ema_decay=0.0, verbose=0,
    )
    gan = run(config)
    assert gan.generator.compute_dtype == "bfloat16" and gan.discriminator.compute_dtype == "bfloat16"
    assert {v.dtype for v in gan.generator.weights + gan.discriminator.weights} == {"float32"}
    assert int(gan.g_optimizer.iterations.numpy()) == 20

    restored = load_generator(config.model_dir)
    assert restored.generator.compute_dtype == "float32"
    samples = restored.generator.sample(64, seed=[0, 0])
    assert samples.dtype == tf.float32
    low = gan.generator.sample(64, seed=[0, 0])  # the training G computes in bfloat16: same images to its precision
    assert low.dtype == tf.float32
    np.testing.assert_allclose(samples.numpy(), low.numpy(), atol=0.05)
    assert float(tf.math.reduce_std(samples)) > 0.01  # not a constant image

    saved = load_generator_file(str(tmp_path / "run" / "generator.keras")).generator
    assert saved.compute_dtype == "float32" and {w.dtype for w in saved.weights} == {"float32"}

    version = export_from_model_dir(config.model_dir, str(tmp_path / "export"))
    served = tf.saved_model.load(version).signatures["serving_default"]
    (out,) = [o for o in served.structured_outputs.values() if o.shape.rank == 4]
    assert out.dtype == tf.float32

    with pytest.raises(ConfigError, match=r"--mixed_precision='mixed_bfloat16', not 'float32'"):
        check_compatible(TrainConfig(model_dir=config.model_dir, data_dir=tfds_dir), load_config(config.model_dir))


def test_float16_skips_only_the_overflowing_networks_step():
    with dtype_policy("mixed_float16"):
        gan = GAN(Generator(latent_dim=10), Discriminator(seed=1), seed=0)
    d_opt = keras.optimizers.LossScaleOptimizer(paper_optimizer(), initial_scale=1e30)  # D's gradients overflow
    gan.compile(d_opt, loss_scaled(paper_optimizer(), "mixed_float16"))
    gan.build_optimizers()
    d_before = [np.asarray(v) for v in gan.discriminator.trainable_weights]
    g_before = [np.asarray(v) for v in gan.generator.trainable_weights]
    images = np.random.default_rng(0).uniform(size=(8, 1, 28, 28, 1)).astype("float32")
    logs = gan.fit(tf.data.Dataset.from_tensor_slices(images).batch(8), epochs=1, verbose=0).history

    assert np.isfinite(logs["d_loss"][0]) and np.isfinite(logs["g_loss"][0])  # float32 losses
    for before, after in zip(d_before, gan.discriminator.trainable_weights):
        np.testing.assert_array_equal(before, np.asarray(after))  # D's step was skipped ...
    assert float(d_opt.dynamic_scale.numpy()) == pytest.approx(0.5e30)  # ... and its scale halved
    assert any(not np.array_equal(b, np.asarray(a)) for b, a in zip(g_before, gan.generator.trainable_weights))
    assert int(gan.g_optimizer.iterations.numpy()) == 1 and int(d_opt.iterations.numpy()) == 0


def test_float32_copy_keeps_the_weights_and_bad_policies_are_refused():
    with dtype_policy("mixed_bfloat16"):
        g = Generator(latent_dim=4)
        g.build()
    copy = float32_copy(g)
    assert copy.compute_dtype == "float32"
    for a, b in zip(g.get_weights(), copy.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert float32_copy(copy) is copy
    assert keras.config.dtype_policy().name == "float32"  # the global policy is restored
    with pytest.raises(ConfigError, match=r"^--mixed_precision='float8' is not valid; accepted: float32, mixed_float16, mixed_bfloat16\."):
        TrainConfig(mixed_precision="float8").validate()
