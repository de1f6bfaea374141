"""How often a configuration collapses early: the same settings over several seeds.

    TFDS_DATA_DIR=... taskset -c 1 python benchmarks/collapse_rate.py \\
        --out_dir=/tmp/collapse --seeds=1,2 --epochs=10 [--set=d_dropout=False]

trains the paper preset (with the `--set` overrides of `TrainConfig` fields)
once per seed and records each epoch's metrics. A run counts as collapsed
when D has won at its last epoch: mean D(G(z)) < 0.01 (the released cost's
halved D loss is then below ~0.01, and G's samples stop improving; see
docs/results.md). Results are merged into `benchmarks/collapse_rate.json`
under the settings' name.
"""

import json
import os

import keras
from absl import app, flags

from gan_keras import cli
from gan_keras.evaluate import write_json
from gan_keras.training import TrainConfig, run

import harness

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLAPSED_D_FAKE = 0.01

flags.DEFINE_string("out_dir", None, "Where the runs go.")
flags.DEFINE_list("seeds", ["0", "1", "2"], "Seeds, one run each.")
flags.DEFINE_integer("epochs", 10, "Epochs per run.")
flags.DEFINE_list("set", [], "TrainConfig overrides, e.g. d_dropout=False,update=alternating.")
flags.DEFINE_string("results", os.path.join(REPO, "benchmarks", "collapse_rate.json"), "Results file.")
flags.mark_flag_as_required("out_dir")
FLAGS = flags.FLAGS


def parse_overrides(items):
    """`["d_dropout=False", "k=2"]` -> `{"d_dropout": False, "k": 2}`, typed by TrainConfig's defaults."""
    defaults = TrainConfig()
    overrides = {}
    for item in items:
        name, _, value = item.partition("=")
        if not hasattr(defaults, name):
            raise ValueError(f"--set: {name!r} is not a TrainConfig field.")
        default = getattr(defaults, name)
        if isinstance(default, bool):
            overrides[name] = value == "True"
        elif default is None:
            overrides[name] = int(value) if value.isdigit() else value
        else:
            overrides[name] = type(default)(value)
    return overrides


class EpochLog(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epochs = []

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append({"epoch": epoch + 1, **{k: round(float(v), 6) for k, v in (logs or {}).items()}})


def main(argv):
    del argv
    try:
        overrides = parse_overrides(FLAGS.set)
    except ValueError as e:
        cli.fail("collapse_rate.py", e)
    name = ",".join(FLAGS.set) or "paper preset"
    results = {}
    if os.path.exists(FLAGS.results):
        with open(FLAGS.results) as f:
            results = json.load(f)
    entry = results.setdefault(name, {"runs": {}})
    for seed in FLAGS.seeds:
        log = EpochLog()
        model_dir = os.path.join(FLAGS.out_dir, f"{name.replace(',', '_').replace(' ', '_')}_seed{seed}")
        run(TrainConfig(model_dir=model_dir, epochs=FLAGS.epochs, seed=int(seed), verbose=2, **overrides), callbacks=[log])
        last = log.epochs[-1]
        entry["runs"][seed] = {"collapsed": last["d_fake"] < COLLAPSED_D_FAKE, "epochs": log.epochs}
        print(f"{name}, seed {seed}: epoch {last['epoch']} D(G(z)) = {last['d_fake']:.4f}, collapsed: {entry['runs'][seed]['collapsed']}")
        entry["collapsed"] = sum(r["collapsed"] for r in entry["runs"].values())
        entry["total"] = len(entry["runs"])
        results["hardware"] = harness.hardware()
        write_json(FLAGS.results, results)


if __name__ == "__main__":
    app.run(main, flags_parser=cli.flags_parser("collapse_rate.py"))
