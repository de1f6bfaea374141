"""The settings of a training run and the model dir format: `TrainConfig`, presets, `config.json`."""

import dataclasses
import json
import math
import os

from gan_keras import data as data_lib
from gan_keras.data import folder, ring
from gan_keras.data.streaming import SOURCES
from gan_keras.nets import precision, streams
from gan_keras.nets.gan import UPDATES
from gan_keras.nets.losses import G_LOSSES
from gan_keras.nets.models import ARCHS, check_image_shape
from gan_keras.nets.noise import NOISE_KINDS
from gan_keras.nets.optimizers import OPTIMIZERS
from gan_keras.training import distribute
from gan_keras.training.divergence import (
    COLLAPSE_POLICIES,
    D_WON_THRESHOLD,
)
from gan_keras.utils import storage
from gan_keras.utils.cli import first_line

__all__ = [
    "ARCHITECTURE_FIELDS",
    "AUTO_STEPS_PER_EXECUTION",
    "AUTO_UNROLL_MIN_STEPS",
    "CHECKPOINT_SUBDIR",
    "CONFIG_FILE",
    "PRESETS",
    "RESUME_FIELDS",
    "UNROLL_CHOICES",
    "ConfigError",
    "TrainConfig",
    "check_compatible",
    "load_config",
    "save_config",
]

CONFIG_FILE = "config.json"
# Train steps per tf.function call with --steps_per_execution=0 (automatic):
# enough to share fit's per-call overhead (about 10% of the paper's step on a
# CPU, docs/performance.md), few enough that callbacks see every 10th step.
AUTO_STEPS_PER_EXECUTION = 10
# --unroll_steps: "auto" calls a `tf.function` call's steps one after another
# (not in Keras's loop) in runs of at least this many steps, where the 1-2 s of
# extra tracing is under 1% of a run it makes 2-3% faster (docs/performance.md).
UNROLL_CHOICES = ("auto", "on", "off")
AUTO_UNROLL_MIN_STEPS = 5000
CHECKPOINT_SUBDIR = "checkpoints"
# The fields that fix the shape of the networks: a model_dir trained with
# other values cannot be resumed or exported with these.
ARCHITECTURE_FIELDS = ("dataset", "image_size", "image_channels", "arch", "latent_dim", "noise", "conditional")
# Fields that fix what a checkpoint's optimiser state is (SGD's velocities,
# Adam's moments): a model_dir cannot be resumed with other values (but a
# generator trained with any can be exported).
RESUME_FIELDS = ("optimizer", "mixed_precision")


class ConfigError(ValueError):
    """A bad setting; the message names the flag and the accepted values."""


def dataset_error(error):
    """The `ConfigError` of a dataset that cannot be used: `error`'s first line, naming `--dataset` if it does not."""
    line = first_line(error, limit=None)  # a path in it is kept whole
    return ConfigError(line if line.startswith("--") else f"--dataset: {line}")


@dataclasses.dataclass
class TrainConfig:
    """Settings of a training run: the paper's MNIST configuration, made robust.

    The defaults are the released MNIST configuration (architecture,
    initialisation, dropout, the simultaneous update, the SGD schedules) with
    three changes that are not in the paper: minibatches of 50 images, not
    100 (`batch_size=50`: twice the updates per epoch; at 30 epochs it covered
    all ten digits with a third of the Frechet distance, docs/reliability.md);
    G's weights are averaged (`ema_decay=0.99998`; evaluation, samples and
    export use the average); and a run whose discriminator has won is rolled
    back and continued on new random streams (`on_collapse="recover"`). `TrainConfig.preset("paper")` is the
    released configuration exactly, `TrainConfig.preset("dcgan")` the DCGAN
    of Radford et al. (2015) with its Adam settings; see `PRESETS`.

    `optimizer` is `"sgd"` (the paper's, with `momentum_*`) or `"adam"` (with
    `adam_beta1`, `adam_beta2`); both follow `learning_rate`, `lr_decay` and
    `min_learning_rate`.

    `mixed_precision="mixed_float16"` or `"mixed_bfloat16"` trains G and D
    with float32 weights computing in the low precision (for GPUs and TPUs;
    float16 with a loss scale per network, `gan_keras.nets.precision`);
    losses, evaluation and every saved generator stay float32.

    Example:

    >>> config = TrainConfig(model_dir="/tmp/run", epochs=5)
    >>> config.validate()
    >>> TrainConfig.preset("paper", epochs=5).ema_decay
    0.0
    """

    dataset: str = "mnist"
    data_dir: str = None
    image_size: int = 0
    image_channels: int = 0
    data_source: str = "auto"
    model_dir: str = "runs/mnist"
    arch: str = "mlp"
    latent_dim: int = 100
    noise: str = "uniform"
    conditional: bool = False
    batch_size: int = 50
    k: int = 1
    update: str = "simultaneous"
    g_loss: str = "non_saturating"
    d_dropout: bool = True
    epochs: int = 250
    steps_per_epoch: int = None
    checkpoint_every_steps: int = 0
    checkpoint_every_minutes: float = 0.0
    keep_checkpoint_every_hours: float = 0.0
    learning_rate: float = 0.1
    lr_decay: float = 1.000004
    min_learning_rate: float = 1e-6
    momentum_initial: float = 0.5
    momentum_final: float = 0.7
    momentum_saturate_epoch: int = 250
    optimizer: str = "sgd"
    adam_beta1: float = 0.5
    adam_beta2: float = 0.999
    ema_decay: float = 0.99998
    ema_power: float = 8.0
    on_collapse: str = "recover"
    collapse_threshold: float = D_WON_THRESHOLD
    max_recoveries: int = 5
    seed: int = 0
    rng_streams: int = None
    deterministic: bool = False
    strategy: str = "default"
    tpu: str = None
    jit_compile: bool = False
    mixed_precision: str = "float32"
    steps_per_execution: int = 0
    unroll_steps: str = "auto"
    log_every_steps: int = 50
    histograms: bool = False
    parzen_every_epochs: int = 0
    parzen_samples: int = 1000
    classifier_metrics_every_epochs: int = 0
    classifier_metrics_samples: int = 10000
    verbose: str = "auto"

    @classmethod
    def preset(cls, name, **overrides):
        """The config of a named preset (`PRESETS`), with `overrides` on top.

        Example:

        >>> TrainConfig.preset("paper", seed=3).on_collapse
        'warn'
        """
        if name not in PRESETS:
            raise ConfigError(f"--preset={name!r} is not valid; accepted: {', '.join(PRESETS)}.")
        return cls(**{**PRESETS[name], **overrides})

    def validate(self):
        """Raises `ConfigError` naming the first bad setting."""
        for name, accepted in (
            ("on_collapse", COLLAPSE_POLICIES),
            ("arch", ARCHS),
            ("noise", NOISE_KINDS),
            ("update", UPDATES),
            ("g_loss", G_LOSSES),
            ("strategy", distribute.STRATEGIES),
            ("optimizer", OPTIMIZERS),
            ("data_source", SOURCES),
            ("mixed_precision", precision.POLICIES),
            ("unroll_steps", UNROLL_CHOICES),
        ):
            if getattr(self, name) not in accepted:
                raise ConfigError(
                    f"--{name}={getattr(self, name)!r} is not valid; accepted: "
                    f"{', '.join(accepted)}."
                )
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(f"--{field.name} must be a finite number; got {value}.")
        if not self.model_dir:
            raise ConfigError("--model_dir must name a directory (e.g. runs/mnist); got ''.")
        if self.steps_per_execution < 0:
            raise ConfigError(
                f"--steps_per_execution must be >= 0 (0: automatic, up to {AUTO_STEPS_PER_EXECUTION}); "
                f"got {self.steps_per_execution}."
            )
        for name in (
            "latent_dim",
            "batch_size",
            "k",
            "epochs",
            "momentum_saturate_epoch",
            "log_every_steps",
            "parzen_samples",
            "classifier_metrics_samples",
        ):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name} must be >= 1; got {getattr(self, name)}.")
        if not 0 < self.collapse_threshold < 0.5:
            raise ConfigError(
                f"--collapse_threshold must be in (0, 0.5) (a mean D(G(z)); default {D_WON_THRESHOLD}); "
                f"got {self.collapse_threshold}."
            )
        if self.max_recoveries < 0:
            raise ConfigError(f"--max_recoveries must be >= 0; got {self.max_recoveries}.")
        if self.rng_streams is not None and self.rng_streams not in streams.LAYOUTS:
            raise ConfigError(
                f"--rng_streams={self.rng_streams} is not valid; accepted: "
                f"{', '.join(map(str, streams.LAYOUTS))} (default: {streams.LATEST_LAYOUT} for a new run)."
            )
        if self.keep_checkpoint_every_hours < 0:
            raise ConfigError(
                f"--keep_checkpoint_every_hours must be >= 0 (0: keep only the last 3); "
                f"got {self.keep_checkpoint_every_hours}."
            )
        for name in ("checkpoint_every_steps", "checkpoint_every_minutes"):
            if getattr(self, name) < 0:
                raise ConfigError(f"--{name} must be >= 0 (0: only at epoch ends); got {getattr(self, name)}.")
        if self.steps_per_execution and self.checkpoint_every_steps % self.steps_per_execution:
            raise ConfigError(
                f"--checkpoint_every_steps={self.checkpoint_every_steps} must be a multiple of "
                f"--steps_per_execution={self.steps_per_execution} (steps run in groups of it)."
            )
        if self.checkpoint_every_minutes and self.strategy == "multi_worker":
            raise ConfigError(
                "--checkpoint_every_minutes cannot be used with --strategy=multi_worker (the workers' "
                "clocks would save at different steps); use --checkpoint_every_steps."
            )
        if self.steps_per_epoch is not None and self.steps_per_epoch < 1:
            raise ConfigError(f"--steps_per_epoch must be >= 1; got {self.steps_per_epoch}.")
        if self.steps_per_epoch and self.steps_per_execution and self.steps_per_epoch % self.steps_per_execution:
            raise ConfigError(
                f"--steps_per_epoch={self.steps_per_epoch} must be a multiple of "
                f"--steps_per_execution={self.steps_per_execution}."
            )
        if self.classifier_metrics_every_epochs < 0:
            raise ConfigError(
                "--classifier_metrics_every_epochs must be >= 0 (0: off); got "
                f"{self.classifier_metrics_every_epochs}."
            )
        if self.parzen_every_epochs < 0:
            raise ConfigError(
                f"--parzen_every_epochs must be >= 0 (0: off); got {self.parzen_every_epochs}."
            )
        if self.learning_rate <= 0:
            raise ConfigError(f"--learning_rate must be > 0; got {self.learning_rate}.")
        if not 0 <= self.min_learning_rate <= self.learning_rate:
            raise ConfigError(
                f"--min_learning_rate must be in [0, --learning_rate={self.learning_rate}] (the floor of the "
                f"decayed rate); got {self.min_learning_rate}."
            )
        if self.lr_decay < 1:
            raise ConfigError(f"--lr_decay must be >= 1 (the lr is divided by it); got {self.lr_decay}.")
        if not 0 <= self.ema_decay < 1:
            raise ConfigError(
                f"--ema_decay must be in [0, 1) (0: no weight averaging; e.g. 0.9999); got {self.ema_decay}."
            )
        if self.ema_power < 0:
            raise ConfigError(
                f"--ema_power must be >= 0 (0: the mean of all steps; 8: the default; 1: table1's); "
                f"got {self.ema_power}."
            )
        for name in ("momentum_initial", "momentum_final", "adam_beta1", "adam_beta2"):
            if not 0 <= getattr(self, name) < 1:
                raise ConfigError(f"--{name} must be in [0, 1); got {getattr(self, name)}.")
        if self.arch == "dcgan" and self.d_dropout:
            raise ConfigError(
                "--arch=dcgan has no dropout in D (Radford et al. 2015): add --nod_dropout, or use --preset=dcgan."
            )
        if self.update == "simultaneous" and self.k != 1:
            raise ConfigError(
                f"--k={self.k} needs --update=alternating; --update=simultaneous uses k=1."
            )
        if self.image_size < 0 or self.image_size == 1:
            raise ConfigError(f"--image_size must be 0 (the first image's size) or >= 2; got {self.image_size}.")
        if self.image_channels not in (0, 1, 3):
            raise ConfigError(
                f"--image_channels={self.image_channels} is not valid; accepted: 0 (the first image's), "
                "1 (grayscale), 3 (RGB)."
            )
        if self.data_dir and not os.path.isdir(self.data_dir):
            raise ConfigError(f"--data_dir={self.data_dir} is not a directory.")
        try:
            spec = self.dataset_spec()
        except ValueError as e:
            raise dataset_error(e) from None
        if (self.dataset == ring.NAME) != (self.arch == "points"):
            raise ConfigError(
                f"--dataset={self.dataset} with --arch={self.arch}: --arch=points is for the "
                f"point dataset {ring.NAME}, which needs it; images take --arch=mlp, conv or dcgan."
            )
        if self.conditional:
            try:
                spec.require_labels()
            except ValueError as e:
                raise ConfigError(f"--conditional needs class labels: {e}") from None
        shape = spec.shape
        if self.arch == "dcgan":
            try:
                check_image_shape(self.arch, shape)
            except ValueError:
                raise ConfigError(
                    f"--arch=dcgan needs square images whose side is a power of 2 >= 32 (32x32, 64x64, "
                    f"128x128, ...); --dataset={self.dataset} has {'x'.join(map(str, shape))}."
                ) from None
        if self.classifier_metrics_every_epochs and shape != (28, 28, 1):
            raise ConfigError(
                f"--classifier_metrics_every_epochs needs 28x28x1 images (MNIST-like); "
                f"--dataset={self.dataset} has shape {shape} (use 0)."
            )
        if self.parzen_every_epochs and self.dataset == ring.NAME:
            raise ConfigError(
                f"--parzen_every_epochs is for image datasets; {ring.NAME} logs modes_covered instead (use 0)."
            )
        if self.parzen_every_epochs and folder.is_folder(self.dataset):
            raise ConfigError(
                "--parzen_every_epochs needs validation and test images; a folder of images has training "
                "images only (use 0)."
            )

    def steps_per_call(self, steps, one_device=True):
        """Train steps per `tf.function` call in a `fit` of `steps` steps per epoch.

        `steps_per_execution` if set. With 0 (automatic, the default): the
        largest `n <= AUTO_STEPS_PER_EXECUTION` that divides `steps`,
        `checkpoint_every_steps` and `log_every_steps`, so that epochs,
        mid-epoch checkpoints and TensorBoard points fall on call boundaries;
        1 under a distribution strategy (`one_device=False`), whose optimiser
        updates Keras cannot run inside the call's loop (keras#20582).
        Training is the same for every value (bit for bit); only the
        per-call overhead is shared by more steps.

        Example:

        >>> TrainConfig().steps_per_call(1000)
        10
        >>> TrainConfig(log_every_steps=25).steps_per_call(1000)
        5
        >>> TrainConfig().steps_per_call(781)  # 50,000 images at batch 64
        1
        """
        if self.steps_per_execution:
            return self.steps_per_execution
        if not one_device:
            return 1
        bound = math.gcd(int(steps), self.checkpoint_every_steps, self.log_every_steps)  # gcd(x, 0) = x
        return max(n for n in range(1, AUTO_STEPS_PER_EXECUTION + 1) if bound % n == 0)

    def unrolls(self, steps):
        """Whether a `fit` of `steps` train steps calls each call's steps one after another.

        `unroll_steps`: `"on"`, `"off"`, or `"auto"` (the default): on for
        `steps >= AUTO_UNROLL_MIN_STEPS`, where the extra tracing is paid
        back. Training is the same, bit for bit, either way
        (`GAN.compile(unroll_steps=...)`).

        Example:

        >>> TrainConfig().unrolls(125000), TrainConfig().unrolls(1000)
        (True, False)
        >>> TrainConfig(unroll_steps="off").unrolls(125000)
        False
        """
        if self.unroll_steps == "auto":
            return steps >= AUTO_UNROLL_MIN_STEPS
        return self.unroll_steps == "on"

    def architecture(self):
        return {name: getattr(self, name) for name in ARCHITECTURE_FIELDS}

    def stream_seed(self, purpose, restart=0):
        """The seed of one of the run's random streams (`gan_keras.nets.streams`)."""
        layout = self.rng_streams or streams.LATEST_LAYOUT
        return streams.stream_seed(self.seed, purpose, restart, layout)

    def dataset_spec(self):
        """The `data.DatasetSpec` of `dataset` (read once per process from its metadata).

        A folder run that has started is described by the file list kept in
        its `model_dir`, so it restores and exports without the folder.
        """
        return data_lib.describe(self.dataset, self.data_dir, self.image_size, self.image_channels, self.model_dir)

    def num_classes(self):
        """Classes G and D are conditioned on: 0 unless `conditional`."""
        return self.dataset_spec().require_labels() if self.conditional else 0


# Named flag bundles (`train.py --preset=NAME`): overrides of TrainConfig's
# defaults. "default" is the product's default; "paper" the authors' released
# MNIST configuration exactly, with nothing added (no weight averaging, and a
# warning, not a rollback, when D wins), so its behaviour can still be shown.
# "table1" is the default with a longer average of G, for the paper's
# number in two hours (docs/results.md): the weights of step s weigh in
# proportion to s (ema_power=1) for the first 400,000 steps, so the average
# spans the whole run, not its last tenth as the default's does.
# "dcgan" is the default with the DCGAN of Radford et al. (2015) and its
# published optimiser settings: Adam, lr 2e-4 (constant), beta_1 0.5, batch 128.
PRESETS = {
    "default": {},
    "paper": {"batch_size": 100, "ema_decay": 0.0, "on_collapse": "warn"},
    "table1": {"ema_decay": 0.999995, "ema_power": 1.0},
    "dcgan": {
        "arch": "dcgan",
        "d_dropout": False,
        "batch_size": 128,
        "optimizer": "adam",
        "learning_rate": 2e-4,
        "lr_decay": 1.0,
        "adam_beta1": 0.5,
    },
}


def load_config(model_dir):
    """The `TrainConfig` saved in a model dir, or None if there is none.

    Raises:
        ConfigError: one line naming the file, if it is not a config (corrupt, or not JSON).
    """
    path = os.path.join(model_dir, CONFIG_FILE)
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            values = json.load(f)
        if not isinstance(values, dict):
            raise ValueError(f"a JSON {type(values).__name__}, not an object")
        fields = {f.name for f in dataclasses.fields(TrainConfig)}
        unknown = sorted(set(values) - fields)
        if unknown:
            raise ValueError(f"unknown settings {', '.join(unknown)}")
    except (OSError, ValueError) as e:  # json.JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ConfigError(
            f"{path} is not a valid run config ({first_line(e)}); restore it from a copy, or move it "
            "away to resume with the flags given."
        ) from None
    # Runs saved before these fields existed: the paper preset's behaviour, and
    # the random streams of that code (layout 1).
    values.setdefault("rng_streams", 1)
    values.setdefault("ema_decay", 0.0)
    values.setdefault("on_collapse", "warn")
    return TrainConfig(**values)


def save_config(config):
    """Writes `config` as `MODEL_DIR/config.json` atomically (`load_config` reads it back)."""
    storage.atomic_write(os.path.join(config.model_dir, CONFIG_FILE), json.dumps(dataclasses.asdict(config), indent=2))


def check_compatible(config, saved):
    """Raises `ConfigError` if `config` cannot resume the run `saved` came from."""
    if saved is None:
        return
    for name, value in saved.architecture().items():
        if getattr(config, name) != value:
            raise ConfigError(
                f"--model_dir={config.model_dir} holds a run with --{name}={value!r}, "
                f"not {getattr(config, name)!r}; use another --model_dir or the same --{name}."
            )
    for name in RESUME_FIELDS:
        if getattr(config, name) != getattr(saved, name):
            raise ConfigError(
                f"--model_dir={config.model_dir} holds a run trained with --{name}={getattr(saved, name)!r}, "
                f"not {getattr(config, name)!r}; its checkpoints hold that optimiser's state: use another "
                f"--model_dir or the same --{name}."
            )
    if config.rng_streams is not None and config.rng_streams != saved.rng_streams:
        raise ConfigError(
            f"--model_dir={config.model_dir} holds a run with --rng_streams={saved.rng_streams}, "
            f"not {config.rng_streams}; leave --rng_streams unset to resume it."
        )

