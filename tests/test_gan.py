"""GAN.train_step: Algorithm 1 with k D steps, and the simultaneous update."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from gan_keras import GAN, Discriminator, Generator, paper_optimizer
from gan_keras.nets import losses


class RecordingDiscriminator(Discriminator):
    """The paper's D, remembering the real half of each [real; fake] batch (eager only)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.real_batches = []

    def call(self, images, training=None):
        if images.shape[0] == 2 * BATCH:
            self.real_batches.append(np.asarray(images[:BATCH]))
        return super().call(images, training=training)


BATCH = 8


def make_gan(k=1, update="alternating", discriminator=None, g_loss="non_saturating"):
    gan = GAN(
        Generator(latent_dim=10),
        discriminator or Discriminator(seed=1),
        k=k,
        update=update,
        seed=0,
    )
    gan.compile(paper_optimizer(), paper_optimizer(), g_loss=g_loss, run_eagerly=True)
    gan.build_optimizers()
    return gan


def real_images(n, seed=0, k=None):
    """n images, or with k a training element: k minibatches as [n, k, 28, 28, 1]."""
    shape = (n, 28, 28, 1) if k is None else (n, k, 28, 28, 1)
    return tf.constant(np.random.default_rng(seed).uniform(size=shape), tf.float32)


def trained_state(gan):
    """Every weight of G and D and every optimiser slot, as NumPy arrays."""
    variables = gan.generator.weights + gan.discriminator.weights + gan.d_optimizer.variables + gan.g_optimizer.variables
    return [np.asarray(v) for v in variables]


def changed(before, variables):
    return [not np.array_equal(b, np.asarray(v)) for b, v in zip(before, variables)]


@pytest.mark.parametrize("k", [1, 3])
def test_alternating_step_updates_d_k_times_and_g_once_on_k_real_batches(k):
    d = RecordingDiscriminator(seed=1)
    gan = make_gan(k=k, discriminator=d)
    batch = real_images(BATCH, k=k)
    g_before = [np.asarray(v) for v in gan.generator.trainable_variables]
    d_before = [np.asarray(v) for v in d.trainable_variables]

    logs = gan.train_step(batch)

    assert int(gan.d_optimizer.iterations) == k
    assert int(gan.g_optimizer.iterations) == 1
    assert all(changed(g_before, gan.generator.trainable_variables))
    assert all(changed(d_before, d.trainable_variables))
    # Each D step saw its own slice of the real batch, in order, all different.
    assert len(d.real_batches) == k
    for i, seen in enumerate(d.real_batches):
        np.testing.assert_array_equal(seen, np.asarray(batch[:, i]))
    assert len({seen.tobytes() for seen in d.real_batches}) == k
    assert set(logs) == {"d_loss", "g_loss", "d_real", "d_fake", "value"}
    assert 0.0 < float(logs["d_real"]) < 1.0 and 0.0 < float(logs["d_fake"]) < 1.0


def test_simultaneous_step_is_the_released_update_from_one_forward_pass():
    # A D without dropout, so the step can be recomputed by hand.
    d = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(1)])
    gan = make_gan(update="simultaneous", discriminator=d)
    real = real_images(BATCH, k=1)
    seed_state = np.asarray(gan.seed_generator.state.value)
    g_vars, d_vars = gan.generator.trainable_variables, d.trainable_variables
    g0, d0 = [tf.identity(v) for v in g_vars], [tf.identity(v) for v in d_vars]

    # Expected: both gradients at the same parameters, from the same z.
    replay = keras.random.SeedGenerator(0)
    replay.state.assign(seed_state)
    z = gan.generator.sample_noise(BATCH, replay.next())
    with tf.GradientTape(persistent=True) as tape:
        fake = gan.generator(z, training=True)
        real_logits = tf.reshape(d(real[:, 0]), [-1])
        fake_logits = tf.reshape(d(fake), [-1])
        d_obj = tf.reduce_mean(0.5 * losses.discriminator_loss(real_logits, fake_logits))
        g_obj = tf.reduce_mean(-tf.math.log(tf.sigmoid(fake_logits)))
    d_grads, g_grads = tape.gradient(d_obj, d_vars), tape.gradient(g_obj, g_vars)

    logs = gan.train_step(real)

    assert int(gan.d_optimizer.iterations) == 1 and int(gan.g_optimizer.iterations) == 1
    # First SGD-momentum step from zero velocity: w <- w - lr * grad, lr = 0.1.
    for v, v0, grad in zip(d_vars + g_vars, d0 + g0, d_grads + g_grads):
        np.testing.assert_allclose(np.asarray(v), np.asarray(v0 - 0.1 * grad), rtol=1e-4, atol=1e-7)
    assert float(logs["d_loss"]) == pytest.approx(float(d_obj), rel=1e-5)
    assert float(logs["value"]) == pytest.approx(-2.0 * float(d_obj), rel=1e-5)


def test_minimax_and_non_saturating_give_different_generator_updates():
    updates = {}
    for g_loss in losses.G_LOSSES:
        gan = make_gan(g_loss=g_loss)
        before = np.asarray(gan.generator.trainable_variables[0])
        gan.train_step(real_images(BATCH, k=1))
        updates[g_loss] = np.asarray(gan.generator.trainable_variables[0]) - before
    assert not np.allclose(updates["minimax"], updates["non_saturating"])


@pytest.mark.slow
def test_train_step_runs_traced_and_under_xla():
    for jit in (False, True):
        gan = GAN(Generator(latent_dim=10), Discriminator(seed=1), k=2, update="alternating", seed=0)
        gan.compile(paper_optimizer(), paper_optimizer(), jit_compile=jit)
        gan.build_optimizers()
        dataset = tf.data.Dataset.from_tensors(real_images(BATCH, k=2)).repeat()
        history = gan.fit(dataset, epochs=1, steps_per_epoch=3, verbose=0, shuffle=False)
        assert np.isfinite(history.history["d_loss"][-1])
        assert int(gan.d_optimizer.iterations) == 6 and int(gan.g_optimizer.iterations) == 3


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="update must be one of simultaneous, alternating"):
        GAN(Generator(), Discriminator(), update="sequential")
    with pytest.raises(ValueError, match="k must be >= 1"):
        GAN(Generator(), Discriminator(), k=0, update="alternating")
    with pytest.raises(ValueError, match="needs update='alternating'"):
        GAN(Generator(), Discriminator(), k=2)


@pytest.mark.parametrize("update", ["simultaneous", "alternating"])
def test_several_steps_per_call_train_bit_for_bit_as_one(update):
    """The automatic steps per call (10 here) only share fit's overhead: every weight ends the same."""
    from gan_keras import data as data_lib
    from gan_keras.training import TrainConfig, build_gan

    images = np.random.default_rng(0).integers(0, 256, (2000, 28, 28, 1), dtype=np.uint8)
    data = data_lib.TrainingData(images, batch_size=100)
    weights = {}
    for steps_per_execution in (1, 0):
        config = TrainConfig.preset("paper", update=update, steps_per_execution=steps_per_execution)
        keras.utils.set_random_seed(config.stream_seed("init"))
        gan = build_gan(config, data.image_shape, data.pixel_mean(), data.steps_per_epoch)
        gan.fit(data.dataset(config.seed), epochs=1, steps_per_epoch=20, verbose=0)
        weights[gan.steps_per_execution] = [np.asarray(v) for v in gan.generator.weights + gan.discriminator.weights]
    assert sorted(weights) == [1, 10]
    for one, ten in zip(weights[1], weights[10], strict=True):
        np.testing.assert_array_equal(one, ten)


@pytest.mark.parametrize("update", ["simultaneous", "alternating"])
def test_unrolled_steps_train_bit_for_bit_as_keras_loop(update):
    """10 steps a call, one traced step called 10 times (`unroll_steps`), end where Keras's `tf.while_loop` does."""
    from gan_keras import data as data_lib
    from gan_keras.training import TrainConfig, build_gan

    images = np.random.default_rng(0).integers(0, 256, (2000, 28, 28, 1), dtype=np.uint8)
    data = data_lib.TrainingData(images, batch_size=100)
    state, ops = {}, {}
    for unroll in ("on", "off"):
        config = TrainConfig.preset("paper", update=update, unroll_steps=unroll)
        keras.utils.set_random_seed(config.stream_seed("init"))
        gan = build_gan(config, data.image_shape, data.pixel_mean(), data.steps_per_epoch)
        assert gan.unroll_steps == (unroll == "on") and gan.steps_per_execution == 10
        gan.fit(data.dataset(config.seed), epochs=1, steps_per_epoch=20, verbose=0)
        state[unroll] = trained_state(gan)
        if unroll == "on":  # one tf.function: 10 calls of one traced step, no loop
            graph = gan.train_function.get_concrete_function(iter(data.dataset(config.seed))).graph
            calls = [op for op in graph.get_operations() if op.type == "StatefulPartitionedCall"]
            assert len(calls) == 10 and len({op.get_attr("f").name for op in calls}) == 1
            ops = {op.type for op in graph.get_operations()}
        else:  # Keras's own: a Python function around its tf.while_loop
            assert not isinstance(gan.train_function, tf.types.experimental.PolymorphicFunction)
    assert not ops & {"While", "StatelessWhile"} and "IteratorGetNext" in ops
    for unrolled, looped in zip(state["on"], state["off"], strict=True):
        np.testing.assert_array_equal(unrolled, looped)


def test_build_gan_unrolls_long_runs():
    """`unroll_steps="auto"`: runs of `AUTO_UNROLL_MIN_STEPS` steps or more call their steps one after another."""
    from gan_keras.training import TrainConfig, build_gan
    from gan_keras.training.config import AUTO_UNROLL_MIN_STEPS

    assert AUTO_UNROLL_MIN_STEPS == 5000
    for epochs, unrolled in ((10, True), (9, False)):
        gan = build_gan(TrainConfig(epochs=epochs), (28, 28, 1), updates_per_epoch=500)
        assert gan.unroll_steps is unrolled, epochs


def test_unroll_steps_leaves_one_step_calls_and_xla_to_keras():
    gan = GAN(Generator(), Discriminator(), seed=0)
    for compile_args in (dict(steps_per_execution=1), dict(steps_per_execution=5, jit_compile=True)):
        gan.compile(d_optimizer=paper_optimizer(), g_optimizer=paper_optimizer(), unroll_steps=True, **compile_args)
        gan.make_train_function(force=True)
        assert not isinstance(gan.train_function, tf.types.experimental.PolymorphicFunction), compile_args


@pytest.mark.parametrize("update", ["simultaneous", "alternating"])
def test_masked_dropout_trains_bit_for_bit_as_keras_dropout(update, monkeypatch):
    """D's one-multiply dropout draws Keras's masks: every weight and slot ends with the same bits."""
    from gan_keras import data as data_lib
    from gan_keras.nets.layers import MaskedDropout
    from gan_keras.training import TrainConfig, build_gan

    images = np.random.default_rng(0).integers(0, 256, (2000, 28, 28, 1), dtype=np.uint8)
    data = data_lib.TrainingData(images, batch_size=100)
    bits = {}
    for dropout in ("masked", "keras"):
        if dropout == "keras":
            monkeypatch.setattr(MaskedDropout, "call", keras.layers.Dropout.call)
        config = TrainConfig.preset("paper", update=update)
        keras.utils.set_random_seed(config.stream_seed("init"))
        gan = build_gan(config, data.image_shape, data.pixel_mean(), data.steps_per_epoch)
        gan.fit(data.dataset(config.seed), epochs=1, steps_per_epoch=40, verbose=0)
        bits[dropout] = [array.tobytes() for array in trained_state(gan)]
    assert bits["masked"] == bits["keras"]


@pytest.mark.parametrize("update", ["simultaneous", "alternating"])
def test_the_traced_step_computes_in_float32_throughout(update):
    """No op of the step's graph, or of a function it calls, takes or makes float64 (the schedules included)."""
    gan = make_gan(update=update)
    spec = tf.TensorSpec([BATCH, 1, 28, 28, 1], tf.float32)
    graph_def = tf.function(gan.train_step).get_concrete_function(spec).graph.as_graph_def()
    nodes = [*graph_def.node, *(node for function in graph_def.library.function for node in function.node_def)]
    assert len(nodes) > 100  # the whole step, with the optimisers' updates
    float64 = tf.float64.as_datatype_enum
    assert [n.op for n in nodes if any(a.type == float64 or float64 in a.list.type for a in n.attr.values())] == []
