"""The Parzen-window estimator against independent formulas, and its protocol."""

import warnings

import numpy as np
import pytest

from gan_keras import data as data_lib
from gan_keras.evaluation.parzen import (
    DEFAULT_SIGMAS,
    cross_validate_sigma,
    generator_samples,
    parzen_distribution,
    parzen_evaluate,
    parzen_log_likelihood,
    table1_line,
)
from gan_keras.nets.models import Generator

D = 784


def reference_log_likelihood(centres, data, sigma):
    """log mean_i N(x; mu_i, sigma^2 I) in float64, from plain differences.

    One value per example for a scalar sigma, `[S, M]` for a list.
    """
    centres = np.asarray(centres, np.float64)
    sigmas = np.atleast_1d(sigma)[:, None]
    out = []
    for x in np.asarray(data, np.float64):
        a = -((x - centres) ** 2).sum(axis=1)[None, :] / (2 * sigmas**2)
        m = a.max(axis=1, keepdims=True)
        out.append((m + np.log(np.exp(a - m).sum(axis=1, keepdims=True)))[:, 0])
    n, d = centres.shape
    ll = np.stack(out, axis=1) - np.log(n) - d * np.log(sigmas * np.sqrt(2 * np.pi))
    return ll.reshape(np.shape(sigma) + (len(out),))


@pytest.fixture(scope="module")
def mnist(tfds_dir):
    """Real MNIST, flattened to [0, 1]: a few test and validation images."""
    test = data_lib.load_images("mnist", "test").reshape(-1, D) / 255.0
    valid = data_lib.load_images("mnist", "validation").reshape(-1, D) / 255.0
    return {"test": test[:2000], "valid": valid[:2000]}


def generator_like(images, seed=0):
    """Real images blurred by noise: non-integer pixels in [0, 1], like G's."""
    rng = np.random.default_rng(seed)
    return np.clip(images + rng.normal(0.0, 0.05, images.shape), 0.0, 1.0)


def test_agrees_with_float64_formula_on_random_data():
    rng = np.random.default_rng(0)
    centres, data = rng.random((300, 50)), rng.random((40, 50))
    sigmas = [0.1, 0.3, 1.0, 3.0]
    want = reference_log_likelihood(centres, data, sigmas)
    got = parzen_log_likelihood(centres, data, sigmas)
    assert got.dtype == np.float64 and got.shape == (4, 40)
    np.testing.assert_allclose(got, want, atol=1e-3, rtol=0)
    exact = parzen_log_likelihood(centres, data, sigmas, dtype="float64")
    np.testing.assert_allclose(exact, want, atol=1e-9, rtol=0)
    # A scalar sigma gives one value per example, chunking changes nothing.
    one = parzen_log_likelihood(centres, data, 0.3, batch_size=7, centre_batch_size=64)
    np.testing.assert_allclose(one, want[1], atol=1e-3, rtol=0)


def test_float32_path_within_1e3_nats_of_float64_on_mnist(mnist):
    """The precision trap: 784-d distances of ~50 lose ~1e-4 in float32."""
    centres = generator_like(mnist["valid"])
    data = mnist["test"][:100]
    got = parzen_log_likelihood(centres, data, DEFAULT_SIGMAS, centre_batch_size=700)
    want = reference_log_likelihood(centres, data, DEFAULT_SIGMAS)
    np.testing.assert_allclose(got, want, atol=1e-3, rtol=0)


def test_fast_path_matches_tfd_mixture_log_prob(mnist):
    centres = generator_like(mnist["valid"][:500])
    data = mnist["test"][:20]
    for sigma in (0.1, 0.2, 1.0):
        density = parzen_distribution(centres, sigma)
        assert density.event_shape == [D]
        want = density.log_prob(data).numpy()
        np.testing.assert_allclose(parzen_log_likelihood(centres, data, sigma), want, atol=1e-3, rtol=0)
    assert density.sample(3, seed=1).shape == (3, D)


def test_uint8_images_are_scaled_to_unit_interval(mnist):
    images = np.round(mnist["test"][:300] * 255).astype(np.uint8).reshape(-1, 28, 28, 1)
    floats = images.reshape(-1, D) / 255.0
    np.testing.assert_allclose(
        parzen_log_likelihood(images, images[:10], 0.2),
        parzen_log_likelihood(floats, floats[:10], 0.2),
        atol=1e-9,
    )


def test_test_set_as_its_own_centres_gives_the_analytic_value(mnist):
    """With a small sigma each point's own kernel dominates the sum."""
    test = mnist["test"]
    n, sigma = len(test), 0.1
    analytic = -np.log(n) - D * np.log(sigma * np.sqrt(2 * np.pi))
    ll = parzen_log_likelihood(test, test, sigma)
    np.testing.assert_allclose(ll, analytic, atol=1e-6, rtol=0)


def test_tiny_sigma_keeps_the_nearest_centre_without_overflow_warnings():
    # Far centres' terms overflow float32 to -inf (exp gives 0); the nearest one's is exact, so the
    # estimate is the float64 one, and numpy's overflow warning would be noise to the user.
    rng = np.random.default_rng(1)
    centres, data = rng.random((300, 50)), rng.random((40, 50))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = parzen_log_likelihood(centres, data, 1e-30)
    want = parzen_log_likelihood(centres, data, 1e-30, dtype="float64")
    assert np.all(np.isfinite(got)) and np.all(got < -1e58)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_sigma_selection_picks_the_argmax():
    rng = np.random.default_rng(1)
    centres, valid = rng.random((200, 30)), rng.random((60, 30))
    sigmas = [0.5, 0.1, 1.0, 0.2]  # unsorted on purpose
    best, mean_lls = cross_validate_sigma(centres, valid, sigmas)
    want = reference_log_likelihood(centres, valid, sigmas).mean(axis=1)
    np.testing.assert_allclose(mean_lls, want, atol=1e-3)
    assert best == sigmas[int(np.argmax(want))]


def test_sigma_selection_recovers_the_true_kernel_width():
    """Data drawn from one Gaussian kernel: the best width is the true one."""
    rng = np.random.default_rng(2)
    centre = np.zeros((1, 100))
    valid = rng.normal(0.0, 0.3, (500, 100))
    best, _ = cross_validate_sigma(centre, valid, [0.1, 0.2, 0.3, 0.5, 1.0])
    assert best == 0.3


def test_evaluate_reports_mean_and_standard_error():
    rng = np.random.default_rng(3)
    centres, test, valid = rng.random((400, 20)), rng.random((90, 20)), rng.random((50, 20))
    result = parzen_evaluate(centres, test, valid, num_samples=300, sigmas=[0.2, 0.4], num_valid=30)
    ll = parzen_log_likelihood(centres[:300], test, result["sigma"])
    assert result["log_likelihood"] == pytest.approx(ll.mean())
    assert result["standard_error"] == pytest.approx(ll.std() / np.sqrt(90))
    assert (result["num_samples"], result["num_test"], result["num_valid"]) == (300, 90, 30)
    assert [row["sigma"] for row in result["sigma_table"]] == [0.2, 0.4]
    best = max(result["sigma_table"], key=lambda row: row["valid_log_likelihood"])
    assert result["sigma"] == best["sigma"]
    fixed = parzen_evaluate(centres, test, num_samples=300, sigma=0.4)
    assert fixed["sigma"] == 0.4 and fixed["sigma_table"] == [] and fixed["num_valid"] == 0
    assert table1_line(fixed).startswith("Parzen log-likelihood: ")
    assert "(sigma=0.400, 300 samples, 90 test images)" in table1_line(fixed)


def test_generator_samples_are_fixed_by_the_seed():
    generator = Generator(latent_dim=8, image_shape=(28, 28, 1))
    a = generator_samples(generator, 50, seed=(1, 2), batch_size=16)
    b = generator_samples(generator, 50, seed=(1, 2), batch_size=50)
    np.testing.assert_allclose(a, b, atol=1e-6)
    assert a.shape == (50, 28, 28, 1)
    assert not np.allclose(a, generator_samples(generator, 50, seed=(1, 3)))
    result = parzen_evaluate(generator, a[:30], a[30:], num_samples=40, sigmas=[0.1, 1.0])
    assert result["num_samples"] == 40 and np.isfinite(result["log_likelihood"])


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: parzen_log_likelihood(np.ones((5, 784)), np.ones((3, 100)), 0.1), "784 dimensions"),
        (lambda: parzen_log_likelihood(np.ones((5, 4)), np.ones((3, 4)), 0.0), "sigma must be > 0"),
        (lambda: parzen_log_likelihood(np.ones((5, 4)), np.ones((3, 4)), -1), "sigma must be > 0"),
        (lambda: parzen_log_likelihood(np.ones((5, 4)), np.ones((3, 4)), [0.1, 0]), "sigma must be > 0"),
        (lambda: parzen_log_likelihood(np.ones((5, 4)), np.ones((3, 4)), np.nan), "sigma must be > 0"),
        (lambda: parzen_log_likelihood(np.ones((5, 4)), np.ones((3, 4)), []), "sigma must be"),
        (lambda: parzen_log_likelihood(np.ones((0, 4)), np.ones((3, 4)), 0.1), "samples is empty"),
        (lambda: parzen_log_likelihood(np.ones((5, 4)), np.ones((0, 4)), 0.1), "data is empty"),
        (lambda: parzen_log_likelihood(np.ones((5, 4)), [[np.nan] * 4], 0.1), "NaN"),
        (lambda: parzen_log_likelihood(np.ones((5, 4)), np.ones((3, 4)), 0.1, batch_size=0), "batch_size"),
        (lambda: parzen_log_likelihood(np.ones((5, 4)), np.ones((3, 4)), 0.1, dtype="int8"), "dtype"),
        (lambda: parzen_evaluate(np.ones((5, 4)), np.ones((3, 4)), np.ones((3, 4))), "num_samples"),
        (lambda: parzen_evaluate(np.ones((5, 4)), np.ones((3, 4)), num_samples=5), "valid images"),
        (lambda: parzen_evaluate(np.ones((5, 4)), np.ones((3, 4)), np.ones((3, 4)), num_samples=0), "num_samples"),
    ],
)
def test_bad_inputs_raise_clear_value_errors(call, message):
    with pytest.raises(ValueError, match=message) as info:
        call()
    assert "\n" not in str(info.value)
