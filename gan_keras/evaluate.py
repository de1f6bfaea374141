"""Parzen-window evaluation of a trained generator (the paper's Table 1).

Command line:

    python -m gan_keras.evaluate --model_dir=runs/mnist

restores the generator of a training run (its newest checkpoint, or
`--checkpoint`, or `MODEL_DIR/generator.keras` when there is no checkpoint),
runs the protocol of `gan_keras.parzen.parzen_evaluate`, prints the Table 1
line and writes `MODEL_DIR/parzen.json`. For 28x28x1 images it also scores the
same 10,000 samples with the MNIST classifier of `gan_keras.classifier`
(`gan_keras.classifier_metrics`: MNIST score, Frechet distance to the test
images, class coverage), stored under `classifier_metrics` in the JSON;
`--noclassifier_metrics` skips them.

During training, `ParzenCallback` and `ClassifierMetricsCallback` add their
estimates to the epoch logs.
"""

import datetime
import json
import os
import time

import numpy as np
from absl import app, flags

from gan_keras import classifier as classifier_lib
from gan_keras import classifier_metrics as metrics_lib
from gan_keras import cli
from gan_keras import data as data_lib
from gan_keras import parzen, restoring
from gan_keras.gan import num_classes
from gan_keras.periodic import EveryEpochs
from gan_keras.training import load_config

PROGRAM = "evaluate"
RESULT_FILE = "parzen.json"


def load_protocol_data(dataset="mnist", data_dir=None, num_valid=parzen.NUM_VALID, num_test=None):
    """`(test, valid)` uint8 images of the protocol: all test images, the first `num_valid` validation ones.

    For MNIST the validation images are train[50000:], so `valid` is
    train[50000:51000] by default, as in the authors' script.

    Example:

    >>> test, valid = load_protocol_data("mnist")  # doctest: +SKIP
    >>> test.shape, valid.shape  # doctest: +SKIP
    ((10000, 28, 28, 1), (1000, 28, 28, 1))
    """
    test = data_lib.load_images(dataset, "test", data_dir)
    valid = data_lib.load_images(dataset, "validation", data_dir)
    return test[:num_test], valid[:num_valid]


def write_json(path, obj):
    """Writes `obj` as JSON to `path` atomically (temp file + rename)."""
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


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


def evaluate_generator(restored, test, valid, classifier_metrics=None, dataset=None, **kwargs):
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
        **kwargs: passed to `parzen.parzen_evaluate` (`num_samples`,
            `sigmas`, `sigma`, `seed`, batch sizes).

    Returns:
        `parzen_evaluate`'s dict plus `epoch`, `source`, `ema` (whether
        the generator holds averaged weights; None for a `.keras` file,
        which says nothing of it), `seconds` (Parzen
        protocol time, sampling included), `date`, and either
        `classifier_metrics` (`classifier_metrics.classifier_metrics`' dict
        plus its `seconds`) or `classifier_metrics_skipped` (the reason).

    Example:

    >>> result = evaluate_generator(load_generator("runs/mnist"), *load_protocol_data())  # doctest: +SKIP
    >>> result["classifier_metrics"]["mnist_score"]  # doctest: +SKIP
    9.1...
    """
    if classifier_metrics not in (None, True, False):
        raise ValueError(f"classifier_metrics must be None (auto), True or False; got {classifier_metrics!r}.")
    num_samples = kwargs.pop("num_samples", parzen.NUM_SAMPLES)
    seed = kwargs.pop("seed", parzen.SAMPLE_SEED)
    start = time.perf_counter()
    samples = parzen.generator_samples(restored.generator, num_samples, seed)
    result = parzen.parzen_evaluate(
        samples, test, valid, num_samples=num_samples, seed=seed, num_valid=len(valid), **kwargs
    )
    result.update(
        epoch=restored.epoch,
        source=restored.source,
        ema=restored.ema,
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
        metrics = metrics_lib.classifier_metrics(
            samples, test, labels=conditional_labels(restored.generator, num_samples, seed)
        )
        metrics["seconds"] = round(time.perf_counter() - start, 2)
        result["classifier_metrics"] = metrics
    return result


def evaluate_restored(model_dir, test, valid, checkpoint=None, ema=True, **kwargs):
    """Restores a run's generator (its EMA, if averaged, unless `ema=False`) and runs the protocol on it.

    Returns:
        `(result, generator)`: `evaluate_generator`'s dict plus `model_dir`,
        and the restored generator.

    Example:

    >>> result, generator = evaluate_restored("runs/mnist", *load_protocol_data())  # doctest: +SKIP
    """
    restored = restoring.load_generator(model_dir, checkpoint, ema)
    result = evaluate_generator(restored, test, valid, **kwargs)
    result["model_dir"] = os.path.abspath(model_dir)
    return result, restored.generator


def evaluate_model_dir(
    model_dir=None,
    checkpoint=None,
    generator=None,
    data_dir=None,
    num_valid=parzen.NUM_VALID,
    num_test=None,
    ema=True,
    **kwargs,
):
    """Restores a run's generator, loads the protocol's data, and evaluates.

    Args:
        model_dir: the run's directory.
        checkpoint: a checkpoint path (default: the newest).
        generator: instead of `model_dir`, a generator `.keras` file (e.g.
            `pretrained/mnist/generator.keras`); a `config.json` beside it
            names its dataset (default: mnist).
        data_dir: TFDS data dir (default: the run's, then `$TFDS_DATA_DIR`).
        num_valid: validation images that choose sigma.
        num_test: test images scored (default: all); they are also the
            reference of the Frechet distance.
        ema: evaluate the averaged generator if the run kept one
            (`--ema_decay`); False: the trained weights themselves.
        **kwargs: passed to `evaluate_generator` (`classifier_metrics`) and
            `parzen.parzen_evaluate`.

    Returns:
        `evaluate_generator`'s result dict, plus `model_dir` and `dataset`.

    Example:

    >>> result = evaluate_model_dir("runs/mnist", num_samples=1000)  # doctest: +SKIP
    >>> result = evaluate_model_dir(generator="pretrained/mnist/generator.keras")  # doctest: +SKIP
    """
    if generator is not None:
        restored = restoring.load_generator_file(generator)
        model_dir = os.path.dirname(generator) or "."
    else:
        restored = restoring.load_generator(model_dir, checkpoint, ema)
    config = load_config(model_dir)
    dataset = config.dataset if config else "mnist"
    test, valid = load_protocol_data(
        dataset, data_dir or (config.data_dir if config else None), num_valid, num_test
    )
    result = evaluate_generator(restored, test, valid, dataset=dataset, **kwargs)
    result.update(model_dir=os.path.abspath(model_dir), dataset=dataset)
    return result


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
    (see `gan_keras.classifier_metrics`); Keras'
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


# ---------------------------------------------------------------- the CLI

def define_flags():
    """Defines the CLI's flags (only when run as a program: importing this
    module, e.g. for `ParzenCallback`, must not clash with train.py's flags)."""
    flags.DEFINE_string("model_dir", None, "A training run's directory (holds config.json).")
    flags.DEFINE_string(
        "generator", None, "Instead of --model_dir: a generator .keras file, e.g. pretrained/mnist/generator.keras."
    )
    flags.DEFINE_string("checkpoint", None, "Checkpoint to evaluate (default: the newest).")
    flags.DEFINE_string("data_dir", None, "TFDS data dir (default: the run's, then $TFDS_DATA_DIR).")
    flags.DEFINE_integer("num_samples", parzen.NUM_SAMPLES, "Generator samples used as kernel centres.")
    flags.DEFINE_float("sigma", None, "Fixed kernel width (default: chosen on validation data).")
    flags.DEFINE_list(
        "sigmas",
        [repr(float(s)) for s in parzen.DEFAULT_SIGMAS],
        "Candidate kernel widths (default: logspace(-1, 0, 10)).",
    )
    flags.DEFINE_bool(
        "ema",
        True,
        "Evaluate the averaged generator when the run kept one (train.py --ema_decay); "
        "--noema evaluates the trained weights themselves.",
    )
    flags.DEFINE_integer("num_valid", parzen.NUM_VALID, "Validation images that choose sigma.")
    flags.DEFINE_integer("num_test", None, "Test images scored (default: all).")
    flags.DEFINE_list("seed", [str(s) for s in parzen.SAMPLE_SEED], "Two ints: the noise seed of the samples.")
    flags.DEFINE_integer("batch_size", 500, "Test images per chunk (memory ~ 2 x batch x samples floats).")
    flags.DEFINE_string("output", None, f"Where to write the result (default: MODEL_DIR/{RESULT_FILE}).")
    flags.DEFINE_bool(
        "classifier_metrics",
        True,
        "Also score the samples with the MNIST classifier (MNIST score, Frechet distance to the "
        "test images, classes covered); 28x28x1 data only, skipped with a note for other shapes.",
    )

    flags.register_multi_flags_validator(
        ["model_dir", "generator"],
        lambda values: (values["model_dir"] is None) != (values["generator"] is None),
        "pass exactly one of --model_dir (a training run's directory) or --generator (a generator .keras file).",
    )
    flags.register_validator("num_samples", lambda v: v >= 1, "--num_samples must be >= 1.")
    flags.register_validator("num_valid", lambda v: v >= 1, "--num_valid must be >= 1.")
    flags.register_validator("num_test", lambda v: v is None or v >= 1, "--num_test must be >= 1.")
    flags.register_validator("batch_size", lambda v: v >= 1, "--batch_size must be >= 1.")
    flags.register_validator("sigma", lambda v: v is None or v > 0, "--sigma must be > 0.")
    flags.register_validator(
        "sigmas", lambda v: _all_positive_floats(v), "--sigmas must be a list of numbers > 0."
    )
    flags.register_validator(
        "seed", lambda v: len(v) == 2 and all(s.lstrip("-").isdigit() for s in v),
        "--seed must be two integers, e.g. --seed=2014,0.",
    )


FLAGS = flags.FLAGS


def _all_positive_floats(values):
    try:
        return len(values) > 0 and all(float(v) > 0 for v in values)
    except ValueError:
        return False


def _classifier_metrics_setting():
    """False if turned off; True if asked for (an error for other shapes); None by default (a note)."""
    if not FLAGS.classifier_metrics:
        return False
    return True if FLAGS["classifier_metrics"].present else None


def main(argv):
    del argv
    try:
        result = evaluate_model_dir(
            FLAGS.model_dir,
            checkpoint=FLAGS.checkpoint,
            generator=FLAGS.generator,
            ema=FLAGS.ema,
            data_dir=FLAGS.data_dir,
            num_valid=FLAGS.num_valid,
            num_test=FLAGS.num_test,
            num_samples=FLAGS.num_samples,
            sigmas=[float(s) for s in FLAGS.sigmas],
            sigma=FLAGS.sigma,
            seed=[int(s) for s in FLAGS.seed],
            batch_size=FLAGS.batch_size,
            classifier_metrics=_classifier_metrics_setting(),
        )
    except ValueError as e:
        cli.fail(PROGRAM, e)
    output = FLAGS.output or os.path.join(FLAGS.model_dir or os.path.dirname(FLAGS.generator), RESULT_FILE)
    write_json(output, result)
    print(parzen.table1_line(result))
    weights = {True: "averaged (EMA) weights", False: "trained weights", None: "the saved weights"}[result["ema"]]
    print(f"Generator: {weights} from {result['source']}, epoch {result['epoch']}.")
    if "classifier_metrics" in result:
        print(metrics_lib.result_line(result["classifier_metrics"]))
    elif FLAGS.classifier_metrics:
        print(result["classifier_metrics_skipped"])
    print(f"Wrote {output}.")


if __name__ == "__main__":
    define_flags()
    app.run(main, flags_parser=cli.flags_parser(PROGRAM))
