"""Parzen-window log-likelihood: the evaluation protocol of Table 1.

A Parzen-window density puts an isotropic Gaussian kernel of width `sigma` on
each of `N` points `mu_i` (for a GAN: samples of the generator):

    log p(x) = logsumexp_i(-||x - mu_i||^2 / (2 sigma^2)) - log N
               - d log(sigma sqrt(2 pi))

`parzen_distribution` gives that density as a `tfp.distributions` object
(`log_prob`, `sample`, ...). Its `log_prob` materialises `[batch, N, d]`, so
the protocol uses `parzen_log_likelihood`, which computes the same numbers
from squared distances obtained by matrix products,
`||x||^2 - 2 x.mu + ||mu||^2`, once for all sigmas, in chunks of data rows and
centres (memory stays bounded).

Precision: in float32 that expansion loses ~1e-4 in a squared distance of
~50, which becomes ~1e-3 nats once divided by `2 sigma^2` at sigma = 0.1. The
default float32 path therefore recomputes the distances to each row's two
nearest centres exactly (float64, by differences); the remaining error is
below 1e-4 nats on MNIST (tests check it against a float64 NumPy reference). `dtype="float64"`
does the products in float64 instead (about twice as slow).

The protocol (`parzen_evaluate`) follows the authors' released
`parzen_ll.py`: 10,000 generator samples as centres, sigma chosen from
`logspace(-1, 0, 10)` by the mean log-likelihood of 1,000 validation images,
then the mean and standard error (std / sqrt(n)) over the test images.
"""

import concurrent.futures
import os

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
import threadpoolctl

__all__ = [
    "DEFAULT_SIGMAS",
    "NUM_SAMPLES",
    "NUM_VALID",
    "SAMPLE_SEED",
    "as_points",
    "check_sigmas",
    "cross_validate_sigma",
    "generator_samples",
    "parzen_distribution",
    "parzen_evaluate",
    "parzen_log_likelihood",
    "table1_line",
]

tfd = tfp.distributions

# Defaults of the authors' released protocol (parzen_ll.py).
DEFAULT_SIGMAS = tuple(float(s) for s in np.logspace(-1.0, 0.0, 10))
NUM_SAMPLES = 10000
NUM_VALID = 1000
# Seed of the generator's noise for the kernel centres (a stateless [2] seed),
# so that the same generator always gets the same estimate.
SAMPLE_SEED = (2014, 0)

_DTYPES = ("float32", "float64")
# Centres per data row whose squared distance is recomputed exactly. With 2,
# float32 products stay within ~1e-4 nats of float64 on MNIST (1 gives ~1e-3).
_EXACT_NEAREST = 2


def as_points(x, name="data"):
    """`x` as a float64 matrix `[n, d]`: one flattened example per row.

    uint8 images are scaled to [0, 1] (divided by 255), as the generator's
    samples are; float inputs are taken as they are.

    Example:

    >>> as_points(np.full((2, 28, 28, 1), 255, np.uint8)).shape
    (2, 784)
    """
    x = np.asarray(x)
    if x.ndim < 1 or x.shape[0] == 0 or x.size == 0:
        raise ValueError(f"{name} is empty (shape {x.shape}); it needs at least one example.")
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise ValueError(f"{name} must be numeric; got dtype {x.dtype}.")
    scale = 255.0 if x.dtype == np.uint8 else 1.0
    points = x.reshape(len(x), -1).astype(np.float64) / scale
    if not np.all(np.isfinite(points)):
        raise ValueError(f"{name} holds NaN or infinite values.")
    return points


def check_sigmas(sigma):
    """`sigma` (a scalar or a 1-D sequence) as a float64 array; all must be > 0.

    Example:

    >>> check_sigmas([0.1, 0.2])
    array([0.1, 0.2])
    """
    sigmas = np.asarray(sigma, dtype=np.float64)
    if sigmas.ndim > 1 or sigmas.size == 0:
        raise ValueError(f"sigma must be a positive number or a 1-D list of them; got {sigma!r}.")
    if not np.all(np.isfinite(sigmas) & (sigmas > 0)):
        raise ValueError(f"sigma must be > 0 and finite; got {sigma!r}.")
    return sigmas


def _check_same_dims(samples, data):
    if samples.shape[1] != data.shape[1]:
        raise ValueError(
            f"samples have {samples.shape[1]} dimensions per example but data have "
            f"{data.shape[1]}; both must be flattened images of the same shape."
        )


def _check_batch_size(name, value):
    if int(value) < 1:
        raise ValueError(f"{name} must be >= 1; got {value}.")


def parzen_distribution(samples, sigma, dtype="float64"):
    """The Parzen-window density as a TFP distribution over flattened examples.

    A `tfd.MixtureSameFamily` of equally weighted `tfd.Independent` Normals
    with means `samples` and scale `sigma`. Its `log_prob` is exact but builds
    a `[batch, N, d]` tensor: use it on small batches, and
    `parzen_log_likelihood` for the protocol.

    Example:

    >>> density = parzen_distribution(np.zeros((3, 2)), sigma=1.0)
    >>> round(float(density.log_prob(np.zeros((1, 2)))[0]), 4)  # -log(2 pi)
    -1.8379
    """
    samples = as_points(samples, "samples").astype(dtype)
    sigma = float(check_sigmas(sigma))
    n = len(samples)
    return tfd.MixtureSameFamily(
        mixture_distribution=tfd.Categorical(logits=np.zeros(n, dtype)),
        components_distribution=tfd.Independent(
            tfd.Normal(loc=samples, scale=np.asarray(sigma, dtype)),
            reinterpreted_batch_ndims=1,
        ),
        name="ParzenWindow",
    )


class _Centres:
    """One block of kernel centres, prepared once for every chunk of data."""

    def __init__(self, points, columns, dtype):
        self.exact = points  # float64, all columns: for the exact nearest distances
        # [-2 mu, ||mu||^2]: one product with [x, 1] gives ||mu||^2 - 2 x.mu
        # (scaling by -2 is exact, so no precision is lost).
        squared_norms = np.einsum("ij,ij->i", points, points)
        self.matrix = np.hstack([-2.0 * points[:, columns], squared_norms[:, None]]).astype(dtype)


def _augmented_rows(rows, columns, dtype):
    """`[x, 1]` over the given columns, to multiply with `_Centres.matrix`."""
    return np.hstack([rows[:, columns], np.ones((len(rows), 1))]).astype(dtype)


def _gaps_to_nearest(gaps, rows_exact, centres, dtype):
    """Turns `||mu||^2 - 2 x.mu` into squared distances minus each row's smallest one, in place.

    `gaps` comes from `_augmented_rows(...) @ centres.matrix.T`, with only
    the columns where the data are not all zero (the others add nothing to
    the products). The distances to each row's `_EXACT_NEAREST` nearest
    centres are then recomputed exactly, by differences in float64, so the
    largest kernel terms, which dominate for small sigma, carry no rounding
    error from the expansion.

    Returns the smallest squared distance of each row, `[rows]` float64.
    """
    # The row's own norm does not change which centres are nearest.
    rows = np.arange(len(gaps))
    nearest = np.empty((len(gaps), min(_EXACT_NEAREST, gaps.shape[1])), np.int64)
    for j in range(nearest.shape[1]):
        nearest[:, j] = gaps.argmin(axis=1)
        gaps[rows, nearest[:, j]] = np.inf
    diff = rows_exact[:, None, :] - centres.exact[nearest]
    exact = np.einsum("ijk,ijk->ij", diff, diff)
    nearest_dist = exact.min(axis=1)
    row_norms = np.einsum("ij,ij->i", rows_exact, rows_exact)
    gaps += (row_norms - nearest_dist).astype(dtype)[:, None]
    gaps[rows[:, None], nearest] = exact - nearest_dist[:, None]
    return nearest_dist


def _rows_log_sum_exp(gaps, rows_exact, centres, sigmas, dtype):
    """`logsumexp_i(-||x - mu_i||^2 / (2 sigma^2))` for each sigma and row of a block's products: `[S, rows]`."""
    nearest_dist = _gaps_to_nearest(gaps, rows_exact, centres, dtype)
    out = np.empty((len(sigmas), len(gaps)))
    scaled = np.empty_like(gaps)
    for s, sigma in enumerate(sigmas):
        inv = 1.0 / (2.0 * sigma * sigma)
        with np.errstate(over="ignore"):  # for a tiny sigma a far centre's term is -inf: exp gives it 0
            np.multiply(gaps, -inv, out=scaled)
        np.exp(scaled, out=scaled)
        out[s] = np.log(scaled.sum(axis=1).astype(np.float64)) - nearest_dist * inv
    return out


def _chunk_log_sum_exp(rows_exact, columns, blocks, sigmas, dtype):
    """`logsumexp_i(-||x - mu_i||^2 / (2 sigma^2))` over every block of centres, for each sigma and row: `[S, rows]`."""
    rows_active = _augmented_rows(rows_exact, columns, dtype)
    lse = [
        _rows_log_sum_exp(rows_active @ centres.matrix.T, rows_exact, centres, sigmas, dtype)  # ||mu||^2 - 2 x.mu
        for centres in blocks
    ]
    return np.logaddexp.reduce(np.stack(lse), axis=0)


def _usable_cores():
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def parzen_log_likelihood(
    samples, data, sigma, batch_size=500, centre_batch_size=10000, dtype="float32"
):
    """Log-likelihood of each row of `data` under the Parzen window on `samples`.

    `log (1/N) sum_i N(x; mu_i, sigma^2 I)` for each example `x` of `data`, with
    the `N` centres `mu_i` the rows of `samples` (both are flattened; uint8
    images are scaled to [0, 1]).

    Args:
        samples: the kernel centres, `[N, ...]`.
        data: the examples to score, `[M, ...]` (same size per example).
        sigma: kernel width, a number or a 1-D sequence of widths.
        batch_size: data rows per chunk; memory is about
            `2 * batch_size * min(N, centre_batch_size)` numbers of `dtype`
            per usable core (the chunks run in parallel, one per core).
        centre_batch_size: centres per chunk.
        dtype: `"float32"` (default; the distances to the two nearest
            centres are recomputed exactly) or `"float64"` for the matrix
            products.

    Returns:
        float64 log-likelihoods in nats: `[M]` for a scalar sigma, `[S, M]`
        for `S` sigmas.

    Example:

    >>> centres = np.random.default_rng(0).random((100, 784))
    >>> parzen_log_likelihood(centres, centres[:5], sigma=[0.1, 1.0]).shape
    (2, 5)
    """
    samples = as_points(samples, "samples")
    data = as_points(data, "data")
    _check_same_dims(samples, data)
    sigmas = check_sigmas(sigma)
    _check_batch_size("batch_size", batch_size)
    _check_batch_size("centre_batch_size", centre_batch_size)
    if dtype not in _DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(_DTYPES)}; got {dtype!r}.")

    flat_sigmas = np.atleast_1d(sigmas)
    columns = np.flatnonzero(np.any(data != 0, axis=0))
    blocks = [
        _Centres(samples[i : i + centre_batch_size], columns, dtype)
        for i in range(0, len(samples), centre_batch_size)
    ]
    # One thread per usable core, each taking whole chunks of rows: its products on a one-threaded
    # BLAS, then its element-wise work (NumPy releases the GIL in both). BLAS's own threads would
    # spin between products and take the cores from the element-wise work.
    def chunk(j):
        return _chunk_log_sum_exp(data[j : j + batch_size], columns, blocks, flat_sigmas, dtype)

    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        with concurrent.futures.ThreadPoolExecutor(_usable_cores()) as pool:
            chunks = list(pool.map(chunk, range(0, len(data), batch_size)))
    n, d = samples.shape
    log_norm = np.log(n) + d * np.log(flat_sigmas * np.sqrt(2.0 * np.pi))
    ll = np.concatenate(chunks, axis=1) - log_norm[:, None]
    return ll.reshape(sigmas.shape + (len(data),))


def cross_validate_sigma(samples, valid, sigmas=DEFAULT_SIGMAS, **kwargs):
    """The sigma with the highest mean validation log-likelihood.

    Ties go to the first (smallest index) sigma. Extra keyword arguments go to
    `parzen_log_likelihood`.

    Returns:
        `(best_sigma, mean_lls)`, with `mean_lls[s]` the mean log-likelihood
        of `valid` for `sigmas[s]`.

    Example:

    >>> rng = np.random.default_rng(0)
    >>> sigma, lls = cross_validate_sigma(rng.random((200, 10)), rng.random((50, 10)))
    >>> sigma == DEFAULT_SIGMAS[int(np.argmax(lls))]
    True
    """
    sigmas = np.atleast_1d(check_sigmas(sigmas))
    mean_lls = parzen_log_likelihood(samples, valid, sigmas, **kwargs).mean(axis=1)
    return float(sigmas[int(np.argmax(mean_lls))]), mean_lls


def generator_samples(generator, num_samples, seed=SAMPLE_SEED, batch_size=1000):
    """`num_samples` images of a `Generator`, from noise drawn with a fixed seed.

    The noise (and a conditional generator's labels, uniform over the
    classes) is drawn in one go from `seed` (so the centres do not depend on
    `batch_size`) and decoded `batch_size` at a time. Returns a float32 array
    `[num_samples, height, width, channels]`.

    Example:

    >>> generator_samples(Generator(), 10).shape  # doctest: +SKIP
    (10, 28, 28, 1)
    """
    if int(num_samples) < 1:
        raise ValueError(f"num_samples must be >= 1; got {num_samples}.")
    inputs = generator.sample_inputs(int(num_samples), np.asarray(seed, np.int32))
    parts = [
        np.asarray(generator(tf.nest.map_structure(lambda t: t[i : i + batch_size], inputs), training=False))
        for i in range(0, int(num_samples), batch_size)
    ]
    return np.concatenate(parts)


def _centres(generator_or_samples, num_samples, seed):
    if hasattr(generator_or_samples, "sample_noise"):
        return generator_samples(generator_or_samples, num_samples, seed)
    samples = np.asarray(generator_or_samples)
    if int(num_samples) < 1 or len(samples) < int(num_samples):
        raise ValueError(
            f"num_samples must be between 1 and the {len(samples)} samples given; "
            f"got {num_samples}."
        )
    return samples[: int(num_samples)]


def parzen_evaluate(
    generator_or_samples,
    test,
    valid=None,
    num_samples=NUM_SAMPLES,
    sigmas=DEFAULT_SIGMAS,
    sigma=None,
    num_valid=NUM_VALID,
    seed=SAMPLE_SEED,
    **kwargs,
):
    """The Table 1 protocol: choose sigma on validation data, score the test set.

    Args:
        generator_or_samples: a `Generator` (its `num_samples` samples, drawn
            with `seed`, are the centres) or an array of centres (its first
            `num_samples` rows are used).
        test: the images to score (all of them).
        valid: validation images; the first `num_valid` choose sigma.
        num_samples: number of kernel centres (paper: 10,000).
        sigmas: the candidate widths (paper: `logspace(-1, 0, 10)`).
        sigma: a fixed width; skips the selection (then `valid` is unused).
        num_valid: validation images used to choose sigma (paper: 1,000).
        seed: `[2]` stateless seed of the generator's noise.
        **kwargs: passed to `parzen_log_likelihood` (batch sizes, dtype).

    Returns:
        A JSON-ready dict: `log_likelihood` (mean over `test`, nats),
        `standard_error` (std / sqrt(num_test)), `std`, `sigma`,
        `num_samples`, `num_test`, `num_valid`, `seed`, and `sigma_table`
        (one `{"sigma", "valid_log_likelihood"}` per candidate; empty when
        `sigma` was given).

    Example:

    >>> result = parzen_evaluate(generator, test_images, valid_images)  # doctest: +SKIP
    >>> round(result["log_likelihood"]), round(result["sigma"], 3)  # doctest: +SKIP
    (225, 0.167)
    """
    centres = _centres(generator_or_samples, num_samples, seed)
    table = []
    if sigma is None:
        if valid is None:
            raise ValueError("valid images are needed to choose sigma (or give a fixed sigma).")
        _check_batch_size("num_valid", num_valid)
        sigma, mean_lls = cross_validate_sigma(centres, valid[:num_valid], sigmas, **kwargs)
        table = [
            {"sigma": float(s), "valid_log_likelihood": float(ll)}
            for s, ll in zip(np.atleast_1d(check_sigmas(sigmas)), mean_lls)
        ]
        num_valid = min(int(num_valid), len(valid))
    else:
        sigma, num_valid = float(check_sigmas(sigma)), 0
    ll = parzen_log_likelihood(centres, test, sigma, **kwargs)
    return {
        "log_likelihood": float(ll.mean()),
        "standard_error": float(ll.std() / np.sqrt(len(ll))),
        "std": float(ll.std()),
        "sigma": float(sigma),
        "num_samples": int(len(centres)),
        "num_test": int(len(ll)),
        "num_valid": int(num_valid),
        "seed": [int(s) for s in seed],
        "sigma_table": table,
    }


def table1_line(result):
    """The result as the line Table 1 reports.

    Example:

    >>> table1_line({"log_likelihood": 225.06, "standard_error": 2.0, "sigma": 0.1668,
    ...              "num_samples": 10000, "num_test": 10000})
    'Parzen log-likelihood: 225.1 +/- 2.0 nats (sigma=0.167, 10000 samples, 10000 test images)'
    """
    return (
        f"Parzen log-likelihood: {result['log_likelihood']:.1f} +/- "
        f"{result['standard_error']:.1f} nats (sigma={result['sigma']:.3f}, "
        f"{result['num_samples']} samples, {result['num_test']} test images)"
    )
