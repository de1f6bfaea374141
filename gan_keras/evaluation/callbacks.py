"""Keras callbacks that add the Parzen estimate and the classifier metrics to the epoch logs."""

import numpy as np

from gan_keras.evaluation import classifier as classifier_lib
from gan_keras.evaluation import classifier_metrics as metrics_lib
from gan_keras.evaluation import parzen
from gan_keras.evaluation.protocol import conditional_labels
from gan_keras.utils.periodic import EveryEpochs

__all__ = [
    "ClassifierMetricsCallback",
    "ParzenCallback",
]


class ParzenCallback(EveryEpochs):
    """Adds the Parzen estimate to the epoch logs every `every_epochs` epochs.

    The log key states the number of centres, e.g. `parzen_ll_1000samples`
    (an estimate from 1,000 samples is lower than the 10,000-sample one of
    Table 1, so the two must not be confused). Keras' TensorBoard and
    CSVLogger pick it up if this callback comes before them in the list.
    The estimate is also made after the first epoch of each `fit`, so that
    CSVLogger, which takes its columns from the first epoch, has the column.

    Args:
        generator: the `Generator` to evaluate, or None for `inference_generator`
            of the model being trained (a `GAN`).
        valid: validation images; the first `num_valid` choose sigma.
        test: the images scored (the first `num_test`; default all).
        every_epochs: evaluate when `(epoch + 1) % every_epochs == 0`.
        num_samples: generator samples used as centres.
        sigmas, num_valid, seed: as in `parzen.parzen_evaluate`.
        num_test: test images scored (default: all of `test`).

    Example:

    >>> callback = ParzenCallback(None, valid, test, every_epochs=10)  # doctest: +SKIP
    >>> gan.fit(data, epochs=100, callbacks=[callback, keras.callbacks.CSVLogger("log.csv")])  # doctest: +SKIP
    """

    def __init__(
        self,
        generator,
        valid,
        test,
        every_epochs=1,
        num_samples=1000,
        sigmas=parzen.DEFAULT_SIGMAS,
        num_valid=parzen.NUM_VALID,
        num_test=None,
        seed=parzen.SAMPLE_SEED,
    ):
        super().__init__(every_epochs, generator)
        if int(num_samples) < 1:
            raise ValueError(f"num_samples must be >= 1; got {num_samples}.")
        parzen.check_sigmas(sigmas)
        self.valid = np.asarray(valid)[:num_valid]
        self.test = np.asarray(test)[:num_test]
        self.num_samples = int(num_samples)
        self.sigmas = sigmas
        self.seed = seed
        self.key = f"parzen_ll_{self.num_samples}samples"

    def on_epoch_end(self, epoch, logs=None):
        if not self.due(epoch) or logs is None:
            return
        result = parzen.parzen_evaluate(
            self.target_generator(),
            self.test,
            self.valid,
            num_samples=self.num_samples,
            sigmas=self.sigmas,
            num_valid=len(self.valid),
            seed=self.seed,
        )
        logs[self.key] = result["log_likelihood"]


class ClassifierMetricsCallback(EveryEpochs):
    """Adds the classifier metrics to the epoch logs every `every_epochs` epochs.

    The keys are `mnist_score`, `frechet_distance` (to `reference_images`)
    and `classes_covered`, plus `label_accuracy` for a conditional generator
    (see `gan_keras.evaluation.classifier_metrics`); Keras'
    TensorBoard and CSVLogger pick them up (TensorBoard as `epoch_mnist_score`,
    ...) if this callback comes before them in the list. With the defaults
    (10,000 samples drawn with `parzen.SAMPLE_SEED`, the 10,000 test images
    as reference) the numbers are those `python -m gan_keras.evaluate`
    reports for the same generator. As `ParzenCallback`, it also runs after
    the first epoch of each `fit` (for CSVLogger's columns). If the samples
    are not finite (a diverged generator) the values are NaN.

    Args:
        generator: the `Generator` to evaluate (28x28x1 images), or None for
            `inference_generator` of the model being trained (a `GAN`).
        reference_images: real images for the Frechet distance, uint8 or
            float in [0, 1], `[n, 28, 28, 1]` (their features are computed
            once, here).
        every_epochs: evaluate when `(epoch + 1) % every_epochs == 0`.
        num_samples: generator samples judged.
        seed: `[2]` stateless seed of the samples' noise.
        threshold: fraction of the samples a digit needs to be covered.
        classifier: default: the shipped `classifier.load_classifier()`.

    Example:

    >>> test = data.load_images("mnist", "test")  # doctest: +SKIP
    >>> callback = ClassifierMetricsCallback(None, test, every_epochs=10)  # doctest: +SKIP
    >>> gan.fit(data, epochs=100, callbacks=[callback, keras.callbacks.TensorBoard("logs")])  # doctest: +SKIP
    """

    KEYS = ("mnist_score", "frechet_distance", "classes_covered")

    def __init__(
        self,
        generator,
        reference_images,
        every_epochs=1,
        num_samples=parzen.NUM_SAMPLES,
        seed=parzen.SAMPLE_SEED,
        threshold=metrics_lib.DEFAULT_THRESHOLD,
        classifier=None,
    ):
        super().__init__(every_epochs, generator)
        if int(num_samples) < 2:
            raise ValueError(f"num_samples must be >= 2 (a covariance is estimated); got {num_samples}.")
        if not 0 < float(threshold) <= 1:
            raise ValueError(f"threshold must be in (0, 1]; got {threshold}.")
        self.classifier = classifier if classifier is not None else classifier_lib.load_classifier()
        _, self.reference_features = metrics_lib.classifier_outputs(
            reference_images, self.classifier, name="reference_images"
        )
        if len(self.reference_features) < 2:
            raise ValueError("reference_images must hold at least 2 images (a covariance is estimated).")
        self.num_samples = int(num_samples)
        self.seed = seed
        self.threshold = float(threshold)

    def on_epoch_end(self, epoch, logs=None):
        if not self.due(epoch) or logs is None:
            return
        generator = self.target_generator()
        samples = parzen.generator_samples(generator, self.num_samples, self.seed)
        if not np.all(np.isfinite(samples)):
            logs.update({key: float("nan") for key in self.KEYS})
            return
        probs, features = metrics_lib.classifier_outputs(samples, self.classifier, name="generator samples")
        labels = conditional_labels(generator, self.num_samples, self.seed)
        result = metrics_lib.metrics_from_outputs(
            probs, features, self.reference_features, self.threshold, labels
        )
        logs.update({key: result[key] for key in (*self.KEYS, "label_accuracy") if key in result})
