"""Traces a run step by step to see how (and whether) the discriminator wins.

    TFDS_DATA_DIR=... taskset -c 1 python -m benchmarks.collapse_trace \\
        --out_dir=runs/trace --seed=0 --epochs=10 --set=rng_streams=1,on_collapse=warn,ema_decay=0

Trains with the given settings and, every `--every` steps, probes the
networks on a fixed minibatch (100 validation images and a fixed z, dropout
off, so the probe draws nothing from the run's random streams and does not
change its course): mean D(x) and D(G(z)), the global gradient norms of D's
and G's objectives, the learning rate and momentum, and the spread of G's
samples (mean pixel std over the probe batch; a collapsed G draws one image).
Writes the trace to `--results` (JSON) under the run's name.
"""

import os

import keras
import numpy as np
import tensorflow as tf
from absl import app, flags

from benchmarks import harness
from gan_keras import data as data_lib
from gan_keras.nets import losses
from gan_keras.training import TrainConfig, run
from gan_keras.utils import cli

flags.DEFINE_string("out_dir", None, "Where the run goes.")
flags.DEFINE_integer("seed", 0, "--seed of the run.")
flags.DEFINE_integer("epochs", 10, "Epochs.", lower_bound=1)
flags.DEFINE_integer("every", 25, "Steps between probes.", lower_bound=1)
flags.DEFINE_list("set", [], "TrainConfig overrides, e.g. batch_size=50.")
flags.DEFINE_string("name", None, "Name of the trace in the results (default: from seed and --set).")
flags.DEFINE_string("results", harness.results_file("collapse_trace.json"), "Results file.")
flags.mark_flag_as_required("out_dir")
FLAGS = flags.FLAGS


class Probe(keras.callbacks.Callback):
    """Every `every` steps: D and G on a fixed batch, gradient norms, schedules."""

    def __init__(self, real, every):
        super().__init__()
        self.real = tf.constant(real)
        self.every = every
        self.rows = []

    def on_train_batch_end(self, batch, logs=None):
        gan = self.model
        step = int(gan.g_optimizer.iterations.numpy())
        if step % self.every:
            return
        z = gan.generator.sample_noise(len(self.real), tf.constant([12345, 0]))
        with tf.GradientTape(persistent=True) as tape:
            fake = gan.generator(z, training=False)
            real_logits = tf.reshape(gan.discriminator(self.real, training=False), [-1])
            fake_logits = tf.reshape(gan.discriminator(fake, training=False), [-1])
            d_obj = tf.reduce_mean(0.5 * losses.discriminator_loss(real_logits, fake_logits))
            g_obj = tf.reduce_mean(losses.generator_loss(fake_logits, gan.g_loss))
        d_norm = tf.linalg.global_norm(tape.gradient(d_obj, gan.discriminator.trainable_variables))
        g_norm = tf.linalg.global_norm(tape.gradient(g_obj, gan.generator.trainable_variables))
        del tape
        opt = gan.g_optimizer
        self.rows.append(
            {
                "step": step,
                "epoch": round(step / self.params["steps"], 3),
                "d_real": float(tf.reduce_mean(tf.sigmoid(real_logits))),
                "d_fake": float(tf.reduce_mean(tf.sigmoid(fake_logits))),
                "d_obj": float(d_obj),
                "g_obj": float(g_obj),
                "d_grad_norm": float(d_norm),
                "g_grad_norm": float(g_norm),
                "sample_spread": float(tf.reduce_mean(tf.math.reduce_std(fake, axis=0))),
                "learning_rate": float(opt.learning_rate(opt.iterations) if callable(opt.learning_rate) else opt.learning_rate),
                "momentum": float(opt.current_momentum()),
                "epoch_mean_d_fake": float(logs.get("d_fake", np.nan)),
            }
        )


def main(argv):
    del argv
    overrides = harness.set_overrides("collapse_trace.py", FLAGS.set, preset="default",
                                      owned={"model_dir": "--out_dir", "epochs": "--epochs", "seed": "--seed"})
    name = FLAGS.name or f"seed {FLAGS.seed}" + (f", {','.join(FLAGS.set)}" if FLAGS.set else "")
    config = TrainConfig(
        model_dir=os.path.join(FLAGS.out_dir, name.replace(",", "_").replace(" ", "_")),
        epochs=FLAGS.epochs,
        seed=FLAGS.seed,
        **{"verbose": 2, **overrides},
    )
    real = data_lib.to_float(data_lib.load_images(config.dataset, "validation", config.data_dir)[:100])
    probe = Probe(real.numpy(), FLAGS.every)
    run(config, callbacks=[probe])
    results = harness.read_json(FLAGS.results, {})
    results[name] = {"config": {k: getattr(config, k) for k in ("seed", *overrides)}, "probes": probe.rows}
    harness.write_json(FLAGS.results, results)
    print(f"wrote {len(probe.rows)} probes of {name!r} to {FLAGS.results}")


if __name__ == "__main__":
    app.run(main, flags_parser=cli.flags_parser("collapse_trace.py"))
