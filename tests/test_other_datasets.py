"""Datasets other than MNIST, through TFDS's mock data (they cannot be downloaded here)."""

import numpy as np
import tensorflow_datasets as tfds

from gan_keras import data as data_lib
from gan_keras.training import TrainConfig, run


def test_cifar10_with_the_conv_arch_trains_on_tfds_mock_data(tmp_path, monkeypatch):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "no_data_here"))
    with tfds.testing.mock_data(num_examples=64):
        assert data_lib.image_shape("cifar10") == (32, 32, 3)
        assert data_lib.split_name("cifar10", "train") == "train"
        config = TrainConfig(
            dataset="cifar10", arch="conv", model_dir=str(tmp_path / "run"),
            batch_size=16, epochs=1, steps_per_epoch=3, verbose=0,
        )
        gan = run(config)
    assert gan.generator.image_shape == (32, 32, 3)
    assert int(gan.g_optimizer.iterations.numpy()) == 3
    assert np.isfinite(gan.history.history["d_loss"][-1])
    samples = np.asarray(gan.generator.sample(4, seed=[0, 0]))
    assert samples.shape == (4, 32, 32, 3) and 0 <= samples.min() and samples.max() <= 1
