"""Training speed through the normal path: build_gan + TrainingData + GAN.fit.

    python benchmarks/bench_train.py                # every case
    python benchmarks/bench_train.py --cases=paper  # one case

Steps/s are timed over whole epochs of `--steps` steps after a warm-up epoch
(tracing), `--repeats` times; one step = k D updates + one G update.
"""

import os
import sys
import time

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import keras  # noqa: E402

from gan_keras import data as data_lib  # noqa: E402
from gan_keras.training import TrainConfig, build_gan  # noqa: E402

CASES = {
    "paper": dict(),
    "paper_alternating": dict(update="alternating"),
    "paper_alternating_k3": dict(update="alternating", k=3),
    "paper_batch512": dict(batch_size=512),
    "paper_jit": dict(jit_compile=True),
    "paper_spe10": dict(steps_per_execution=10),
    "paper_ema": dict(ema_decay=0.9999),
    "conv": dict(arch="conv"),
}

flags.DEFINE_list("cases", list(CASES), f"Cases to run, of: {', '.join(CASES)}.")
flags.DEFINE_integer("steps", 200, "Steps per timed epoch.")
flags.DEFINE_integer("repeats", 3, "Timed epochs per case.")
flags.DEFINE_string("output", os.path.join(os.path.dirname(__file__), "results.json"), "Results file (section 'train').")
FLAGS = flags.FLAGS


class EpochTimer(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.start)


def bench_case(settings, images):
    config = TrainConfig(**settings)
    data = data_lib.TrainingData(images, config.batch_size, config.k)
    gan = build_gan(config, data.image_shape, data.pixel_mean(), data.steps_per_epoch)
    timer = EpochTimer()
    gan.fit(
        data.dataset(config.seed),
        epochs=1 + FLAGS.repeats,
        steps_per_epoch=FLAGS.steps,
        callbacks=[timer],
        shuffle=False,
        verbose=0,
    )
    steps_per_second = [FLAGS.steps / s for s in timer.seconds[1:]]
    return {
        "settings": {**settings, "batch_size": config.batch_size, "k": config.k, "update": config.update},
        "steps_per_second": harness.summarize(steps_per_second),
        "images_per_second_median": harness.summarize(steps_per_second)["median"]
        * config.batch_size
        * config.k,
    }


def main(argv):
    del argv
    unknown = set(FLAGS.cases) - set(CASES)
    if unknown:
        sys.exit(f"bench_train.py: error: --cases: unknown {sorted(unknown)}; accepted: {', '.join(CASES)}.")
    images = data_lib.load_images("mnist", "train")
    results = {}
    for name in FLAGS.cases:
        results[name] = bench_case(CASES[name], images)
        s = results[name]["steps_per_second"]
        print(f"{name:24s} {s['median']:7.2f} steps/s (min {s['min']:.2f}, max {s['max']:.2f})", flush=True)
    harness.write_results(FLAGS.output, "train", results)


if __name__ == "__main__":
    app.run(main)
