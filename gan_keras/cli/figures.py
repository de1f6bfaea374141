"""`gan-keras-figures --model_dir=runs/mnist [--out=DIR]`: the paper's Figs. 2 and 3 for a training run."""

import tensorflow as tf
from absl import app, flags

from gan_keras.paper.figures import FiguresError, write_figures
from gan_keras.training import restoring
from gan_keras.utils.cli import check_input_dir, check_output_dir, fail, first_line, flags_parser

__all__ = [
    "PROGRAM",
    "run_main",
]

PROGRAM = "gan-keras-figures"


def define_flags():
    flags.DEFINE_string("model_dir", None, "Model dir of a training run.", required=True)
    flags.DEFINE_string("out", None, "Output dir (default: MODEL_DIR/logs/figures).")
    flags.DEFINE_string("dataset", None, "TFDS dataset of the neighbours (default: the run's).")
    flags.DEFINE_string("data_dir", None, "TFDS data dir (default: the run's, then $TFDS_DATA_DIR).")
    flags.DEFINE_integer("seed", 0, "Seed of the samples and interpolation ends.")


def main(argv):
    del argv
    f = flags.FLAGS
    if f.out is not None:
        check_output_dir(PROGRAM, "--out", f.out)
    check_input_dir(PROGRAM, "--data_dir", f.data_dir)
    try:
        paths = write_figures(f.model_dir, f.out, f.data_dir, f.dataset, f.seed)
    except (FiguresError, restoring.RestoreError, OSError, tf.errors.OpError) as e:
        fail(PROGRAM, first_line(e))
    for path in paths.values():
        print(path)


def run_main():
    """The console script; also `python -m gan_keras.cli.figures`."""
    define_flags()
    app.run(main, flags_parser=flags_parser(PROGRAM))


if __name__ == "__main__":
    run_main()
