"""The Parzen-window protocol of Table 1 and the classifier metrics, on one generator's samples.

`evaluate_generator` draws the samples once and scores them both ways (and,
if asked, with precision/recall and density/coverage on the classifier's
features, and FID/KID/precision-recall on Inception-v3 features); the
`gan-keras-evaluate` command (`gan_keras.cli.evaluate`) runs it on a
training run's generator.
"""

import datetime
import time

import numpy as np

from gan_keras import data as data_lib
from gan_keras.evaluation import classifier as classifier_lib
from gan_keras.evaluation import classifier_metrics as metrics_lib
from gan_keras.evaluation import feature_metrics, inception, parzen
from gan_keras.nets.gan import num_classes

__all__ = [
    "classifier_metrics_skip_reason",
    "conditional_labels",
    "evaluate_generator",
    "evaluate_samples",
    "load_protocol_data",
]


def load_protocol_data(dataset="mnist", data_dir=None, num_valid=None, num_test=None):
    """`(test, valid)` uint8 images of the protocol: the first `num_test` test images, the first `num_valid` validation ones.

    For MNIST the validation images are train[50000:], so `valid` is
    train[50000:51000] by default, as in the authors' script.

    Args:
        dataset: a dataset name (see `gan_keras.data`).
        data_dir: the TFDS data dir (default: `$TFDS_DATA_DIR`).
        num_valid: validation images (default: the protocol's 1,000, or all
            of them if the split has fewer).
        num_test: test images (default: all).

    Raises:
        ValueError: `num_test` or `num_valid` is more than the split holds,
            naming the flag and the split's size.

    Example:

    >>> test, valid = load_protocol_data("mnist")  # doctest: +SKIP
    >>> test.shape, valid.shape  # doctest: +SKIP
    ((10000, 28, 28, 1), (1000, 28, 28, 1))
    """
    test = data_lib.load_images(dataset, "test", data_dir)
    valid = data_lib.load_images(dataset, "validation", data_dir)
    for flag, count, images, split in (
        ("--num_test", num_test, test, "test"),
        ("--num_valid", num_valid, valid, "validation"),
    ):
        if count is not None and not 1 <= count <= len(images):
            raise ValueError(f"{flag}={count}: {dataset} has {len(images)} {split} images; pass 1 to {len(images)}.")
    return test[:num_test], valid[: parzen.NUM_VALID if num_valid is None else num_valid]


def classifier_metrics_skip_reason(image_shape, dataset=None):
    """Why the classifier metrics cannot be computed for `image_shape` images, or None.

    Example:

    >>> classifier_metrics_skip_reason((32, 32, 3), "cifar10")
    'classifier metrics skipped: the MNIST classifier needs 28x28x1 images; cifar10 has 32x32x3.'
    """
    image_shape = tuple(int(d) for d in image_shape)
    if image_shape == classifier_lib.IMAGE_SHAPE:
        return None
    return (
        "classifier metrics skipped: the MNIST classifier needs 28x28x1 images; "
        f"{dataset or 'the data'} has {'x'.join(str(d) for d in image_shape)}."
    )


def conditional_labels(generator, num_samples, seed):
    """The labels a conditional generator's `num_samples` samples from `seed` were drawn for, else None."""
    if not num_classes(generator):
        return None
    return np.asarray(generator.sample_inputs(int(num_samples), np.asarray(seed, np.int32))[1])


def evaluate_generator(
    restored, test, valid, classifier_metrics=None, dataset=None, manifold_metrics=False, inception_model=None,
    **kwargs,
):
    """Runs the protocol on a restored generator (`restoring.load_generator`).

    The generator's samples (`num_samples`, drawn with `seed`) are drawn once
    and serve as the Parzen centres and, for 28x28x1 images, as the images
    the classifier metrics judge, with `test` as the Frechet distance's
    reference.

    Args:
        restored: a `restoring.Restored`.
        test, valid: the protocol's images (`load_protocol_data`); all of
            `valid` is used to choose sigma.
        classifier_metrics: None (default): computed for 28x28x1 images,
            skipped with a note otherwise; True: required (a `ValueError`
            for other shapes); False: skipped.
        dataset: the dataset's name, for the note when they are skipped.
        manifold_metrics: with the classifier metrics, also precision,
            recall, density and coverage of the samples' classifier features
            against `test`'s (`feature_metrics.manifold_metrics`).
        inception_model: an `inception.load_inception` model: adds FID, KID
            and precision/recall/density/coverage on its features, samples
            against `test` (any image shape).
        **kwargs: passed to `parzen.parzen_evaluate` (`num_samples`,
            `sigmas`, `sigma`, `seed`, batch sizes).

    Returns:
        `parzen_evaluate`'s dict plus `epoch`, `source`, `ema` (whether
        the generator holds averaged weights; None for a `.keras` file,
        which says nothing of it), `seconds` (Parzen
        protocol time, sampling included), `date`, and either
        `classifier_metrics` (`classifier_metrics.classifier_metrics`' dict
        plus its `seconds`) or `classifier_metrics_skipped` (the reason);
        with `manifold_metrics`, `classifier_manifold_metrics`
        (`manifold_metrics`' dict and `seconds`); with `inception_model`,
        `inception_metrics` (`inception.metrics_from_features`' dict and
        `seconds`).

    Example:

    >>> result = evaluate_generator(load_generator("runs/mnist"), *load_protocol_data())  # doctest: +SKIP
    >>> result["classifier_metrics"]["mnist_score"]  # doctest: +SKIP
    9.1...
    """
    num_samples = kwargs.pop("num_samples", parzen.NUM_SAMPLES)
    seed = kwargs.pop("seed", parzen.SAMPLE_SEED)
    start = time.perf_counter()
    samples = parzen.generator_samples(restored.generator, num_samples, seed)
    seconds = time.perf_counter() - start
    result = evaluate_samples(
        samples, test, valid, classifier_metrics, dataset, manifold_metrics, inception_model,
        labels=conditional_labels(restored.generator, num_samples, seed), seed=seed, **kwargs,
    )
    result.update(
        epoch=restored.epoch,
        source=restored.source,
        ema=restored.ema,
        seconds=round(result["seconds"] + seconds, 2),
    )
    return result


def evaluate_samples(
    samples, test, valid, classifier_metrics=None, dataset=None, manifold_metrics=False, inception_model=None,
    labels=None, **kwargs,
):
    """Runs the protocol on given samples (all of them are the Parzen centres).

    What `evaluate_generator` does once it has drawn its samples, for
    samples from elsewhere (another implementation, a saved array).

    Args:
        samples: `[N, ...]` images in [0, 1].
        labels: the class each sample was drawn for (conditional models),
            for the classifier's label accuracy; None otherwise.
        test, valid, classifier_metrics, dataset, manifold_metrics,
        inception_model, **kwargs: as for `evaluate_generator`.

    Returns:
        `parzen_evaluate`'s dict plus `seconds` (the Parzen protocol's),
        `date` and the metrics `evaluate_generator` lists.

    Example:

    >>> result = evaluate_samples(np.load("samples.npy"), *load_protocol_data())  # doctest: +SKIP
    >>> result["classifier_metrics"]["classes_covered"]  # doctest: +SKIP
    10
    """
    if classifier_metrics not in (None, True, False):
        raise ValueError(f"classifier_metrics must be None (auto), True or False; got {classifier_metrics!r}.")
    samples = np.asarray(samples)
    start = time.perf_counter()
    result = parzen.parzen_evaluate(samples, test, valid, num_samples=len(samples), num_valid=len(valid), **kwargs)
    result.update(
        seconds=round(time.perf_counter() - start, 2),
        date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    )
    skip = classifier_metrics_skip_reason(samples.shape[1:], dataset)
    if classifier_metrics is False:
        result["classifier_metrics_skipped"] = "classifier metrics skipped: turned off."
    elif skip and classifier_metrics:
        raise ValueError(skip.replace("classifier metrics skipped", "--classifier_metrics"))
    elif skip:
        result["classifier_metrics_skipped"] = skip
    else:
        start = time.perf_counter()
        classifier = classifier_lib.load_classifier()
        probs, features = metrics_lib.classifier_outputs(samples, classifier)
        _, reference = metrics_lib.classifier_outputs(test, classifier, name="reference_images")
        metrics = metrics_lib.metrics_from_outputs(probs, features, reference, labels=labels)
        metrics["seconds"] = round(time.perf_counter() - start, 2)
        result["classifier_metrics"] = metrics
        if manifold_metrics:
            start = time.perf_counter()
            manifold = feature_metrics.manifold_metrics(features, reference)
            result["classifier_manifold_metrics"] = {**manifold, "seconds": round(time.perf_counter() - start, 2)}
    if inception_model is not None:
        start = time.perf_counter()
        features = inception.inception_features(samples, inception_model, name="samples")
        reference = inception.inception_features(test, inception_model, name="reference_images")
        metrics = inception.metrics_from_features(features, reference)
        result["inception_metrics"] = {**metrics, "seconds": round(time.perf_counter() - start, 2)}
    return result

