"""Metrics between two sets of feature vectors: KID, precision/recall, density/coverage.

Pure math on `[n, d]` arrays from any feature extractor (the MNIST
classifier's 128 `features`, Inception-v3's 2048 pool features of
`gan_keras.evaluation.inception`, ...). `features` are those of the images
judged (generator samples), `reference_features` those of real images.

- KID (Binkowski et al. 2018): the unbiased estimate of the squared MMD with
  the cubic polynomial kernel `k(x, y) = (x.y / d + 1)^3`, averaged over
  random subsets (100 subsets of 1000 vectors, or of min(n) when fewer);
  `kernel_distance` returns its mean and standard deviation over them.
  Unlike the Frechet distance it is unbiased: ~0 (and sometimes negative)
  for two samples of one distribution.
- Precision and recall (Kynkaanniemi et al. 2019): the real manifold is the
  union of balls around each reference vector with the radius of its k-th
  nearest reference neighbour (k=3); precision is the fraction of the
  samples inside it, recall the fraction of the reference inside the
  samples' manifold.
- Density and coverage (Naeem et al. 2020, k=5): density counts how many
  reference balls hold each sample (divided by k; ~1 for matching
  distributions, may exceed 1); coverage is the fraction of reference
  vectors whose ball holds at least one sample.

Distances are computed in float64, a block of `batch_size` rows at a time,
so 10,000 x 10,000 sets never hold a full distance matrix. See
docs/metrics.md.
"""

import numpy as np

from gan_keras.evaluation.classifier_metrics import _as_features

__all__ = [
    "DENSITY_COVERAGE_K",
    "KID_SUBSETS",
    "KID_SUBSET_SIZE",
    "PRECISION_RECALL_K",
    "density_coverage",
    "kernel_distance",
    "knn_radii",
    "manifold_metrics",
    "manifold_line",
    "polynomial_mmd2",
    "precision_recall",
]

PRECISION_RECALL_K = 3
DENSITY_COVERAGE_K = 5
KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000
_BATCH = 1000


def _pair(features, reference_features):
    a = _as_features(features, "features")
    b = _as_features(reference_features, "reference_features")
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"features and reference_features must have the same dimension; got {a.shape[1]} and {b.shape[1]}."
        )
    return a, b


def _squared_distances(rows, columns, column_norms):
    """`||rows_i - columns_j||^2` `[len(rows), len(columns)]`, float64, clipped at 0."""
    d2 = np.sum(rows**2, axis=1)[:, None] + column_norms[None, :] - 2.0 * (rows @ columns.T)
    return np.maximum(d2, 0.0, out=d2)


def _check_k(k, n, name):
    k = int(k)
    if k < 1 or k >= n:
        raise ValueError(f"{name} must be >= 1 and < the number of vectors in a set ({n}); got {k}.")
    return k


def _squared_radii(x, ks, batch_size):
    """`{k: squared distance of each vector of x to its k-th nearest other vector}` for each k of `ks`."""
    norms = np.sum(x**2, axis=1)
    radii = {k: np.empty(len(x)) for k in ks}
    for i in range(0, len(x), batch_size):
        d2 = _squared_distances(x[i : i + batch_size], x, norms)
        # Index 0 of each sorted row is the vector itself (distance 0): the k-th neighbour is at index k.
        part = np.partition(d2, sorted(ks), axis=1)
        for k in ks:
            radii[k][i : i + batch_size] = part[:, k]
    return radii


def knn_radii(features, k=PRECISION_RECALL_K, batch_size=_BATCH):
    """The distance of each vector of `features` `[n, d]` to its k-th nearest neighbour in the set (itself excluded).

    Example:

    >>> knn_radii(np.array([[0.0], [1.0], [3.0]]), k=1).tolist()
    [1.0, 1.0, 2.0]
    """
    x = _as_features(features, "features")
    k = _check_k(k, len(x), "k")
    return np.sqrt(_squared_radii(x, [k], _check_batch(batch_size))[k])


def _check_batch(batch_size):
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}.")
    return int(batch_size)


def manifold_metrics(
    features,
    reference_features,
    k_precision_recall=PRECISION_RECALL_K,
    k_density_coverage=DENSITY_COVERAGE_K,
    batch_size=_BATCH,
):
    """Precision, recall, density and coverage of `features` against `reference_features`, in one pass.

    Args:
        features: `[m, d]` features of the judged images (generator samples).
        reference_features: `[n, d]` features of real images.
        k_precision_recall: the k of Kynkaanniemi et al.'s k-NN manifolds.
        k_density_coverage: the k of Naeem et al.'s density and coverage.
        batch_size: rows of a distance block (memory ~ 3 x batch x max(m, n) floats).

    Returns:
        A JSON-ready dict: `precision`, `recall`, `density`, `coverage`,
        `k_precision_recall`, `k_density_coverage`, `num_samples`,
        `num_reference`.

    Example:

    >>> rng = np.random.default_rng(0)
    >>> real = rng.normal(size=(500, 8))
    >>> result = manifold_metrics(real, real)  # the reference against itself
    >>> result["precision"], result["recall"], result["coverage"]
    (1.0, 1.0, 1.0)
    >>> manifold_metrics(real + 100, real)["precision"]  # far away
    0.0
    """
    fake, real = _pair(features, reference_features)
    k_pr = _check_k(k_precision_recall, min(len(fake), len(real)), "k_precision_recall")
    k_dc = _check_k(k_density_coverage, len(real), "k_density_coverage")
    batch_size = _check_batch(batch_size)
    real_radii = _squared_radii(real, sorted({k_pr, k_dc}), batch_size)
    fake_radii = _squared_radii(fake, [k_pr], batch_size)[k_pr]
    real_norms = np.sum(real**2, axis=1)
    in_real_manifold = np.empty(len(fake), bool)  # precision: sample i is inside some reference ball
    in_fake_manifold = np.zeros(len(real), bool)  # recall: reference j is inside some sample ball
    nearest_sample = np.full(len(real), np.inf)  # coverage: squared distance of reference j to its nearest sample
    balls_holding = 0  # density: (sample, reference ball holding it) pairs
    for i in range(0, len(fake), batch_size):
        d2 = _squared_distances(fake[i : i + batch_size], real, real_norms)
        in_real_manifold[i : i + batch_size] = np.any(d2 <= real_radii[k_pr][None, :], axis=1)
        in_fake_manifold |= np.any(d2 <= fake_radii[i : i + batch_size, None], axis=0)
        np.minimum(nearest_sample, d2.min(axis=0), out=nearest_sample)
        balls_holding += int(np.count_nonzero(d2 < real_radii[k_dc][None, :]))
    return {
        "precision": float(in_real_manifold.mean()),
        "recall": float(in_fake_manifold.mean()),
        "density": float(balls_holding / (k_dc * len(fake))),
        "coverage": float(np.mean(nearest_sample < real_radii[k_dc])),
        "k_precision_recall": k_pr,
        "k_density_coverage": k_dc,
        "num_samples": int(len(fake)),
        "num_reference": int(len(real)),
    }


def precision_recall(features, reference_features, k=PRECISION_RECALL_K, batch_size=_BATCH):
    """`(precision, recall)` of Kynkaanniemi et al. (2019) with k-NN manifolds (see `manifold_metrics`).

    Example:

    >>> rng = np.random.default_rng(0)
    >>> real = rng.normal(size=(400, 2))
    >>> precision_recall(real[real[:, 0] > 0], real)  # only half of the reference: precise, half the recall
    (1.0, 0.5...)
    """
    result = manifold_metrics(features, reference_features, k, 1, batch_size)
    return result["precision"], result["recall"]


def density_coverage(features, reference_features, k=DENSITY_COVERAGE_K, batch_size=_BATCH):
    """`(density, coverage)` of Naeem et al. (2020) (see `manifold_metrics`).

    Example:

    >>> rng = np.random.default_rng(0)
    >>> real = rng.normal(size=(400, 2))
    >>> density, coverage = density_coverage(real, real)
    >>> round(density, 2), coverage
    (1.0, 1.0)
    """
    result = manifold_metrics(features, reference_features, 1, k, batch_size)
    return result["density"], result["coverage"]


def _polynomial_kernel(x, y):
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def polynomial_mmd2(features, reference_features):
    """The unbiased estimate of the squared MMD with the kernel `(x.y / d + 1)^3` (one KID subset).

    `(sum_{i!=j} k(x_i, x_j)) / (m (m-1)) + (sum_{i!=j} k(y_i, y_j)) / (n (n-1)) - 2 mean k(x_i, y_j)`.

    Example:

    >>> rng = np.random.default_rng(0)
    >>> a = rng.normal(size=(300, 4))
    >>> abs(polynomial_mmd2(a, rng.normal(size=(300, 4)))) < 0.1  # the same distribution: ~0
    True
    >>> polynomial_mmd2(a, a + 1) > 1  # shifted by 1 in each dimension
    True
    """
    x, y = _pair(features, reference_features)
    kxx, kyy, kxy = _polynomial_kernel(x, x), _polynomial_kernel(y, y), _polynomial_kernel(x, y)
    m, n = len(x), len(y)
    return float(
        (kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1)) - 2 * kxy.mean()
    )


def kernel_distance(
    features, reference_features, num_subsets=KID_SUBSETS, subset_size=KID_SUBSET_SIZE, seed=0
):
    """KID: `polynomial_mmd2` averaged over random subsets; `(mean, std, num_subsets, subset_size)`.

    Each subset draws `min(subset_size, m, n)` vectors without replacement
    from each set (with `seed`). When that is all of both sets, every subset
    is the same and one is computed (std 0). `std` is over the subsets
    (ddof 0), as in the reference implementations.

    Example:

    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.normal(size=(400, 4)), rng.normal(size=(500, 4))
    >>> mean, std, subsets, size = kernel_distance(a, b, num_subsets=10)
    >>> abs(mean) < 3 * std + 0.01, subsets, size
    (True, 10, 400)
    """
    x, y = _pair(features, reference_features)
    if int(num_subsets) < 1:
        raise ValueError(f"num_subsets must be >= 1; got {num_subsets}.")
    if int(subset_size) < 2:
        raise ValueError(f"subset_size must be >= 2; got {subset_size}.")
    size = min(int(subset_size), len(x), len(y))
    subsets = 1 if size == len(x) == len(y) else int(num_subsets)
    rng = np.random.default_rng(seed)
    values = [
        polynomial_mmd2(x[rng.choice(len(x), size, replace=False)], y[rng.choice(len(y), size, replace=False)])
        for _ in range(subsets)
    ]
    return float(np.mean(values)), float(np.std(values)), subsets, size


def manifold_line(result, features_name=None):
    """`manifold_metrics`' dict on one line (naming the features, if given).

    Example:

    >>> print(manifold_line({"precision": 0.8123, "recall": 0.5, "density": 0.91, "coverage": 0.62,
    ...                      "k_precision_recall": 3, "k_density_coverage": 5, "num_samples": 10000,
    ...                      "num_reference": 10000}, "MNIST classifier features"))
    Precision: 0.812, recall: 0.500 (k=3), density: 0.910, coverage: 0.620 (k=5) on MNIST classifier features (10000 samples vs 10000 reference images)
    """
    on = f" on {features_name}" if features_name else ""
    return (
        f"Precision: {result['precision']:.3f}, recall: {result['recall']:.3f} (k={result['k_precision_recall']}), "
        f"density: {result['density']:.3f}, coverage: {result['coverage']:.3f} (k={result['k_density_coverage']})"
        f"{on} ({result['num_samples']} samples vs {result['num_reference']} reference images)"
    )
