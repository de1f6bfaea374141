"""The paper's Section 4 checked numerically (gan_keras.paper: toy, value_function, dstar,
gradients), and Fig. 1 (gan_keras.paper.figure1).

Every number here comes from training the package's models; tolerances were
set from measured runs on a 2-core CPU (seed 0), with margin:
- D vs D*: max |D - D*| 0.011 (2000 steps) and 0.014 (1000 steps)
  where the mixture density is >= 0.05; the test allows 0.05.
- p_g = p_data: |V + log 4| < 1e-4 and max |D - 1/2| 0.001-0.003; the test
  allows 0.01 and 0.05.
- D(G(z)) -> 0: gradient ratio minimax / non-saturating 0.0036 (toy) and 0.0034
  (MNIST, 40 D steps); the test allows 0.1, and at the start (D(G(z)) ~ 1/2)
  requires 0.5 to 2.
- 1-D GAN: p_g mean 3.96-4.03, std 0.41-0.44 (data: 4, 0.5) after 600-1500
  steps, seeds 0-2; the test allows 0.25 and 0.2.
"""

import math
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from gan_keras import data
from gan_keras.paper import dstar, figure1, gradients, toy, value_function

tfd = toy.tfd
P_DATA = tfd.Normal(1.0, 1.0)
P_G = tfd.Normal(-1.0, 1.5)
X = np.linspace(-5.0, 5.0, 401)


def read_png(path):
    return tf.io.decode_png(tf.io.read_file(str(path))).numpy()


def assert_plot(path):
    image = read_png(path)
    assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 400
    assert image.std() > 10  # not blank


def test_optimal_discriminator_is_the_density_ratio():
    x = np.array([-3.0, 0.0, 0.5, 2.0])
    ratio = P_DATA.prob(x).numpy() / (P_DATA.prob(x).numpy() + P_G.prob(x).numpy())
    np.testing.assert_allclose(toy.optimal_discriminator(P_DATA, P_G, x), ratio, rtol=1e-5)
    # Density callables work too, and D* is 1/2 where p_g = p_data.
    same = toy.optimal_discriminator(lambda x: np.exp(-x * x), lambda x: np.exp(-x * x), x)
    np.testing.assert_allclose(same, 0.5)
    # Far in the tails both densities underflow; D* is still the limit (0 here).
    assert toy.optimal_discriminator(P_DATA, P_G, [-60.0])[0] < 1e-6
    assert math.isclose(toy.jensen_shannon(P_DATA, P_DATA, X), 0.0, abs_tol=1e-9)
    assert 0 < toy.jensen_shannon(P_DATA, P_G, X) < math.log(2)
    assert math.isclose(toy.optimal_value(P_DATA, P_DATA), toy.MINUS_LOG_4, abs_tol=1e-6)
    # Disjoint supports: JSD = log 2, so C(G) = -log 4 + 2 log 2 = 0.
    far = toy.optimal_value(tfd.Normal(-50.0, 1.0), tfd.Normal(50.0, 1.0))
    assert math.isclose(far, 0.0, abs_tol=1e-6)


@pytest.fixture(scope="module")
def trained_d():
    return value_function.train_discriminator(P_DATA, P_G, steps=1000, seed=0)


def test_trained_discriminator_approaches_d_star(trained_d):
    result = dstar.compare_with_optimum(trained_d, P_DATA, P_G, X)
    # D* varies over the compared region, so matching it is not trivial.
    assert result["dstar_min"] < 0.1 and result["dstar_max"] > 0.85
    assert result["max_abs_error"] < 0.05, result
    assert result["mean_abs_error"] < 0.02, result
    # Its V approaches C(G) = -log 4 + 2 JSD (from below, as D* maximises V;
    # V is a Monte Carlo estimate on 100,000 samples, standard error 0.0024).
    assert abs(result["value"] - result["optimal_value"]) < 0.02, result
    assert result["value"] < result["optimal_value"] + 0.01
    assert result["optimal_value"] > toy.MINUS_LOG_4 + 0.3


def test_at_p_g_equal_p_data_v_is_minus_log_4_and_d_is_half():
    p = tfd.Normal(0.0, 1.0)
    trained = value_function.train_discriminator(p, p, steps=1000, seed=0)
    assert abs(trained.value - toy.MINUS_LOG_4) < 0.01, trained.value
    assert trained.value < toy.MINUS_LOG_4 + 1e-3  # log D + log(1 - D) <= -log 4
    result = dstar.compare_with_optimum(trained, p, p, X)
    assert result["max_abs_d_minus_half"] < 0.05, result
    # (Against a different p_g, V ends well above -log 4: see the test above.)


def check_gradient_records(records):
    start, end = records[0], records[-1]
    # Control: an untrained D has D(G(z)) ~ 1/2, where both losses pull alike.
    assert abs(start["d_fake"] - 0.5) < 0.1, start
    assert 0.5 < start["ratio"] < 2.0, start
    # D rejects G's samples: the minimax gradient all but vanishes.
    assert end["d_fake"] < 0.05, end
    assert end["ratio"] < 0.1, end
    assert end["non_saturating"] > 10 * end["minimax"]


def test_minimax_gradient_vanishes_early_on_the_toy(tmp_path):
    records = gradients.toy_gradient_norms(d_steps=150, every=150, seed=0)
    assert [r["d_step"] for r in records] == [0, 150]
    check_gradient_records(records)
    assert_plot(gradients.plot_gradients({"toy": records}, str(tmp_path / "gradients.png")))


def test_minimax_gradient_vanishes_early_on_mnist(tfds_dir):
    images = data.load_images("mnist", "train", tfds_dir)[:6000]
    records = gradients.mnist_gradient_norms(d_steps=60, every=60, seed=0, images=images)
    check_gradient_records(records)


def test_dstar_plot(trained_d, tmp_path):
    r = dict(
        dstar.compare_with_optimum(trained_d, P_DATA, P_G, X),
        steps=trained_d.steps,
        x=X,
        p_data=toy.density(P_DATA, X),
        p_g=toy.density(P_G, X),
        d_star=toy.optimal_discriminator(P_DATA, P_G, X),
        d=toy.discriminate(trained_d.discriminator, X),
    )
    assert_plot(dstar.plot_dstar({"different": r, "same": r}, str(tmp_path / "dstar.png")))


def test_gan_moves_p_g_to_p_data_and_draws_figure1(tmp_path):
    mean, std = toy.FIG1_DATA
    snapshots, history = figure1.train_figure1(steps=600, seed=0)
    start, trained_d, early, end = snapshots
    assert abs(start.g_mean - mean) > 3 and start.g_std < 0.25
    # (b) D, trained with G fixed, separates them: near 1 on the data, low on
    # G's samples (measured 0.99998 and 0.12 after 200 steps).
    assert np.interp(mean, trained_d.x, trained_d.d) > 0.9
    assert np.interp(trained_d.g_mean, trained_d.x, trained_d.d) < 0.25
    assert early.step < end.step == 600 == history[-1]["step"]
    # (d) p_g ~ p_data, and D ~ 1/2 where the data are.
    assert abs(end.g_mean - mean) < 0.25, end.to_json()
    assert abs(end.g_std - std) < 0.2, end.to_json()
    on_data = end.p_data > 0.1
    assert np.abs(end.d[on_data] - 0.5).max() < 0.15
    path = figure1.plot_figure1(snapshots, str(tmp_path / "fig1.png"))
    image = read_png(path)
    assert image.shape[1] > 3 * image.shape[0]  # four panels side by side
    assert_plot(path)


def test_cli_reports_a_bad_output_dir_in_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = subprocess.run(
        [sys.executable, "-m", "gan_keras.cli.theory", f"--out={blocker / 'sub'}", "--nomnist"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("gan-keras-theory: error:"), result.stderr[-2000:]
