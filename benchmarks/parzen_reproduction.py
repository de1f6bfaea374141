"""Reproduces Table 1: the Parzen estimate of a long training run, written up.

    TFDS_DATA_DIR=... taskset -c 0 python -m benchmarks.parzen_reproduction \\
        --model_dir=runs/paper_ema --log=runs/paper.log,runs/paper_ema.log \\
        --continues=runs/paper --continued_at_epoch=465

evaluates the run's newest checkpoint (or `--checkpoints=all` for every one on
disk, or a list of paths) with the full protocol (10,000 samples, sigma from
logspace(-1, 0, 10) on 1,000 validation images, 10,000 test images): the
trained generator and, if the run averages G's weights (`--ema_decay`), the
averaged one. It appends the results to `benchmarks/parzen_reproduction.json`,
measures the same protocol with 10,000 real training images as the centres
(once; cached in that file), writes a sample grid `docs/samples_epochN.png`,
records what the write-up says of the run (the file's `report` section: its
model dirs, config.json, training logs and grid) and rewrites
`docs/results.md` from all recorded results (`results_report.py`, which
`python -m benchmarks.results_report` runs alone). The training run keeps its
last 3 checkpoints and, with `train.py --keep_checkpoint_every_hours`, one
per N hours for good; run this while it trains to record a learning curve.
`--continues` names the model dir of the same run's earlier epochs, when it
was continued in a new one.
"""

import glob
import json
import os
import re

import numpy as np
import tensorflow as tf
from absl import app, flags

from benchmarks import harness, results_report
from gan_keras import data as data_lib
from gan_keras.cli.evaluate import evaluate_restored
from gan_keras.data import images as images_lib
from gan_keras.evaluation import parzen
from gan_keras.evaluation.protocol import load_protocol_data
from gan_keras.training import CHECKPOINT_SUBDIR, CONFIG_FILE, load_config
from gan_keras.training.checkpointing import has_ema, saved_checkpoints
from gan_keras.utils import cli

flags.DEFINE_string("model_dir", None, "The training run to evaluate.")
flags.DEFINE_list("checkpoints", ["latest"], "'latest', 'all' (every checkpoint on disk) or paths.")
flags.DEFINE_list("log", [], "The run's training logs, oldest first (for per-epoch training times).")
flags.DEFINE_string("continues", None, "Model dir of the same run's earlier epochs, if it was continued in --model_dir.")
flags.DEFINE_integer("continued_at_epoch", None, "The epoch at which --model_dir took over from --continues.")
flags.DEFINE_string("hardware", "one CPU core", "What the run trained on, for the training-time line.")
flags.DEFINE_string("data_dir", None, "TFDS data dir (default: the run's, then $TFDS_DATA_DIR).")
# --results and --docs_dir: results_report's, shared.
flags.adopt_module_key_flags(results_report)
flags.DEFINE_boolean("recompute_real", False, "Measure the real-data calibration again.")
flags.mark_flag_as_required("model_dir")
FLAGS = flags.FLAGS

def checkpoint_paths(model_dir, which):
    """The checkpoints to evaluate, newest first.

    `["latest"]`: the newest the run's state file names; `["all"]`: every
    `ckpt-N` on disk, by number (the last 3 and those kept for good by
    `--keep_checkpoint_every_hours`); otherwise the paths given.
    """
    if which not in (["latest"], ["all"]):
        return list(which)
    directory = os.path.join(model_dir, CHECKPOINT_SUBDIR)
    if which == ["all"]:
        paths = saved_checkpoints(directory)[::-1]
    else:
        state = tf.train.get_checkpoint_state(directory)
        paths = list(state.all_model_checkpoint_paths)[-1:] if state else []
    if not paths:
        raise ValueError(f"--model_dir={model_dir} has no checkpoints.")
    return paths


def epoch_seconds_from_log(paths):
    """Per-epoch training seconds from Keras `verbose=2` logs ("500/500 - 23s - ..."), in order."""
    seconds = []
    for path in paths:
        with open(path, errors="replace") as f:
            seconds += [int(m.group(1)) for m in re.finditer(r"^\d+/\d+ - (\d+)s - ", f.read(), re.M)]
    return seconds


def training_log(epoch_seconds, epochs):
    """What the write-up says of the training logs: epochs, hours, median epoch, hours up to each of `epochs`.

    `hours_by_epoch` holds the epochs the logs cover; results_report takes the
    others' time from config.json's time to the checkpoint's (`wall_hours`).
    None without logs.
    """
    if not epoch_seconds:
        return None
    return {
        "epochs": len(epoch_seconds),
        "hours": sum(epoch_seconds) / 3600.0,
        "median_epoch_seconds": float(np.median(epoch_seconds)),
        "hours_by_epoch": {str(e): sum(epoch_seconds[:e]) / 3600.0 for e in epochs if e and len(epoch_seconds) >= e},
    }


def run_report(model_dir, continues, continued_at, log_paths, hardware, grid, records):
    """The `report` section: what docs/results.md says of the run, besides its evaluations."""
    config = load_config(model_dir)
    with open(os.path.join(model_dir, CONFIG_FILE)) as f:
        settings = json.load(f)
    trained, _ = results_report.run_curves(records, [continues, model_dir])
    return {
        "model_dir": harness.shown_run(model_dir),
        "continues": harness.shown_run(continues),
        "continued_at_epoch": continued_at,
        "config": settings,  # its config.json, as written
        "epochs": config.epochs,
        "ema_decay": config.ema_decay,
        "training_log": training_log(epoch_seconds_from_log(log_paths), list(trained)),
        "hardware": hardware,
        "samples": grid,
    }


def wall_hours(model_dir, checkpoint):
    """Hours from the run's start (config.json written) to the checkpoint's save."""
    start = os.path.getmtime(os.path.join(model_dir, CONFIG_FILE))
    return (os.path.getmtime(checkpoint + ".index") - start) / 3600.0


def real_data_calibration(dataset, data_dir, test, valid):
    """The protocol with 10,000 real training images (train[:10000]) as the centres."""
    train = data_lib.load_images(dataset, "train", data_dir)[: parzen.NUM_SAMPLES]
    result = parzen.parzen_evaluate(train, test, valid, num_samples=len(train))
    result["centres"] = f"{dataset} train[:{len(train)}]"
    return result


def _key(result):
    return result["model_dir"], result["epoch"], result.get("ema", False)


def record(records, result):
    """Adds or replaces the evaluation of the same model dir, epoch and weights (trained or EMA)."""
    records["evaluations"] = [r for r in records["evaluations"] if _key(r) != _key(result)] + [result]
    records["evaluations"].sort(key=lambda r: (r["model_dir"], r["epoch"] or 0, r.get("ema", False)))


def write_samples(generator, epoch, docs_dir):
    """A 10x10 grid of samples (seed (0, 0)) as docs/samples_epochN.png, replacing older grids; returns its name."""
    name = f"samples_epoch{epoch}.png"
    samples = generator.sample(100, seed=np.asarray((0, 0), np.int32))
    images_lib.write_png(os.path.join(docs_dir, name), images_lib.image_grid(np.asarray(samples), 10, 10))
    for old in glob.glob(os.path.join(docs_dir, "samples_epoch*.png")):
        if os.path.basename(old) != name:
            os.remove(old)
    return name


def evaluate_checkpoint(model_dir, test, valid, path, records):
    """Evaluates the trained and (if kept) averaged G of a checkpoint; returns the generator for the grid."""
    hours = wall_hours(model_dir, path)
    generator = None
    for ema in (False, True) if has_ema(path) else (False,):
        result, generator = evaluate_restored(model_dir, test, valid, checkpoint=path, ema=ema)
        result.update(model_dir=harness.shown_run(model_dir), source=harness.shown_paths(result["source"], model_dir))
        result["wall_hours"] = round(hours, 3)
        record(records, result)
        weights = "averaged G" if ema else "trained G"
        print(f"epoch {result['epoch']}, {weights}: {parzen.table1_line(result)}")
    return result["epoch"], generator


def main(argv):
    del argv
    model_dir = FLAGS.model_dir
    config = load_config(model_dir)
    if config is None:
        cli.fail("parzen_reproduction.py", f"--model_dir={model_dir} holds no config.json.")
    if FLAGS.continues and FLAGS.continued_at_epoch is None:
        cli.fail("parzen_reproduction.py", "--continues needs --continued_at_epoch (the epoch of the hand-over).")
    data_dir = FLAGS.data_dir or config.data_dir
    test, valid = load_protocol_data(config.dataset, data_dir)
    records = harness.read_json(FLAGS.results, {"evaluations": [], "real_data": None})
    os.makedirs(FLAGS.docs_dir, exist_ok=True)

    grid = None
    for path in checkpoint_paths(model_dir, FLAGS.checkpoints):
        try:
            epoch, generator = evaluate_checkpoint(model_dir, test, valid, path, records)
        except (ValueError, OSError, tf.errors.NotFoundError) as e:
            print(f"skipped {path}: {e}")  # the run may have deleted it meanwhile
            continue
        if grid is None:
            grid = write_samples(generator, epoch, FLAGS.docs_dir)

    if records["real_data"] is None or FLAGS.recompute_real:
        records["real_data"] = real_data_calibration(config.dataset, data_dir, test, valid)
    print(f"real data: {parzen.table1_line(records['real_data'])}")
    records["updated"] = harness.utc_now()
    if grid is not None:
        records["report"] = run_report(
            model_dir, FLAGS.continues, FLAGS.continued_at_epoch, FLAGS.log, FLAGS.hardware, grid, records
        )
    harness.write_json(FLAGS.results, records)

    if grid is None:
        cli.fail("parzen_reproduction.py", "no checkpoint could be evaluated.")
    markdown = results_report.write_results_md(records, FLAGS.docs_dir)
    print(f"Wrote {FLAGS.results} and {markdown}.")


if __name__ == "__main__":
    app.run(main, flags_parser=cli.flags_parser("parzen_reproduction.py"))
