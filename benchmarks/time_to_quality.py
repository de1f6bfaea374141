"""Time to quality: a training run's Parzen estimate, Frechet distance and classes covered against minutes.

    TFDS_DATA_DIR=... python -m benchmarks.time_to_quality --model_dir=runs/table1 --name=default

scores every checkpoint the run saved (train with
`--keep_checkpoint_every_hours` to keep one every few minutes) with Table 1's
full protocol (10,000 samples, sigma from logspace(-1, 0, 10) on 1,000
validation images, 10,000 test images) and the shipped MNIST classifier on
the same samples, for the averaged generator (EMA) and the trained weights.
A checkpoint's wall minutes are its save time minus the run's start (the
time `config.json` was written); a run that was stopped and resumed has none
(null). Results are merged into `benchmarks/time_to_quality.json` under
`--name` (a checkpoint already scored is not scored again); `--report`
prints the Markdown tables of docs/results.md from that file
(`benchmarks.results_report` writes them into docs/results.md), with the
minutes the documented command takes to reach each epoch on this machine
where `benchmarks/epoch_time.json` has the run's preset
(`python -m benchmarks.epoch_time`).

`--pretrained=DIR` also writes the generator of the last checkpoint within
`--budget_minutes` (default 120; at the measured speed where
`benchmarks/epoch_time.json` has the preset, else wall minutes) to
`DIR/generator.keras`, with the run's `config.json` and the scores, as the
repository's pretrained model.
"""

import json
import os
import platform

import tensorflow as tf
from absl import app, flags

from benchmarks import harness
from benchmarks.time_to_quality_report import EPOCH_TIME, TIME_TO_QUALITY, run_minutes, time_to_quality_markdown
from gan_keras.evaluation.protocol import evaluate_generator, load_protocol_data
from gan_keras.training import CHECKPOINT_SUBDIR, CONFIG_FILE, load_config, save_generator
from gan_keras.training.checkpointing import checkpoint_epoch, saved_checkpoints
from gan_keras.training.restoring import load_generator
from gan_keras.utils import cli
from gan_keras.utils.storage import write_json

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROGRAM = "time_to_quality"

flags.DEFINE_string("model_dir", None, "The training run.")
flags.DEFINE_string("name", None, "Name of the run's settings in the results file, e.g. default or paper.")
flags.DEFINE_string("results", TIME_TO_QUALITY, "Results file.")
flags.DEFINE_float("budget_minutes", 120.0, "The training budget of the --pretrained generator.")
flags.DEFINE_string("pretrained", None, "Write the budget's generator, config and scores here.")
flags.DEFINE_string("log", None, "The run's console log (train.py --verbose=2), copied to --pretrained as training.log.")
flags.DEFINE_integer("cores", None, "CPU cores the run trained on (default: those this process may use).", lower_bound=1)
flags.DEFINE_bool("report", False, "Only print the Markdown tables of the results file.")
FLAGS = flags.FLAGS


def run_start(model_dir):
    """The run's start: when its `config.json` was written (seconds since the epoch)."""
    return os.path.getmtime(os.path.join(model_dir, CONFIG_FILE))


def wall_minutes(model_dir, checkpoints):
    """`{checkpoint: wall minutes from the run's start to its save}`, each None if the run was resumed.

    `train.py` rewrites `config.json` when it resumes, so a checkpoint older
    than it means the run stopped and started again: its wall time is unknown.
    """
    start = run_start(model_dir)
    saved = {path: (os.path.getmtime(path + ".index") - start) / 60.0 for path in checkpoints}
    resumed = any(m < 0 for m in saved.values())
    return {path: None if resumed else round(m, 1) for path, m in saved.items()}


def score(model_dir, checkpoint, test, valid, ema):
    """Table 1's protocol and the classifier metrics of one checkpoint's generator."""
    restored = load_generator(model_dir, checkpoint, ema)
    result = evaluate_generator(restored, test, valid)
    metrics = result["classifier_metrics"]
    return {
        "parzen": round(result["log_likelihood"], 2),
        "parzen_se": round(result["standard_error"], 2),
        "sigma": round(result["sigma"], 4),
        "mnist_score": round(metrics["mnist_score"], 3),
        "frechet_distance": round(metrics["frechet_distance"], 3),
        "classes_covered": metrics["classes_covered"],
        "ema": restored.ema,
    }


def cpu_name():
    with open("/proc/cpuinfo") as f:
        names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
    return names[0] if names else platform.machine()


def hardware(cores=None):
    return {
        "cpu": cpu_name(),
        "usable_cores": cores or len(os.sched_getaffinity(0)),
        "tensorflow": tf.__version__,
    }


def command(config):
    """The train.py command of a run's config: the preset it matches, then the flags that differ from it."""
    from gan_keras.training import PRESETS, TrainConfig

    matching = [
        name for name, overrides in PRESETS.items() if overrides and all(config.get(k) == v for k, v in overrides.items())
    ]
    preset = max(matching, key=lambda name: len(PRESETS[name]), default="default")
    base = TrainConfig.preset(preset)
    changed = [
        f"--{k}={v}"
        for k, v in sorted(config.items())
        # None of these changes the run's weights (steps per call: bit-identical, tested).
        if k not in ("data_dir", "rng_streams", "verbose", "steps_per_execution") and getattr(base, k, None) != v
    ]
    return " ".join(["python train.py", *([f"--preset={preset}"] if preset != "default" else []), *changed])


def write_pretrained(model_dir, checkpoint, row, out_dir, log=None):
    """The checkpoint's averaged generator as `out_dir/generator.keras`, with `config.json`, `scores.json`, the log.

    The config's `model_dir` and `data_dir` become `out_dir` and unset (they
    named the training machine's directories); the log keeps only Keras'
    epoch lines up to the checkpoint's epoch (an epoch stopped midway and run
    again on resume appears once).
    """
    os.makedirs(out_dir, exist_ok=True)
    restored = load_generator(model_dir, checkpoint, ema=True)
    save_generator(restored.generator, os.path.join(out_dir, "generator.keras"))
    with open(os.path.join(model_dir, CONFIG_FILE)) as f:
        config = json.load(f)
    config.update(model_dir=os.path.relpath(out_dir, REPO), data_dir=None)
    write_json(os.path.join(out_dir, CONFIG_FILE), config)
    write_json(os.path.join(out_dir, "scores.json"), {"checkpoint": os.path.basename(checkpoint), **row})
    if log:
        epochs = checkpoint_epoch(checkpoint)
        kept, epoch = [], 0
        with open(log) as f:
            for line in f:
                if line.startswith("Epoch "):
                    epoch = int(line.split()[1].split("/")[0])
                if epoch > epochs:
                    break
                if line.startswith("Epoch ") and kept and kept[-1].startswith("Epoch "):
                    kept.pop()  # an epoch the run was stopped in, before its end: it was run again on resume
                if line.startswith("Epoch ") or "/step" in line:
                    kept.append(line)
        with open(os.path.join(out_dir, "training.log"), "w") as f:
            f.writelines(kept)


def main(argv):
    del argv
    if FLAGS.report:
        print(time_to_quality_markdown(harness.read_json(FLAGS.results, {}), harness.read_json(EPOCH_TIME, {})))
        return
    if not FLAGS.model_dir or not FLAGS.name:
        cli.fail(PROGRAM, "--model_dir and --name are required (or --report).")
    config = load_config(FLAGS.model_dir)
    if config is None:
        cli.fail(PROGRAM, f"--model_dir={FLAGS.model_dir} holds no {CONFIG_FILE}.")
    paths = saved_checkpoints(os.path.join(FLAGS.model_dir, CHECKPOINT_SUBDIR))
    if not paths:
        cli.fail(PROGRAM, f"--model_dir={FLAGS.model_dir} has no checkpoints.")
    results = harness.read_json(FLAGS.results, {})
    with open(os.path.join(FLAGS.model_dir, CONFIG_FILE)) as f:
        config_values = json.load(f)
    # The run's own directories are one machine's: keep only the run's name.
    config_values.update(model_dir=harness.shown_run(FLAGS.model_dir), data_dir=None)
    entry = results.setdefault(FLAGS.name, {"checkpoints": {}})
    entry.update(config=config_values, command=command(config_values), hardware=hardware(FLAGS.cores))
    test, valid = load_protocol_data(config.dataset, config.data_dir)
    wall = wall_minutes(FLAGS.model_dir, paths)
    for path in paths:
        key = os.path.basename(path)
        if key not in entry["checkpoints"]:
            row = {"epoch": checkpoint_epoch(path), "minutes": wall[path]}
            row["trained"] = score(FLAGS.model_dir, path, test, valid, ema=False)
            if config.ema_decay:
                row["averaged"] = score(FLAGS.model_dir, path, test, valid, ema=True)
            entry["checkpoints"][key] = row
            harness.write_json(FLAGS.results, results)  # after each checkpoint: an interrupted run loses little
            print(key, json.dumps(row))
    if FLAGS.pretrained:
        timings = harness.read_json(EPOCH_TIME, {})
        rows = {p: entry["checkpoints"][os.path.basename(p)] for p in paths}
        if any(run_minutes(entry, row, timings) is None for row in rows.values()):
            cli.fail(PROGRAM, f"--model_dir={FLAGS.model_dir} was resumed and {EPOCH_TIME} has no timing of its "
                              "preset: its minutes are unknown (run `python -m benchmarks.epoch_time`).")
        within = [p for p in paths if run_minutes(entry, rows[p], timings) <= FLAGS.budget_minutes]
        if not within:
            cli.fail(PROGRAM, f"no checkpoint was saved within --budget_minutes={FLAGS.budget_minutes}.")
        write_pretrained(FLAGS.model_dir, within[-1], entry["checkpoints"][os.path.basename(within[-1])], FLAGS.pretrained, FLAGS.log)
        print(f"Wrote {FLAGS.pretrained}/generator.keras from {os.path.basename(within[-1])}.")
    print(time_to_quality_markdown({FLAGS.name: entry}, harness.read_json(EPOCH_TIME, {})))


if __name__ == "__main__":
    app.run(main, flags_parser=cli.flags_parser(PROGRAM))
