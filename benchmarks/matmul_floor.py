"""The matmuls of one training step alone: how fast a step could run on TensorFlow's matmul kernels.

`MatmulFloor(gan, element_spec)` traces `gan.train_step` into a graph, keeps
the MatMul ops the step really runs (those that feed a variable update: the
ops Grappler's pruning keeps), and builds a function that runs matmuls of the
same shapes and transposes, on the same kernels, and nothing else. A step
also has its element-wise work (optimiser updates, maxout, dropout,
activations) and its dispatch, so the floor's steps/s is an upper bound of
the step's: `benchmarks/torch_ratio.py` times it beside both sides, and its
ratio to the peer is the highest ratio any float32 step of these models could
reach on this machine with TensorFlow's matmuls.

Example:

    floor = MatmulFloor(gan, dataset.element_spec)
    floor.gflop, floor.steps_per_second(steps=100, repeats=3)
"""

import time

import numpy as np
import tensorflow as tf

MATMUL_OPS = ("MatMul", "BatchMatMulV2")
# The ops through which a step changes state: what the pruned graph must compute.
_UPDATE_OPS = ("AssignVariableOp", "AssignAddVariableOp", "AssignSubVariableOp")


def ancestors(ops):
    """The ops that `ops` depend on, through their inputs and control inputs."""
    seen, stack = set(), list(ops)
    while stack:
        op = stack.pop()
        for parent in [t.op for t in op.inputs] + list(op.control_inputs):
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return seen


def step_matmuls(graph):
    """`(shape_a, shape_b, transpose_a, transpose_b)` of each MatMul that feeds a variable update in `graph`."""
    sinks = [op for op in graph.get_operations() if op.type in _UPDATE_OPS or op.type.startswith("ResourceApply")]
    matmuls = []
    for op in ancestors(sinks):
        if op.type in MATMUL_OPS:
            flags = ("adj_x", "adj_y") if op.type == "BatchMatMulV2" else ("transpose_a", "transpose_b")
            shapes = [tuple(t.shape.as_list()) for t in op.inputs[:2]]
            if any(d is None for shape in shapes for d in shape):
                raise ValueError(f"{op.name} has an unknown dimension {shapes}: the batch must have a static shape.")
            matmuls.append((*shapes, *(bool(op.get_attr(f)) for f in flags)))
    return sorted(matmuls)


def flops(matmul):
    """Floating-point operations of one matmul (2 per multiply-add)."""
    a, b, transpose_a, transpose_b = matmul
    rows, inner = (a[-1], a[-2]) if transpose_a else (a[-2], a[-1])
    columns = b[-2] if transpose_b else b[-1]
    return 2 * int(np.prod(a[:-2], dtype=np.int64) or 1) * rows * inner * columns


def step_and_data(config, images):
    """`(gan, dataset)`: `config`'s GAN built for `images`, and its training data."""
    from gan_keras import data as data_lib
    from gan_keras.training import build_gan

    data = data_lib.TrainingData(images, config.batch_size, config.k)
    gan = build_gan(config, data.image_shape, data.pixel_mean(), data.steps_per_epoch)
    return gan, data.dataset(config.seed)


def step_and_floor(config, images):
    """`(gan, dataset, floor)`: `step_and_data`, and the step's `MatmulFloor`.

    The floor is compiled with XLA when `config.jit_compile` is set, as the step is.
    """
    gan, dataset = step_and_data(config, images)
    return gan, dataset, MatmulFloor(gan, dataset.element_spec, jit_compile=config.jit_compile)


class MatmulFloor:
    """The step's matmuls, run alone on constant inputs held in variables (so none is folded away).

    `jit_compile=True` compiles them with XLA, as `--jit_compile` compiles the step.
    """

    def __init__(self, gan, element_spec, seed=0, jit_compile=False):
        graph = tf.function(gan.train_step).get_concrete_function(element_spec).graph
        self.matmuls = step_matmuls(graph)
        self.gflop = sum(flops(m) for m in self.matmuls) / 1e9
        rng = np.random.default_rng(seed)
        self._inputs = [
            (tf.Variable(rng.standard_normal(a, np.float32)), tf.Variable(rng.standard_normal(b, np.float32)), ta, tb)
            for a, b, ta, tb in self.matmuls
        ]
        self._run = tf.function(self._step, jit_compile=jit_compile)

    def _step(self):
        return [tf.linalg.matmul(a, b, transpose_a=ta, transpose_b=tb) for a, b, ta, tb in self._inputs]

    def steps_per_second(self, steps=200, repeats=2):
        """Steps/s of `repeats` timings of `steps` calls each, after a warm-up call (tracing)."""
        self._run()
        rates = []
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(steps):
                outputs = self._run()
            outputs[-1].numpy()
            rates.append(steps / (time.perf_counter() - start))
        return rates
