"""Layers and networks: shapes, ranges, the paper's initialisation, saving."""

import keras
import numpy as np
import pytest

from gan_keras import Discriminator, Generator, Maxout, output_bias_from_mean
from gan_keras.nets.layers import MaskedDropout


def test_maxout_matches_numpy_reference():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(7, 12)).astype(np.float32)
    layer = Maxout(units=4, pieces=3, bias_initializer="random_normal")
    out = np.asarray(layer(x))
    w, b = (np.asarray(v) for v in (layer.kernel, layer.bias))
    z = x @ w + b  # [7, 12]: pieces of unit i are columns 3i .. 3i+2
    expected = np.stack([z[:, 3 * i : 3 * i + 3].max(axis=1) for i in range(4)], axis=1)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    assert layer.compute_output_shape((None, 12)) == (None, 4)


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16", "mixed_float16"])
def test_maxout_is_reduce_max_over_pylearn2s_layout_bit_for_bit_and_splits_ties(policy):
    """Values and gradients as TensorFlow's `reduce_max` over the last axis of [batch, units, pieces]
    (the layer computes both with XLA); tied pieces share a unit's gradient, 1/2 or 1/3 each."""
    import tensorflow as tf

    rng = np.random.default_rng(1)
    layer = Maxout(units=240, pieces=5, dtype=policy)
    dtype = layer.compute_dtype
    x = tf.constant(rng.uniform(size=(200, 784)), dtype)
    layer(x)
    kernel = rng.uniform(-0.005, 0.005, (784, 1200)).astype(np.float32)
    kernel[:, 0:2] = 1.0 + kernel[:, :1]  # unit 0: pieces 0 and 1 tie in every row, and win
    kernel[:, 5:8] = 1.0 + kernel[:, 5:6]  # unit 1: pieces 0, 1 and 2 tie, and win (1/3 rounds)
    layer.kernel.assign(kernel)
    dy = tf.constant(rng.normal(size=(200, 240)), dtype)

    def kernel_gradient(forward):
        with tf.GradientTape() as tape:
            y = forward()
        return (np.asarray(tf.cast(t, tf.float32)) for t in (y, tape.gradient(y, layer.kernel, output_gradients=dy)))

    y, grad = kernel_gradient(lambda: layer(x))

    def reference():
        z = tf.matmul(x, tf.cast(layer.kernel, dtype)) + tf.cast(layer.bias, dtype)
        return tf.reduce_max(tf.reshape(z, (-1, 240, 5)), axis=-1)

    y_ref, grad_ref = kernel_gradient(reference)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(grad, grad_ref)
    np.testing.assert_array_equal(grad[:, 0], grad[:, 1])
    np.testing.assert_array_equal(grad[:, 5], grad[:, 7])
    if policy == "float32":
        np.testing.assert_allclose(grad[:, 0], np.asarray(x).T @ (np.asarray(dy)[:, 0] / 2), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(grad[:, 5], np.asarray(x).T @ (np.asarray(dy)[:, 1] / 3), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
def test_masked_dropout_draws_keras_dropouts_masks_and_gradients(policy):
    """The same seed stream, masks, values and gradients as `keras.layers.Dropout`, call after call."""
    import tensorflow as tf

    dtype = keras.DTypePolicy(policy).compute_dtype
    x = tf.constant(np.random.default_rng(0).normal(size=(64, 240)), dtype)
    dy = tf.constant(np.random.default_rng(1).normal(size=(64, 240)), dtype)
    layers = {
        "masked": MaskedDropout(0.5, seed=3, dtype=policy),
        "keras": keras.layers.Dropout(0.5, seed=3, dtype=policy),
    }
    for _ in range(3):
        results = {}
        for name, layer in layers.items():
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = layer(x, training=True)
            assert y.dtype == dtype
            results[name] = [np.asarray(tf.cast(t, tf.float32)) for t in (y, tape.gradient(y, x, dy))]
        for masked, reference in zip(results["masked"], results["keras"]):
            np.testing.assert_array_equal(masked, reference)  # equal values (a dropped unit: +0 or -0)
        assert 0.4 < np.mean(results["masked"][0] == 0) < 0.6
    np.testing.assert_array_equal(layers["masked"].seed_generator.state, layers["keras"].seed_generator.state)
    np.testing.assert_array_equal(layers["masked"](x, training=False), x)


def test_maxout_rejects_bad_sizes():
    with pytest.raises(ValueError, match="units"):
        Maxout(units=0, pieces=5)


@pytest.mark.parametrize("arch, shape", [("mlp", (28, 28, 1)), ("conv", (28, 28, 1)), ("conv", (32, 32, 3))])
def test_generator_shapes_and_range(arch, shape):
    g = Generator(latent_dim=100, image_shape=shape, arch=arch)
    images = np.asarray(g.sample(5, seed=[1, 2]))
    assert images.shape == (5, *shape)
    assert images.min() >= 0.0 and images.max() <= 1.0
    np.testing.assert_array_equal(images, np.asarray(g.sample(5, seed=[1, 2])))


@pytest.mark.parametrize("arch, shape", [("mlp", (28, 28, 1)), ("conv", (32, 32, 3))])
def test_discriminator_returns_one_logit_per_image(arch, shape):
    d = Discriminator(image_shape=shape, arch=arch)
    assert d(np.zeros((3, *shape), np.float32)).shape == (3, 1)


def test_points_arch_maps_noise_to_points_in_r_d():
    # Seeded: unseeded weights depend on what ran before in the process, and for
    # some draws both coordinates happen to stay positive on these 5 z's.
    keras.utils.set_random_seed(0)
    g = Generator(latent_dim=8, image_shape=(2,), arch="points")
    points = np.asarray(g.sample(5, seed=[1, 2]))
    assert points.shape == (5, 2)
    assert (points < 0).any()  # a linear output, not an image in [0, 1]
    assert Discriminator(image_shape=(2,), arch="points")(points).shape == (5, 1)
    with pytest.raises(ValueError, match=r"arch='points' needs image_shape=\(d,\)"):
        Generator(image_shape=(28, 28, 1), arch="points")


def test_paper_mlp_sizes_and_init():
    g, d = Generator(), Discriminator()
    g.build(), d.build()
    g_kernels = [v for v in g.trainable_variables if "kernel" in v.path]
    assert [tuple(v.shape) for v in g_kernels] == [(100, 1200), (1200, 1200), (1200, 784)]
    assert all(np.abs(np.asarray(v)).max() <= 0.05 for v in g_kernels)
    d_kernels = [v for v in d.trainable_variables if "kernel" in v.path]
    assert [tuple(v.shape) for v in d_kernels] == [(784, 1200), (240, 1200), (240, 1)]
    assert all(np.abs(np.asarray(v)).max() <= 0.005 for v in d_kernels)


def test_noise_is_uniform_on_plus_minus_sqrt3_or_gaussian():
    z = np.asarray(Generator(noise="uniform").sample_noise(20000, seed=[0, 0]))
    assert z.shape == (20000, 100)
    assert -np.sqrt(3) <= z.min() and z.max() <= np.sqrt(3)
    assert abs(z.var() - 1.0) < 0.02
    zg = np.asarray(Generator(noise="gaussian").sample_noise(20000, seed=[0, 0]))
    assert zg.min() < -np.sqrt(3) and abs(zg.var() - 1.0) < 0.02


def test_output_bias_starts_at_the_logit_of_the_pixel_means():
    mean = np.linspace(0.0, 1.0, 784)
    g = Generator(output_bias=output_bias_from_mean(mean))
    g.build()
    bias = np.asarray(g.layer_2.bias)
    p = 1.0 / (1.0 + np.exp(-bias))
    np.testing.assert_allclose(p, np.clip(mean, 1e-7, 1 - 1e-7), atol=1e-6)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="arch must be one of mlp, conv, points"):
        Generator(arch="rnn")
    with pytest.raises(ValueError, match="noise must be one of uniform, gaussian"):
        Generator(noise="laplace")
    with pytest.raises(ValueError, match="divisible by 4"):
        Discriminator(image_shape=(30, 30, 1), arch="conv")


def test_generator_keras_file_round_trips(tmp_path):
    g = Generator(latent_dim=8, image_shape=(28, 28, 1), noise="gaussian")
    before = np.asarray(g.sample(4, seed=[3, 4]))
    g.save(tmp_path / "g.keras")
    loaded = keras.models.load_model(tmp_path / "g.keras")
    assert isinstance(loaded, Generator)
    assert (loaded.latent_dim, loaded.noise, loaded.image_shape) == (8, "gaussian", (28, 28, 1))
    np.testing.assert_array_equal(before, np.asarray(loaded.sample(4, seed=[3, 4])))


def test_a_checkpoint_of_the_networks_alone_holds_their_weights(tmp_path):
    import tensorflow as tf

    g, d = Generator(), Discriminator(seed=1)
    g.build(), d.build()
    path = tf.train.Checkpoint(generator=g, discriminator=d).save(str(tmp_path / "ckpt"))
    saved = dict(tf.train.list_variables(path))
    for name, network in (("generator", g), ("discriminator", d)):
        for v in network.trainable_variables:
            matches = [k for k in saved if k.startswith(name + "/") and tuple(saved[k]) == tuple(v.shape)]
            assert matches, (name, v.path)
    clone = Generator()
    clone.build()
    tf.train.Checkpoint(generator=clone).restore(path).assert_existing_objects_matched()
    np.testing.assert_array_equal(clone.sample(3, seed=[0, 0]), g.sample(3, seed=[0, 0]))
