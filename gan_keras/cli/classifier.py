"""`gan-keras-classifier --output=gan_keras/assets/mnist_classifier.keras`: trains the shipped MNIST classifier."""

import json
import math
import os
import time

from absl import app, flags

from gan_keras import data as data_lib
from gan_keras.evaluation.classifier import CLASSIFIER_FILE, accuracy, save_classifier, train_classifier
from gan_keras.utils import cli
from gan_keras.utils.cli import flags_parser

__all__ = [
    "PROGRAM",
    "run_main",
]

PROGRAM = "classifier"


def define_flags():
    flags.DEFINE_string("output", CLASSIFIER_FILE, "Where to write the trained classifier (.keras).")
    flags.DEFINE_string("data_dir", None, "TFDS data dir holding mnist (default: $TFDS_DATA_DIR).")
    flags.DEFINE_integer("epochs", 6, "Passes over the 60,000 training images.")
    flags.DEFINE_integer("batch_size", 128, "Minibatch size.")
    flags.DEFINE_float("learning_rate", 1e-3, "Adam's initial learning rate (cosine decay to 0).")
    flags.DEFINE_integer("seed", 0, "Seed of the initialisation, dropout and shuffling.")
    flags.register_validator("epochs", lambda v: v >= 1, "--epochs must be >= 1.")
    flags.register_validator("batch_size", lambda v: v >= 1, "--batch_size must be >= 1.")
    flags.register_validator("learning_rate", math.isfinite, "--learning_rate must be a finite number > 0.")
    flags.register_validator("learning_rate", lambda v: v > 0, "--learning_rate must be > 0.")
    flags.register_validator(
        "output", lambda v: bool(v) and v.endswith(".keras"), "--output must be a path ending in .keras."
    )


FLAGS = flags.FLAGS


def main(argv):
    del argv
    cli.check_output_file(PROGRAM, "--output", FLAGS.output)
    cli.check_input_dir(PROGRAM, "--data_dir", FLAGS.data_dir)
    try:
        test_images, test_labels = data_lib.load_labelled_images("mnist", "test", FLAGS.data_dir)
        start = time.perf_counter()
        model = train_classifier(
            epochs=FLAGS.epochs,
            batch_size=FLAGS.batch_size,
            learning_rate=FLAGS.learning_rate,
            seed=FLAGS.seed,
            data_dir=FLAGS.data_dir,
            verbose=2,
        )
        seconds = time.perf_counter() - start
    except ValueError as e:
        cli.fail(PROGRAM, cli.first_line(e))
    test_accuracy = accuracy(model, test_images, test_labels)
    save_classifier(model, FLAGS.output)
    summary = {
        "test_accuracy": round(test_accuracy, 4),
        "training_seconds": round(seconds, 1),
        "epochs": FLAGS.epochs,
        "seed": FLAGS.seed,
        "output": os.path.abspath(FLAGS.output),
        "bytes": os.path.getsize(FLAGS.output),
    }
    print(json.dumps(summary))
    print(f"Test accuracy {test_accuracy:.4f} after {seconds:.0f} s; wrote {FLAGS.output}.")


def run_main():
    """The console script; also `python -m gan_keras.cli.classifier`."""
    define_flags()
    app.run(main, flags_parser=flags_parser(PROGRAM))


if __name__ == "__main__":
    run_main()
