"""The adversarial losses and the paper's optimiser schedules."""

import numpy as np
import pytest
import tensorflow as tf

from gan_keras import LinearMomentum, PaperLearningRate, ScheduledMomentumSGD, paper_optimizer
from gan_keras.nets import losses

LOGITS = np.array([-6.0, -1.5, 0.0, 0.3, 2.0, 9.0])
D = 1.0 / (1.0 + np.exp(-LOGITS))


def test_minimax_loss_is_log_one_minus_d():
    got = np.asarray(losses.generator_loss(tf.constant(LOGITS), "minimax"))
    np.testing.assert_allclose(got, np.log(1.0 - D), rtol=1e-6)


def test_non_saturating_loss_is_minus_log_d():
    got = np.asarray(losses.generator_loss(tf.constant(LOGITS), "non_saturating"))
    np.testing.assert_allclose(got, -np.log(D), rtol=1e-6)


def test_discriminator_loss_is_minus_the_value_function():
    real, fake = LOGITS, LOGITS[::-1]
    got = np.asarray(losses.discriminator_loss(tf.constant(real), tf.constant(fake)))
    d_real, d_fake = D, D[::-1]
    np.testing.assert_allclose(got, -(np.log(d_real) + np.log(1.0 - d_fake)), rtol=1e-6)


def test_minimax_gradient_vanishes_where_non_saturating_does_not():
    # D confidently rejects the sample (D(G(z)) ~ 0.0025): the paper's Section 3.
    logit = tf.Variable([-6.0])
    grads = {}
    for kind in losses.G_LOSSES:
        with tf.GradientTape() as tape:
            loss = losses.generator_loss(logit, kind)
        grads[kind] = abs(float(tape.gradient(loss, logit)[0]))
    assert grads["minimax"] < 0.01 < 0.9 < grads["non_saturating"]


def test_unknown_g_loss_names_the_choices():
    with pytest.raises(ValueError, match="non_saturating, minimax"):
        losses.generator_loss(tf.zeros([1]), "wasserstein")


def test_learning_rate_decays_by_the_factor_per_update_with_a_floor():
    lr = PaperLearningRate(0.1, 1.000004, 1e-6)
    assert float(lr(0)) == pytest.approx(0.1)
    assert float(lr(1)) == pytest.approx(0.1 / 1.000004, rel=1e-6)
    assert float(lr(250_000)) == pytest.approx(0.1 / 1.000004**250_000, rel=1e-4)
    assert float(lr(10**8)) == pytest.approx(1e-6)


def test_momentum_ramps_from_epoch_1_to_the_saturation_epoch():
    mu = LinearMomentum(0.5, 0.7, saturate_epoch=250, updates_per_epoch=500)
    assert float(mu(0)) == pytest.approx(0.5)
    assert float(mu(125 * 500)) == pytest.approx(0.5 + 0.2 * 125 / 249)
    assert float(mu(249 * 500)) == pytest.approx(0.7)
    assert float(mu(10**7)) == pytest.approx(0.7)


def test_sgd_uses_classic_momentum_with_the_scheduled_coefficient():
    opt = ScheduledMomentumSGD(PaperLearningRate(0.1, 1.0), LinearMomentum(0.5, 0.7, 2, 1))
    w = tf.Variable([1.0])
    opt.build([w])
    v, expected = 0.0, 1.0
    for step, mu in enumerate([0.5, 0.7, 0.7]):
        g = 2.0 * float(w.numpy()[0])  # d/dw of w^2
        opt.apply([tf.constant([g])], [w])
        v = mu * v - 0.1 * g
        expected += v
        assert float(w.numpy()[0]) == pytest.approx(expected, rel=1e-6), step


def test_paper_optimizer_config_round_trips():
    opt = paper_optimizer(updates_per_epoch=123)
    clone = ScheduledMomentumSGD.from_config(opt.get_config())
    assert clone.momentum_schedule.updates_per_epoch == 123
    assert float(clone.current_momentum()) == pytest.approx(0.5)


def test_sgd_fused_update_is_bit_identical_to_the_two_lines_in_float32():
    """The fused kernel (one pass over each weight) gives exactly `v = v*mu - g*lr; w = w + v`, rounded per op."""
    rng = np.random.default_rng(0)
    shapes = [(784, 1200), (1200,), (240, 1)]
    weights = [rng.uniform(-0.05, 0.05, s).astype(np.float32) for s in shapes]
    variables = [tf.Variable(w) for w in weights]
    opt = paper_optimizer(updates_per_epoch=2)  # the momentum moves every 2 updates
    opt.build(variables)
    velocities = [np.zeros_like(w) for w in weights]
    for _ in range(5):
        grads = [rng.normal(0, 0.1, s).astype(np.float32) for s in shapes]
        lr = np.float32(opt.learning_rate.numpy())  # the schedule's value for this update
        mu = np.float32(opt.current_momentum().numpy())
        opt.apply([tf.constant(g) for g in grads], variables)
        for i, g in enumerate(grads):
            velocities[i] = velocities[i] * mu - g * lr  # NumPy float32: one rounding per op, no FMA
            weights[i] = weights[i] + velocities[i]
    for variable, expected in zip(variables, weights):
        np.testing.assert_array_equal(variable.numpy(), expected)
