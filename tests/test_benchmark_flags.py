"""The benchmarks' flags: counts must be positive, and a bad flag is named in one line before any work."""

import ast
import glob
import os
import subprocess
import sys

import pytest

from benchmarks import harness

# Flags that count something a benchmark divides by or takes the median of.
COUNTS = {"steps", "repeats", "rounds", "epochs", "batch_size", "every", "images_per_repeat", "cores", "steps_per_epoch",
          "calls", "pairs", "warmup"}
# Benchmarks that keep absl's own parser: step_baseline's worker must import gan_keras from the
# revision it times (so its module imports none), and results_report runs without TensorFlow.
OWN_PARSER = {"step_baseline.py", "results_report.py", "run.py"}


def benchmark_sources():
    for path in sorted(glob.glob(os.path.join(harness.HERE, "*.py"))):
        with open(path) as f:
            yield os.path.basename(path), ast.parse(f.read())


def calls(tree, name):
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and ast.unparse(n.func) == name]


def test_every_count_flag_has_a_lower_bound():
    unbounded = []
    for program, tree in benchmark_sources():
        for call in calls(tree, "flags.DEFINE_integer"):
            name = call.args[0].value
            bound = {k.arg for k in call.keywords} & {"lower_bound"}
            # epoch_time and loop_overhead check --epochs >= 2 themselves (harness.check_train_epochs).
            if name in COUNTS and not bound and not (name == "epochs" and "check_train_epochs" in ast.unparse(tree)):
                unbounded.append(f"{program} --{name}")
    assert unbounded == []


def test_every_benchmark_parses_its_flags_with_one_line_errors():
    default_parser = [program for program, tree in benchmark_sources() for call in calls(tree, "app.run")
                      if program not in OWN_PARSER and "flags_parser" not in {k.arg for k in call.keywords}]
    assert default_parser == []


@pytest.mark.parametrize(
    "program, flag, message",
    [
        ("torch_ratio", "--rounds=0", "torch_ratio.py: error: flag --rounds=0: 0 is not a positive integer"),
        ("bench_train", "--steps=0", "bench_train.py: error: flag --steps=0: 0 is not a positive integer"),
        ("xla_cpu", "--repeats=-2", "xla_cpu.py: error: flag --repeats=-2: -2 is not a positive integer"),
    ],
)
def test_a_count_below_one_is_named_in_one_line(program, flag, message, tmp_path):
    output = tmp_path / "results.json"
    done = subprocess.run([sys.executable, "-m", f"benchmarks.{program}", f"--output={output}", flag],
                          cwd=harness.REPO, capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == message
    assert not output.exists()
