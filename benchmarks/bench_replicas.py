"""Steps/s of the paper preset on one device vs MirroredStrategy over 2 logical CPUs.

    python -m benchmarks.bench_replicas

The CPU is split into 2 logical devices (as tests/test_distribute.py does);
both cases train through build_gan + GAN.fit with the global batch of 100.
This measures the overhead of the replicated step on one machine's CPU, not a
speed-up: both logical devices share the same cores.
"""

import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
from absl import app, flags  # noqa: E402

from benchmarks import harness  # noqa: E402
from gan_keras import data as data_lib  # noqa: E402
from gan_keras.training import TrainConfig, build_gan  # noqa: E402
from gan_keras.utils import cli  # noqa: E402

flags.DEFINE_integer("steps", 200, "Steps per timed epoch.", lower_bound=1)
flags.DEFINE_integer("repeats", 3, "Timed epochs per case.", lower_bound=1)
flags.DEFINE_string("output", harness.results_file("results.json"), "Results file (section 'replicas').")
FLAGS = flags.FLAGS


def steps_per_second(strategy, data, config):
    keras.utils.set_random_seed(config.seed)
    with strategy.scope():
        gan = build_gan(config, data.image_shape, data.pixel_mean(), data.steps_per_epoch)
    return harness.summarize(harness.fit_steps_per_second(gan, data.dataset(config.seed), FLAGS.steps, FLAGS.repeats))


def main(argv):
    del argv
    config = TrainConfig()
    data = data_lib.TrainingData(data_lib.load_images("mnist", "train"), config.batch_size, config.k)
    results = {
        "one_device": steps_per_second(tf.distribute.OneDeviceStrategy("/cpu:0"), data, config),
        "mirrored_2_logical_cpus": steps_per_second(
            tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]), data, config
        ),
    }
    for name, s in results.items():
        print(f"{name:24s} {s['median']:7.2f} steps/s (min {s['min']:.2f}, max {s['max']:.2f})")
    harness.write_results(FLAGS.output, "replicas", results)


if __name__ == "__main__":
    app.run(main, flags_parser=cli.flags_parser("bench_replicas.py"))
