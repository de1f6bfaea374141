"""Why `--jit_compile` (XLA) slows the training step on a CPU: the step and its matmuls, with and without XLA, in one run.

    TFDS_DATA_DIR=... python -m benchmarks.xla_cpu
    python -m benchmarks.xla_cpu --set=d_dropout=False   # the same without D's dropout

For the paper preset's step (`--rules`), each round times, side by side:
the step through `build_gan` + `GAN.fit` without and with `jit_compile`, and
the step's matmuls alone (`benchmarks/matmul_floor.py`: the same shapes,
nothing else) compiled without and with XLA. Each timing also records the
process's CPU seconds per wall second, the cores it kept busy. If the
matmuls alone slow down by as much as the step, XLA's matmuls are the cause
(XLA's CPU backend emits its own dot kernels instead of calling oneDNN's).
Writes `benchmarks/xla_cpu.json`.
"""

import os
import statistics

from absl import app, flags

from benchmarks import harness
from benchmarks.matmul_floor import step_and_floor
from gan_keras import data as data_lib
from gan_keras.training import TrainConfig
from gan_keras.utils import cli

flags.DEFINE_list("rules", list(harness.UPDATE_RULES), f"Update rules, of: {', '.join(harness.UPDATE_RULES)}.")
flags.DEFINE_list("set", [], "TrainConfig overrides for both sides, e.g. d_dropout=False.")
flags.DEFINE_integer("steps", 100, "Steps per timed epoch.", lower_bound=1)
flags.DEFINE_integer("repeats", 2, "Timed epochs per side per round.", lower_bound=1)
flags.DEFINE_integer("rounds", 3, "Rounds, each timing every side once.", lower_bound=1)
flags.DEFINE_string("output", harness.results_file("xla_cpu.json"), "Results file.")
FLAGS = flags.FLAGS


def timed(fn):
    """`(fn's result, CPU seconds per wall second while it ran)`."""
    result = []
    [(wall, cpu)] = harness.time_repeats(lambda: result.append(fn()), repeats=1, warmup=0)
    return result[0], cpu / wall


class Side:
    """One rule's step, without or with XLA: the `fit` step and its matmuls alone, built and traced once."""

    def __init__(self, config, images):
        self.gan, self.dataset, self.floor = step_and_floor(config, images)

    def time(self):
        """`{"step": (steps/s, cores busy), "matmuls": (steps/s, cores busy)}` of one round."""
        step, step_cores = timed(lambda: harness.fit_steps_per_second(self.gan, self.dataset, FLAGS.steps, FLAGS.repeats))
        floor, floor_cores = timed(lambda: self.floor.steps_per_second(FLAGS.steps, FLAGS.repeats))
        return {"step": (statistics.median(step), step_cores), "matmuls": (statistics.median(floor), floor_cores)}


def main(argv):
    del argv
    harness.fail_unknown("xla_cpu.py", "rules", FLAGS.rules, harness.UPDATE_RULES)
    overrides = harness.set_overrides("xla_cpu.py", FLAGS.set, rules=FLAGS.rules,
                                      owned={"jit_compile": "xla_cpu.py", "steps_per_execution": "xla_cpu.py"})
    images = data_lib.load_images("mnist", "train")
    sides = {
        (rule, jit): Side(TrainConfig.preset("paper", **harness.UPDATE_RULES[rule], **overrides, jit_compile=jit, steps_per_execution=1), images)
        for rule in FLAGS.rules
        for jit in (False, True)
    }
    runs = {key: {"step": [], "step_cores": [], "matmuls": [], "matmuls_cores": []} for key in sides}
    for round_ in range(FLAGS.rounds):
        for (rule, jit), side in sides.items():
            t = side.time()
            run = runs[(rule, jit)]
            for what in ("step", "matmuls"):
                run[what].append(t[what][0])
                run[f"{what}_cores"].append(t[what][1])
            print(f"round {round_ + 1} {rule:12s} jit_compile={jit!s:5s} step {t['step'][0]:6.2f} steps/s "
                  f"({t['step'][1]:.2f} cores), matmuls alone {t['matmuls'][0]:6.2f} ({t['matmuls'][1]:.2f} cores)",
                  flush=True)
    results = {}
    for rule in FLAGS.rules:
        plain, xla = runs[(rule, False)], runs[(rule, True)]
        results[rule] = {
            "settings": {"preset": "paper", **harness.UPDATE_RULES[rule], **overrides, "steps_per_execution": 1},
            "step_steps_per_second": {"default": harness.summarize(plain["step"]), "xla": harness.summarize(xla["step"])},
            "matmuls_steps_per_second": {
                "default": harness.summarize(plain["matmuls"]),
                "xla": harness.summarize(xla["matmuls"]),
            },
            "cores_busy": {
                "step_default": harness.summarize(plain["step_cores"]),
                "step_xla": harness.summarize(xla["step_cores"]),
                "matmuls_default": harness.summarize(plain["matmuls_cores"]),
                "matmuls_xla": harness.summarize(xla["matmuls_cores"]),
            },
            "slowdown_per_round": {
                "step": [p / x for p, x in zip(plain["step"], xla["step"])],
                "matmuls": [p / x for p, x in zip(plain["matmuls"], xla["matmuls"])],
            },
            "matmul_gflop_per_step": round(sides[(rule, False)].floor.gflop, 3),
        }
        slow = results[rule]["slowdown_per_round"]
        print(f"{rule:12s} XLA slows the step {statistics.median(slow['step']):.2f}x and its matmuls alone "
              f"{statistics.median(slow['matmuls']):.2f}x (medians of {FLAGS.rounds} rounds)")
    harness.write_results(FLAGS.output, ",".join(["paper", *FLAGS.set]), dict(
        results, threads=len(os.sched_getaffinity(0)), steps=FLAGS.steps, repeats=FLAGS.repeats, rounds=FLAGS.rounds,
        date=harness.utc_now(), command=harness.command("benchmarks.xla_cpu", local=("output",)),
    ))
    print(f"Wrote {FLAGS.output}.")


if __name__ == "__main__":
    app.run(main, flags_parser=cli.flags_parser("xla_cpu.py"))
