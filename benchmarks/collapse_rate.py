"""How often a preset collapses: the same settings over several seeds, judged by the classifier.

    TFDS_DATA_DIR=... taskset -c 1 python -m benchmarks.collapse_rate \\
        --out_dir=runs/collapse --preset=default --seeds=0,1,2,3,4,5,6,7,8,9 --epochs=30

trains the preset (with the `--set` overrides of `TrainConfig` fields) once
per seed, records each epoch's metrics and every collapse recovery, and then
scores the run's generator (the averaged one if the preset keeps it, and the
trained weights) with the full Parzen protocol and the shipped classifier on
10,000 samples. A run counts as **collapsed** when fewer than 9 of the 10
classes hold >= 5% of the samples (by the classifier). Results are merged,
seed by seed, into `benchmarks/collapse_rate.json` under the settings' name,
so an interrupted sweep continues where it stopped (each run resumes too).
"""

import dataclasses
import os

import keras
import tensorflow as tf
from absl import app, flags

from benchmarks import harness
from gan_keras.evaluation.protocol import evaluate_generator, load_protocol_data
from gan_keras.training import PRESETS, TrainConfig, restoring, run
from gan_keras.training.checkpointing import RESTARTS_KEY
from gan_keras.utils import cli

# A run is collapsed when fewer classes than this hold >= 5% of its samples.
MIN_CLASSES = 9

flags.DEFINE_string("out_dir", None, "Where the runs go.")
flags.DEFINE_enum("preset", "default", list(PRESETS), "The preset trained.")
flags.DEFINE_list("seeds", [str(s) for s in range(10)], "Seeds, one run each.")
flags.DEFINE_integer("epochs", 30, "Epochs per run.", lower_bound=1)
flags.DEFINE_list("set", [], "TrainConfig overrides, e.g. d_dropout=False,update=alternating.")
flags.DEFINE_string("results", harness.results_file("collapse_rate.json"), "Results file.")
flags.DEFINE_bool("report", False, "Only print the Markdown table of the results file (for docs/reliability.md).")
FLAGS = flags.FLAGS


class EpochLog(keras.callbacks.Callback):
    """Each epoch's logs; a rolled-back run repeats epochs, so entries carry their fit segment."""

    def __init__(self):
        super().__init__()
        self.epochs = []
        self.segment = -1

    def on_train_begin(self, logs=None):
        self.segment += 1

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch + 1, "segment": self.segment}
        self.epochs.append({**row, **{k: round(float(v), 6) for k, v in (logs or {}).items()}})


def recoveries(model_dir):
    path = tf.train.latest_checkpoint(os.path.join(model_dir, "checkpoints"))
    reader = tf.train.load_checkpoint(path)
    key = f"{RESTARTS_KEY}/.ATTRIBUTES/VARIABLE_VALUE"
    return int(reader.get_tensor(key)) if reader.has_tensor(key) else 0


def finished_epochs(model_dir):
    """Whole epochs the newest checkpoint holds (a mid-epoch save, after SIGTERM, counts only those finished)."""
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(os.path.join(model_dir, "checkpoints")))
    return int(reader.get_tensor("epoch/.ATTRIBUTES/VARIABLE_VALUE"))


def score(model_dir, test, valid, ema):
    return harness.scores(evaluate_generator(restoring.load_generator(model_dir, ema=ema), test, valid))


def first_collapse(epochs):
    """The first epoch (of the first fit segment) whose mean D(G(z)) was below 0.01, or None."""
    return next((e["epoch"] for e in epochs if e["d_fake"] < 0.01), None)


def _row(name, seed, recoveries, won, g, collapsed):
    recovered = f"{recoveries}" + (f" ({won})" if won else "")
    return (
        f"| {name} | {seed} | {recovered} | {g['classes_covered']}/10 | {min(g['class_histogram']):.3f} | "
        f"{g['mnist_score']:.2f} | {g['frechet_distance']:.1f} | {g['parzen']:.1f} | {'**yes**' if collapsed else 'no'} |"
    )


def settings(name):
    """The `TrainConfig` a results entry's name (`preset=P,field=value,...`) stands for."""
    preset, *overrides = name.split(",")
    return TrainConfig.preset(preset.split("=", 1)[1], **harness.parse_overrides(overrides))


def trains_as_paper(name):
    """Whether the entry trains the paper preset's weights: the same settings apart from the EMA and the policy."""
    ignored = {"ema_decay": 0.0, "on_collapse": "warn"}
    return dataclasses.replace(settings(name), **ignored) == TrainConfig.preset("paper")


def paper_runs(results):
    """The paper preset's outcome per seed: its own run, else the trained weights of a run that trains as it does.

    The EMA does not change training and the collapse policy acts only when
    D wins, so a run of the paper's settings with an EMA and no recovery
    trained exactly the weights the paper preset would have.
    """
    runs = dict(results.get("preset=paper", {}).get("runs", {}))
    sources = [entry for name, entry in results.items() if "runs" in entry and name != "preset=paper" and trains_as_paper(name)]
    for entry in sources:
        for seed, run_ in entry["runs"].items():
            if seed not in runs and run_["recoveries"] == 0:
                g = run_.get("trained_weights", run_["generator"])
                runs[seed] = {**run_, "generator": g, "collapsed": g["classes_covered"] < MIN_CLASSES, "derived": True}
    return runs


def report(results):
    """The results as Markdown: one row per seed and preset, and the count of collapsed runs."""
    lines = [
        "| preset | seed | recoveries (epoch D won) | classes covered | smallest class share | MNIST score | "
        "Frechet distance | Parzen (nats) | collapsed |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    tables = {name: entry["runs"] for name, entry in results.items() if isinstance(entry, dict) and "runs" in entry}
    tables["preset=paper"] = paper_runs(results)
    for name, runs in tables.items():
        for seed, run_ in sorted(runs.items(), key=lambda item: int(item[0])):
            label = f"{name} (trained weights of the run with EMA above)" if run_.get("derived") else name
            won = first_collapse(run_["epochs"])
            lines.append(_row(label, seed, run_["recoveries"], won, run_["generator"], run_["collapsed"]))
        collapsed = sum(r["collapsed"] for r in runs.values())
        lines.append(f"| {name} | all | | | | | | | **{collapsed} of {len(runs)}** |")
    return "\n".join(lines)


def main(argv):
    del argv
    if harness.report_only("collapse_rate.py", FLAGS, report):
        return
    overrides = harness.set_overrides("collapse_rate.py", FLAGS.set, preset=FLAGS.preset,
                                      owned={"model_dir": "--out_dir", "epochs": "--epochs", "seed": "--seeds"})
    name = ",".join([f"preset={FLAGS.preset}", *FLAGS.set])
    test, valid = load_protocol_data("mnist")
    results = harness.read_json(FLAGS.results, {})
    entry = results.setdefault(name, {"runs": {}})
    entry["epochs"] = FLAGS.epochs
    for seed in FLAGS.seeds:
        log = EpochLog()
        model_dir = os.path.join(FLAGS.out_dir, f"{name.replace(',', '_').replace('=', '-')}_seed{seed}")
        config = TrainConfig.preset(
            FLAGS.preset, model_dir=model_dir, epochs=FLAGS.epochs, seed=int(seed), **{"verbose": 2, **overrides}
        )
        run(config, callbacks=[log])
        finished = finished_epochs(model_dir)
        if finished < FLAGS.epochs:  # stopped (SIGTERM, Ctrl-C): nothing to score yet; rerun to resume
            print(f"{name}, seed {seed}: stopped at epoch {finished} of {FLAGS.epochs}; not scored.")
            return
        outcome = {"recoveries": recoveries(model_dir), "epochs": log.epochs}
        outcome["generator"] = score(model_dir, test, valid, ema=True)
        if config.ema_decay:
            outcome["trained_weights"] = score(model_dir, test, valid, ema=False)
        outcome["collapsed"] = outcome["generator"]["classes_covered"] < MIN_CLASSES
        entry["runs"][seed] = outcome
        entry["collapsed"] = sum(r["collapsed"] for r in entry["runs"].values())
        entry["total"] = len(entry["runs"])
        results["hardware"] = harness.hardware()
        harness.write_json(FLAGS.results, results)
        g = outcome["generator"]
        print(
            f"{name}, seed {seed}: {g['classes_covered']}/10 classes, Parzen {g['parzen']}, "
            f"FID {g['frechet_distance']}, recoveries {outcome['recoveries']}, collapsed: {outcome['collapsed']}"
        )


if __name__ == "__main__":
    app.run(main, flags_parser=cli.flags_parser("collapse_rate.py"))
