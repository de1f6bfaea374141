"""Faster ways to take maxout's max, and whether they train to the same weights.

    TFDS_DATA_DIR=... python -m benchmarks.maxout_variants

The paper's D takes, for each of 240 units, the max of 5 affine pieces;
TensorFlow's gradient of `reduce_max` over the last axis of `[batch, 240, 5]`
splits a unit's gradient evenly among tied pieces. Each variant here computes
the same forward values:

- `reduce_max`: over the last axis, as the layer did before session 27;
- `middle_axis`: the pieces moved to the middle axis (`[batch, 5, 240]`) by a
  transpose, then TensorFlow's own max and gradient: the same arithmetic (the
  layer in sessions 27 to 29);
- `xla`: `gan_keras.nets.layers.max_over_pieces` (the layer now): the max over
  the last axis and TensorFlow's gradient formula, each compiled by XLA into
  one loop: the same arithmetic;
- `max_pool`: `tf.nn.max_pool1d` over windows of 5 (oneDNN's pooling), whose
  gradient gives a tie to the first piece;
- `one_select`: `reduce_max` with a custom gradient that gives every tied
  piece the whole gradient (session 26's reverted experiment);
- `piece_major`: the kernel's columns read piece-major (`[batch, 5, 240]`
  straight from the matmul, no transpose either way). It trains from the same
  function as the others (the initial kernel and bias are permuted to that
  layout, the trained ones permuted back to compare), but D's input gradient
  `dz W^T` sums the 1,200 pieces in another order.

For each: milliseconds of one forward and gradient of a `[200, 1200]` layer
(chained ten deep in one `tf.function`, with an add per link so that none is
pruned; both cores, median of `--repeats`), and whether `--steps` steps of the paper
preset's alternating rule from the same seed end at the very weights of
`reduce_max`. Writes `benchmarks/maxout_variants.json`.
"""

import statistics
import time

import keras
import numpy as np
import tensorflow as tf
from absl import app, flags

from benchmarks import harness
from gan_keras import data as data_lib
from gan_keras.nets.layers import Maxout, max_over_pieces
from gan_keras.training import TrainConfig, build_gan
from gan_keras.utils import cli

flags.DEFINE_integer("steps", 300, "Alternating steps trained with each variant.", lower_bound=1)
flags.DEFINE_integer("repeats", 5, "Timed runs of 200 forward-and-gradient calls.", lower_bound=1)
flags.DEFINE_string("output", harness.results_file("maxout_variants.json"), "Results file.")
FLAGS = flags.FLAGS


@tf.custom_gradient
def _one_select_max(z):
    y = tf.reduce_max(z, axis=-1)

    def grad(dy):
        return tf.where(tf.equal(z, y[..., None]), dy[..., None], tf.zeros([], dy.dtype))

    return y, grad


def variant_max(variant, z, units, pieces):
    """Maxout's max of `z` `[batch, units * pieces]` (pylearn2's layout) by `variant`."""
    if variant == "max_pool":
        return tf.squeeze(tf.nn.max_pool1d(z[..., None], pieces, pieces, "VALID"), -1)
    if variant == "piece_major":
        return tf.reduce_max(tf.reshape(z, (-1, pieces, units)), axis=1)
    pieces_last = tf.reshape(z, (-1, units, pieces))
    if variant == "reduce_max":
        return tf.reduce_max(pieces_last, axis=-1)
    if variant == "middle_axis":
        return tf.reduce_max(tf.transpose(pieces_last, (0, 2, 1)), axis=1)
    if variant == "xla":
        return max_over_pieces(pieces_last)
    return _one_select_max(pieces_last)


VARIANTS = ("reduce_max", "middle_axis", "xla", "max_pool", "one_select", "piece_major")


def piece_major_order(units, pieces):
    """Column `p * units + u` of the piece-major layout is column `u * pieces + p` of pylearn2's."""
    return np.arange(units * pieces).reshape(units, pieces).T.reshape(-1)


def _permute_maxout_weights(network, inverse=False):
    """Puts every `Maxout` layer's kernel and bias into the piece-major layout (or, `inverse`, back)."""
    for layer in network.layers:
        if isinstance(layer, Maxout):
            order = piece_major_order(layer.units, layer.pieces)
            order = np.argsort(order) if inverse else order
            layer.kernel.assign(tf.gather(layer.kernel, order, axis=1))
            layer.bias.assign(tf.gather(layer.bias, order))


def layer_milliseconds(variant, units=240, pieces=5, batch=200):
    """Median ms of one forward and gradient of the max on `[batch, units * pieces]`."""
    rng = np.random.default_rng(0)
    z = tf.constant(rng.normal(size=(batch, units * pieces)).astype(np.float32))
    dy = tf.constant(rng.normal(size=(batch, units)).astype(np.float32))

    @tf.function
    def calls():
        out = z
        for _ in range(10):
            with tf.GradientTape() as tape:
                tape.watch(out)
                y = variant_max(variant, out, units, pieces)
            out = out + 0.0 * tape.gradient(y, out, output_gradients=dy)  # chained: none is pruned
        return out

    calls()
    runs = []
    for _ in range(FLAGS.repeats):
        start = time.perf_counter()
        for _ in range(20):
            calls()
        runs.append((time.perf_counter() - start) / 200 * 1000)
    return statistics.median(runs)


def trained_weights(variant, images):
    """D's initial logits on 16 images, and every weight after `--steps` alternating steps (paper preset, seed 0)."""
    original = Maxout.call

    def call(self, inputs):
        z = keras.ops.matmul(inputs, self.kernel) + self.bias
        return variant_max(variant, z, self.units, self.pieces)

    Maxout.call = call
    try:
        config = TrainConfig.preset("paper", update="alternating")
        keras.utils.set_random_seed(config.stream_seed("init"))
        data = data_lib.TrainingData(images, config.batch_size, config.k)
        gan = build_gan(config, data.image_shape, data.pixel_mean(), data.steps_per_epoch)
        if variant == "piece_major":  # the same function as the others compute
            _permute_maxout_weights(gan.discriminator)
        initial = np.asarray(gan.discriminator(images[:16].astype(np.float32) / 255.0, training=False))
        gan.fit(data.dataset(config.seed), epochs=1, steps_per_epoch=FLAGS.steps, verbose=0)
        if variant == "piece_major":
            _permute_maxout_weights(gan.discriminator, inverse=True)
        return initial, [np.asarray(v) for v in gan.generator.weights + gan.discriminator.weights]
    finally:
        Maxout.call = original


def main(argv):
    del argv
    images = data_lib.load_images("mnist", "train")
    reference_logits, reference = trained_weights("reduce_max", images)
    results = {}
    for variant in VARIANTS:
        logits, weights = (reference_logits, reference) if variant == "reduce_max" else trained_weights(variant, images)
        differing = sum(int(np.sum(a != b)) for a, b in zip(reference, weights))
        results[variant] = {
            "forward_and_gradient_ms": round(layer_milliseconds(variant), 4),
            "same_initial_logits": bool(np.array_equal(logits, reference_logits)),  # the same function at step 0
            "weights_differing_after_steps": differing,
            "max_abs_weight_difference": float(max(np.max(np.abs(a - b)) for a, b in zip(reference, weights))),
        }
        r = results[variant]
        print(f"{variant:12s} {r['forward_and_gradient_ms']:.3f} ms; after {FLAGS.steps} alternating steps "
              f"{differing} weights differ from reduce_max's", flush=True)
    harness.write_results(FLAGS.output, "paper_alternating", dict(
        results, steps=FLAGS.steps, date=harness.utc_now(), command=harness.command("benchmarks.maxout_variants")))
    print(f"Wrote {FLAGS.output}.")


if __name__ == "__main__":
    app.run(main, flags_parser=cli.flags_parser("maxout_variants.py"))
