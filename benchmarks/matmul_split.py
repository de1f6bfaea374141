"""Would the step's matmuls run faster cut in two by rows, as two ops side by side? Same bits?

    python -m benchmarks.matmul_split

TensorFlow runs a matmul on one thread when its operands and result fit in a
core's L2 cache (`4 (m n + k (m + n))` bytes under 1.01 x L2; docs/performance.md,
"One core against two"), so on the alternating step's chain some matmuls
leave the second core idle. Cutting such a matmul's rows in two halves, each
its own op, lets TensorFlow's executor run the halves side by side on the two
cores, at the cost of the split and the concatenation. Rows are independent,
so the result can keep every bit, if the kernel sums each row in the same
order whatever the number of rows.

For each matmul of the paper step (both update rules; `MatmulFloor`'s
`step_matmuls`) whose result's rows are its first operand's rows (not
`transpose_a`), this checks that the two halves give the same bits as the
whole on random operands, and times both by turns, each chained 10 deep
(median of `--repeats`), on the cores this process may use. Writes
`benchmarks/matmul_split.json`: per matmul, the times, the speed-up, whether
it fits the L2 rule, and the bits; and per rule, the most a split could save
a step, were each matmul cut only where that is faster and run alone.
"""

import glob
import os
import statistics
import time

import numpy as np
import tensorflow as tf
from absl import app, flags

from benchmarks import harness
from benchmarks.matmul_floor import flops, step_and_data, step_matmuls
from gan_keras.utils import cli

flags.DEFINE_integer("repeats", 5, "Timed runs of each variant of each matmul, by turns.", lower_bound=1)
flags.DEFINE_integer("calls", 50, "Calls per timed run (each runs the matmul 10 times).", lower_bound=1)
flags.DEFINE_string("output", harness.results_file("matmul_split.json"), "Results file.")
FLAGS = flags.FLAGS

DEPTH = 10


def l2_bytes(cache_dir="/sys/devices/system/cpu/cpu0/cache"):
    """A core's L2 cache in bytes, from Linux's sysfs (as TensorFlow's rule reads it from CPUID), or None."""
    for index in sorted(glob.glob(os.path.join(cache_dir, "index*"))):
        try:
            with open(os.path.join(index, "level")) as f, open(os.path.join(index, "size")) as g:
                level, size = f.read().strip(), g.read().strip()
        except OSError:
            continue
        if level == "2" and size[:-1].isdigit():
            return int(size[:-1]) * {"K": 1024, "M": 1024**2}.get(size[-1], 1)
    return None


def single_threaded(matmul, l2):
    """Whether TensorFlow's oneDNN kernels run `matmul` on one thread (its L2 rule)."""
    a, b, transpose_a, transpose_b = matmul
    m, k = a
    n = b[0] if transpose_b else b[1]
    return l2 is not None and 4 * (m * n + k * (m + n)) < 1.01 * l2


def chained(b, transpose_b, split):
    """A `tf.function` of `a` that runs `a @ b` (or its two row halves, concatenated) 10 times in a chain.

    It returns the last product and the first, which is `a @ b` itself.
    """

    def product(a):
        if not split:
            return tf.linalg.matmul(a, b, transpose_b=transpose_b)
        return tf.concat([tf.linalg.matmul(h, b, transpose_b=transpose_b) for h in tf.split(a, 2, axis=0)], 0)

    @tf.function
    def run(a):
        first = y = product(a)
        for _ in range(DEPTH - 1):
            y = product(a + 0 * y[0, 0])  # each product waits for the one before
        return y, first

    return run


def microseconds(runs, a):
    """The median µs of one product of each of `runs`, timed by turns so that a drift hits all alike."""
    for run in runs:
        run(a)[0].numpy()
    times = [[] for _ in runs]
    for _ in range(FLAGS.repeats):
        for run, kept in zip(runs, times):
            start = time.perf_counter()
            for _ in range(FLAGS.calls):
                y, _ = run(a)
            y.numpy()
            kept.append((time.perf_counter() - start) / (FLAGS.calls * DEPTH) * 1e6)
    return [statistics.median(kept) for kept in times]


def measure(matmul, l2, rng):
    a_shape, b_shape, _, transpose_b = matmul
    a = tf.constant(rng.standard_normal(a_shape, np.float32))
    b = tf.constant(rng.standard_normal(b_shape, np.float32))
    whole, split = chained(b, transpose_b, False), chained(b, transpose_b, True)
    same = np.array_equal(whole(a)[1].numpy(), split(a)[1].numpy())
    whole_us, split_us = microseconds([whole, split], a)
    return {
        "a": list(a_shape), "b": list(b_shape), "transpose_b": transpose_b,
        "single_threaded_by_l2_rule": single_threaded(matmul, l2),
        "whole_us": round(whole_us, 1), "split_us": round(split_us, 1),
        "speedup": round(whole_us / split_us, 3), "same_bits": bool(same),
    }


def main(argv):
    del argv
    from gan_keras import data as data_lib
    from gan_keras.training import TrainConfig

    images = data_lib.load_images("mnist", "train")
    rng = np.random.default_rng(0)
    l2, rules, measured = l2_bytes(), {}, {}
    for rule in harness.UPDATE_RULES:
        config = TrainConfig.preset("paper", **harness.UPDATE_RULES[rule])
        gan, dataset = step_and_data(config, images)
        graph = tf.function(gan.train_step).get_concrete_function(dataset.element_spec).graph
        matmuls = step_matmuls(graph)
        saved = 0.0
        for matmul in matmuls:
            if matmul[2] or matmul[0][0] % 2:  # transpose_a: its rows are not the batch's
                continue
            key = str(matmul)
            if key not in measured:
                measured[key] = measure(matmul, l2, rng)
                r = measured[key]
                print(f"{r['a']} x {r['b']}{'^T' if r['transpose_b'] else ''}: whole {r['whole_us']:.0f} us, "
                      f"halves {r['split_us']:.0f} us ({r['speedup']:.2f}x), one thread by the L2 rule: "
                      f"{r['single_threaded_by_l2_rule']}, same bits: {r['same_bits']}", flush=True)
            r = measured[key]
            if r["same_bits"]:
                saved += max(0.0, r["whole_us"] - r["split_us"])
        rules[rule] = {
            "matmuls": len(matmuls), "gflop": round(sum(flops(m) for m in matmuls) / 1e9, 3),
            "most_saved_us_per_step": round(saved, 1),
        }
        print(f"{rule}: at most {saved:.0f} us a step saved, were each matmul split where faster and run alone.")
    harness.write_results(FLAGS.output, "paper", dict(
        matmuls=list(measured.values()), rules=rules, l2_bytes=l2, hardware=harness.hardware(),
        date=harness.utc_now(), command=harness.command("benchmarks.matmul_split", local=("output",))))
    print(f"Wrote {FLAGS.output}.")


if __name__ == "__main__":
    app.run(main, flags_parser=cli.flags_parser("matmul_split.py"))
