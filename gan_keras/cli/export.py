"""Exports a trained generator for TensorFlow Serving and for Keras.

    python export.py --model_dir=runs/mnist --export_dir=models/gan

writes `models/gan/<version>/` (a SavedModel with the signatures
`serving_default`, `sample` and `interpolate`, and TF Serving warm-up requests
in `assets.extra/` when `tensorflow-serving-api` is installed; see
docs/serving.md) and
`models/gan/generator.keras`. The version defaults to the next integer after
the existing ones; the generator comes from the newest checkpoint of the run,
or from `--checkpoint`, or from a `.keras` file (`--generator=PATH` instead of
`--model_dir`).
"""

from absl import app, flags

from gan_keras.serving import DEFAULT_MAX_SAMPLES, ExportError, export_from_model_dir
from gan_keras.training.restoring import RestoreError
from gan_keras.utils.cli import fail, flags_parser
from gan_keras.utils.storage import StorageError

__all__ = [
    "run_main",
]

def define_flags():
    """Defines the export flags (when run as a program; importing must not)."""
    flags.DEFINE_string("model_dir", None, "The train.py --model_dir to export from.")
    flags.DEFINE_string(
        "generator", None, "Instead of --model_dir: a generator .keras file, e.g. pretrained/mnist/generator.keras."
    )
    flags.register_multi_flags_validator(
        ["model_dir", "generator"],
        lambda values: (values["model_dir"] is None) != (values["generator"] is None),
        "pass exactly one of --model_dir (a train.py run) or --generator (a generator .keras file).",
    )
    flags.DEFINE_string("export_dir", None, "Base dir of the exported versions (TF Serving's model dir).", required=True)
    flags.DEFINE_string(
        "checkpoint",
        None,
        "With --model_dir: the checkpoint to export, e.g. runs/mnist/checkpoints/ckpt-10 (default: the newest).",
    )
    flags.DEFINE_integer("version", None, "Version to write (default: the next integer after the existing ones).")
    flags.DEFINE_integer("max_samples", DEFAULT_MAX_SAMPLES, "Most images one sample/interpolate request may ask for.")
    flags.DEFINE_bool("ema", True, "Export the averaged generator when the run kept one (train.py --ema_decay); --noema: the trained weights.")


FLAGS = flags.FLAGS
PROGRAM = "export.py"


def main(argv):
    del argv
    try:
        path = export_from_model_dir(
            FLAGS.model_dir,
            FLAGS.export_dir,
            checkpoint=FLAGS.checkpoint,
            version=FLAGS.version,
            max_samples=FLAGS.max_samples,
            ema=FLAGS.ema,
            generator=FLAGS.generator,
        )
    except (ExportError, RestoreError, StorageError) as e:
        fail(PROGRAM, e)
    print(f"Exported {path}")



def run_main():
    """The console script; `python export.py` and `python -m gan_keras.cli.export` run it too."""
    define_flags()
    app.run(main, flags_parser=flags_parser(PROGRAM))


if __name__ == "__main__":
    run_main()
