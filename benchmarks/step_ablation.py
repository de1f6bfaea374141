"""What the step's parts other than its matmuls cost in wall time: the step timed with each removed, beside the peer.

    TFDS_DATA_DIR=... python -m benchmarks.step_ablation --rules=alternating
    python -m benchmarks.step_ablation --rounds=5 --peer_python=VENV/bin/python

A profile's op times overlap (two ops run at once on two cores), so they do
not say how much faster the step would be without a part. This benchmark
does: it times the paper preset's step as it is and with a part taken out,
each variant in a process of its own, in rounds with the PyTorch peer
(`torch_peer.py speed`, as in `benchmarks/torch_ratio.py`):

- `dropout`: D without its dropout (`d_dropout=False`): no masks, no
  multiplies;
- `optimizer`: every weight's update replaced by a write of one number of its
  gradient into it, so the gradients are still computed and each weight is
  still written after its gradient, as in the step;
- `maxout`: maxout's max (`max_over_pieces`) replaced by the first piece, a
  slice;
- `all`: the three at once;
- `order`: the update and the order it imposes: each update copies one
  number of its gradient into a scalar and writes no weight, so no op waits
  for a weight's write (Algorithm 1's G step then runs beside D's).

Two variants take nothing out and train to the same bits as the step. In
the alternating rule (k=1), G's forward pass on the G step's noise needs
nothing of D's step, so TensorFlow runs it beside D's step; these variants
make it start later, to measure what that is worth and whether a later start
would leave D's step more of the cores (in the simultaneous rule they change
nothing):

- `after_d_forward`: the G step's noise and G's forward pass wait for D's
  forward pass in D's step;
- `after_d_update`: they wait for D's update, so all the G step's matmuls run
  after D's step.

One more variant takes nothing out and trains to the same bits, in both
rules:

- `single_threaded`: the step's ops run on TensorFlow's single-threaded
  executor (`tf.experimental.function_executor_type`), one after another in
  one thread, each op still on both cores: no cost of scheduling ops across
  threads, and no two ops at once.

The variants train other numbers than the step (that is the point); only
their speed is kept. Each round also times the step's matmuls alone
(`benchmarks/matmul_floor.py`). The speed-up of a variant and its ratio to
the peer are taken per round. Writes `benchmarks/step_ablation.json`.
"""

import json
import os
import statistics
import sys
import time

from absl import app, flags

from benchmarks import harness
from gan_keras.utils import cli

VARIANTS = {
    "step": (),
    "dropout": ("dropout",),
    "optimizer": ("optimizer",),
    "maxout": ("maxout",),
    "all": ("dropout", "optimizer", "maxout"),
    "order": ("optimizer", "order"),
    "after_d_forward": ("wait_for_d_forward",),
    "after_d_update": ("wait_for_d_update",),
    "single_threaded": ("single_threaded_executor",),
}
WAITS = ("wait_for_d_forward", "wait_for_d_update")
# Variants that remove nothing: they change how the step's ops are ordered or run.
SCHEDULES = (*WAITS, "single_threaded_executor")

flags.DEFINE_list("rules", list(harness.UPDATE_RULES), f"Update rules, of: {', '.join(harness.UPDATE_RULES)}.")
flags.DEFINE_integer("rounds", 3, "Rounds, each timing every variant, then the peer.", lower_bound=1)
flags.DEFINE_integer("steps", 200, "Steps per timed epoch.", lower_bound=1)
flags.DEFINE_integer("repeats", 2, "Timed epochs per variant per round.", lower_bound=1)
flags.DEFINE_string("peer_python", None, "Python of a venv with torch (default: made by harness.peer_python).")
flags.DEFINE_string("output", harness.results_file("step_ablation.json"), "Results file.")
flags.DEFINE_string("variant", None, "Internal: time this variant in this process and print JSON.")
flags.DEFINE_string("rule", None, "Internal: the worker's update rule.")
FLAGS = flags.FLAGS


def remove(parts):
    """Takes `parts` (of 'optimizer', 'order', 'maxout') out of the step's code in this process, or adds `SCHEDULES`."""
    import tensorflow as tf

    from gan_keras.nets import gan, layers, optimizers

    if "single_threaded_executor" in parts:
        train_step = gan.GAN.train_step

        def single_threaded_train_step(self, data):
            # The step is a function of its own, called from `fit`'s traced loop; the call op
            # made inside this scope runs the step's ops on the single-threaded executor.
            with tf.experimental.function_executor_type("SINGLE_THREADED_EXECUTOR"):
                return tf.function(lambda batch: train_step(self, batch))(data)

        gan.GAN.train_step = single_threaded_train_step

    if any(part in WAITS for part in parts):
        wait_for = []  # what the next `_generate` waits for
        discriminate, generate = gan.GAN._discriminate, gan.GAN._generate

        def discriminate_then_mark(self, real, fake, labels):
            logits = discriminate(self, real, fake, labels)
            if "wait_for_d_forward" in parts:
                wait_for.extend(logits)
            return logits

        def generate_after(self, batch_size, labels):
            after = list(wait_for)
            wait_for.clear()
            if "wait_for_d_update" in parts:  # reads of D's weights: ordered after D's last update
                after += [tf.convert_to_tensor(variable) for variable in self.discriminator.trainable_variables]
            with tf.control_dependencies(after):
                return generate(self, batch_size, labels)

        gan.GAN._discriminate, gan.GAN._generate = discriminate_then_mark, generate_after

    if "optimizer" in parts:
        sink = tf.Variable(0.0)

        def update_step(self, gradient, variable, learning_rate):
            ones = [1] * len(variable.shape)
            first = tf.slice(gradient, [0] * len(ones), ones)
            if "order" in parts:
                sink.assign(tf.reshape(tf.cast(first, tf.float32), []))
            else:  # the weight is still written after its gradient is read: the step's order stays
                tf.raw_ops.ResourceStridedSliceAssign(
                    ref=optimizers._handle(variable), begin=[0] * len(ones), end=ones, strides=ones, value=first)

        optimizers.ScheduledMomentumSGD.update_step = update_step
    if "maxout" in parts:
        layers.max_over_pieces = lambda z: z[:, :, 0]


def worker(variant, rule):
    """Steps/s of `rule`'s step without `variant`'s parts (and, for the whole step, of its matmuls alone)."""
    import keras

    from benchmarks.matmul_floor import MatmulFloor, step_and_data
    from gan_keras import data as data_lib
    from gan_keras.training import TrainConfig

    parts = VARIANTS[variant]
    remove(parts)
    overrides = {"d_dropout": False} if "dropout" in parts else {}
    config = TrainConfig.preset("paper", **harness.UPDATE_RULES[rule], **overrides)
    keras.utils.set_random_seed(config.stream_seed("init"))
    gan, dataset = step_and_data(config, data_lib.load_images("mnist", "train"))
    result = {"steps_per_second": harness.fit_steps_per_second(gan, dataset, FLAGS.steps, FLAGS.repeats)}
    if not parts:
        floor = MatmulFloor(gan, dataset.element_spec, jit_compile=config.jit_compile)
        result["matmuls_alone"] = floor.steps_per_second(FLAGS.steps, FLAGS.repeats)
    return result


def label(name):
    """How a variant is printed: 'the step', 'without dropout', ..., 'G step after d update', 'matmuls alone'."""
    if name == "matmuls_alone":
        return "matmuls alone"
    if name == "single_threaded":
        return "single-threaded executor"
    if set(VARIANTS[name]) & set(WAITS):
        return f"G step {name.replace('_', ' ')}"
    return f"without {name}" if VARIANTS[name] else "the step"


def timed(variant, rule):
    """One worker process's result."""
    command = [sys.executable, "-m", "benchmarks.step_ablation", f"--variant={variant}", f"--rule={rule}",
               f"--steps={FLAGS.steps}", f"--repeats={FLAGS.repeats}"]
    return harness.json_result(command, cwd=harness.REPO)


def main(argv):
    del argv
    if FLAGS.variant:
        harness.fail_unknown("step_ablation.py", "variant", [FLAGS.variant], VARIANTS)
        print(json.dumps(worker(FLAGS.variant, FLAGS.rule)))
        return
    harness.fail_unknown("step_ablation.py", "rules", FLAGS.rules, harness.UPDATE_RULES)
    from gan_keras.training import TrainConfig

    python = harness.peer_python(FLAGS.peer_python)
    torch_version = harness.peer_torch_version(python)
    threads = len(os.sched_getaffinity(0))
    configs = {rule: TrainConfig.preset("paper", **harness.UPDATE_RULES[rule]) for rule in FLAGS.rules}
    runs = {rule: {name: [] for name in [*VARIANTS, "matmuls_alone", "torch_peer"]} for rule in FLAGS.rules}
    for round_ in range(FLAGS.rounds):
        for rule in FLAGS.rules:
            row = runs[rule]
            for variant in VARIANTS:
                start = time.perf_counter()
                result = timed(variant, rule)
                row[variant].append(statistics.median(result["steps_per_second"]))
                if "matmuls_alone" in result:
                    row["matmuls_alone"].append(statistics.median(result["matmuls_alone"]))
                print(f"round {round_ + 1} {rule:12s} {label(variant):24s} {row[variant][-1]:6.2f} steps/s "
                      f"({time.perf_counter() - start:.0f} s)", flush=True)
            row["torch_peer"].append(statistics.median(
                harness.peer_steps_per_second(python, configs[rule], threads, FLAGS.steps, FLAGS.repeats)))
            print(f"round {round_ + 1} {rule:12s} matmuls alone {row['matmuls_alone'][-1]:6.2f}, "
                  f"peer {row['torch_peer'][-1]:6.2f} steps/s", flush=True)
    results = {}
    for rule, row in runs.items():
        rounds = range(len(row["step"]))
        # Each rule keeps its run's details: a run of one rule replaces that rule's entry only.
        results[rule] = {"settings": {"preset": "paper", **harness.UPDATE_RULES[rule]}, "threads": threads,
                         "torch": torch_version,
                         "steps": FLAGS.steps, "repeats": FLAGS.repeats, "rounds": FLAGS.rounds,
                         "date": harness.utc_now(),
                         "command": harness.command("benchmarks.step_ablation", local=("peer_python", "output"))}
        for name in [*VARIANTS, "matmuls_alone"]:
            parts = VARIANTS.get(name, ("all but the matmuls",))
            results[rule][name] = {
                "removed": [part for part in parts if part not in SCHEDULES],
                "waits": [part for part in parts if part in WAITS],
                "executor": "single-threaded" if "single_threaded_executor" in parts else "default",
                "steps_per_second": harness.summarize(row[name]),
                "speedup_over_step": harness.summarize([row[name][i] / row["step"][i] for i in rounds]),
                "ratio_to_peer": harness.summarize([row[name][i] / row["torch_peer"][i] for i in rounds]),
            }
            r = results[rule][name]
            print(f"{rule:12s} {label(name):24s} {r['steps_per_second']['median']:6.2f} steps/s, "
                  f"{r['speedup_over_step']['median']:.3f}x the step, {r['ratio_to_peer']['median']:.2f}x the peer")
        results[rule]["torch_peer_steps_per_second"] = harness.summarize(row["torch_peer"])
        results[rule]["runs"] = row
    harness.write_results(FLAGS.output, "paper", results)
    print(f"Wrote {FLAGS.output}.")


if __name__ == "__main__":
    app.run(main, flags_parser=cli.flags_parser("step_ablation.py"))
