"""benchmarks/loop_overhead.py: train.py's loop against a bare `GAN.fit` of the same preset."""

import json
import subprocess
import sys

import pytest

from benchmarks import harness


@pytest.mark.slow
def test_train_py_and_the_bare_fit_are_timed_on_the_same_epochs(tfds_dir, tmp_path):
    output = tmp_path / "loop_overhead.json"
    subprocess.run(
        [sys.executable, "-m", "benchmarks.loop_overhead", "--presets=paper", "--rounds=1", "--epochs=2",
         "--steps_per_epoch=20", f"--output={output}"],
        cwd=harness.REPO, check=True, capture_output=True,  # tfds_dir has set $TFDS_DATA_DIR
    )
    run = json.loads(output.read_text())["paper"]
    assert run["steps_per_epoch"] == 20
    assert "--preset=paper --epochs=2" in run["train_command"] and "--steps_per_epoch=20" in run["train_command"]
    assert run["train_py_over_bare_fit"]["repeats"] == 1
    assert run["train_py_steps_per_second"]["median"] > 0 and run["bare_fit_steps_per_second"]["median"] > 0
    ratio = run["train_py_steps_per_second"]["median"] / run["bare_fit_steps_per_second"]["median"]
    assert run["train_py_over_bare_fit"]["median"] == pytest.approx(ratio)


@pytest.mark.parametrize(
    "flag, message",
    [
        ("--presets=paper,nope",
         "loop_overhead.py: error: --presets: unknown nope; accepted: default, paper, table1, dcgan."),
        ("--epochs=1", "loop_overhead.py: error: --epochs must be >= 2 (the first includes start-up); got 1."),
    ],
)
def test_bad_flags_are_named_in_one_line(flag, message):
    done = subprocess.run([sys.executable, "-m", "benchmarks.loop_overhead", flag], cwd=harness.REPO,
                          capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == message
