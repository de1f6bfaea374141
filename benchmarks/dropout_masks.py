"""Can D's dropout masks be drawn faster, with the same bits?

    python -m benchmarks.dropout_masks
    taskset -c 0 python -m benchmarks.dropout_masks --output=...   # one core

`gan_keras.nets.layers.MaskedDropout` draws Keras's masks: a
`tf.random.stateless_uniform` (TensorFlow's CPU kernel of Philox-4x32-10, one
block of 10 rounds for every 4 numbers), then `uniform >= rate` selects
`1 / (1 - rate)` or 0. The paper step's D draws 380,000 such numbers a step
(simultaneous rule). Three ways of drawing a mask from the same seed:

- `tensorflow`: what the layer does (TensorFlow's kernel, then the select);
- `philox_xla`: the same Philox-4x32-10, counter and key from TensorFlow's
  `StatelessRandomGetKeyCounter`, written in TensorFlow's integer ops
  (`benchmarks.philox.philox_uniform`) and compiled by XLA, so LLVM can
  vectorise it;
- `xla_generator`: TensorFlow's `StatelessRandomUniformV2` on the same key and
  counter compiled by XLA, which lowers it to XLA's own generator.

For each mask shape of the paper step (`[200, 784]` at rate 0.2: the input
layer; `[200, 240]` at 0.5: each hidden layer) it times 200 masks in one
`tf.function` (median of `--repeats`, on the cores this process may use) and
checks that the mask equals `tensorflow`'s for a few seeds. Writes
`benchmarks/dropout_masks.json`, a section per number of usable cores.

What XLA makes of `philox_xla` (its HLO dump): one loop fusion over the
mask's elements, vectorised 8 numbers wide on AVX-512. A loop fusion computes
each output element from scratch, so each of a block's 4 numbers runs the
block's 10 rounds: 4 times the kernel's arithmetic, at 8 times its width.
"""

import os
import statistics
import time

import numpy as np
import tensorflow as tf
from absl import app, flags

from benchmarks import harness
from benchmarks.philox import philox_uniform
from gan_keras.utils import cli

flags.DEFINE_integer("repeats", 5, "Timed runs of 200 masks per method and shape.", lower_bound=1)
flags.DEFINE_string("output", harness.results_file("dropout_masks.json"), "Results file.")
FLAGS = flags.FLAGS

SHAPES = {"input, [200, 784], rate 0.2": ((200, 784), 0.2), "hidden, [200, 240], rate 0.5": ((200, 240), 0.5)}
SEEDS = ([1, 2], [-7, 99], [2**31 - 1, -(2**31)])


def mask_function(method, shape, rate):
    """A `tf.function` from an int32 seed `[2]` to the float32 dropout mask of `shape` by `method`."""
    keep = tf.constant(1 / (1 - rate), tf.float32)
    size = int(np.prod(shape))

    def select(uniform):
        return tf.where(uniform >= rate, keep, tf.zeros([], tf.float32))

    @tf.function(jit_compile=True)
    def philox_xla(key, counter):
        return select(tf.reshape(philox_uniform(key, counter, size), shape))

    @tf.function(jit_compile=True)
    def xla_generator(key, counter):
        return select(tf.raw_ops.StatelessRandomUniformV2(shape=shape, key=key, counter=counter, alg=1, dtype=tf.float32))

    @tf.function
    def mask(seed):
        if method == "tensorflow":
            return select(tf.random.stateless_uniform(shape, seed, dtype=tf.float32))
        key, counter = tf.raw_ops.StatelessRandomGetKeyCounter(seed=seed)
        return (philox_xla if method == "philox_xla" else xla_generator)(key, counter)

    return mask


METHODS = ("tensorflow", "philox_xla", "xla_generator")


def milliseconds_per_mask(mask):
    @tf.function
    def masks(seed):
        total = tf.constant(0.0)
        for i in tf.range(200):
            total += mask(seed + tf.cast(i, tf.int32))[0, 0]  # each mask is used: none is pruned
        return total

    seed = tf.constant([3, 4], tf.int32)
    masks(seed)
    runs = []
    for _ in range(FLAGS.repeats):
        start = time.perf_counter()
        masks(seed).numpy()
        runs.append((time.perf_counter() - start) / 200 * 1000)
    return statistics.median(runs)


def main(argv):
    del argv
    results = {}
    for name, (shape, rate) in SHAPES.items():
        masks = {method: mask_function(method, shape, rate) for method in METHODS}
        reference = [masks["tensorflow"](tf.constant(s, tf.int32)).numpy() for s in SEEDS]
        rows = results[name] = {}
        for method, mask in masks.items():
            drawn = [mask(tf.constant(s, tf.int32)).numpy() for s in SEEDS]
            ms = milliseconds_per_mask(mask)
            rows[method] = {
                "ms_per_mask": round(ms, 4),
                "ns_per_number": round(ms * 1e6 / np.prod(shape), 2),
                "same_masks": all(np.array_equal(a, b) for a, b in zip(reference, drawn)),
                "share_of_mask_differing": float(np.mean([np.mean(a != b) for a, b in zip(reference, drawn)])),
            }
            r = rows[method]
            print(f"{name:30s} {method:14s} {r['ms_per_mask']:.3f} ms ({r['ns_per_number']:.2f} ns a number); "
                  f"same masks as TensorFlow's: {r['same_masks']}", flush=True)
    cores = len(os.sched_getaffinity(0))
    harness.write_results(FLAGS.output, f"paper, {cores} core{'s' if cores > 1 else ''}", dict(
        results, date=harness.utc_now(), command=harness.command("benchmarks.dropout_masks", local=("output",))))
    print(f"Wrote {FLAGS.output}.")


if __name__ == "__main__":
    app.run(main, flags_parser=cli.flags_parser("dropout_masks.py"))
