"""Parzen-window evaluation of a trained generator (the paper's Table 1).

Command line:

    python -m gan_keras.evaluate --model_dir=runs/mnist

restores the generator of a training run (its newest checkpoint, or
`--checkpoint`, or `MODEL_DIR/generator.keras` when there is no checkpoint),
runs the protocol of `gan_keras.evaluation.parzen.parzen_evaluate`, prints the Table 1
line and writes `MODEL_DIR/parzen.json`. For 28x28x1 images it also scores the
same 10,000 samples with the MNIST classifier of `gan_keras.evaluation.classifier`
(`gan_keras.evaluation.classifier_metrics`: MNIST score, Frechet distance to the test
images, class coverage), stored under `classifier_metrics` in the JSON;
`--noclassifier_metrics` skips them. With them come precision/recall and
density/coverage on the classifier's features (`gan_keras.evaluation.feature_metrics`,
under `classifier_manifold_metrics`; `--nomanifold_metrics` skips them).
`--inception_weights=PATH` (a local InceptionV3 notop weights file; nothing is
downloaded) adds FID, KID and precision/recall/density/coverage on Inception-v3
features (`gan_keras.evaluation.inception`, under `inception_metrics`), for any
image shape.

During training, `ParzenCallback` and `ClassifierMetricsCallback` add their
estimates to the epoch logs.
"""

import math
import os
import re

from absl import app, flags

from gan_keras.evaluation import classifier_metrics as metrics_lib
from gan_keras.evaluation import feature_metrics, inception, parzen
from gan_keras.evaluation.protocol import evaluate_generator, load_protocol_data
from gan_keras.training import load_config, restoring
from gan_keras.utils import cli
from gan_keras.utils.storage import write_json

__all__ = [
    "PROGRAM",
    "RESULT_FILE",
    "evaluate_model_dir",
    "evaluate_restored",
    "run_main",
]

PROGRAM = "evaluate"
RESULT_FILE = "parzen.json"


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
    num_valid=None,
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
        num_valid: validation images that choose sigma (default: 1,000,
            or all if the dataset has fewer).
        num_test: test images scored (default: all); they are also the
            reference of the Frechet distance. Either is refused (a
            `ValueError`) if the dataset has fewer.
        ema: evaluate the averaged generator if the run kept one
            (`--ema_decay`); False: the trained weights themselves.
        **kwargs: passed to `evaluate_generator` (`classifier_metrics`,
            `manifold_metrics`, `inception_model`) and
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

# ---------------------------------------------------------------- the CLI

def define_flags():
    """Defines the CLI's flags (only when run as a program: importing this
    module, e.g. for `ParzenCallback`, must not clash with train.py's flags)."""
    flags.DEFINE_string("model_dir", None, "A training run's directory (holds config.json).")
    flags.DEFINE_string(
        "generator", None, "Instead of --model_dir: a generator .keras file, e.g. pretrained/mnist/generator.keras."
    )
    flags.DEFINE_string(
        "checkpoint",
        None,
        "With --model_dir: the checkpoint to evaluate, e.g. runs/mnist/checkpoints/ckpt-10 (default: the newest).",
    )
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
    flags.DEFINE_integer(
        "num_valid", None, f"Validation images that choose sigma (default: {parzen.NUM_VALID}, or all if fewer)."
    )
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
    flags.DEFINE_bool(
        "manifold_metrics",
        True,
        "With the classifier metrics: precision/recall (k=3) and density/coverage (k=5) of the samples' "
        "MNIST classifier features against the test images' (~10 s for 10,000 vs 10,000).",
    )
    flags.DEFINE_string(
        "inception_weights",
        None,
        "A local InceptionV3 notop weights file (.h5, e.g. keras' "
        f"{inception.WEIGHTS_FILE} from {inception.WEIGHTS_URL}): adds FID, KID and "
        "precision/recall/density/coverage on Inception-v3 pool features (any image shape). "
        "Nothing is downloaded.",
    )

    flags.register_multi_flags_validator(
        ["model_dir", "generator"],
        lambda values: (values["model_dir"] is None) != (values["generator"] is None),
        "pass exactly one of --model_dir (a training run's directory) or --generator (a generator .keras file).",
    )
    flags.register_multi_flags_validator(
        ["checkpoint", "ema", "generator"],
        lambda values: values["generator"] is None or (values["checkpoint"] is None and values["ema"]),
        restoring.GENERATOR_FILE_OPTIONS,
    )
    flags.register_validator("num_samples", lambda v: v >= 1, "--num_samples must be >= 1.")
    flags.register_validator("num_valid", lambda v: v is None or v >= 1, "--num_valid must be >= 1.")
    flags.register_validator("num_test", lambda v: v is None or v >= 1, "--num_test must be >= 1.")
    flags.register_validator("batch_size", lambda v: v >= 1, "--batch_size must be >= 1.")
    flags.register_validator("sigma", lambda v: v is None or math.isfinite(v), "--sigma must be a finite number > 0.")
    flags.register_validator("sigma", lambda v: v is None or v > 0, "--sigma must be > 0.")
    flags.register_validator(
        "sigmas", lambda v: _all_positive_floats(v), "--sigmas must be a list of finite numbers > 0."
    )
    flags.register_validator(
        "seed", lambda v: len(v) == 2 and all(re.fullmatch(r"-?[0-9]+", s) for s in v),
        "--seed must be two integers, e.g. --seed=2014,0.",
    )


FLAGS = flags.FLAGS


def _all_positive_floats(values):
    try:
        return len(values) > 0 and all(0 < float(v) < math.inf for v in values)
    except ValueError:
        return False


def _classifier_metrics_setting():
    """False if turned off; True if asked for (an error for other shapes); None by default (a note)."""
    if not FLAGS.classifier_metrics:
        return False
    return True if FLAGS["classifier_metrics"].present else None


def main(argv):
    del argv
    if FLAGS.output is not None:
        cli.check_output_file(PROGRAM, "--output", FLAGS.output)
    cli.check_input_dir(PROGRAM, "--data_dir", FLAGS.data_dir)
    try:
        inception_model = (
            inception.load_inception(FLAGS.inception_weights, "--inception_weights")
            if FLAGS.inception_weights is not None
            else None
        )
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
            manifold_metrics=FLAGS.manifold_metrics,
            inception_model=inception_model,
        )
        if inception_model is not None:
            result["inception_metrics"]["weights"] = os.path.abspath(FLAGS.inception_weights)
    except ValueError as e:
        cli.fail(PROGRAM, e)
    output = FLAGS.output or os.path.join(FLAGS.model_dir or os.path.dirname(FLAGS.generator), RESULT_FILE)
    write_json(output, result)
    print(parzen.table1_line(result))
    weights = {True: "averaged (EMA) weights", False: "trained weights", None: "the saved weights"}[result["ema"]]
    epoch = "" if result["epoch"] is None else f", epoch {result['epoch']}"  # a .keras file records none
    print(f"Generator: {weights} from {result['source']}{epoch}.")
    if "classifier_metrics" in result:
        print(metrics_lib.result_line(result["classifier_metrics"]))
    elif FLAGS.classifier_metrics:
        print(result["classifier_metrics_skipped"])
    if "classifier_manifold_metrics" in result:
        print(feature_metrics.manifold_line(result["classifier_manifold_metrics"], "MNIST classifier features"))
    if "inception_metrics" in result:
        print(inception.inception_line(result["inception_metrics"]))
    print(f"Wrote {output}.")



def run_main():
    """The console script; `python -m gan_keras.evaluate` runs it too."""
    define_flags()
    app.run(main, flags_parser=cli.flags_parser(PROGRAM))


if __name__ == "__main__":
    run_main()
