"""restoring.load_generator: the generator of a model dir, for evaluation, figures, export."""

import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from gan_keras.training.restoring import RestoreError, load_generator

SEED = [5, 6]


def test_restores_the_trained_generator_from_its_newest_checkpoint(trained_run):
    restored = load_generator(trained_run["model_dir"])
    assert restored.epoch == 2 and restored.step == 40 and restored.source.endswith("ckpt-2")
    want = trained_run["gan"].generator.sample(5, seed=SEED)
    np.testing.assert_allclose(restored.generator.sample(5, seed=SEED), want, atol=1e-6)


def test_falls_back_to_generator_keras_without_checkpoints(trained_run, tmp_path):
    for name in ("config.json", "generator.keras"):
        shutil.copy(os.path.join(trained_run["model_dir"], name), tmp_path)
    restored = load_generator(str(tmp_path))
    assert restored.epoch is None and restored.ema is None and restored.source.endswith("generator.keras")
    want = trained_run["gan"].generator.sample(5, seed=SEED)
    np.testing.assert_allclose(restored.generator.sample(5, seed=SEED), want, atol=1e-6)
    with pytest.raises(RestoreError, match=r"^--checkpoint=.*ckpt-9: cannot restore the generator"):
        load_generator(str(tmp_path), checkpoint=str(tmp_path / "ckpt-9"))


def test_reads_checkpoints_that_hold_g_only_through_its_optimizer(trained_run, tmp_path):
    # As written before G's layers were tracked by name.
    from gan_keras.training import build_gan, load_config

    config = load_config(trained_run["model_dir"])
    gan = build_gan(config, (28, 28, 1))
    gan.generator.set_weights(trained_run["gan"].generator.get_weights())
    old = tf.train.Checkpoint(g_optimizer=gan.g_optimizer, epoch=tf.Variable(7, dtype=tf.int64))
    path = old.save(str(tmp_path / "checkpoints" / "ckpt"))
    shutil.copy(os.path.join(trained_run["model_dir"], "config.json"), tmp_path)
    restored = load_generator(str(tmp_path), checkpoint=path)
    assert restored.epoch == 7
    want = trained_run["gan"].generator.sample(5, seed=SEED)
    np.testing.assert_allclose(restored.generator.sample(5, seed=SEED), want, atol=1e-6)


def test_nothing_to_load_is_one_line_naming_the_flag(tmp_path):
    with pytest.raises(RestoreError, match=r"^--model_dir=.* holds no training run") as error:
        load_generator(str(tmp_path))
    assert "\n" not in str(error.value)
    with pytest.raises(RestoreError, match="is not a directory"):
        load_generator(str(tmp_path / "missing"))
