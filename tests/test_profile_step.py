"""benchmarks/profile_step.py: the trace's op events, summed by what they do, and each matmul timed alone."""

import json
import subprocess
import sys

import pytest

from benchmarks import harness

# profile_step defines absl flags when imported, so it is imported in a process of its own.
ALONE = """
import json
from benchmarks.profile_step import alone, matmul_times
events = [(0, 1, "a"), (0.5, 2, "b"), (3, 4, "c"), (4, 5, "d"), (6, 10, "e"), (7, 8, "f"), (9.5, 12, "g")]
print(alone(events))
mm = [(0, 2, "s/dense/MatMul:_MklMatMul"), (1, 3, "s/maxout/Relu:_MklNativeFusedMatMul"),
      (4, 5, "s/dense/MatMul:_MklMatMul"), (5.5, 6, "s/Mul:Mul")]
print(json.dumps(matmul_times(mm, steps=1)))
"""


def test_a_matmul_is_alone_only_when_no_other_op_overlaps_it():
    done = subprocess.run([sys.executable, "-c", ALONE], cwd=harness.REPO, check=True, capture_output=True, text=True)
    flags, times = done.stdout.strip().splitlines()
    # An event ending as the next one starts does not overlap it; one inside another does.
    assert flags == "[False, False, True, True, False, False, False]"
    times = json.loads(times)
    assert times["matmul_wall_ms_per_step"] == 4000.0  # [0, 3] and [4, 5], in ms
    assert times["matmuls"] == {
        "s/dense/MatMul": {"median_us": 1.5e6, "alone_median_us": 1e6, "alone_share": 0.5},
        "s/maxout/Relu": {"median_us": 2e6, "alone_median_us": None, "alone_share": 0.0},
    }


@pytest.mark.slow
def test_the_record_times_each_matmul_of_the_step(tfds_dir, tmp_path):
    output = tmp_path / "profile_step.json"
    subprocess.run(
        [sys.executable, "-m", "benchmarks.profile_step", "--rules=alternating", "--steps=10",
         f"--trace_dir={tmp_path / 'trace'}", f"--output={output}"],
        cwd=harness.REPO, check=True, capture_output=True,  # tfds_dir has set $TFDS_DATA_DIR
    )
    run = json.loads(output.read_text())["paper"]["alternating"]
    assert 0 < run["matmul_wall_ms_per_step"] <= run["ops_running_ms_per_step"]
    # The alternating step's matmuls: D's two maxout layers and its output layer, G's three layers,
    # forward and backward, in D's step and G's.
    assert len(run["matmuls"]) >= 20
    for name, times in run["matmuls"].items():
        assert times["median_us"] > 0, name
        assert 0 <= times["alone_share"] <= 1, name
        assert (times["alone_median_us"] is None) == (times["alone_share"] == 0), name
