"""Parzen-window evaluation of a trained generator (the paper's Table 1).

Command line:

    python -m gan_keras.evaluate --model_dir=runs/mnist

restores the generator of a training run (its newest checkpoint, or
`--checkpoint`, or `MODEL_DIR/generator.keras` when there is no checkpoint),
runs the protocol of `gan_keras.parzen.parzen_evaluate`, prints the Table 1
line and writes `MODEL_DIR/parzen.json`.

During training, `ParzenCallback` adds the estimate to the epoch logs.
"""

import datetime
import json
import os
import time

import keras
import numpy as np
from absl import app, flags

from gan_keras import cli
from gan_keras import data as data_lib
from gan_keras import parzen, restoring
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


def evaluate_generator(restored, test, valid, **kwargs):
    """Runs the protocol on a restored generator (`restoring.load_generator`).

    Args:
        restored: a `restoring.Restored`.
        test, valid: the protocol's images (`load_protocol_data`); all of
            `valid` is used to choose sigma.
        **kwargs: passed to `parzen.parzen_evaluate` (`num_samples`,
            `sigmas`, `sigma`, `seed`, batch sizes).

    Returns:
        `parzen_evaluate`'s dict plus `epoch`, `source`, `seconds` (protocol
        time, sampling included) and `date`.

    Example:

    >>> result = evaluate_generator(load_generator("runs/mnist"), *load_protocol_data())  # doctest: +SKIP
    """
    start = time.perf_counter()
    result = parzen.parzen_evaluate(restored.generator, test, valid, num_valid=len(valid), **kwargs)
    result.update(
        epoch=restored.epoch,
        source=restored.source,
        seconds=round(time.perf_counter() - start, 2),
        date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    )
    return result


def evaluate_restored(model_dir, test, valid, checkpoint=None, **kwargs):
    """Restores a run's generator and runs the protocol on it.

    Returns:
        `(result, generator)`: `evaluate_generator`'s dict plus `model_dir`,
        and the restored generator.

    Example:

    >>> result, generator = evaluate_restored("runs/mnist", *load_protocol_data())  # doctest: +SKIP
    """
    restored = restoring.load_generator(model_dir, checkpoint)
    result = evaluate_generator(restored, test, valid, **kwargs)
    result["model_dir"] = os.path.abspath(model_dir)
    return result, restored.generator


def evaluate_model_dir(
    model_dir, checkpoint=None, data_dir=None, num_valid=parzen.NUM_VALID, num_test=None, **kwargs
):
    """Restores a run's generator, loads the protocol's data, and evaluates.

    Args:
        model_dir: the run's directory.
        checkpoint: a checkpoint path (default: the newest).
        data_dir: TFDS data dir (default: the run's, then `$TFDS_DATA_DIR`).
        num_valid: validation images that choose sigma.
        num_test: test images scored (default: all).
        **kwargs: passed to `parzen.parzen_evaluate`.

    Returns:
        `evaluate_generator`'s result dict, plus `model_dir` and `dataset`.

    Example:

    >>> result = evaluate_model_dir("runs/mnist", num_samples=1000)  # doctest: +SKIP
    """
    restored = restoring.load_generator(model_dir, checkpoint)
    config = load_config(model_dir)
    dataset = config.dataset if config else "mnist"
    test, valid = load_protocol_data(
        dataset, data_dir or (config.data_dir if config else None), num_valid, num_test
    )
    result = evaluate_generator(restored, test, valid, **kwargs)
    result.update(model_dir=os.path.abspath(model_dir), dataset=dataset)
    return result


class ParzenCallback(keras.callbacks.Callback):
    """Adds the Parzen estimate to the epoch logs every `every_epochs` epochs.

    The log key states the number of centres, e.g. `parzen_ll_1000samples`
    (an estimate from 1,000 samples is lower than the 10,000-sample one of
    Table 1, so the two must not be confused). Keras' TensorBoard and
    CSVLogger pick it up if this callback comes before them in the list.
    The estimate is also made after the first epoch of each `fit`, so that
    CSVLogger, which takes its columns from the first epoch, has the column.

    Args:
        generator: the `Generator` to evaluate, or None for `model.generator`
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
        super().__init__()
        if int(every_epochs) < 1:
            raise ValueError(f"every_epochs must be >= 1; got {every_epochs}.")
        if int(num_samples) < 1:
            raise ValueError(f"num_samples must be >= 1; got {num_samples}.")
        parzen.check_sigmas(sigmas)
        self.generator = generator
        self.valid = np.asarray(valid)[:num_valid]
        self.test = np.asarray(test)[:num_test]
        self.every_epochs = int(every_epochs)
        self.num_samples = int(num_samples)
        self.sigmas = sigmas
        self.seed = seed
        self.key = f"parzen_ll_{self.num_samples}samples"
        self._first_epoch = True

    def on_train_begin(self, logs=None):
        self._first_epoch = True

    def on_epoch_end(self, epoch, logs=None):
        due = self._first_epoch or (epoch + 1) % self.every_epochs == 0
        self._first_epoch = False
        if not due or logs is None:
            return
        generator = self.generator if self.generator is not None else self.model.generator
        result = parzen.parzen_evaluate(
            generator,
            self.test,
            self.valid,
            num_samples=self.num_samples,
            sigmas=self.sigmas,
            num_valid=len(self.valid),
            seed=self.seed,
        )
        logs[self.key] = result["log_likelihood"]


# ---------------------------------------------------------------- the CLI

def define_flags():
    """Defines the CLI's flags (only when run as a program: importing this
    module, e.g. for `ParzenCallback`, must not clash with train.py's flags)."""
    flags.DEFINE_string("model_dir", None, "A training run's directory (holds config.json).")
    flags.DEFINE_string("checkpoint", None, "Checkpoint to evaluate (default: the newest).")
    flags.DEFINE_string("data_dir", None, "TFDS data dir (default: the run's, then $TFDS_DATA_DIR).")
    flags.DEFINE_integer("num_samples", parzen.NUM_SAMPLES, "Generator samples used as kernel centres.")
    flags.DEFINE_float("sigma", None, "Fixed kernel width (default: chosen on validation data).")
    flags.DEFINE_list(
        "sigmas",
        [repr(float(s)) for s in parzen.DEFAULT_SIGMAS],
        "Candidate kernel widths (default: logspace(-1, 0, 10)).",
    )
    flags.DEFINE_integer("num_valid", parzen.NUM_VALID, "Validation images that choose sigma.")
    flags.DEFINE_integer("num_test", None, "Test images scored (default: all).")
    flags.DEFINE_list("seed", [str(s) for s in parzen.SAMPLE_SEED], "Two ints: the noise seed of the samples.")
    flags.DEFINE_integer("batch_size", 500, "Test images per chunk (memory ~ 2 x batch x samples floats).")
    flags.DEFINE_string("output", None, f"Where to write the result (default: MODEL_DIR/{RESULT_FILE}).")

    flags.mark_flag_as_required("model_dir")
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


def main(argv):
    del argv
    try:
        result = evaluate_model_dir(
            FLAGS.model_dir,
            checkpoint=FLAGS.checkpoint,
            data_dir=FLAGS.data_dir,
            num_valid=FLAGS.num_valid,
            num_test=FLAGS.num_test,
            num_samples=FLAGS.num_samples,
            sigmas=[float(s) for s in FLAGS.sigmas],
            sigma=FLAGS.sigma,
            seed=[int(s) for s in FLAGS.seed],
            batch_size=FLAGS.batch_size,
        )
    except ValueError as e:
        cli.fail(PROGRAM, e)
    output = FLAGS.output or os.path.join(FLAGS.model_dir, RESULT_FILE)
    write_json(output, result)
    print(parzen.table1_line(result))
    print(f"Wrote {output}.")


if __name__ == "__main__":
    define_flags()
    app.run(main, flags_parser=cli.flags_parser(PROGRAM))
