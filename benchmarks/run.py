"""Runs every benchmark and writes benchmarks/results.json.

    python -m benchmarks.run                # all four, on the cores this process may use
    taskset -c 0 python -m benchmarks.run   # one core

Each benchmark warms up, repeats, and records median/min/max with the hardware
and settings in its section of results.json: `train` (steps/s through
GAN.fit), `replicas` (one device vs 2 logical CPUs), `parzen_protocol` (the full Table 1 protocol, sampling excluded) and
`serving` (images/s of the exported SavedModel).
"""

import subprocess
import sys

from absl import app

from benchmarks import harness

BENCHMARKS = ("bench_train", "bench_replicas", "bench_parzen", "bench_serving")


def main(argv):
    del argv
    output = harness.results_file("results.json")
    for name in BENCHMARKS:
        print(f"== {name}", flush=True)
        # Each in a fresh Python (bench_replicas splits the CPU before TensorFlow starts).
        subprocess.run([sys.executable, "-m", f"benchmarks.{name}", f"--output={output}"], check=True, cwd=harness.REPO)
    results = harness.read_json(output, {})
    print("\nsummary (median, min-max):")
    for case, r in results.get("train", {}).items():
        s = r["steps_per_second"]
        print(f"  train {case:24s} {s['median']:8.2f} steps/s ({s['min']:.2f}-{s['max']:.2f})")
    for case, s in results.get("replicas", {}).items():
        print(f"  replicas {case:23s} {s['median']:8.2f} steps/s ({s['min']:.2f}-{s['max']:.2f})")
    if "parzen_protocol" in results:
        s = results["parzen_protocol"]["seconds"]
        print(f"  parzen full protocol           {s['median']:8.2f} s ({s['min']:.2f}-{s['max']:.2f})")
    for row in results.get("serving", {}).get("results", []):
        s = row["images_per_s"]
        print(f"  serving {row['signature']:15s} batch {row['batch_size']:6d} {s['median']:9.0f} images/s")


if __name__ == "__main__":
    app.run(main)  # no flags of its own; --help shows this docstring
