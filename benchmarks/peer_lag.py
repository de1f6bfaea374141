"""Does gan_keras learn slower than a plain PyTorch peer of the same configuration? Seeds x sides.

    TFDS_DATA_DIR=... python -m benchmarks.peer_lag --out_dir=runs/peer_lag --seeds=0,1,2,3,4,5,6,7,8,9

For each seed, `python train.py --preset=paper` (the released configuration
exactly) is trained pinned to core 0 while `benchmarks/torch_peer.py train`
(the same configuration in PyTorch, on the same 50,000 training images, in its
own venv: `harness.peer_python`) trains pinned to core 1, each side working
through its seeds in order. At epoch `--epochs` both are scored by the same
code: the full Parzen protocol and the shipped classifier on 10,000 samples
(`evaluate_samples`). Each run's epoch losses and seconds per epoch are kept.
Results go to `benchmarks/peer_lag.json`, seed by seed; a stopped sweep,
rerun, skips what is scored and resumes what is not (`train.py` resumes
exactly; a peer run starts again). `--report` prints the Markdown table.
"""

import itertools
import json
import math
import os
import re
import statistics
import subprocess
import sys
import threading

import numpy as np
from absl import app, flags

from benchmarks import harness
from gan_keras import data as data_lib
from gan_keras.evaluation.protocol import evaluate_generator, evaluate_samples, load_protocol_data
from gan_keras.training import restoring
from gan_keras.utils import cli

flags.DEFINE_string("out_dir", None, "Where the runs go.")
flags.DEFINE_list("seeds", [str(s) for s in range(10)], "Seeds, one run per side each.")
flags.DEFINE_integer("epochs", 10, "Epochs per run; both sides are scored after the last.", lower_bound=1)
flags.DEFINE_list("cores", ["0", "1"], "The core of gan_keras's runs and the core of the peer's.")
flags.DEFINE_string("peer_python", None, "Python of a venv with torch (default: made by harness.peer_python).")
flags.DEFINE_string("results", harness.results_file("peer_lag.json"), "Results file.")
flags.DEFINE_bool("report", False, "Only print the Markdown table of the results file.")
FLAGS = flags.FLAGS

SIDES = ("gan_keras", "torch_peer")
# A run's discriminator has won when an epoch's mean (halved) D loss is below this.
D_WON = 0.01
_LOSS = re.compile(r" - (\d+)s - .*d_loss: ([-0-9.e]+) - .*g_loss: ([-0-9.e]+)")


def run_dirs(seed):
    """`(gan_keras's model dir, the peer's run dir)` of a seed."""
    return tuple(os.path.join(FLAGS.out_dir, f"{side}_seed{seed}") for side in SIDES)


def ours_command(seed, model_dir, core):
    return ["taskset", "-c", core, sys.executable, os.path.join(harness.REPO, "train.py"), "--preset=paper",
            f"--seed={seed}", f"--epochs={FLAGS.epochs}", f"--model_dir={model_dir}", "--verbose=2"]


def peer_command(python, seed, run_dir, images, core):
    return ["taskset", "-c", core, python, harness.PEER_SCRIPT, "train", f"--images={images}", f"--seed={seed}",
            f"--epochs={FLAGS.epochs}", f"--samples_at={FLAGS.epochs}", f"--out_dir={run_dir}", "--threads=1"]


def ours_epochs(console_log):
    """`[{"epoch", "d_obj", "g_obj", "seconds"}]` from train.py's `--verbose=2` console output.

    That prints one line per finished epoch (a resumed run repeats none), so
    the n-th such line is epoch n.
    """
    with open(console_log) as f:
        matches = [m for m in map(_LOSS.search, f) if m]
    return [
        {"epoch": n, "seconds": int(m.group(1)), "d_obj": float(m.group(2)), "g_obj": float(m.group(3))}
        for n, m in enumerate(matches, 1)
    ]


def run_queue(jobs, failures):
    """Runs `(command, log_path)` jobs one after another (one thread per core)."""
    for command, log in jobs:
        with open(log, "a") as f:
            if subprocess.run(command, stdout=f, stderr=subprocess.STDOUT, cwd=harness.REPO).returncode:
                failures.append(f"{' '.join(command)} failed; see {log}")
                return


def train_both(seeds, python, images):
    """Trains the seeds not yet trained, gan_keras on one core and the peer on the other, at the same time."""
    ours, peer = [], []
    for seed in seeds:
        model_dir, peer_dir = run_dirs(seed)
        if not os.path.exists(os.path.join(model_dir, "generator.keras")):
            os.makedirs(model_dir, exist_ok=True)
            ours.append((ours_command(seed, model_dir, FLAGS.cores[0]), os.path.join(model_dir, "console.log")))
        if not os.path.exists(os.path.join(peer_dir, "log.json")):
            os.makedirs(peer_dir, exist_ok=True)
            peer.append((peer_command(python, seed, peer_dir, images, FLAGS.cores[1]), os.path.join(peer_dir, "console.log")))
    failures = []
    threads = [threading.Thread(target=run_queue, args=(jobs, failures)) for jobs in (ours, peer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        cli.fail("peer_lag.py", "; ".join(failures))


def score_seed(seed, test, valid):
    model_dir, peer_dir = run_dirs(seed)
    ours = harness.scores(evaluate_generator(restoring.load_generator(model_dir, ema=False), test, valid))
    samples = np.load(os.path.join(peer_dir, f"samples_epoch{FLAGS.epochs}.npy")).reshape(-1, 28, 28, 1)
    peer = harness.scores(evaluate_samples(samples, test, valid))
    with open(os.path.join(peer_dir, "log.json")) as f:
        peer_log = json.load(f)
    return {
        "gan_keras": {**ours, "epochs": ours_epochs(os.path.join(model_dir, "console.log"))},
        "torch_peer": {**peer, "epochs": peer_log["epochs"], "torch": peer_log["torch"]},
    }


def rank_sum_test(a, b):
    """Mann-Whitney U of `a` against `b` and its two-sided p-value (exact for <= 24 values, no ties).

    Exact: over every way of splitting the pooled ranks into groups of the
    sizes given; beyond 24 values, the normal approximation.
    """
    pooled = sorted(a + b)
    u = sum(pooled.index(v) + 1 for v in a) - len(a) * (len(a) + 1) / 2
    centre = len(a) * len(b) / 2
    if len(pooled) > 24:
        sd = math.sqrt(len(a) * len(b) * (len(pooled) + 1) / 12)
        return u, math.erfc(abs(u - centre) / sd / math.sqrt(2))
    offset = len(a) * (len(a) + 1) / 2
    splits = [sum(c) - offset for c in itertools.combinations(range(1, len(pooled) + 1), len(a))]
    return u, sum(abs(x - centre) >= abs(u - centre) for x in splits) / len(splits)


def summary(runs):
    """Per side: mean, sd, median, min and max of each score over seeds; runs D won; the rank-sum test of Parzen."""
    out = {}
    for side in SIDES:
        for key in ("parzen", "frechet_distance", "mnist_score", "classes_covered"):
            values = [r[side][key] for r in runs.values()]
            out.setdefault(side, {})[key] = {
                "mean": round(statistics.mean(values), 2),
                "std": round(statistics.stdev(values), 2) if len(values) > 1 else 0.0,
                "median": round(statistics.median(values), 2),
                "min": min(values),
                "max": max(values),
            }
        out[side]["d_won"] = sum(any(e["d_obj"] < D_WON for e in r[side]["epochs"]) for r in runs.values())
    u, p = rank_sum_test(*([r[side]["parzen"] for r in runs.values()] for side in SIDES))
    out["parzen_rank_sum_test"] = {"u": u, "p_two_sided": round(p, 4)}
    return out


def report(results):
    """The results as Markdown: a row per seed with both sides, then the means."""
    e = results["epochs"]
    lines = [
        f"| seed | gan_keras Parzen at epoch {e} | peer Parzen | gan_keras FD | peer FD | gan_keras classes | "
        "peer classes | gan_keras d_loss, epochs 2-6 | peer d_obj, epochs 2-6 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for seed, r in sorted(results["runs"].items(), key=lambda item: int(item[0])):
        ours, peer = r["gan_keras"], r["torch_peer"]
        losses = [" ".join(f"{row['d_obj']:.3f}" for row in side["epochs"][1:6]) for side in (ours, peer)]
        lines.append(
            f"| {seed} | {ours['parzen']:.1f} | {peer['parzen']:.1f} | {ours['frechet_distance']:.1f} | "
            f"{peer['frechet_distance']:.1f} | {ours['classes_covered']} | {peer['classes_covered']} | "
            f"{losses[0]} | {losses[1]} |"
        )
    s = summary(results["runs"])
    for stat in ("median", "mean"):
        cell = lambda side, key: f"{s[side][key][stat]:.1f}"  # noqa: E731
        lines.append(
            f"| {stat} ({len(results['runs'])} seeds) | {cell('gan_keras', 'parzen')} | {cell('torch_peer', 'parzen')} | "
            f"{cell('gan_keras', 'frechet_distance')} | {cell('torch_peer', 'frechet_distance')} | "
            f"{cell('gan_keras', 'classes_covered')} | {cell('torch_peer', 'classes_covered')} | | |"
        )
    test = s["parzen_rank_sum_test"]
    lines += [
        "",
        f"D won (an epoch's mean D loss below {D_WON}): gan_keras {s['gan_keras']['d_won']}, "
        f"peer {s['torch_peer']['d_won']} of {len(results['runs'])} runs. Mann-Whitney U of the Parzen scores "
        f"{test['u']:.0f}, two-sided exact p = {test['p_two_sided']:.2f}.",
    ]
    return "\n".join(lines)


def main(argv):
    del argv
    if harness.report_only("peer_lag.py", FLAGS, report):
        return
    if len(FLAGS.cores) != 2:
        cli.fail("peer_lag.py", f"--cores takes two cores (gan_keras's, the peer's); got {','.join(FLAGS.cores)}.")
    results = harness.read_json(FLAGS.results, {})
    if results.get("epochs", FLAGS.epochs) != FLAGS.epochs:
        cli.fail("peer_lag.py", f"--epochs={FLAGS.epochs}, but {FLAGS.results} holds runs of {results['epochs']} epochs.")
    command = harness.command("benchmarks.peer_lag", local=("out_dir", "peer_python", "results"))
    results.update(epochs=FLAGS.epochs, preset="paper", command=command)
    runs = results.setdefault("runs", {})
    todo = [s for s in FLAGS.seeds if s not in runs]
    python = harness.peer_python(FLAGS.peer_python)
    os.makedirs(FLAGS.out_dir, exist_ok=True)
    images = os.path.join(FLAGS.out_dir, "mnist_train50k_uint8.npy")
    if not os.path.exists(images):
        np.save(images, data_lib.load_images("mnist", "train").reshape(-1, 784))
    train_both(todo, python, images)
    test, valid = load_protocol_data("mnist")
    for seed in todo:
        runs[seed] = score_seed(seed, test, valid)
        results.update(summary=summary(runs), hardware=harness.hardware())
        harness.write_json(FLAGS.results, results)
        print(f"seed {seed}: gan_keras {runs[seed]['gan_keras']['parzen']}, peer {runs[seed]['torch_peer']['parzen']}")
    print(report(results))


if __name__ == "__main__":
    app.run(main, flags_parser=cli.flags_parser("peer_lag.py"))
