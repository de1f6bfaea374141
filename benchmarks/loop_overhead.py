"""What `train.py`'s loop adds to the training step: its callbacks, TensorBoard logging and checkpoints.

    TFDS_DATA_DIR=... python -m benchmarks.loop_overhead --presets=paper,default --rounds=3

Each round, for each preset, times two processes one after the other, on
every core this process may use:

- `python train.py --preset=P` from scratch in a temporary model dir, for
  `--epochs` epochs: the step with all that `train.py` runs around it (the
  NaN stop, the collapse guard, a checkpoint at every epoch's end, TensorBoard
  scalars every `--log_every_steps` steps and the epoch's images, ...). Its
  later epochs are timed by their checkpoints' save times
  (`harness.time_train_epochs`, as `benchmarks/epoch_time.py` does);
- the same preset's step through a bare `GAN.fit`, with no callbacks, for
  epochs of the same number of steps (`benchmarks.harness.fit_steps_per_second`).

The ratio of the two speeds is taken per round, so a drift of the machine's
speed hits both. `--steps_per_epoch` shortens both sides' epochs (default:
the preset's whole epoch). Writes `benchmarks/loop_overhead.json`, a section
per preset.
"""

import json
import statistics
import sys
import time

from absl import app, flags

from benchmarks import harness
from gan_keras.utils import cli

PROGRAM = "loop_overhead.py"

flags.DEFINE_list("presets", ["paper", "default"], "train.py presets to time.")
flags.DEFINE_integer("rounds", 3, "Rounds, each timing train.py, then the bare fit, for every preset.", lower_bound=1)
flags.DEFINE_integer("epochs", 3, "Epochs per side per round (>= 2: the first includes start-up and tracing).")
flags.DEFINE_integer("steps_per_epoch", None, "Steps per epoch on both sides (default: the preset's epoch).", lower_bound=1)
flags.DEFINE_string("output", harness.results_file("loop_overhead.json"), "Results file.")
flags.DEFINE_string("worker", None, "Internal: time this preset's bare fit in this process and print JSON.")
FLAGS = flags.FLAGS


def bare_fit(preset):
    """Steps/s of the preset's step through `GAN.fit` with no callbacks, and the steps in each timed epoch."""
    import keras

    from benchmarks.matmul_floor import step_and_data
    from gan_keras import data as data_lib
    from gan_keras.training import TrainConfig

    # train.py's run of --epochs: the same choice of Keras's loop or unrolled steps (TrainConfig.unrolls).
    config = TrainConfig.preset(preset, epochs=FLAGS.epochs, steps_per_epoch=FLAGS.steps_per_epoch)
    keras.utils.set_random_seed(config.stream_seed("init"))
    images = data_lib.load_images(config.dataset, "train", data_dir=config.data_dir)
    gan, dataset = step_and_data(config, images)
    steps = config.steps_per_epoch or data_lib.TrainingData(images, config.batch_size, config.k).steps_per_epoch
    return {"steps_per_second": harness.fit_steps_per_second(gan, dataset, steps, FLAGS.epochs - 1), "steps": steps}


def main(argv):
    del argv
    if FLAGS.worker:
        print(json.dumps(bare_fit(FLAGS.worker)))
        return
    harness.check_train_epochs(PROGRAM, FLAGS.epochs)
    from gan_keras.training import PRESETS

    harness.fail_unknown(PROGRAM, "presets", FLAGS.presets, PRESETS)
    extra = [f"--steps_per_epoch={FLAGS.steps_per_epoch}"] if FLAGS.steps_per_epoch else []
    runs = {preset: {"train_py": [], "bare_fit": []} for preset in FLAGS.presets}
    commands, steps = {}, {}
    for round_ in range(FLAGS.rounds):
        for preset in FLAGS.presets:
            start = time.perf_counter()
            bare = harness.json_result([sys.executable, "-m", "benchmarks.loop_overhead", f"--worker={preset}",
                                        f"--epochs={FLAGS.epochs}", *extra], cwd=harness.REPO)
            steps[preset] = bare["steps"]
            ends, commands[preset] = harness.time_train_epochs(preset, FLAGS.epochs, extra)
            seconds = statistics.median(b - a for a, b in zip(ends, ends[1:]))
            row = runs[preset]
            row["train_py"].append(steps[preset] / seconds)
            row["bare_fit"].append(statistics.median(bare["steps_per_second"]))
            print(f"round {round_ + 1} {preset:8s} train.py {row['train_py'][-1]:6.2f} steps/s, "
                  f"bare fit {row['bare_fit'][-1]:6.2f} ({time.perf_counter() - start:.0f} s)", flush=True)
    for preset, row in runs.items():
        result = {
            "train_command": commands[preset],
            "steps_per_epoch": steps[preset],
            "epochs": FLAGS.epochs,
            "rounds": FLAGS.rounds,
            "train_py_steps_per_second": harness.summarize(row["train_py"]),
            "bare_fit_steps_per_second": harness.summarize(row["bare_fit"]),
            "train_py_over_bare_fit": harness.summarize([a / b for a, b in zip(row["train_py"], row["bare_fit"])]),
            "runs": row,
            "date": harness.utc_now(),
            "command": harness.command("benchmarks.loop_overhead", local=("output",)),
        }
        harness.write_results(FLAGS.output, preset, result)
        ratio = result["train_py_over_bare_fit"]
        print(f"{preset:8s} train.py runs {ratio['median']:.3f}x (min {ratio['min']:.3f}, max {ratio['max']:.3f}) "
              f"the bare fit's speed")
    print(f"Wrote {FLAGS.output}.")


if __name__ == "__main__":
    app.run(main, flags_parser=cli.flags_parser(PROGRAM))
