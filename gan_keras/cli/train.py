"""Trains the adversarial nets of Goodfellow et al. (2014).

The defaults are the paper's MNIST configuration (the authors' released
code, with its simultaneous update), plus weight averaging of G and a
rollback when the discriminator wins; `--preset=paper` is the released
configuration exactly:

    python train.py --model_dir=runs/mnist
    python train.py --preset=paper --model_dir=runs/paper

Any TFDS image dataset works (`--dataset=fashion_mnist --arch=conv`), and so
does a folder of your own images (`--dataset=folder:PATH --image_size=32`);
`--preset=dcgan --dataset=cifar10` trains the DCGAN of Radford et al. (2015)
with Adam (docs/dcgan.md). A run
resumes from its newest checkpoint when `--model_dir` already holds one.
SIGTERM or SIGINT (Ctrl-C) saves a checkpoint at the current step and exits
with status 0; rerun the same command to resume (docs/reliability.md).
Flags can also come from a file: `--flagfile=paper.flags`.
"""

import dataclasses

from absl import app, flags

from gan_keras.data.streaming import SOURCES
from gan_keras.nets.gan import UPDATES
from gan_keras.nets.losses import G_LOSSES
from gan_keras.nets.models import ARCHS
from gan_keras.nets.noise import NOISE_KINDS
from gan_keras.nets.optimizers import OPTIMIZERS
from gan_keras.nets.precision import POLICIES
from gan_keras.training import PRESETS, ConfigError, TrainConfig, run
from gan_keras.training.checkpointing import CheckpointError
from gan_keras.training.config import AUTO_UNROLL_MIN_STEPS, UNROLL_CHOICES
from gan_keras.training.distribute import STRATEGIES
from gan_keras.training.divergence import COLLAPSE_POLICIES, CollapseError, DivergenceError
from gan_keras.utils.cli import fail, flags_parser
from gan_keras.utils.storage import StorageError

__all__ = [
    "config_from_flags",
    "run_main",
]

_D = TrainConfig()


def _describe_presets():
    rows = []
    for name, overrides in PRESETS.items():
        values = ", ".join(f"--{k}={v}" for k, v in overrides.items()) or "the defaults below"
        rows.append(f"{name}: {values}")
    return "; ".join(rows)


def define_flags():
    """Defines the flags of `TrainConfig` and `--preset` (when run as a program; importing must not)."""
    flags.DEFINE_enum(
        "preset",
        "default",
        list(PRESETS),
        "A named bundle of flag defaults; flags given on the command line override it. "
        + _describe_presets()
        + ". paper is the authors' released MNIST configuration exactly; dcgan the DCGAN of Radford et al. 2015 "
        "with its published Adam settings.",
    )

    flags.DEFINE_string(
        "dataset",
        _D.dataset,
        "TFDS image dataset name, e.g. mnist, cifar10; ring8 (2-D toy, --arch=points); or folder:PATH, a "
        "directory of PNG/JPEG images (one sub-folder per class gives labels for --conditional).",
    )
    flags.DEFINE_integer(
        "image_size", _D.image_size, "folder:PATH only: images are resized and centre-cropped to this square "
        "size (0: the first image's size)."
    )
    flags.DEFINE_integer(
        "image_channels", _D.image_channels, "folder:PATH only: 1 (grayscale) or 3 (RGB); 0: the first image's."
    )
    flags.DEFINE_enum(
        "data_source", _D.data_source, list(SOURCES), "folder:PATH only: memory holds the decoded images in RAM, "
        "stream reads them from disk each epoch (same batches); auto: memory up to 2 GiB of decoded images."
    )
    flags.DEFINE_string("data_dir", _D.data_dir, "TFDS data dir (default: $TFDS_DATA_DIR, then TFDS's).")
    flags.DEFINE_string("model_dir", _D.model_dir, "Where checkpoints, logs and the generator go.")
    flags.DEFINE_enum(
        "arch",
        _D.arch,
        list(ARCHS),
        "mlp: the paper's MLPs; conv: small conv nets; points: for ring8; dcgan: Radford et al. 2015, "
        "square images of side 32, 64, ... (needs --nod_dropout; see --preset=dcgan).",
    )
    flags.DEFINE_integer("latent_dim", _D.latent_dim, "Dimension of the noise z.")
    flags.DEFINE_enum("noise", _D.noise, list(NOISE_KINDS), "p_z: U[-sqrt3, sqrt3] (paper) or N(0, 1).")
    flags.DEFINE_boolean(
        "conditional",
        _D.conditional,
        "Conditional GAN p(x|c) (paper, Sec. 7): G and D get the class label (one-hot); labelled datasets only.",
    )
    flags.DEFINE_integer(
        "batch_size", _D.batch_size, "Minibatch size m of each D and G step, global: split across replicas."
    )
    flags.DEFINE_integer("k", _D.k, "Discriminator steps per generator step (needs --update=alternating if > 1).")
    flags.DEFINE_enum(
        "update",
        _D.update,
        list(UPDATES),
        "simultaneous: the authors' released code (Table 1); alternating: Algorithm 1 of the paper.",
    )
    flags.DEFINE_enum("g_loss", _D.g_loss, list(G_LOSSES), "Generator loss.")
    flags.DEFINE_boolean("d_dropout", _D.d_dropout, "Dropout in D (the paper's: keep 0.8 input, 0.5 hidden).")
    flags.DEFINE_integer("epochs", _D.epochs, "Total number of epochs (a resumed run continues to it).")
    flags.DEFINE_integer("steps_per_epoch", _D.steps_per_epoch, "GAN steps per epoch (default: one pass over the data).")
    flags.DEFINE_integer(
        "checkpoint_every_steps",
        _D.checkpoint_every_steps,
        "Also save a checkpoint every N GAN steps inside epochs (0: only at epoch ends); for long epochs.",
    )
    flags.DEFINE_float(
        "checkpoint_every_minutes",
        _D.checkpoint_every_minutes,
        "Also save a checkpoint when this many minutes have passed since the last one (0: off).",
    )
    flags.DEFINE_float(
        "keep_checkpoint_every_hours",
        _D.keep_checkpoint_every_hours,
        "Besides the last 3 checkpoints, keep one per this many hours for good (0: off); for learning curves.",
    )
    flags.DEFINE_enum(
        "optimizer",
        _D.optimizer,
        list(OPTIMIZERS),
        "Optimiser of G and D: sgd (the paper's, with --momentum_*) or adam (with --adam_beta1/2; DCGAN's). "
        "A run resumes only with the optimiser it was started with.",
    )
    flags.DEFINE_float("learning_rate", _D.learning_rate, "Initial learning rate of both optimisers.")
    flags.DEFINE_float("lr_decay", _D.lr_decay, "The learning rate is divided by this after every update.")
    flags.DEFINE_float("min_learning_rate", _D.min_learning_rate, "Floor of the learning rate.")
    flags.DEFINE_float("momentum_initial", _D.momentum_initial, "SGD's momentum in epoch 1.")
    flags.DEFINE_float("momentum_final", _D.momentum_final, "Momentum from --momentum_saturate_epoch on.")
    flags.DEFINE_integer("momentum_saturate_epoch", _D.momentum_saturate_epoch, "Epoch at which momentum reaches its final value.")
    flags.DEFINE_float("adam_beta1", _D.adam_beta1, "Adam's beta_1 (--optimizer=adam; DCGAN: 0.5).")
    flags.DEFINE_float("adam_beta2", _D.adam_beta2, "Adam's beta_2 (--optimizer=adam).")
    flags.DEFINE_float(
        "ema_decay",
        _D.ema_decay,
        "Keep an exponential moving average of G's weights with this decay per step, e.g. 0.9999 "
        "(0: off, the paper). Training is unchanged; evaluation, samples and export use the average.",
    )
    flags.DEFINE_enum(
        "mixed_precision",
        _D.mixed_precision,
        list(POLICIES),
        "Compute dtype of G and D (weights stay float32): mixed_float16 (GPUs; a loss scale per network, "
        "each network's step skipped on overflow) or mixed_bfloat16 (TPUs, recent CPUs). Losses, "
        "evaluation and saved generators are float32. A run resumes only with the policy it started with.",
    )
    flags.DEFINE_float(
        "ema_power",
        _D.ema_power,
        "Until --ema_decay is reached, the average weighs G's weights of step s in proportion to "
        "s**ema_power (0: the mean of all steps; 8: the last tenth or so; --preset=table1: 1).",
    )
    flags.DEFINE_enum(
        "on_collapse",
        _D.on_collapse,
        list(COLLAPSE_POLICIES),
        "When D has won (see --collapse_threshold): recover: roll back to the oldest kept "
        "checkpoint and go on with new noise, dropout and batch-order streams; warn: say so and "
        "train on; stop: exit with an error.",
    )
    flags.DEFINE_float(
        "collapse_threshold", _D.collapse_threshold, "D has won when an epoch's mean D(G(z)) is below this."
    )
    flags.DEFINE_integer("max_recoveries", _D.max_recoveries, "At most this many rollbacks with --on_collapse=recover.")
    flags.DEFINE_integer(
        "seed",
        _D.seed,
        "Seed of initialisation, data order, noise and dropout: the same seed gives the same run "
        "on any core count of the same CPU model and TensorFlow build (docs/reliability.md).",
    )
    flags.DEFINE_integer(
        "rng_streams",
        _D.rng_streams,
        "Layout of the random streams drawn from --seed: 2 (one stream per purpose) for new runs; "
        "1 for runs made before it. Default: the run's own when resuming, else 2.",
    )
    flags.DEFINE_boolean(
        "deterministic", _D.deterministic, "Enable TF op determinism (needed on GPUs for repeatable runs)."
    )
    flags.DEFINE_enum(
        "strategy",
        _D.strategy,
        list(STRATEGIES),
        "tf.distribute strategy: one device, all local GPUs, several machines (TF_CONFIG), TPU.",
    )
    flags.DEFINE_string("tpu", _D.tpu, "TPU address for --strategy=tpu ('' or 'local' on a TPU VM).")
    flags.DEFINE_boolean("jit_compile", _D.jit_compile, "Compile train_step with XLA (slower on CPU; measure).")
    flags.DEFINE_integer(
        "steps_per_execution",
        _D.steps_per_execution,
        "Train steps per tf.function call; 0: automatic (up to 10, dividing the epoch, "
        "--checkpoint_every_steps and --log_every_steps; 1 under a distribution strategy). "
        "Training is the same, bit for bit, for every value.",
    )
    flags.DEFINE_enum(
        "unroll_steps",
        _D.unroll_steps,
        list(UNROLL_CHOICES),
        "Run a tf.function call's steps one after another instead of in Keras's loop: 2-3% faster a "
        f"step, for 1-2 s more tracing; auto: on for runs of {AUTO_UNROLL_MIN_STEPS} steps or more. "
        "Training is the same, bit for bit.",
    )
    flags.DEFINE_integer("log_every_steps", _D.log_every_steps, "GAN steps between TensorBoard scalar points.")
    flags.DEFINE_boolean("histograms", _D.histograms, "Also log weight histograms to TensorBoard every epoch.")
    flags.DEFINE_integer(
        "parzen_every_epochs",
        _D.parzen_every_epochs,
        "Log the Parzen estimate every N epochs (0: off), as parzen_ll_<M>samples.",
    )
    flags.DEFINE_integer("parzen_samples", _D.parzen_samples, "Generator samples for --parzen_every_epochs.")
    flags.DEFINE_integer(
        "classifier_metrics_every_epochs",
        _D.classifier_metrics_every_epochs,
        "Log the MNIST score, Frechet distance and classes covered every N epochs (0: off; 28x28x1 data).",
    )
    flags.DEFINE_integer(
        "classifier_metrics_samples", _D.classifier_metrics_samples, "Generator samples for those metrics."
    )
    flags.DEFINE_enum("verbose", _D.verbose, ["auto", "0", "1", "2"], "Keras progress output.")

FLAGS = flags.FLAGS


def config_from_flags():
    """The `TrainConfig` the command line describes: the preset, then the flags given."""
    values = {
        f.name: FLAGS[f.name].value
        for f in dataclasses.fields(TrainConfig)
        if FLAGS[f.name].present or f.name not in PRESETS[FLAGS.preset]
    }
    if values.get("verbose", "auto") != "auto":
        values["verbose"] = int(values["verbose"])
    return TrainConfig.preset(FLAGS.preset, **values)


def main(argv):
    del argv
    try:
        run(config_from_flags())
    except (ConfigError, DivergenceError, CollapseError, CheckpointError, StorageError) as e:
        fail("train.py", e)



def run_main():
    """The console script; `python train.py` and `python -m gan_keras.cli.train` run it too."""
    define_flags()
    app.run(main, flags_parser=flags_parser("train.py"))


if __name__ == "__main__":
    run_main()
