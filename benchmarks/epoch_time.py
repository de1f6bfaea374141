"""How long `python train.py` takes to reach epoch E on this machine, from a short timed run.

    TFDS_DATA_DIR=... python -m benchmarks.epoch_time --preset=table1 --epochs=6

Runs `train.py --preset=PRESET` from scratch in a temporary model dir, on
every core this process may use, and reads when each epoch ended from its
checkpoints' save times. Writes, under the preset's name in
`benchmarks/epoch_time.json`, the seconds from the command's start to the
end of epoch 1 (start-up, data, tracing and the first epoch) and the median
seconds of the later epochs, so that

    minutes(E) = (first_epoch_seconds + (E - 1) * seconds_per_epoch) / 60

is when the documented command reaches epoch E here. A run's path does not
depend on the core count or on `--epochs` (docs/reliability.md), so a run
trained elsewhere (one core, beside other work) reaches epoch E with the same
weights: `benchmarks.time_to_quality_report` puts its scores at these
minutes. Run it on a quiet machine; it times only this machine's speed that day.
"""

import statistics

from absl import app, flags

from benchmarks import harness
from benchmarks.time_to_quality_report import EPOCH_TIME, minutes_at
from gan_keras.utils import cli

PROGRAM = "epoch_time.py"

flags.DEFINE_string("preset", "table1", "The train.py preset to time.")
flags.DEFINE_integer("epochs", 6, "Epochs to run (>= 2: the first includes start-up and tracing).")
flags.DEFINE_string("output", EPOCH_TIME, "Results file.")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    harness.check_train_epochs(PROGRAM, FLAGS.epochs)
    ends, command = harness.time_train_epochs(FLAGS.preset, FLAGS.epochs)
    later = [b - a for a, b in zip(ends, ends[1:])]
    timing = {
        "first_epoch_seconds": round(ends[0], 2),
        "seconds_per_epoch": round(statistics.median(later), 3),
        "epoch_seconds": [round(s, 3) for s in later],
        "train_command": command,
        "date": harness.utc_now(),
        "command": harness.command("benchmarks.epoch_time", local=("output",)),
    }
    harness.write_results(FLAGS.output, FLAGS.preset, timing)
    print(
        f"{FLAGS.preset}: epoch 1 ends {timing['first_epoch_seconds']:.1f} s after the start, then "
        f"{timing['seconds_per_epoch']:.2f} s per epoch (median of {len(later)}): 225 epochs take "
        f"{minutes_at(timing, 225):.1f} minutes. Wrote {FLAGS.output}."
    )


if __name__ == "__main__":
    app.run(main, flags_parser=cli.flags_parser(PROGRAM))
