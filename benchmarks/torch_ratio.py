"""gan_keras's training step against a plain PyTorch loop of the same models, in one run.

    TFDS_DATA_DIR=... python -m benchmarks.torch_ratio               # both update rules
    python -m benchmarks.torch_ratio --peer_python=VENV/bin/python   # a peer venv of your own

The paper preset (batch 100, the maxout D with dropout, the MLP G, the paper's
SGD) is trained through `build_gan` + `GAN.fit` on MNIST, and the same models
and update rule by `benchmarks/torch_peer.py speed` in PyTorch's own venv
(`harness.peer_python`, made on first use from
`benchmarks/torch_peer_requirements.txt`), both on every core this process
may use. Rounds alternate the two sides (gan_keras, peer, gan_keras, ...), so
a drift of the machine's speed hits both; each round times `--repeats` epochs
of `--steps` steps after a warm-up. The ratio is gan_keras's steps/s over the
peer's, per round; the file `benchmarks/torch_ratio.json` keeps every number.

Each round also times the step's matmuls alone (`benchmarks/matmul_floor.py`:
the same shapes, nothing else), on TensorFlow's kernels and on PyTorch's
(`torch_peer.py matmuls`). TensorFlow's over the peer's whole step is the
ceiling: the highest ratio a float32 step of these models could reach here
on TensorFlow's matmuls, were everything else free.
"""

import json
import os
import statistics

from absl import app, flags

from benchmarks import harness
from benchmarks.matmul_floor import step_and_floor
from gan_keras import data as data_lib
from gan_keras.training import TrainConfig
from gan_keras.utils import cli

flags.DEFINE_list("rules", list(harness.UPDATE_RULES), f"Update rules, of: {', '.join(harness.UPDATE_RULES)}.")
flags.DEFINE_list("set", [], "TrainConfig overrides for gan_keras's side, e.g. steps_per_execution=10.")
flags.DEFINE_integer("steps", 200, "Steps per timed epoch.", lower_bound=1)
flags.DEFINE_integer("repeats", 2, "Timed epochs per side per round.", lower_bound=1)
flags.DEFINE_integer("rounds", 3, "Rounds, each timing gan_keras then the peer.", lower_bound=1)
flags.DEFINE_string("peer_python", None, "Python of a venv with torch (default: made by harness.peer_python).")
flags.DEFINE_string("output", harness.results_file("torch_ratio.json"), "Results file.")
FLAGS = flags.FLAGS


class Ours:
    """One rule's GAN, built and traced once, timed again each round."""

    def __init__(self, config, images):
        self.gan, self.dataset, self.floor = step_and_floor(config, images)

    def steps_per_second(self):
        return harness.fit_steps_per_second(self.gan, self.dataset, FLAGS.steps, FLAGS.repeats)

    def floor_steps_per_second(self):
        return self.floor.steps_per_second(FLAGS.steps, FLAGS.repeats)


def peer_matmuls_per_second(python, floor, threads):
    command = [python, harness.PEER_SCRIPT, "matmuls", f"--matmuls={json.dumps(floor.matmuls)}",
               f"--steps={FLAGS.steps}", f"--repeats={FLAGS.repeats}", f"--threads={threads}"]
    return harness.json_result(command)["steps_per_second"]


def main(argv):
    del argv
    harness.fail_unknown("torch_ratio.py", "rules", FLAGS.rules, harness.UPDATE_RULES)
    overrides = harness.set_overrides("torch_ratio.py", FLAGS.set, rules=FLAGS.rules)
    python = harness.peer_python(FLAGS.peer_python)
    threads = len(os.sched_getaffinity(0))
    images = data_lib.load_images("mnist", "train")
    configs = {rule: TrainConfig.preset("paper", **harness.UPDATE_RULES[rule], **overrides) for rule in FLAGS.rules}
    ours = {rule: Ours(config, images) for rule, config in configs.items()}
    rows = {rule: {"gan_keras": [], "torch_peer": [], "matmul_floor": [], "peer_matmul_floor": [],
                   "ratio_per_round": [], "ceiling_per_round": []} for rule in FLAGS.rules}
    for round_ in range(FLAGS.rounds):
        for rule in FLAGS.rules:
            mine = statistics.median(ours[rule].steps_per_second())
            peer = statistics.median(harness.peer_steps_per_second(python, configs[rule], threads, FLAGS.steps,
                                                                    FLAGS.repeats))
            floor = statistics.median(ours[rule].floor_steps_per_second())
            peer_floor = statistics.median(peer_matmuls_per_second(python, ours[rule].floor, threads))
            row = rows[rule]
            row["gan_keras"].append(mine)
            row["torch_peer"].append(peer)
            row["matmul_floor"].append(floor)
            row["peer_matmul_floor"].append(peer_floor)
            row["ratio_per_round"].append(mine / peer)
            row["ceiling_per_round"].append(floor / peer)
            print(f"round {round_ + 1} {rule:12s} gan_keras {mine:6.2f} steps/s, peer {peer:6.2f}: {mine / peer:.2f}x; "
                  f"matmuls alone {floor:6.2f} (PyTorch's {peer_floor:6.2f}): {floor / peer:.2f}x", flush=True)
    results = {}
    for rule, row in rows.items():
        results[rule] = {
            "settings": {"preset": "paper", **harness.UPDATE_RULES[rule], **overrides},
            "gan_keras_steps_per_second": harness.summarize(row["gan_keras"]),
            "torch_peer_steps_per_second": harness.summarize(row["torch_peer"]),
            "ratio": harness.summarize(row["ratio_per_round"]),
            "matmul_floor_steps_per_second": harness.summarize(row["matmul_floor"]),
            "peer_matmul_floor_steps_per_second": harness.summarize(row["peer_matmul_floor"]),
            "matmul_gflop_per_step": round(ours[rule].floor.gflop, 3),
            "ceiling": harness.summarize(row["ceiling_per_round"]),
            "runs": row,
        }
        r = results[rule]["ratio"]
        c = results[rule]["ceiling"]
        print(f"{rule:12s} ratio median {r['median']:.2f}x (min {r['min']:.2f}, max {r['max']:.2f}); "
              f"ceiling {c['median']:.2f}x (min {c['min']:.2f}, max {c['max']:.2f})")
    peer_version = harness.peer_torch_version(python)
    name = ",".join(["paper", *FLAGS.set])
    harness.write_results(FLAGS.output, name, dict(
        results, threads=threads, torch=peer_version, steps=FLAGS.steps, repeats=FLAGS.repeats,
        rounds=FLAGS.rounds, date=harness.utc_now(),
        command=harness.command("benchmarks.torch_ratio", local=("peer_python", "output")),
    ))
    print(f"Wrote {FLAGS.output}.")


if __name__ == "__main__":
    app.run(main, flags_parser=cli.flags_parser("torch_ratio.py"))
