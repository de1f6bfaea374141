"""Classifier-based metrics of generated MNIST-like images.

With the small MNIST classifier of `gan_keras.evaluation.classifier` (softmax
`p(y|x)`, penultimate 128-unit ReLU features):

- MNIST score: `exp(E_x KL(p(y|x) || p(y)))` with `p(y) = E_x p(y|x)`, the
  Inception score of Salimans et al. (2016) with an MNIST classifier. It is
  between 1 and 10: high when every sample is confidently one digit and all
  digits are equally frequent; ~1 when all samples are the same digit.
- Frechet distance: `||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2))`
  between Gaussians fitted to the classifier's features of two image sets
  (the FID of Heusel et al. (2017), with this classifier instead of
  Inception). 0 for identical sets; it has a positive bias that shrinks with
  the number of images, so compare values computed with the same numbers.
- Class coverage: the histogram of the predicted digits and the number of
  digits predicted for at least `threshold` (5%) of the samples; 10 means no
  digit is missing, 1 is total mode collapse.

`classifier_metrics(images, reference_images)` computes all three; images
are uint8 or float in [0, 1], `[n, 28, 28, 1]`. See docs/metrics.md.
"""

import numpy as np

from gan_keras.evaluation import classifier as classifier_lib

__all__ = [
    "DEFAULT_THRESHOLD",
    "as_float_images",
    "class_coverage",
    "classifier_metrics",
    "classifier_outputs",
    "frechet_distance",
    "label_accuracy",
    "metrics_from_outputs",
    "mnist_score",
    "result_line",
]

DEFAULT_THRESHOLD = 0.05
_EPS = 1e-12


def _check_probs(probs, name="probs"):
    probs = np.asarray(probs, np.float64)
    if probs.ndim != 2 or probs.shape[0] == 0 or probs.shape[1] < 2:
        raise ValueError(
            f"{name} must be a [n, num_classes] array of class probabilities with n >= 1 and "
            f"num_classes >= 2; got shape {probs.shape}."
        )
    if not np.all(np.isfinite(probs)) or probs.min() < 0 or not np.allclose(probs.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError(f"{name} must hold probabilities: finite, >= 0, each row summing to 1.")
    return probs


def mnist_score(probs):
    """`exp(E_x KL(p(y|x) || p(y)))` of class probabilities `probs` `[n, num_classes]`.

    Between 1 and `num_classes`.

    Example:

    >>> round(mnist_score(np.eye(10)), 3)                    # every class once, confidently
    10.0
    >>> round(mnist_score(np.tile(np.eye(10)[3], (5, 1))), 3)  # always class 3
    1.0
    """
    probs = _check_probs(probs)
    marginal = probs.mean(axis=0)
    logs = np.log(np.maximum(probs, _EPS)) - np.log(np.maximum(marginal, _EPS))
    kl = np.sum(probs * logs, axis=1)
    return float(np.exp(kl.mean()))


def _as_features(features, name):
    features = np.asarray(features, np.float64)
    if features.ndim != 2 or features.shape[0] < 2 or features.shape[1] < 1:
        raise ValueError(
            f"{name} must be a [n, d] array of feature vectors with n >= 2 (a covariance is "
            f"estimated); got shape {features.shape}."
        )
    if not np.all(np.isfinite(features)):
        raise ValueError(f"{name} must be finite (it holds NaN or inf).")
    return features


def _sqrt_psd(matrix):
    """Square root of a symmetric positive semi-definite matrix (eigenvalues < 0 clipped)."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance(features_a, features_b):
    """Frechet distance between Gaussians fitted to two sets of feature vectors `[n, d]`.

    `||mu_a - mu_b||^2 + Tr(S_a) + Tr(S_b) - 2 Tr((S_a S_b)^(1/2))`, with
    unbiased covariances, in float64. The trace of the square root is taken
    as `Tr((S_a^(1/2) S_b S_a^(1/2))^(1/2))`, a symmetric positive
    semi-definite matrix (same eigenvalues as `S_a S_b`), by eigendecomposition;
    the result is clipped at 0.

    Example:

    >>> rng = np.random.default_rng(0)
    >>> a = rng.normal(size=(1000, 4))
    >>> frechet_distance(a, a)
    0.0
    >>> round(frechet_distance(a, a + [3, 0, 0, 0]), 3)  # a shift of 3: 3^2
    9.0
    """
    a = _as_features(features_a, "features_a")
    b = _as_features(features_b, "features_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"features_a and features_b must have the same dimension; got {a.shape[1]} and {b.shape[1]}."
        )
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.cov(a, rowvar=False, ddof=1), np.cov(b, rowvar=False, ddof=1)
    cov_a, cov_b = np.atleast_2d(cov_a), np.atleast_2d(cov_b)
    root_a = _sqrt_psd(cov_a)
    middle = root_a @ cov_b @ root_a
    values = np.linalg.eigvalsh((middle + middle.T) / 2)
    trace_sqrt = np.sum(np.sqrt(np.clip(values, 0, None)))
    distance = np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_sqrt
    # Rounding leaves ~1e-12 relative noise; identical sets give exactly 0.
    scale = np.trace(cov_a) + np.trace(cov_b) + np.sum(mu_a**2) + np.sum(mu_b**2)
    return float(max(distance, 0.0)) if distance > 1e-10 * scale else 0.0


def class_coverage(probs, threshold=DEFAULT_THRESHOLD):
    """`(histogram, classes_covered)` of the predicted (argmax) classes.

    `histogram[c]` is the fraction of the samples predicted as class `c`;
    `classes_covered` counts the classes with a fraction >= `threshold`.

    Example:

    >>> hist, covered = class_coverage(np.eye(10)[[1, 1, 1, 7]])
    >>> hist.tolist()
    [0.0, 0.75, 0.0, 0.0, 0.0, 0.0, 0.0, 0.25, 0.0, 0.0]
    >>> covered
    2
    """
    probs = _check_probs(probs)
    if not 0 < float(threshold) <= 1:
        raise ValueError(f"threshold must be in (0, 1] (a fraction of the samples); got {threshold}.")
    counts = np.bincount(np.argmax(probs, axis=1), minlength=probs.shape[1])
    histogram = counts / len(probs)
    return histogram, int(np.sum(histogram >= float(threshold)))


def as_float_images(images, name="images", shape=classifier_lib.IMAGE_SHAPE):
    """`images` as float32 `[n, 28, 28, 1]` in [0, 1]: uint8 are divided by 255.

    `shape=None` accepts any `[n, height, width, channels]` with 1 or 3
    channels (`[n, height, width]` is grayscale).

    Raises a `ValueError` naming `name` for another shape, an empty set, or
    float values outside [0, 1] (e.g. unscaled 0..255 floats).

    Example:

    >>> float(as_float_images(np.full((2, 28, 28, 1), 255, np.uint8)).max())
    1.0
    >>> as_float_images(np.zeros((2, 32, 32, 3), np.uint8), shape=None).shape
    (2, 32, 32, 3)
    """
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if shape is None:
        if images.ndim != 4 or images.shape[-1] not in (1, 3) or min(images.shape) == 0:
            raise ValueError(
                f"{name} must be a non-empty batch of images, [n, height, width, channels] with 1 or 3 "
                f"channels (or [n, height, width]); got shape {images.shape}."
            )
    elif images.ndim != 4 or tuple(images.shape[1:]) != tuple(shape) or len(images) == 0:
        raise ValueError(
            f"{name} must be a non-empty batch of 28x28x1 images, [n, 28, 28, 1] (or [n, 28, 28]); "
            f"got shape {images.shape}; the classifier is for MNIST-like 28x28 grayscale images."
        )
    if images.dtype == np.uint8:
        return images.astype(np.float32) / 255.0
    if not np.issubdtype(images.dtype, np.floating):
        raise ValueError(f"{name} must be uint8 (0..255) or float in [0, 1]; got dtype {images.dtype}.")
    images = images.astype(np.float32)
    if not np.all(np.isfinite(images)):
        raise ValueError(f"{name} must be finite (it holds NaN or inf).")
    low, high = float(images.min()), float(images.max())
    if low < -1e-3 or high > 1 + 1e-3:
        raise ValueError(
            f"{name} must be uint8 (0..255) or float in [0, 1]; got floats in [{low:.3g}, {high:.3g}]."
        )
    return np.clip(images, 0.0, 1.0)


def _two_outputs(classifier):
    import keras

    return keras.Model(
        classifier.input,
        [classifier.output, classifier.get_layer(classifier_lib.FEATURES_LAYER).output],
    )


def classifier_outputs(images, classifier=None, batch_size=1000, name="images"):
    """`(probs [n, 10], features [n, 128])` of the classifier on `images`, float64.

    Args:
        images: uint8 or float in [0, 1], `[n, 28, 28, 1]` (or `[n, 28, 28]`).
        classifier: a model like `classifier.build_classifier()` (softmax
            output, a layer named `features`); default: the shipped one.
        batch_size: images per forward pass.
        name: the argument's name in error messages.

    Example:

    >>> probs, features = classifier_outputs(np.zeros((3, 28, 28, 1), np.uint8))
    >>> probs.shape, features.shape
    ((3, 10), (3, 128))
    """
    x = as_float_images(images, name)
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}.")
    model = _two_outputs(classifier if classifier is not None else classifier_lib.load_classifier())
    probs, features = [], []
    for i in range(0, len(x), int(batch_size)):
        p, f = model(x[i : i + int(batch_size)], training=False)
        probs.append(np.asarray(p, np.float64))
        features.append(np.asarray(f, np.float64))
    return np.concatenate(probs), np.concatenate(features)


def metrics_from_outputs(probs, features, reference_features, threshold=DEFAULT_THRESHOLD, labels=None):
    """`classifier_metrics`' dict from precomputed `classifier_outputs`.

    Useful when the reference set is fixed (its features are computed once).

    Example:

    >>> probs, features = classifier_outputs(samples)  # doctest: +SKIP
    >>> _, reference = classifier_outputs(test_images)  # doctest: +SKIP
    >>> metrics_from_outputs(probs, features, reference)["classes_covered"]  # doctest: +SKIP
    10
    """
    histogram, covered = class_coverage(probs, threshold)
    result = {} if labels is None else {"label_accuracy": label_accuracy(probs, labels)}
    return {
        **result,
        "mnist_score": mnist_score(probs),
        "frechet_distance": frechet_distance(features, reference_features),
        "classes_covered": covered,
        "class_histogram": [round(float(h), 6) for h in histogram],
        "coverage_threshold": float(threshold),
        "num_samples": int(len(probs)),
        "num_reference": int(len(reference_features)),
    }


def label_accuracy(probs, labels):
    """The fraction of samples the classifier assigns to the class they were generated for.

    For a conditional generator G(z, c): how well the samples obey c.

    Example:

    >>> label_accuracy(np.eye(10)[[3, 3, 7]], [3, 3, 1])
    0.6666666666666666
    """
    probs = _check_probs(probs)
    labels = np.asarray(labels).reshape(-1)
    if labels.shape != (len(probs),):
        raise ValueError(f"labels must hold one label per sample ({len(probs)}); got shape {labels.shape}.")
    return float((probs.argmax(axis=1) == labels).mean())


def classifier_metrics(
    images, reference_images, classifier=None, threshold=DEFAULT_THRESHOLD, batch_size=1000, labels=None
):
    """MNIST score, Frechet distance to `reference_images`, and class coverage of `images`.

    Args:
        images: the images judged (e.g. 10,000 generator samples), uint8 or
            float in [0, 1], `[n, 28, 28, 1]`; n >= 2.
        reference_images: real images for the Frechet distance (e.g. the
            10,000 MNIST test images), same format.
        classifier: default: the shipped `classifier.load_classifier()`.
        threshold: the fraction of samples a class needs to count as covered.
        batch_size: images per forward pass.
        labels: for a conditional generator's samples, the class each was
            generated for; adds `label_accuracy`.

    Returns:
        A JSON-ready dict: `mnist_score`, `frechet_distance`,
        `classes_covered`, `class_histogram` (fraction per digit 0..9),
        `coverage_threshold`, `num_samples`, `num_reference`.

    Example:

    >>> test = data.load_images("mnist", "test")  # doctest: +SKIP
    >>> result = classifier_metrics(generator_samples(generator, 10000), test)  # doctest: +SKIP
    >>> print(result_line(result))  # doctest: +SKIP
    MNIST score: 9.12 (of 10), Frechet distance: 4.21 (vs 10000 reference images), classes covered: 10/10 ...
    """
    classifier = classifier if classifier is not None else classifier_lib.load_classifier()
    probs, features = classifier_outputs(images, classifier, batch_size, "images")
    _, reference = classifier_outputs(reference_images, classifier, batch_size, "reference_images")
    return metrics_from_outputs(probs, features, reference, threshold, labels)


def result_line(result):
    """The metrics of `classifier_metrics` on one line.

    Example:

    >>> print(result_line({"mnist_score": 9.874, "frechet_distance": 0.4321, "classes_covered": 10,
    ...                    "class_histogram": [0.1] * 10, "coverage_threshold": 0.05,
    ...                    "num_samples": 10000, "num_reference": 10000}))
    MNIST score: 9.87 (of 10), Frechet distance: 0.432 (vs 10000 reference images), classes covered: 10/10 (>= 5% of 10000 samples)
    """
    return (
        f"MNIST score: {result['mnist_score']:.2f} (of {len(result['class_histogram'])}), "
        f"Frechet distance: {result['frechet_distance']:.3g} (vs {result['num_reference']} reference images), "
        f"classes covered: {result['classes_covered']}/{len(result['class_histogram'])} "
        f"(>= {result['coverage_threshold']:.0%} of {result['num_samples']} samples)"
        + (f", label accuracy: {result['label_accuracy']:.1%}" if "label_accuracy" in result else "")
    )
