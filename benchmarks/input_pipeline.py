"""How fast a folder of images is read, and how much memory streaming it takes.

    TFDS_DATA_DIR=... taskset -c 1 python -m benchmarks.input_pipeline \\
        --work_dir=runs/input_pipeline --sizes=20000,200000

writes `--sizes` folders of 64x64 RGB JPEGs (real MNIST digits, scaled up;
the folders are kept in `--work_dir` and reused), then, each in a fresh
Python so that its peak RSS is its own:

- **images/s** of `StreamingData` (`--data_source=stream`) on this process's
  cores (pin it with `taskset` to measure one core), read for `--seconds`
  after a warm-up, at `--batch_size`;
- **peak RSS** of the whole streaming start (listing and checking every file,
  the index) plus that reading: it must not grow with the folder.

Results go to `benchmarks/input_pipeline.json`. The training step's
consumption to compare with is `steps/s x batch` of the same model
(`python -m benchmarks.bench_train`, or docs/dcgan.md for `--arch=dcgan`).
"""

import json
import os
import sys

from absl import app, flags

from benchmarks import harness
from gan_keras.utils import cli

flags.DEFINE_string("work_dir", None, "Where the image folders go (kept, and reused by a later run).")
flags.DEFINE_list("sizes", ["20000", "200000"], "Images per folder.")
flags.DEFINE_integer("batch_size", 128, "Images per batch read.", lower_bound=1)
flags.DEFINE_float("seconds", 20.0, "Seconds of reading measured per folder.")
flags.DEFINE_string("results", harness.results_file("input_pipeline.json"), "Results file.")
flags.DEFINE_string("_measure", None, "(internal) measure this folder in this process and print JSON.")
FLAGS = flags.FLAGS

SIZE = 64


def make_folder(path, count):
    """`count` 64x64 RGB JPEGs of MNIST training digits under `path/<digit>/` (kept if already there)."""
    if os.path.exists(os.path.join(path, "done")):
        return
    import numpy as np
    from PIL import Image

    from gan_keras.data import load_labelled_images

    images, labels = load_labelled_images("mnist", "train")
    for i in range(count):
        digit, label = images[i % len(images), ..., 0], labels[i % len(images)]
        os.makedirs(os.path.join(path, str(label)), exist_ok=True)
        picture = Image.fromarray(np.stack([digit] * 3, -1), "RGB").resize((SIZE, SIZE), Image.BILINEAR)
        picture.save(os.path.join(path, str(label), f"{i:07d}.jpg"), quality=90)
    open(os.path.join(path, "done"), "w").close()


def measure(path):
    """Starts a streaming source on `path` and reads it: images/s and peak RSS, as a dict."""
    import resource
    import time

    from gan_keras.data import streaming

    start = time.perf_counter()
    data = streaming.folder_training_data(path, FLAGS.batch_size, source="stream")
    scan_seconds = time.perf_counter() - start
    batches = iter(data.dataset(seed=0))
    for _ in range(5):  # warm-up: tracing, the first prefetches
        next(batches)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < FLAGS.seconds:
        count += int(next(batches).shape[0])
    elapsed = time.perf_counter() - start
    return {
        "images": len(data.index),
        "scan_seconds": round(scan_seconds, 1),
        "images_per_second": round(count / elapsed, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "usable_cores": len(os.sched_getaffinity(0)),
    }


def main(argv):
    del argv
    if FLAGS._measure:
        print(json.dumps(measure(FLAGS._measure)))
        return
    if not FLAGS.work_dir:
        sys.exit("input_pipeline.py: error: --work_dir is required (where the image folders go).")
    rows = []
    for size in (int(s) for s in FLAGS.sizes):
        path = os.path.join(FLAGS.work_dir, f"jpeg64_{size}")
        make_folder(path, size)
        measured = harness.json_result([sys.executable, "-m", "benchmarks.input_pipeline", f"--_measure={path}",
                                        f"--batch_size={FLAGS.batch_size}", f"--seconds={FLAGS.seconds}"])
        rows.append({"folder_images": size, **measured})
        print(rows[-1], flush=True)
    harness.write_json(FLAGS.results, {
        "command": harness.command("benchmarks.input_pipeline", local=("work_dir",)),
        "date": harness.utc_now(),
        "hardware": harness.hardware(),
        "image": f"{SIZE}x{SIZE}x3 JPEG, quality 90",
        "batch_size": FLAGS.batch_size,
        "rows": rows,
    })


if __name__ == "__main__":
    app.run(main, flags_parser=cli.flags_parser("input_pipeline.py"))
