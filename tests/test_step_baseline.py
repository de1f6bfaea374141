"""benchmarks/step_baseline.py: this checkout against a git revision, in processes of their own."""

import json
import subprocess
import sys

import pytest

from benchmarks import harness


@pytest.mark.slow
def test_the_same_code_at_head_trains_to_the_same_bits(tfds_dir, tmp_path):
    if subprocess.run(["git", "rev-parse", "HEAD"], cwd=harness.REPO, capture_output=True).returncode:
        pytest.skip("not a git checkout")
    output = tmp_path / "step_baseline.json"
    subprocess.run(
        [sys.executable, "-m", "benchmarks.step_baseline", "--baseline=HEAD", "--rules=alternating",
         "--rounds=1", "--steps=5", "--repeats=1", f"--output={output}"],
        cwd=harness.REPO, check=True, capture_output=True,  # tfds_dir has set $TFDS_DATA_DIR
    )
    results = json.loads(output.read_text())
    (section,) = [name for name in results if name.startswith("against ")]
    run = results[section]["alternating"]
    assert run["steps_trained_per_side"] == 10
    assert run["this_steps_per_second"]["repeats"] == run["baseline_steps_per_second"]["repeats"] == 1
    # The checkout may hold uncommitted changes to training, so only a clean tree must give the same bits.
    dirty = subprocess.run(["git", "status", "--porcelain", "gan_keras"], cwd=harness.REPO, capture_output=True,
                           text=True).stdout
    if not dirty:
        assert run["same_bits"]


@pytest.mark.slow
def test_a_setting_reaches_this_checkouts_side_only(tfds_dir, tmp_path, monkeypatch):
    if subprocess.run(["git", "rev-parse", "HEAD"], cwd=harness.REPO, capture_output=True).returncode:
        pytest.skip("not a git checkout")
    monkeypatch.setenv("TF_NUM_INTEROP_THREADS", "3")  # set in the shell: the revision's side must not inherit it
    output = tmp_path / "step_baseline.json"
    subprocess.run(
        [sys.executable, "-m", "benchmarks.step_baseline", "--baseline=HEAD", "--rules=alternating",
         "--rounds=1", "--steps=5", "--repeats=1", "--env=TF_NUM_INTEROP_THREADS=1", "--set=d_dropout=False",
         f"--output={output}"],
        cwd=harness.REPO, check=True, capture_output=True,
    )
    results = json.loads(output.read_text())
    (section,) = [name for name in results if name.startswith("against ")]
    assert section.endswith(" with TF_NUM_INTEROP_THREADS=1 with d_dropout=False")
    run = results[section]["alternating"]
    assert run["environment"] == {"this": {"TF_NUM_INTEROP_THREADS": "1"}, "baseline": {"TF_NUM_INTEROP_THREADS": None}}
    assert run["this_set"] == ["d_dropout=False"]
    assert not run["same_bits"]  # D without dropout trains to other numbers: the --set reached one side


@pytest.mark.parametrize(
    "flag, message",
    [
        ("--env=TF_NUM_INTEROP_THREADS", "step_baseline.py: error: --env='TF_NUM_INTEROP_THREADS' is not NAME=VALUE "
                                         "(e.g. TF_NUM_INTEROP_THREADS=1)."),
        ("--rules=alternating,backwards", "step_baseline.py: error: --rules: unknown backwards; accepted: "
                                          "simultaneous, alternating."),
    ],
)
def test_a_bad_setting_is_named_in_one_line(flag, message):
    done = subprocess.run([sys.executable, "-m", "benchmarks.step_baseline", "--baseline=HEAD", flag],
                          cwd=harness.REPO, capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == message
