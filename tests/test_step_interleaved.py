"""benchmarks/step_interleaved.py: its schedules keep the step's arithmetic, and its record."""

import json
import subprocess
import sys

import pytest

from benchmarks import harness

# step_interleaved defines absl flags when imported, so it is imported in a process of its own.
ORDERED = """
import keras, numpy as np, tensorflow as tf
from benchmarks.step_interleaved import input_gradient_first
from gan_keras.nets.layers import Maxout

x = tf.constant(np.random.default_rng(0).uniform(-1, 1, (100, 240)).astype("float32"))
for layer in (Maxout(240, 5), keras.layers.Dense(1200, activation="relu")):
    layer.build(x.shape)

    def gradients():
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(tf.sin(layer(x)))
        return tape.gradient(loss, [x, layer.kernel])

    plain = [g.numpy() for g in gradients()]
    with input_gradient_first():
        ordered = [g.numpy() for g in gradients()]
        graph = tf.function(gradients).get_concrete_function().graph
    same = all(np.array_equal(p.view(np.uint32), o.view(np.uint32)) for p, o in zip(plain, ordered))
    matmuls = {op.name: op for op in graph.get_operations() if op.type == "MatMul"}
    # The kernel's gradient (x^T dy) waits for the input's (dy kernel^T): a control input.
    kernel_grads = [op for op in matmuls.values() if op.get_attr("transpose_a")]
    input_grads = [op for op in matmuls.values() if op.get_attr("transpose_b")]
    waits = [bool(set(op.control_inputs) & set(input_grads)) for op in kernel_grads]
    print(type(layer).__name__, same, len(kernel_grads), waits)
"""


def test_input_gradient_first_keeps_every_bit_and_orders_the_two_gradients():
    done = subprocess.run([sys.executable, "-c", ORDERED], cwd=harness.REPO, check=True, capture_output=True,
                          text=True)
    assert done.stdout.split("\n")[:2] == ["Maxout True 1 [True]", "Dense True 1 [True]"], done.stderr[-2000:]


@pytest.mark.slow
def test_the_record_has_each_variant_at_the_same_bits(tfds_dir, tmp_path):
    output = tmp_path / "step_interleaved.json"
    # One rule keeps CI short; tests/test_gan.py checks the unrolled steps' bits in both.
    subprocess.run([sys.executable, "-m", "benchmarks.step_interleaved", "--rules=alternating", "--pairs=2",
                    "--calls=1", "--warmup=1", f"--output={output}"], cwd=harness.REPO, check=True,
                   capture_output=True, text=True)
    record = json.loads(output.read_text())["paper"]
    assert set(record) == {"alternating"}
    for variant in ("same", "input_gradient_first", "keras_loop", "keras_unrolled_loop"):
        entry = record["alternating"][variant]
        # Every schedule trains to the step's bits: after the same calls, every weight and slot is equal.
        assert entry["same_bits"] is True, variant
        assert entry["steps_per_call"] == 10
        assert entry["speedup"]["repeats"] == 2 and entry["speedup"]["median"] > 0
        assert entry["step_steps_per_second"]["median"] > 0 and entry["variant_steps_per_second"]["median"] > 0
        assert entry["first_call_seconds"]["step"] > 0 and entry["first_call_seconds"]["variant"] > 0


def test_a_bad_variant_is_named_in_one_line():
    done = subprocess.run([sys.executable, "-m", "benchmarks.step_interleaved", "--variants=fused"],
                          cwd=harness.REPO, capture_output=True, text=True)
    assert done.returncode != 0
    assert "--variants" in done.stderr and "fused" in done.stderr and "input_gradient_first" in done.stderr
