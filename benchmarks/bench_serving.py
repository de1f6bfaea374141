"""Images per second of the exported SavedModel, loaded with `tf.saved_model.load`.

Run it on one core, as the recorded numbers were:

    taskset -c 0 python -m benchmarks.bench_serving

For each signature (`serving_default` fed a ready z, `sample` drawing its own
z) and batch size (1, 100, 10,000) it warms up, then times `--repeats` runs of
enough calls to make about `--images_per_repeat` images, and reports the
median, min and max images/s over the repeats. Without `--saved_model` it
exports an untrained generator of the paper's MNIST preset (the weights'
values do not change the cost) to a temporary dir first.
"""

import math
import os
import statistics
import tempfile

import numpy as np
import tensorflow as tf
from absl import app, flags

from benchmarks import harness
from gan_keras import serving
from gan_keras.utils.cli import flags_parser

flags.DEFINE_string("saved_model", None, "An exported version dir (default: export the paper's generator).")
flags.DEFINE_list("batch_sizes", ["1", "100", "10000"], "Batch sizes to measure.")
flags.DEFINE_integer("warmup", 3, "Untimed calls per batch size.", lower_bound=0)
flags.DEFINE_integer("repeats", 7, "Timed repeats per batch size.", lower_bound=1)
flags.DEFINE_integer("images_per_repeat", 2_000, "About this many images per repeat (at least one call).", lower_bound=1)
flags.DEFINE_string("output", harness.results_file("results.json"), "Results file (section 'serving').")

FLAGS = flags.FLAGS
PROGRAM = "bench_serving.py"


def measure(call, batch_size, repeats, warmup, images_per_repeat):
    """images/s (median, min, max) and ms per call of `call`, which makes `batch_size` images.

    `images_per_cpu_s` divides by this process's CPU time instead of wall
    time: on one core shared with other processes it is what the rate
    would be with the core to itself.
    """
    calls = max(1, math.ceil(images_per_repeat / batch_size))
    times = harness.time_repeats(call, repeats=repeats, warmup=warmup, calls=calls)
    images = batch_size * calls
    return {
        "batch_size": batch_size,
        "calls_per_repeat": calls,
        "repeats": repeats,
        "images_per_s": harness.summarize([images / wall for wall, _ in times]),
        "images_per_cpu_s": harness.summarize([images / cpu for _, cpu in times]),
        "ms_per_call_median": 1000 * statistics.median(wall for wall, _ in times) / calls,
    }


def signature_calls(model, batch_size, latent_dim):
    """`{signature: zero-argument call}` making `batch_size` images each."""
    z = tf.constant(np.random.default_rng(0).uniform(-1, 1, (batch_size, latent_dim)), tf.float32)
    n, seed = tf.constant(batch_size), tf.constant(0)
    default, sample = model.signatures["serving_default"], model.signatures["sample"]
    return {
        "serving_default": lambda: default(z=z)["images"],
        "sample": lambda: sample(num_samples=n, seed=seed)["images"],
    }


def export_paper_generator(export_dir):
    """Exports an untrained generator of the paper's MNIST preset; returns the version dir."""
    return serving.export(harness.untrained_paper_gan().generator, export_dir)


def run_benchmark(saved_model, batch_sizes, repeats, warmup, images_per_repeat):
    """Measures every signature and batch size; returns the results as a dict."""
    model = tf.saved_model.load(saved_model)
    latent_dim = model.signatures["serving_default"].structured_input_signature[1]["z"].shape[1]
    results = []
    for batch_size in batch_sizes:
        for name, call in signature_calls(model, batch_size, latent_dim).items():
            row = dict(signature=name, **measure(call, batch_size, repeats, warmup, images_per_repeat))
            wall, cpu = row["images_per_s"], row["images_per_cpu_s"]
            print(
                f"{name:>15} batch {batch_size:>6}: {wall['median']:>9.0f} images/s "
                f"(min {wall['min']:.0f}, max {wall['max']:.0f}); "
                f"{cpu['median']:.0f} per CPU second",
                flush=True,
            )
            results.append(row)
    return results


def main(argv):
    del argv
    if len(os.sched_getaffinity(0)) != 1:
        print(f"{PROGRAM}: note: running on CPUs {sorted(os.sched_getaffinity(0))}; "
              "the recorded numbers are for one core (taskset -c 0).")
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        saved_model = FLAGS.saved_model or export_paper_generator(tmp)
        rows = run_benchmark(
            saved_model,
            [int(b) for b in FLAGS.batch_sizes],
            FLAGS.repeats,
            FLAGS.warmup,
            FLAGS.images_per_repeat,
        )
    harness.write_results(
        FLAGS.output,
        "serving",
        {
            "what": "images/s of the exported generator SavedModel (tf.saved_model.load), "
            + ("paper MNIST MLP" if FLAGS.saved_model is None else FLAGS.saved_model),
            "cpu_affinity": sorted(os.sched_getaffinity(0)),
            # Other processes on the same core slow the numbers down; this shows how busy it was.
            "load_average_1min": {"before": load_before[0], "after": os.getloadavg()[0]},
            "results": rows,
        },
    )
    print(f"Wrote {FLAGS.output}")


if __name__ == "__main__":
    app.run(main, flags_parser=flags_parser(PROGRAM))
