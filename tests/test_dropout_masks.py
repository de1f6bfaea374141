"""benchmarks/philox.py and dropout_masks.py: TensorFlow's dropout numbers, recomputed in TensorFlow's integer ops."""

import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from benchmarks import harness
from benchmarks.philox import philox_uniform


@pytest.mark.slow
def test_philox_in_integer_ops_draws_tensorflows_numbers_bit_for_bit(tmp_path):
    output = tmp_path / "dropout_masks.json"
    subprocess.run([sys.executable, "-m", "benchmarks.dropout_masks", "--repeats=1", f"--output={output}"],
                   cwd=harness.REPO, check=True, capture_output=True)
    results = json.loads(output.read_text())
    (section,) = [name for name in results if name.startswith("paper, ")]
    assert len(results[section]) == 4  # the two mask shapes, the date and the command
    for shape in ("input, [200, 784], rate 0.2", "hidden, [200, 240], rate 0.5"):
        rows = results[section][shape]
        assert rows["philox_xla"]["same_masks"] and rows["philox_xla"]["share_of_mask_differing"] == 0
        assert all(row["ms_per_mask"] > 0 for row in rows.values())


def test_philox_uniform_carries_into_the_counters_upper_half():
    key = tf.constant([0x0123456789ABCDEF], tf.uint64)
    for counter in ([2**64 - 3, 7], [2**64 - 1, 2**64 - 1], [5, 0]):
        counter = tf.constant(counter, tf.uint64)
        for n in (1, 6, 13):  # whole and partial blocks of 4; blocks 0-3 cross the carry
            expected = tf.raw_ops.StatelessRandomUniformV2(shape=[n], key=key, counter=counter, alg=1, dtype=tf.float32)
            np.testing.assert_array_equal(philox_uniform(key, counter, n).numpy().view(np.uint32),
                                          expected.numpy().view(np.uint32))
