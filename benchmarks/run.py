"""Runs every benchmark and writes benchmarks/results.json.

    python benchmarks/run.py            # all three, on the cores this process may use
    taskset -c 0 python benchmarks/run.py   # one core

Each benchmark warms up, repeats, and records median/min/max with the hardware
and settings in its section of results.json: `train` (steps/s through
GAN.fit), `replicas` (one device vs 2 logical CPUs), `parzen_protocol` (the full Table 1 protocol, sampling excluded) and
`serving` (images/s of the exported SavedModel).
"""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
BENCHMARKS = ("bench_train.py", "bench_replicas.py", "bench_parzen.py", "bench_serving.py")


def main():
    output = os.path.join(HERE, "results.json")
    for name in BENCHMARKS:
        print(f"== {name}", flush=True)
        subprocess.run([sys.executable, os.path.join(HERE, name), f"--output={output}"], check=True)
    with open(output) as f:
        results = json.load(f)
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
    main()
