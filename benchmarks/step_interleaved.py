"""Two schedules of the same step, timed by turns in one process: does either make it faster?

    TFDS_DATA_DIR=... python -m benchmarks.step_interleaved
    python -m benchmarks.step_interleaved --rules=alternating --variants=same,keras_loop --pairs=60

`step_baseline` and `step_ablation` time each variant in a process of its
own for half a minute at a time, and the machine's drift between processes
spreads the rounds of one variant over up to 18% in their records, more than
the few % a schedule can gain. This benchmark builds the step as it is (A)
and a variant of it (B) in one process, from the same seed, and calls their
compiled training functions by turns: `--calls` calls of `steps_per_execution` steps each, A
first in even pairs and B first in odd ones. The speed-up of B over A is
taken per pair, so a drift over seconds hits both alike. Each variant keeps
the step's arithmetic: both copies have trained the same number of steps
when the timing starts, and `same_bits` says whether every weight and
optimiser slot of the two is then equal to the bit.

Variants:

- `same`: a second copy of the step itself, the control: how far from 1.000
  noise alone moves the median;
- `input_gradient_first`: the backward pass of every matmul in the MLPs'
  layers (Maxout, Dense) computes the gradient for its input before the one
  for its kernel (a control dependency). The input gradient is on the
  backward pass's chain; the kernel's gradient waits only for its update.
  TensorFlow's executor otherwise runs the two side by side, each at about
  one core's speed (docs/performance.md, "One core against two");
- `keras_loop`: the step's `steps_per_execution` steps in Keras's
  `tf.while_loop`, where the step (the paper preset's run of 250 epochs, as
  `build_gan` compiles it: `TrainConfig.unrolls`) calls one traced step
  that many times one after another in one `tf.function`
  (`GAN.compile(unroll_steps=True)`);
- `keras_unrolled_loop`: Keras's loop with its own unrolling
  (`unrolled_steps_per_execution`): one iteration of all the steps, each
  behind a `tf.cond` on the data's end.

`keras_loop`'s speed-up is the inverse of what `unroll_steps` gains.

Writes `benchmarks/step_interleaved.json`: per rule and variant, the median
speed-up over the pairs, its quartiles and range, the share of pairs above
1, both sides' steps/s, `same_bits`, and each side's first call (its
tracing and one call's steps), in seconds.
"""

import contextlib
import statistics
import time

from absl import app, flags

from benchmarks import harness
from gan_keras.utils import cli

VARIANTS = ("same", "input_gradient_first", "keras_loop", "keras_unrolled_loop")

flags.DEFINE_list("rules", list(harness.UPDATE_RULES), f"Update rules, of: {', '.join(harness.UPDATE_RULES)}.")
flags.DEFINE_list("variants", list(VARIANTS), f"Variants timed against the step, of: {', '.join(VARIANTS)}.")
flags.DEFINE_integer("pairs", 40, "Timed pairs (A then B, or B then A) per variant.", lower_bound=1)
flags.DEFINE_integer("calls", 5, "Calls of each training function per side of a pair.", lower_bound=1)
flags.DEFINE_integer("warmup", 3, "Untimed calls of each training function by turns, after tracing.", lower_bound=1)
flags.DEFINE_string("output", harness.results_file("step_interleaved.json"), "Results file.")
FLAGS = flags.FLAGS


@contextlib.contextmanager
def input_gradient_first():
    """While open, Maxout and Dense layers trace a matmul whose kernel gradient waits for the input gradient.

    The gradient's two matmuls are TensorFlow's own (`math_grad._MatMulGrad`
    for `x @ kernel`), only ordered.
    """
    import keras
    import tensorflow as tf

    from gan_keras.nets import layers

    @tf.custom_gradient
    def matmul(x, kernel):
        def gradient(dy):
            dx = tf.linalg.matmul(dy, kernel, transpose_b=True)
            with tf.control_dependencies([dx]):
                return dx, tf.linalg.matmul(x, dy, transpose_a=True)

        return tf.linalg.matmul(x, kernel), gradient

    def maxout_call(self, inputs):
        z = matmul(inputs, tf.convert_to_tensor(self.kernel)) + self.bias
        return layers.max_over_pieces(keras.ops.reshape(z, (-1, self.units, self.pieces)))

    def dense_call(self, inputs, training=None):
        x = matmul(inputs, tf.convert_to_tensor(self.kernel))
        if self.bias is not None:
            x = keras.ops.add(x, self.bias)
        return x if self.activation is None else self.activation(x)

    calls = layers.Maxout.call, keras.layers.Dense.call
    layers.Maxout.call, keras.layers.Dense.call = maxout_call, dense_call
    try:
        yield
    finally:
        layers.Maxout.call, keras.layers.Dense.call = calls


def built(rule, variant, images):
    """`(gan, iterator, seconds)`: the paper preset under `rule`, its training function traced as `variant` runs it.

    `seconds` is the wall time of the function's first call: its tracing and one call's steps.
    """
    import keras

    from benchmarks.matmul_floor import step_and_data
    from gan_keras.training import TrainConfig

    config = TrainConfig.preset("paper", **harness.UPDATE_RULES[rule])
    keras.utils.set_random_seed(config.stream_seed("init"))
    gan, dataset = step_and_data(config, images)
    iterator = iter(dataset)  # endless
    schedule = input_gradient_first() if variant == "input_gradient_first" else contextlib.nullcontext()
    if variant in ("keras_loop", "keras_unrolled_loop"):
        gan.unroll_steps = False
    if variant == "keras_unrolled_loop":
        gan.unrolled_steps_per_execution = gan.steps_per_execution
    with schedule:  # open while the function is traced, at its first call
        gan.make_train_function()
        start = time.perf_counter()
        gan.train_function(iterator)
    return gan, iterator, time.perf_counter() - start


def compare(rule, variant, images):
    """The record of `variant` timed by turns against the step under `rule`."""
    a_gan, a_iterator, a_first = built(rule, "step", images)
    b_gan, b_iterator, b_first = built(rule, variant, images)
    for _ in range(FLAGS.warmup):  # by turns, after both are built: A's first calls are slow after B's tracing
        a_gan.train_function(a_iterator)
        b_gan.train_function(b_iterator)
    same_bits = harness.state_digest(a_gan) == harness.state_digest(b_gan)
    a_seconds, b_seconds = [], []
    for pair in range(FLAGS.pairs):
        sides = [(a_gan.train_function, a_iterator, a_seconds), (b_gan.train_function, b_iterator, b_seconds)]
        for train, iterator, times in sides[:: 1 if pair % 2 == 0 else -1]:
            [(wall, _)] = harness.time_repeats(lambda: train(iterator), repeats=1, warmup=0, calls=FLAGS.calls)
            times.append(wall)
    speedups = sorted(a / b for a, b in zip(a_seconds, b_seconds))
    quartiles = statistics.quantiles(speedups, n=4) if len(speedups) > 1 else speedups * 3
    steps = FLAGS.calls * a_gan.steps_per_execution
    return {
        "same_bits": same_bits,
        "steps_per_call": a_gan.steps_per_execution,
        "speedup": {**harness.summarize(speedups), "q1": quartiles[0], "q3": quartiles[-1],
                    "above_1": sum(s > 1 for s in speedups) / len(speedups)},
        "first_call_seconds": {"step": a_first, "variant": b_first},
        "step_steps_per_second": harness.summarize([steps / s for s in a_seconds]),
        "variant_steps_per_second": harness.summarize([steps / s for s in b_seconds]),
    }


def main(argv):
    del argv
    harness.fail_unknown("step_interleaved.py", "rules", FLAGS.rules, harness.UPDATE_RULES)
    harness.fail_unknown("step_interleaved.py", "variants", FLAGS.variants, VARIANTS)
    from gan_keras import data as data_lib

    images = data_lib.load_images("mnist", "train")
    results = {}
    for rule in FLAGS.rules:
        results[rule] = {"settings": {"preset": "paper", **harness.UPDATE_RULES[rule]}, "date": harness.utc_now(),
                         "pairs": FLAGS.pairs, "calls": FLAGS.calls,
                         "command": harness.command("benchmarks.step_interleaved", local=("output",))}
        for variant in FLAGS.variants:
            record = results[rule][variant] = compare(rule, variant, images)
            speedup = record["speedup"]
            print(f"{rule:12s} {variant:20s} {speedup['median']:.3f}x (quartiles {speedup['q1']:.3f}-"
                  f"{speedup['q3']:.3f}, {speedup['above_1']:.0%} of pairs above 1); "
                  f"same bits: {record['same_bits']}; first calls {record['first_call_seconds']['step']:.1f} s "
                  f"and {record['first_call_seconds']['variant']:.1f} s", flush=True)
    harness.write_results(FLAGS.output, "paper", results)
    print(f"Wrote {FLAGS.output}.")


if __name__ == "__main__":
    app.run(main, flags_parser=cli.flags_parser("step_interleaved.py"))
