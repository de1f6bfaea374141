"""`gan-keras-theory --out=docs [--seed=0] [--nomnist]`: the theory checks of docs/theory.md and Fig. 1."""

import os

import tensorflow as tf
from absl import app, flags

from gan_keras.paper.theory import DSTAR_FILE, FIG1_FILE, GRADIENTS_FILE, RESULTS_FILE, TheoryError, run_all
from gan_keras.utils.cli import check_input_dir, check_output_dir, fail, first_line, flags_parser

__all__ = [
    "PROGRAM",
    "run_main",
]

PROGRAM = "gan-keras-theory"


def define_flags():
    flags.DEFINE_string("out", "docs", "Output dir of the PNGs and theory_results.json.")
    flags.DEFINE_integer("seed", 0, "Seed of the weights, noise and data samples.")
    flags.DEFINE_bool("mnist", True, "Also measure the gradients on the paper's MNIST models.")
    flags.DEFINE_string("data_dir", None, "TFDS data dir holding mnist (default: $TFDS_DATA_DIR).")


def main(argv):
    del argv
    f = flags.FLAGS
    check_output_dir(PROGRAM, "--out", f.out)
    check_input_dir(PROGRAM, "--data_dir", f.data_dir)
    try:
        os.makedirs(f.out, exist_ok=True)
        run_all(f.out, seed=f.seed, mnist=f.mnist, data_dir=f.data_dir)
    except (TheoryError, OSError, tf.errors.OpError) as e:
        fail(PROGRAM, first_line(e))
    for name in (DSTAR_FILE, GRADIENTS_FILE, FIG1_FILE, RESULTS_FILE):
        print(os.path.join(f.out, name))


def run_main():
    """The console script; also `python -m gan_keras.cli.theory`."""
    define_flags()
    app.run(main, flags_parser=flags_parser(PROGRAM))


if __name__ == "__main__":
    run_main()
