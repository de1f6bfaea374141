"""Training speed through the normal path: build_gan + TrainingData + GAN.fit.

    python -m benchmarks.bench_train                # every case
    python -m benchmarks.bench_train --cases=paper  # one case

Steps/s are timed over whole epochs of `--steps` steps after a warm-up epoch
(tracing), `--repeats` times; one step = k D updates + one G update.
"""

from absl import app, flags

from benchmarks import harness
from gan_keras import data as data_lib
from gan_keras.training import TrainConfig, build_gan
from gan_keras.utils import cli

CASES = {
    "paper": dict(),
    "paper_alternating": dict(update="alternating"),
    "paper_alternating_k3": dict(update="alternating", k=3),
    "paper_batch512": dict(batch_size=512),
    "paper_jit": dict(jit_compile=True),
    "paper_spe10": dict(steps_per_execution=10),
    "paper_bf16": dict(mixed_precision="mixed_bfloat16"),
    "paper_fp16": dict(mixed_precision="mixed_float16"),
    "paper_ema": dict(ema_decay=0.9999),
    "conv": dict(arch="conv"),
}

flags.DEFINE_list("cases", list(CASES), f"Cases to run, of: {', '.join(CASES)}.")
flags.DEFINE_integer("steps", 200, "Steps per timed epoch.", lower_bound=1)
flags.DEFINE_integer("repeats", 3, "Timed epochs per case.", lower_bound=1)
flags.DEFINE_string("output", harness.results_file("results.json"), "Results file (section 'train').")
FLAGS = flags.FLAGS


def bench_case(settings, images):
    config = TrainConfig(**settings)
    data = data_lib.TrainingData(images, config.batch_size, config.k)
    gan = build_gan(config, data.image_shape, data.pixel_mean(), data.steps_per_epoch)
    steps_per_second = harness.fit_steps_per_second(gan, data.dataset(config.seed), FLAGS.steps, FLAGS.repeats)
    return {
        "settings": {**settings, "batch_size": config.batch_size, "k": config.k, "update": config.update},
        "steps_per_second": harness.summarize(steps_per_second),
        "images_per_second_median": harness.summarize(steps_per_second)["median"]
        * config.batch_size
        * config.k,
    }


def main(argv):
    del argv
    harness.fail_unknown("bench_train.py", "cases", FLAGS.cases, CASES)
    images = data_lib.load_images("mnist", "train")
    results = {}
    for name in FLAGS.cases:
        results[name] = bench_case(CASES[name], images)
        s = results[name]["steps_per_second"]
        print(f"{name:24s} {s['median']:7.2f} steps/s (min {s['min']:.2f}, max {s['max']:.2f})", flush=True)
    harness.write_results(FLAGS.output, "train", results)


if __name__ == "__main__":
    app.run(main, flags_parser=cli.flags_parser("bench_train.py"))
