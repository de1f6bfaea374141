"""Times the full Parzen protocol and checks it against a float64 reference.

The protocol of Table 1 without the sampling: 10,000 centres, sigma chosen
among 10 widths on 1,000 validation images, then 10,000 test images scored,
784 dimensions. Run it pinned to one core, e.g.

    TFDS_DATA_DIR=... taskset -c 0 python -m benchmarks.bench_parzen \\
        --model_dir=runs/paper

The centres are samples of `--model_dir`'s generator (drawn before timing) or,
without it, the first 10,000 training images blurred by N(0, 0.05) noise
(non-integer pixels, like a generator's). Writes its section of `benchmarks/results.json`.

`--baseline=REV` also times `gan_keras/evaluation/parzen.py` as it was at git
revision REV, in alternating runs with today's (today's, REV's, today's, ...),
so that the two are compared in one run on the same cores.
"""

import importlib.util
import os
import subprocess
import tempfile
import time

import numpy as np
from absl import app, flags

from benchmarks import harness
from gan_keras import data as data_lib
from gan_keras.evaluation import parzen
from gan_keras.evaluation.protocol import load_protocol_data
from gan_keras.training.restoring import load_generator
from gan_keras.utils import cli

flags.DEFINE_string("model_dir", None, "Training run whose generator gives the centres (optional).")
flags.DEFINE_string("data_dir", None, "TFDS data dir (default: $TFDS_DATA_DIR).")
flags.DEFINE_integer("repeats", 5, "Timed runs after one warm-up run.", lower_bound=1)
flags.DEFINE_integer("batch_size", 500, "Data rows per chunk.", lower_bound=1)
flags.DEFINE_string("baseline", None, "A git revision whose parzen.py is timed too, in alternating runs.")
flags.DEFINE_string("output", harness.results_file("results.json"), "Where to write the results.")
flags.register_validator("repeats", lambda v: v >= 1, "--repeats must be >= 1.")
FLAGS = flags.FLAGS


def reference_log_likelihood(centres, data, sigmas, chunk=200):
    """Independent float64 reference: `[S, M]` log-likelihoods, all in float64."""
    centres = np.asarray(centres, np.float64)
    sq_centres = (centres**2).sum(axis=1)
    sigmas = np.asarray(sigmas, np.float64)[:, None, None]
    out = []
    for i in range(0, len(data), chunk):
        x = np.asarray(data[i : i + chunk], np.float64)
        dist = (x**2).sum(axis=1)[:, None] - 2.0 * x @ centres.T + sq_centres[None, :]
        a = -dist[None] / (2.0 * sigmas**2)
        m = a.max(axis=2, keepdims=True)
        out.append((m + np.log(np.exp(a - m).sum(axis=2, keepdims=True)))[..., 0])
    n, d = centres.shape
    return np.concatenate(out, axis=1) - np.log(n) - d * np.log(sigmas[:, :, 0] * np.sqrt(2 * np.pi))


def centres(model_dir, data_dir):
    """10,000 centres as flattened float arrays, and a description of them."""
    if model_dir:
        restored = load_generator(model_dir)
        samples = parzen.generator_samples(restored.generator, parzen.NUM_SAMPLES)
        return parzen.as_points(samples), f"generator samples ({restored.source}, epoch {restored.epoch})"
    train = parzen.as_points(data_lib.load_images("mnist", "train", data_dir)[: parzen.NUM_SAMPLES])
    noisy = train + np.random.default_rng(0).normal(0.0, 0.05, train.shape)
    return np.clip(noisy, 0.0, 1.0), "MNIST train[:10000] + N(0, 0.05) noise, clipped to [0, 1]"


def protocol(samples, test, valid, module=parzen, **kwargs):
    """The timed part: sigma selection on `valid`, then scoring `test` (with `module`'s `parzen_evaluate`)."""
    return module.parzen_evaluate(samples, test, valid, num_samples=len(samples), **kwargs)


def parzen_at(revision):
    """`gan_keras/evaluation/parzen.py` as it was at git `revision`, imported as a module of its own."""
    source = subprocess.run(["git", "show", f"{revision}:gan_keras/evaluation/parzen.py"], cwd=harness.REPO,
                            check=True, capture_output=True, text=True).stdout
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "parzen_baseline.py")
        with open(path, "w") as f:
            f.write(source)
        spec = importlib.util.spec_from_file_location("parzen_baseline", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return module


def run_conditions():
    """What `harness.hardware()` leaves out: the cores used, the load, NumPy's BLAS."""
    return {
        "cpus_used": sorted(os.sched_getaffinity(0)),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "numpy": np.__version__,
        "blas": np.show_config(mode="dicts")["Build Dependencies"]["blas"]["name"],
    }


def baseline_record(seconds, baseline, result):
    """The `--baseline` revision's timings, in the same rounds, and how far its result is from today's."""
    times = [wall for wall, _ in seconds]
    return {
        "revision": harness.short_revision(FLAGS.baseline),
        "seconds": dict(harness.summarize(times), runs=times),
        "cpu_seconds": harness.summarize([cpu for _, cpu in seconds]),
        "log_likelihood_difference_nats": abs(baseline["log_likelihood"] - result["log_likelihood"]),
    }


def main(argv):
    del argv
    info = run_conditions()
    test, valid = load_protocol_data("mnist", FLAGS.data_dir)
    samples, what = centres(FLAGS.model_dir, FLAGS.data_dir)
    print(f"centres: {what}; cpus used: {info['cpus_used']}; load: {info['load_average_at_start']}")

    modules = {"today": parzen}
    if FLAGS.baseline:
        modules["baseline"] = parzen_at(FLAGS.baseline)
    outputs = {name: [] for name in modules}  # of the warm-up run, then of each timed run
    seconds = {name: [] for name in modules}
    for round_ in range(1 + FLAGS.repeats):  # the first round warms up
        for name, module in modules.items():
            run = harness.time_repeats(
                lambda: outputs[name].append(protocol(samples, test, valid, module, batch_size=FLAGS.batch_size)),
                repeats=1,
                warmup=0,
            )
            if round_:
                seconds[name] += run
    result = outputs["today"][-1]
    times, cpu_times = [wall for wall, _ in seconds["today"]], [cpu for _, cpu in seconds["today"]]

    start = time.perf_counter()
    ref_valid = reference_log_likelihood(samples, parzen.as_points(valid), parzen.DEFAULT_SIGMAS)
    ref_sigma = parzen.DEFAULT_SIGMAS[int(np.argmax(ref_valid.mean(axis=1)))]
    ref_test = reference_log_likelihood(samples, parzen.as_points(test), [ref_sigma])[0]
    ref_seconds = time.perf_counter() - start
    fast_valid = parzen.parzen_log_likelihood(samples, valid, parzen.DEFAULT_SIGMAS)
    fast_test = parzen.parzen_log_likelihood(samples, test, ref_sigma)
    errors = {
        "same_sigma": result["sigma"] == ref_sigma,
        "mean_log_likelihood": float(abs(result["log_likelihood"] - ref_test.mean())),
        "max_per_example_test": float(np.abs(fast_test - ref_test).max()),
        "max_per_example_valid_all_sigmas": float(np.abs(fast_valid - ref_valid).max()),
    }
    ok = errors["same_sigma"] and max(
        errors["mean_log_likelihood"], errors["max_per_example_test"],
        errors["max_per_example_valid_all_sigmas"],
    ) <= 1e-3

    record = {
        "what": "Parzen protocol without sampling: 10 sigmas on 1,000 validation images, "
        "then 10,000 test images; 10,000 centres; 784 dims",
        "centres": what,
        "seconds": dict(harness.summarize(times), runs=times, warm_up_runs=1),
        # CPU time of this process: on a core shared with other jobs it is
        # what the wall time would be with the core to itself.
        "cpu_seconds": dict(harness.summarize(cpu_times), runs=cpu_times),
        "float64_reference_seconds": ref_seconds,
        "batch_size": FLAGS.batch_size,
        "result": {k: result[k] for k in ("log_likelihood", "standard_error", "sigma")},
        "error_vs_float64_reference_nats": errors,
        "within_1e-3_nats": ok,
        "run_conditions": dict(info, load_average_at_end=[round(x, 2) for x in os.getloadavg()]),
        **({"baseline": baseline_record(seconds["baseline"], outputs["baseline"][-1], result)} if FLAGS.baseline else {}),
        "command": "taskset -c " + ",".join(map(str, info["cpus_used"])) + " " + harness.command("benchmarks.bench_parzen"),
    }
    harness.write_results(FLAGS.output, "parzen_protocol", record)
    s = record["seconds"]
    c = record["cpu_seconds"]
    print(
        f"median {s['median']:.2f} s (min {s['min']:.2f}, max {s['max']:.2f}) over {len(times)} runs "
        f"on cpus {info['cpus_used']}; CPU time median {c['median']:.2f} s (min {c['min']:.2f}); "
        f"float64 reference {ref_seconds:.1f} s"
    )
    if FLAGS.baseline:
        b = record["baseline"]["seconds"]
        print(f"baseline {FLAGS.baseline}: median {b['median']:.2f} s (min {b['min']:.2f}, max {b['max']:.2f}), "
              f"in the same rounds; today's is {b['median'] / s['median']:.2f}x as fast")
    print(f"errors vs float64 (nats): {errors}; all within 1e-3: {ok}")
    print(parzen.table1_line(result))
    print(f"Wrote {FLAGS.output}.")


if __name__ == "__main__":
    app.run(main, flags_parser=cli.flags_parser("bench_parzen.py"))
