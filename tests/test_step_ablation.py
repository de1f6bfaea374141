"""benchmarks/step_ablation.py: each variant takes out what it names, and only that."""

import sys

import pytest

from benchmarks import harness

# Runs in a process of its own: `remove` patches gan_keras's modules for good.
SCRIPT = """
import hashlib, json, sys
import keras, numpy as np, tensorflow as tf
from benchmarks import step_ablation
from benchmarks.matmul_floor import ancestors
from gan_keras import data as data_lib
from gan_keras.nets import layers
from gan_keras.training import TrainConfig, build_gan

step_ablation.remove(sys.argv[1].split(","))
config = TrainConfig.preset("paper", update="alternating")
keras.utils.set_random_seed(0)
images = np.random.default_rng(0).integers(0, 256, size=(400, 28, 28, 1), dtype=np.uint8)
data = data_lib.TrainingData(images, config.batch_size, config.k)
gan = build_gan(config, data.image_shape, data.pixel_mean(), data.steps_per_epoch)
weights = gan.generator.weights + gan.discriminator.weights
before = [np.array(w) for w in weights]
gan.fit(data.dataset(0), epochs=1, steps_per_epoch=2, verbose=0)
changed = [int(np.sum(np.array(w) != b)) for w, b in zip(weights, before)]
digest = hashlib.sha256(b"".join(np.array(w).tobytes() for w in weights)).hexdigest()
graph = tf.function(gan.train_step).get_concrete_function(data.dataset(0).element_spec).graph
calls = [op for op in graph.get_operations() if op.type in ("PartitionedCall", "StatefulPartitionedCall")]
executors = sorted({op.get_attr("executor_type").decode() for op in calls})
forward = [op for op in graph.get_operations() if op.type == "MatMul" and "gradient_tape" not in op.name]
waits_for = None  # with the step in a function of its own, its ops are not in this graph
if forward:
    g_step_matmul = [op for op in forward if op.name.startswith("generator")][3]  # the G step's first
    before_g_step = ancestors([g_step_matmul])
    waits_for = [what for what, found in (
        ("D's forward", any(op in before_g_step for op in forward if op.name.startswith("discriminator"))),
        ("D's update", any(op.type.startswith("ResourceApply") for op in before_g_step)),
    ) if found]
maxout = layers.Maxout(4, 5)
x = np.random.default_rng(1).normal(size=(3, 6)).astype("float32")
maxout.build(x.shape)
pieces = (x @ np.array(maxout.kernel) + np.array(maxout.bias)).reshape(3, maxout.units, maxout.pieces)
out = np.array(maxout(x))
print(json.dumps({"changed": changed, "sizes": [int(b.size) for b in before], "digest": digest,
                  "g_step_waits_for": waits_for, "executors": executors,
                  "first_piece": bool(np.allclose(out, pieces[..., 0], atol=1e-5)),
                  "max": bool(np.allclose(out, pieces.max(-1), atol=1e-5))}))
"""


def run(parts):
    return harness.json_result([sys.executable, "-c", SCRIPT, ",".join(parts)], cwd=harness.REPO)


@pytest.mark.slow
def test_without_the_optimizer_each_weight_changes_in_at_most_one_number_and_maxout_takes_the_first_piece():
    result = run(["optimizer", "maxout"])
    assert all(changed <= 1 for changed in result["changed"]), result["changed"]
    assert any(result["changed"]), "the one-number writes ran"
    assert result["first_piece"] and not result["max"]


@pytest.mark.slow
def test_with_nothing_removed_the_step_trains_every_weight_and_maxout_takes_the_max():
    result = run([])
    assert all(changed > size // 2 for changed, size in zip(result["changed"], result["sizes"]))
    assert result["max"] and not result["first_piece"]


@pytest.mark.slow
def test_without_the_order_no_weight_is_written():
    result = run(["optimizer", "order"])
    assert not any(result["changed"]), result["changed"]
    assert result["max"]


@pytest.mark.slow
def test_the_waits_keep_the_bits_and_start_the_g_step_after_ds_forward_or_update():
    step, forward, update = run([]), run(["wait_for_d_forward"]), run(["wait_for_d_update"])
    assert step["digest"] == forward["digest"] == update["digest"]
    assert step["g_step_waits_for"] == []
    assert forward["g_step_waits_for"] == ["D's forward"]
    assert update["g_step_waits_for"] == ["D's forward", "D's update"]


@pytest.mark.slow
def test_the_single_threaded_executor_keeps_the_bits_and_runs_the_step():
    step, single = run([]), run(["single_threaded_executor"])
    assert single["digest"] == step["digest"]
    assert "SINGLE_THREADED_EXECUTOR" not in step["executors"]
    assert single["executors"] == ["SINGLE_THREADED_EXECUTOR"], single["executors"]
