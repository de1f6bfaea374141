"""Inception-v3 pool features of images, and FID / KID / precision-recall on them.

The features are the 2048-d global average pool of
`keras.applications.InceptionV3(include_top=False, pooling="avg")`. Images
(uint8, or float in [0, 1], any size, 1 or 3 channels) are resized to
299x299 (bilinear), grayscale is repeated to 3 channels, and the pixels are
scaled as `keras.applications.inception_v3.preprocess_input` expects
(0..255 to [-1, 1]).

The weights come from a local file; nothing is downloaded at run time. The
ImageNet weights are keras' `inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5`
(87 MB, `WEIGHTS_URL`); fetch it once, e.g. `curl -LO WEIGHTS_URL`, and pass
its path (`python -m gan_keras.evaluate --inception_weights=PATH`). Any
weights file of this architecture loads (`.h5` or `.weights.h5`, e.g.
`InceptionV3(weights=None, include_top=False, pooling="avg").save_weights(...)`,
which the tests use), but only the ImageNet weights give FIDs comparable
with published ones. See docs/metrics.md.
"""

import os
import warnings

import numpy as np

from gan_keras.evaluation import feature_metrics
from gan_keras.evaluation.classifier_metrics import as_float_images, frechet_distance
from gan_keras.utils.cli import first_line

__all__ = [
    "FEATURE_DIM",
    "IMAGE_SIZE",
    "WEIGHTS_FILE",
    "WEIGHTS_URL",
    "inception_features",
    "inception_inputs",
    "inception_line",
    "inception_metrics",
    "load_inception",
    "metrics_from_features",
]

IMAGE_SIZE = 299
FEATURE_DIM = 2048
WEIGHTS_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
WEIGHTS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/" + WEIGHTS_FILE


def load_inception(weights_path, name="weights_path"):
    """InceptionV3 without its top, global-average pooled (`[n, 299, 299, 3]` -> `[n, 2048]`), weights from a file.

    Args:
        weights_path: an `.h5` / `.weights.h5` file of these weights, e.g.
            keras' `WEIGHTS_FILE` (`WEIGHTS_URL`).
        name: what error messages call the path (the CLI: `--inception_weights`).

    Raises:
        ValueError: one line naming `name`, if the file is missing or does
            not hold weights of this architecture.

    Example:

    >>> model = load_inception("inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5")  # doctest: +SKIP
    >>> load_inception("/nonexistent.h5", "--inception_weights")
    Traceback (most recent call last):
    ...
    ValueError: --inception_weights=/nonexistent.h5: no such file (InceptionV3 notop weights, e.g. ...).
    """
    path = os.fspath(weights_path) if weights_path is not None else ""
    if not path or not os.path.isfile(path):
        raise ValueError(f"{name}={path}: no such file (InceptionV3 notop weights, e.g. {WEIGHTS_URL}).")
    import keras

    model = keras.applications.InceptionV3(
        weights=None, include_top=False, pooling="avg", input_shape=(IMAGE_SIZE, IMAGE_SIZE, 3)
    )
    try:
        with warnings.catch_warnings():  # a wrong file: one warning per layer before the error
            warnings.filterwarnings("ignore", message="Skipping nested container")
            model.load_weights(path)
    except Exception as e:  # h5py's OSError, Keras' ValueError for another architecture or file type, ...
        raise ValueError(
            f"{name}={path} does not hold InceptionV3 notop weights (.h5 or .weights.h5): {first_line(e)}"
        ) from None
    return model


def inception_inputs(images, name="images"):
    """`images` (uint8 or float in [0, 1], `[n, h, w, 1 or 3]`) as InceptionV3 takes them: float32 `[n, 299, 299, 3]` in [-1, 1].

    Example:

    >>> x = inception_inputs(np.full((2, 28, 28, 1), 255, np.uint8))
    >>> x.shape, float(x.min()), float(x.max())
    ((2, 299, 299, 3), 1.0, 1.0)
    """
    import keras
    import tensorflow as tf

    x = as_float_images(images, name, shape=None)
    x = tf.image.resize(x, (IMAGE_SIZE, IMAGE_SIZE), method="bilinear")
    if x.shape[-1] == 1:
        x = tf.repeat(x, 3, axis=-1)
    x = keras.applications.inception_v3.preprocess_input(np.asarray(x) * 255.0)
    return np.clip(x, -1.0, 1.0).astype(np.float32)


def inception_features(images, model, batch_size=50, name="images"):
    """The 2048-d pool features `[n, 2048]` (float64) of `images` (see `inception_inputs`) under `model` (`load_inception`).

    Example:

    >>> model = load_inception(WEIGHTS_FILE)  # doctest: +SKIP
    >>> inception_features(np.zeros((3, 32, 32, 3), np.uint8), model).shape  # doctest: +SKIP
    (3, 2048)
    """
    images = np.asarray(images)
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}.")
    as_float_images(images, name, shape=None)  # a bad set fails before any forward pass
    features = []
    for i in range(0, len(images), int(batch_size)):
        x = inception_inputs(images[i : i + int(batch_size)], name)
        features.append(np.asarray(model(x, training=False), np.float64))
    return np.concatenate(features)


def metrics_from_features(features, reference_features, num_subsets=feature_metrics.KID_SUBSETS,
                          subset_size=feature_metrics.KID_SUBSET_SIZE, seed=0, **kwargs):
    """FID, KID (mean, std) and `feature_metrics.manifold_metrics` of two sets of features `[n, d]`.

    Args:
        features, reference_features: e.g. `inception_features` of samples and of real images.
        num_subsets, subset_size, seed: of `feature_metrics.kernel_distance`.
        **kwargs: passed to `feature_metrics.manifold_metrics` (the k's, `batch_size`).

    Returns:
        A JSON-ready dict: `fid`, `kid`, `kid_std`, `kid_subsets`,
        `kid_subset_size`, and `manifold_metrics`' keys.

    Example:

    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.normal(size=(200, 16)), rng.normal(size=(300, 16)) + 1
    >>> result = metrics_from_features(a, b, num_subsets=5)
    >>> round(result["fid"]), result["kid"] > 0, result["kid_subsets"], result["kid_subset_size"]  # FID: 16 + bias
    (18, True, 5, 200)
    """
    kid, kid_std, subsets, size = feature_metrics.kernel_distance(
        features, reference_features, num_subsets, subset_size, seed
    )
    return {
        "fid": frechet_distance(features, reference_features),
        "kid": kid,
        "kid_std": kid_std,
        "kid_subsets": subsets,
        "kid_subset_size": size,
        **feature_metrics.manifold_metrics(features, reference_features, **kwargs),
    }


def inception_metrics(images, reference_images, model, batch_size=50, **kwargs):
    """FID, KID, precision/recall and density/coverage of `images` against `reference_images` on Inception features.

    Args:
        images: the judged images (generator samples), uint8 or float in
            [0, 1], `[n, h, w, 1 or 3]`.
        reference_images: real images, likewise (any size: both are resized to 299x299).
        model: `load_inception(path)`.
        batch_size: images per forward pass.
        **kwargs: passed to `metrics_from_features`.

    Returns:
        `metrics_from_features`' dict.

    Example:

    >>> model = load_inception("inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5")  # doctest: +SKIP
    >>> print(inception_line(inception_metrics(samples, test_images, model)))  # doctest: +SKIP
    Inception features: FID 31.2, KID 0.0254 +/- 0.0011 (100 subsets of 1000), precision: 0.612, ...
    """
    features = inception_features(images, model, batch_size, "images")
    reference = inception_features(reference_images, model, batch_size, "reference_images")
    return metrics_from_features(features, reference, **kwargs)


def inception_line(result):
    """`inception_metrics`' dict on one line.

    Example:

    >>> print(inception_line({"fid": 31.24, "kid": 0.02541, "kid_std": 0.00112, "kid_subsets": 100,
    ...                       "kid_subset_size": 1000, "precision": 0.612, "recall": 0.4, "density": 0.8,
    ...                       "coverage": 0.7, "k_precision_recall": 3, "k_density_coverage": 5,
    ...                       "num_samples": 10000, "num_reference": 10000}))
    Inception features: FID 31.2, KID 0.0254 +/- 0.0011 (100 subsets of 1000), precision: 0.612, recall: 0.400 (k=3), density: 0.800, coverage: 0.700 (k=5) (10000 samples vs 10000 reference images)
    """
    manifold = feature_metrics.manifold_line(result)
    return (
        f"Inception features: FID {result['fid']:.3g}, KID {result['kid']:.3g} +/- {result['kid_std']:.2g} "
        f"({result['kid_subsets']} subsets of {result['kid_subset_size']}), {manifold[0].lower()}{manifold[1:]}"
    )
