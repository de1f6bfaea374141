"""Times the training step of this checkout against the code at a git revision, and checks they train alike.

    TFDS_DATA_DIR=... python -m benchmarks.step_baseline --baseline=HEAD~1
    python -m benchmarks.step_baseline --baseline=33d9413 --rules=alternating --rounds=5
    python -m benchmarks.step_baseline --baseline=HEAD --env=TF_NUM_INTEROP_THREADS=1
    python -m benchmarks.step_baseline --baseline=HEAD --set=steps_per_execution=50

The revision's files are extracted with `git archive` into a temporary
directory. Each round times this checkout, then the revision, each in a
process of its own that imports its own `gan_keras`: the paper preset from
the same seed, `--repeats` epochs of `--steps` steps after a warm-up epoch,
on the cores this process may use. `--env` sets environment variables
(TensorFlow's threads, allocators, oneDNN) for this checkout's processes and
unsets them for the revision's, and `--set` sets TrainConfig fields for this
checkout's side only, so `--baseline=HEAD` times a setting against the same
code without it. The speed-up is taken per round, so a
drift of the machine's speed hits both sides. Each process then hashes every
weight of G and D and every optimiser slot after all its steps: `same_bits`
says whether the two codes trained to the same bits in every round. Writes
`benchmarks/step_baseline.json`.
"""

import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import time

from absl import app, flags

from benchmarks import harness

flags.DEFINE_string("baseline", None, "The git revision to compare with (e.g. HEAD~1, a commit).")
flags.DEFINE_list("rules", list(harness.UPDATE_RULES), f"Update rules, of: {', '.join(harness.UPDATE_RULES)}.")
flags.DEFINE_integer("rounds", 3, "Rounds, each timing this checkout then the baseline.", lower_bound=1)
flags.DEFINE_integer("steps", 200, "Steps per timed epoch.", lower_bound=1)
flags.DEFINE_integer("repeats", 3, "Timed epochs per side per round.", lower_bound=1)
flags.DEFINE_list("env", [], "NAME=VALUE environment variables for this checkout's processes (unset for the revision's).")
flags.DEFINE_list("set", [], "TrainConfig overrides for this checkout's side, e.g. steps_per_execution=50.")
flags.DEFINE_string("output", harness.results_file("step_baseline.json"), "Results file.")
flags.DEFINE_string("worker_root", None, "Internal: time the gan_keras under this directory and print JSON.")
flags.DEFINE_string("rule", None, "Internal: the worker's update rule.")
flags.DEFINE_list("env_names", [], "Internal: environment variables whose values the worker reports.")
FLAGS = flags.FLAGS


def worker(root, rule):
    """Times `rule` with the `gan_keras` under `root`; returns its steps/s and the digest of its trained state."""
    sys.path.insert(0, root)
    import keras

    from gan_keras import data as data_lib
    from gan_keras.training import TrainConfig, build_gan

    config = TrainConfig.preset("paper", **harness.UPDATE_RULES[rule], **harness.parse_overrides(FLAGS.set))
    keras.utils.set_random_seed(config.stream_seed("init"))
    data = data_lib.TrainingData(data_lib.load_images("mnist", "train"), config.batch_size, config.k)
    gan = build_gan(config, data.image_shape, data.pixel_mean(), data.steps_per_epoch)
    steps_per_second = harness.fit_steps_per_second(gan, data.dataset(config.seed), FLAGS.steps, FLAGS.repeats)
    return {"steps_per_second": steps_per_second, "digest": harness.state_digest(gan),
            "package": os.path.dirname(sys.modules["gan_keras"].__file__),
            "env": {name: os.environ.get(name) for name in FLAGS.env_names}}


def extract(revision, directory):
    """Writes the files of git `revision` under `directory`; returns the revision's short hash."""
    short = harness.short_revision(revision)
    archive = os.path.join(directory, "baseline.tar")
    subprocess.run(["git", "archive", "--format=tar", f"--output={archive}", short], cwd=harness.REPO, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(os.path.join(directory, "tree"), filter="data")
    return short


def parse_env(items):
    """`["NAME=VALUE", ...]` -> `{"NAME": "VALUE", ...}`, or an exit with one line naming the bad item."""
    env = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            sys.exit(f"step_baseline.py: error: --env={item!r} is not NAME=VALUE (e.g. TF_NUM_INTEROP_THREADS=1).")
        env[name] = value
    return env


def timed(root, rule, env, overrides=()):
    """One worker process's result for the code under `root`, with `--set=overrides`.

    Its environment is this one's, with `env`'s names set to its values (None: unset).
    """
    command = [sys.executable, "-m", "benchmarks.step_baseline", f"--worker_root={root}", f"--rule={rule}",
               f"--steps={FLAGS.steps}", f"--repeats={FLAGS.repeats}", f"--set={','.join(overrides)}",
               f"--env_names={','.join(env)}"]
    environ = {name: value for name, value in os.environ.items() if name not in env}
    environ.update({name: value for name, value in env.items() if value is not None})
    result = harness.json_result(command, cwd=harness.REPO, env=environ)
    if os.path.realpath(result.pop("package")) != os.path.realpath(os.path.join(root, "gan_keras")):
        sys.exit(f"step_baseline.py: the worker for {root} imported another gan_keras.")
    return result


def main(argv):
    del argv
    if FLAGS.worker_root:
        print(json.dumps(worker(FLAGS.worker_root, FLAGS.rule)))
        return
    if not FLAGS.baseline:
        sys.exit("step_baseline.py: error: --baseline=REV is required (a git revision, e.g. HEAD~1).")
    harness.fail_unknown("step_baseline.py", "rules", FLAGS.rules, harness.UPDATE_RULES)
    env = parse_env(FLAGS.env)
    harness.set_overrides("step_baseline.py", FLAGS.set, rules=FLAGS.rules)
    with tempfile.TemporaryDirectory() as tmp:
        revision = extract(FLAGS.baseline, tmp)
        roots = {"this": harness.REPO, "baseline": os.path.join(tmp, "tree")}
        settings = {"this": (env, FLAGS.set), "baseline": (dict.fromkeys(env), ())}
        runs = {rule: {side: [] for side in roots} for rule in FLAGS.rules}
        for round_ in range(FLAGS.rounds):
            for rule in FLAGS.rules:
                for side, root in roots.items():
                    start = time.perf_counter()
                    runs[rule][side].append(timed(root, rule, *settings[side]))
                    median = harness.summarize(runs[rule][side][-1]["steps_per_second"])["median"]
                    print(f"round {round_ + 1} {rule:12s} {side:8s} {median:6.2f} steps/s "
                          f"({time.perf_counter() - start:.0f} s)", flush=True)
    results = {}
    for rule, sides in runs.items():
        medians = {side: [harness.summarize(r["steps_per_second"])["median"] for r in rs] for side, rs in sides.items()}
        digests = {r["digest"] for rs in sides.values() for r in rs}
        results[rule] = {
            "settings": {"preset": "paper", **harness.UPDATE_RULES[rule]},
            "this_set": FLAGS.set,
            "environment": {side: rs[0]["env"] for side, rs in sides.items()},  # as each side's worker saw it
            "this_steps_per_second": harness.summarize(medians["this"]),
            "baseline_steps_per_second": harness.summarize(medians["baseline"]),
            "speedup": harness.summarize([a / b for a, b in zip(medians["this"], medians["baseline"])]),
            "steps_trained_per_side": FLAGS.steps * (1 + FLAGS.repeats),
            "same_bits": len(digests) == 1,
            "runs": medians,
        }
        r = results[rule]
        print(f"{rule:12s} speed-up {r['speedup']['median']:.3f}x (min {r['speedup']['min']:.3f}, "
              f"max {r['speedup']['max']:.3f}); same bits after {r['steps_trained_per_side']} steps: {r['same_bits']}")
    # A setting's run has a section of its own, so it does not replace the code's comparison.
    section = " ".join([f"against {revision}", *(f"with {item}" for item in [*FLAGS.env, *FLAGS.set])])
    harness.write_results(FLAGS.output, section, dict(
        results, baseline=revision, date=harness.utc_now(), command=harness.command("benchmarks.step_baseline")))
    print(f"Wrote {FLAGS.output}.")


if __name__ == "__main__":
    app.run(main)
