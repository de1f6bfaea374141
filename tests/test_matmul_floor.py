"""benchmarks/matmul_floor.py keeps exactly the matmuls a training step runs."""

import pytest
import tensorflow as tf

from benchmarks.matmul_floor import MatmulFloor
from gan_keras.training import TrainConfig, build_gan

BATCH = 100


def layer_macs(network):
    """Multiply-adds per example of each of `network`'s kernels, input side first."""
    sizes = [tuple(w.shape) for w in network.trainable_weights if len(w.shape) == 2]
    return [rows * columns for rows, columns in sizes]


def expected_gflop(gan, update):
    """The matmul FLOPs of one step, counted by hand from the layer sizes.

    Forward passes, weight gradients and input gradients each cost one
    multiply-add per weight per example; no input gradient is taken at G's
    input (the noise). D sees real and fake in one batch of 2B, so every
    gradient that flows back through that pass (G's loss too) has 2B rows.
    """
    g, d = layer_macs(gan.generator), layer_macs(gan.discriminator)
    g_all, g_above_input = sum(g), sum(g[1:])
    d_all, d_above_input = sum(d), sum(d[1:])
    if update == "simultaneous":
        # G forward, G's weight and input gradients; D forward, D's weight
        # gradient, D's input gradients for D's loss (above its input) and for G's (all).
        macs = BATCH * (2 * g_all + g_above_input) + 2 * BATCH * (2 * d_all + d_above_input + d_all)
    else:
        # D's step: G forward, D forward and D's gradients on 2B; G's step on B:
        # G forward, D forward, D's input gradients, G's weight and input gradients.
        macs = 2 * BATCH * (2 * d_all + d_above_input) + BATCH * (3 * g_all + g_above_input + 2 * d_all)
    return 2 * macs / 1e9


@pytest.mark.parametrize("update", ["simultaneous", "alternating"])
def test_the_floor_counts_the_matmuls_of_the_step(update):
    gan = build_gan(TrainConfig.preset("paper", update=update), (28, 28, 1))
    floor = MatmulFloor(gan, tf.TensorSpec((BATCH, 1, 28, 28, 1), tf.float32))
    assert floor.gflop == pytest.approx(expected_gflop(gan, update), rel=1e-9)
    assert floor.steps_per_second(steps=2, repeats=1)[0] > 0


def test_an_unknown_batch_size_is_named():
    gan = build_gan(TrainConfig.preset("paper"), (28, 28, 1))
    with pytest.raises(ValueError, match="static shape"):
        MatmulFloor(gan, tf.TensorSpec((None, 1, 28, 28, 1), tf.float32))


def test_the_floor_compiles_with_xla_to_the_same_products():
    gan = build_gan(TrainConfig.preset("paper"), (28, 28, 1))
    spec = tf.TensorSpec((BATCH, 1, 28, 28, 1), tf.float32)
    plain, xla = MatmulFloor(gan, spec), MatmulFloor(gan, spec, jit_compile=True)
    assert xla.matmuls == plain.matmuls
    for a, b in zip(plain._run(), xla._run()):
        assert a.shape == b.shape
        assert float(tf.reduce_max(tf.abs(a - b))) <= 1e-3 * float(tf.reduce_max(tf.abs(a)))
