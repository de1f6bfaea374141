"""Training runs: configuration, model construction, resume, artifacts.

`train.py` is a thin absl front end over `run(TrainConfig(...))`; the field
names of `TrainConfig` are its flag names.
"""

import contextlib
import dataclasses
import json
import os
import sys

import keras
import numpy as np
import tensorflow as tf

from gan_keras import data as data_lib
from gan_keras import distribute
from gan_keras import images as images_lib
from gan_keras import locking
from gan_keras import monitoring
from gan_keras import ring
from gan_keras import storage
from gan_keras import streams
from gan_keras.checkpointing import CheckpointEveryEpoch, GANCheckpoint, checkpoint_epoch, checkpoint_paths
from gan_keras.cli import first_line
from gan_keras.divergence import (
    COLLAPSE_POLICIES,
    D_WON_THRESHOLD,
    CollapseError,
    CollapseGuard,
    DivergenceError,
    StopOnDivergence,
)
from gan_keras.gan import GAN, UPDATES
from gan_keras.losses import G_LOSSES
from gan_keras.models import ARCHS, Discriminator, Generator, output_bias_from_mean
from gan_keras.noise import NOISE_KINDS
from gan_keras.optimizers import paper_optimizer
from gan_keras.preemption import Preempted, PreemptionSignals, ResumeEpochMetrics, StepCheckpoints

CONFIG_FILE = "config.json"
CHECKPOINT_SUBDIR = "checkpoints"
# The fields that fix the shape of the networks: a model_dir trained with
# other values cannot be resumed or exported with these.
ARCHITECTURE_FIELDS = ("dataset", "arch", "latent_dim", "noise", "conditional")
# The TensorBoard tag (in the `steps` run) of each collapse recovery.
COLLAPSE_RECOVERIES_TAG = "collapse/recoveries"


class ConfigError(ValueError):
    """A bad setting; the message names the flag and the accepted values."""


@dataclasses.dataclass
class TrainConfig:
    """Settings of a training run: the paper's MNIST configuration, made robust.

    The defaults are the released MNIST configuration (architecture,
    initialisation, dropout, the simultaneous update, the SGD schedules) plus
    two things that are not in the paper: G's weights are averaged
    (`ema_decay=0.9999`; evaluation, samples and export use the average) and a
    run whose discriminator has won is rolled back and continued on new random
    streams (`on_collapse="recover"`). `TrainConfig.preset("paper")` is the
    released configuration exactly; see `PRESETS`.

    Example:

    >>> config = TrainConfig(model_dir="/tmp/run", epochs=5)
    >>> config.validate()
    >>> TrainConfig.preset("paper", epochs=5).ema_decay
    0.0
    """

    dataset: str = "mnist"
    data_dir: str = None
    model_dir: str = "runs/mnist"
    arch: str = "mlp"
    latent_dim: int = 100
    noise: str = "uniform"
    conditional: bool = False
    batch_size: int = 100
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
    ema_decay: float = 0.9999
    on_collapse: str = "recover"
    collapse_threshold: float = D_WON_THRESHOLD
    max_recoveries: int = 5
    seed: int = 0
    rng_streams: int = None
    deterministic: bool = False
    strategy: str = "default"
    tpu: str = None
    jit_compile: bool = False
    steps_per_execution: int = 1
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
        ):
            if getattr(self, name) not in accepted:
                raise ConfigError(
                    f"--{name}={getattr(self, name)!r} is not valid; accepted: "
                    f"{', '.join(accepted)}."
                )
        for name in (
            "latent_dim",
            "batch_size",
            "k",
            "epochs",
            "steps_per_execution",
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
        if self.checkpoint_every_steps % self.steps_per_execution:
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
        if self.steps_per_epoch and self.steps_per_epoch % self.steps_per_execution:
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
        if self.learning_rate <= 0 or self.min_learning_rate < 0:
            raise ConfigError("--learning_rate must be > 0 and --min_learning_rate >= 0.")
        if self.lr_decay < 1:
            raise ConfigError(f"--lr_decay must be >= 1 (the lr is divided by it); got {self.lr_decay}.")
        if not 0 <= self.ema_decay < 1:
            raise ConfigError(
                f"--ema_decay must be in [0, 1) (0: no weight averaging; e.g. 0.9999); got {self.ema_decay}."
            )
        for name in ("momentum_initial", "momentum_final"):
            if not 0 <= getattr(self, name) < 1:
                raise ConfigError(f"--{name} must be in [0, 1); got {getattr(self, name)}.")
        if self.update == "simultaneous" and self.k != 1:
            raise ConfigError(
                f"--k={self.k} needs --update=alternating; --update=simultaneous uses k=1."
            )
        if self.data_dir and not os.path.isdir(self.data_dir):
            raise ConfigError(f"--data_dir={self.data_dir} is not a directory.")
        try:
            data_lib.check_dataset(self.dataset, self.data_dir)
        except ValueError as e:
            raise ConfigError(f"--dataset: {e}") from None
        if (self.dataset == ring.NAME) != (self.arch == "points"):
            raise ConfigError(
                f"--dataset={self.dataset} with --arch={self.arch}: --arch=points is for the "
                f"point dataset {ring.NAME}, which needs it; images take --arch=mlp or conv."
            )
        if self.conditional:
            try:
                data_lib.num_classes(self.dataset, self.data_dir)
            except ValueError as e:
                raise ConfigError(f"--conditional needs class labels: {e}") from None
        shape = data_lib.image_shape(self.dataset, self.data_dir)
        if self.classifier_metrics_every_epochs and shape != (28, 28, 1):
            raise ConfigError(
                f"--classifier_metrics_every_epochs needs 28x28x1 images (MNIST-like); "
                f"--dataset={self.dataset} has shape {shape} (use 0)."
            )
        if self.parzen_every_epochs and self.dataset == ring.NAME:
            raise ConfigError(
                f"--parzen_every_epochs is for image datasets; {ring.NAME} logs modes_covered instead (use 0)."
            )

    def architecture(self):
        return {name: getattr(self, name) for name in ARCHITECTURE_FIELDS}

    def stream_seed(self, purpose, restart=0):
        """The seed of one of the run's random streams (`gan_keras.streams`)."""
        layout = self.rng_streams or streams.LATEST_LAYOUT
        return streams.stream_seed(self.seed, purpose, restart, layout)

    def num_classes(self):
        """Classes G and D are conditioned on: 0 unless `conditional`."""
        return data_lib.num_classes(self.dataset, self.data_dir) if self.conditional else 0


# Named flag bundles (`train.py --preset=NAME`): overrides of TrainConfig's
# defaults. "default" is the product's default; "paper" the authors' released
# MNIST configuration exactly, with nothing added (no weight averaging, and a
# warning, not a rollback, when D wins), so its behaviour can still be shown.
PRESETS = {
    "default": {},
    "paper": {"ema_decay": 0.0, "on_collapse": "warn"},
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


def _save_config(config):
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
    if config.rng_streams is not None and config.rng_streams != saved.rng_streams:
        raise ConfigError(
            f"--model_dir={config.model_dir} holds a run with --rng_streams={saved.rng_streams}, "
            f"not {config.rng_streams}; leave --rng_streams unset to resume it."
        )


def build_gan(config, image_shape, pixel_mean=None, updates_per_epoch=500, num_classes=0):
    """Builds and compiles the GAN of a config, with built optimisers.

    Args:
        config: a `TrainConfig`.
        image_shape: `(height, width, channels)` of the data.
        num_classes: classes of a conditional GAN (`config.num_classes()`).
        pixel_mean: optional per-pixel mean of the training data in [0, 1];
            the generator's output bias starts at its logit (the paper's init).
        updates_per_epoch: GAN steps per pass over the data (sets the epoch of
            the momentum schedule).

    Example:

    >>> gan = build_gan(TrainConfig(), (28, 28, 1))
    """
    output_bias = None
    if pixel_mean is not None:
        mean = np.asarray(pixel_mean).reshape(-1, image_shape[-1])
        mean = mean.reshape(-1) if config.arch == "mlp" else mean.mean(axis=0)
        output_bias = output_bias_from_mean(mean)
    generator = Generator(
        latent_dim=config.latent_dim,
        image_shape=image_shape,
        arch=config.arch,
        noise=config.noise,
        output_bias=output_bias,
        num_classes=num_classes,
        name="generator",
    )
    discriminator = Discriminator(
        image_shape=image_shape,
        arch=config.arch,
        seed=config.stream_seed("dropout"),
        dropout=config.d_dropout,
        num_classes=num_classes,
        name="discriminator",
    )
    gan = GAN(
        generator,
        discriminator,
        k=config.k,
        update=config.update,
        seed=config.stream_seed("noise"),
        ema_decay=config.ema_decay or None,
    )

    def optimizer(name, updates):
        return paper_optimizer(
            learning_rate=config.learning_rate,
            lr_decay=config.lr_decay,
            min_learning_rate=config.min_learning_rate,
            momentum_initial=config.momentum_initial,
            momentum_final=config.momentum_final,
            momentum_saturate_epoch=config.momentum_saturate_epoch,
            updates_per_epoch=updates,
            name=name,
        )

    gan.compile(
        d_optimizer=optimizer("d_optimizer", updates_per_epoch * config.k),  # k D updates a step
        g_optimizer=optimizer("g_optimizer", updates_per_epoch),
        g_loss=config.g_loss,
        jit_compile=config.jit_compile,
        steps_per_execution=config.steps_per_execution,
    )
    gan.build_optimizers()
    return gan


def save_generator(generator, path):
    """Saves a generator as a `.keras` file atomically (temp file + rename); a failed save leaves no temp file."""
    tmp = os.path.join(os.path.dirname(path), ".tmp-" + os.path.basename(path))
    try:
        generator.save(tmp)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)


def write_sample_grid(generator, path, rows=10, cols=10, seed=(0, 0)):
    """Writes a `rows x cols` PNG grid of samples (a scatter plot for points) drawn with a fixed seed."""
    images_lib.write_png(path, images_lib.sample_picture(generator, seed, rows, cols))


def training_callbacks(config, checkpoint, log_dir, guard, step_checkpoints):
    """The divergence and collapse guards, checkpoints every epoch, the metrics enabled, TensorBoard, mid-epoch checkpoints.

    The metric callbacks (Parzen, classifier metrics, ring8's modes) add keys
    to the epoch logs, so they come before the TensorBoard callbacks that
    write them; `step_checkpoints` (a `preemption.StepCheckpoints`), which
    may stop the run, comes last.
    """
    # Imported here: gan_keras.evaluate restores models with this module.
    from gan_keras.evaluate import ClassifierMetricsCallback, ParzenCallback, load_protocol_data

    callbacks = [StopOnDivergence(), guard, CheckpointEveryEpoch(checkpoint, guard)]
    if config.parzen_every_epochs or config.classifier_metrics_every_epochs:
        test, valid = load_protocol_data(config.dataset, config.data_dir)
    if config.classifier_metrics_every_epochs:
        callbacks.append(
            ClassifierMetricsCallback(
                None,
                test,
                every_epochs=config.classifier_metrics_every_epochs,
                num_samples=config.classifier_metrics_samples,
            )
        )
    if config.parzen_every_epochs:
        callbacks.append(
            ParzenCallback(
                None,
                valid,
                test,
                every_epochs=config.parzen_every_epochs,
                num_samples=config.parzen_samples,
            )
        )
    if config.dataset == ring.NAME:
        out_dir = os.path.join(os.path.dirname(log_dir), ring.SNAPSHOT_SUBDIR)
        callbacks.append(ring.RingCallback(out_dir))
    callbacks += monitoring.monitoring_callbacks(
        log_dir,
        dataclasses.asdict(config),
        update_freq=config.log_every_steps,
        histograms=config.histograms,
    )
    return callbacks + [step_checkpoints]


def _check_replicas(config, strategy):
    replicas = strategy.num_replicas_in_sync
    if config.batch_size % replicas:
        raise ConfigError(
            f"--batch_size={config.batch_size} (the global minibatch) must be divisible by "
            f"the {replicas} replicas of --strategy={config.strategy}."
        )


def _restore(config, data, strategy, out_dir, restart=None):
    """Builds the GAN and restores its newest checkpoint, or a rolled-back state.

    With `restart=None`, resumes the newest checkpoint (or starts a new run).
    With `restart=r`, rolls back after a collapse: restores the oldest kept
    checkpoint (the newest is the one closest to the collapse) and moves the
    run onto the random streams of restart `r`; with no checkpoint, starts
    again from new initial weights. A checkpoint that cannot be read is
    reported, moved aside and the next one (older, or for a rollback newer)
    is used (`GANCheckpoint.restore_first_valid`). Returns `(gan, checkpoint, epoch)`.
    """
    keras.utils.set_random_seed(config.stream_seed("init", restart or 0))
    checkpoint_dir = os.path.join(config.model_dir, CHECKPOINT_SUBDIR)
    with strategy.scope():
        gan = build_gan(
            config, data.image_shape, data.pixel_mean(), data.steps_per_epoch, config.num_classes()
        )
        checkpoint = GANCheckpoint(
            gan, os.path.join(out_dir, CHECKPOINT_SUBDIR), keep_every_hours=config.keep_checkpoint_every_hours
        )
        paths = checkpoint_paths(checkpoint_dir)[::-1]  # newest first
        if restart is not None:
            paths.sort(key=checkpoint_epoch)
        _, epoch = checkpoint.restore_first_valid(paths, move=out_dir == config.model_dir)
        if restart is not None:
            checkpoint.restarts.assign(restart)
            gan.reseed(config.stream_seed("noise", restart), config.stream_seed("dropout", restart))
    return gan, checkpoint, epoch


def _log_recovery(log_dir, gan, restart, message):
    writer = tf.summary.create_file_writer(os.path.join(log_dir, monitoring.STEPS_SUBDIR))
    with writer.as_default(step=monitoring.global_step(gan)):
        tf.summary.scalar(COLLAPSE_RECOVERIES_TAG, restart)
        tf.summary.text(COLLAPSE_RECOVERIES_TAG, message)
    writer.close()


def _training_data(config):
    """The run's `TrainingData`; a dataset that cannot be loaded is a `ConfigError`."""
    try:
        if config.conditional:
            images, labels = data_lib.load_labelled_images(config.dataset, "train", config.data_dir)
        else:
            images, labels = data_lib.load_images(config.dataset, "train", config.data_dir), None
    except ValueError as e:
        raise ConfigError(f"--dataset: {e}") from None
    return data_lib.TrainingData(images, batch_size=config.batch_size, k=config.k, labels=labels)


def _open_model_dir(config, chief, out_dir, held):
    """Creates the run's dir and, on the chief, takes the model dir's lock for the life of `held`.

    Raises:
        ConfigError: one line if the dir cannot be created or another writer holds it.
    """
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"--model_dir={config.model_dir} cannot be created: {e.strerror}: {e.filename}.") from None
    if chief:
        try:
            held.enter_context(locking.hold(config.model_dir, "train.py"))
        except locking.LockedError as e:
            raise ConfigError(str(e)) from None


def _fit(gan, data, config, checkpoint, log_dir, guard, signals, callbacks, chief, initial_epoch):
    """Fits from the restored state: the rest of a partly done epoch, then whole epochs to `config.epochs`.

    A mid-epoch checkpoint (`checkpoint.epoch_step` > 0) resumes with one
    `fit` of that epoch's remaining steps, its logged means restored, so
    every epoch ends at the step, and with the logs, of an unbroken run.
    """
    steps_per_epoch = config.steps_per_epoch or data.steps_per_epoch
    epoch_step = int(checkpoint.epoch_step.numpy())
    if epoch_step >= steps_per_epoch:
        raise ConfigError(
            f"{checkpoint.latest} is {epoch_step} steps into epoch {initial_epoch + 1}, which has "
            f"{steps_per_epoch} (--steps_per_epoch); resume it with the --steps_per_epoch it was saved with."
        )

    def fit_epochs(first, end, steps, done=0):
        step_checkpoints = StepCheckpoints(
            checkpoint, steps_per_epoch, signals, config.checkpoint_every_steps, config.checkpoint_every_minutes, done
        )
        fit_callbacks = [ResumeEpochMetrics(gan)] if done else []
        fit_callbacks += training_callbacks(config, checkpoint, log_dir, guard, step_checkpoints)
        restart, step = int(checkpoint.restarts.numpy()), int(gan.g_optimizer.iterations.numpy())
        try:
            gan.fit(
                data.dataset(config.stream_seed("data", restart), initial_step=step),
                epochs=end,
                initial_epoch=first,
                steps_per_epoch=steps,
                callbacks=[*fit_callbacks, *callbacks],
                shuffle=False,
                verbose=config.verbose if chief else 0,
            )
        except Preempted:
            for callback in fit_callbacks:  # what fit does at its end: close the log writers
                callback.on_train_end()
            raise

    if epoch_step:
        fit_epochs(initial_epoch, initial_epoch + 1, steps_per_epoch - epoch_step, epoch_step)
        initial_epoch += 1
    if initial_epoch < config.epochs and guard.collapsed_epoch is None:
        fit_epochs(initial_epoch, config.epochs, steps_per_epoch)


def run(config, callbacks=()):
    """Trains (or resumes) the run described by `config`.

    Resumes from the newest checkpoint in `config.model_dir/checkpoints` if
    there is one. Saves a checkpoint after every epoch, logs to TensorBoard in
    `config.model_dir/logs` (and the Parzen estimate every
    `config.parzen_every_epochs` epochs, if set) and, at the end,
    `generator.keras` and `samples.png` in the model dir (from the EMA
    generator if `config.ema_decay` is set). Under a
    multi-worker strategy only the chief writes there; the other workers
    restore from it and write their copies to temporary dirs.

    When D wins (an epoch's mean D(G(z)) below `config.collapse_threshold`),
    `config.on_collapse` decides: `"recover"` rolls back to the oldest kept
    checkpoint and continues on new random streams (at most
    `config.max_recoveries` times; said on the console and logged to
    TensorBoard as `collapse/recoveries`), `"warn"` warns and trains on,
    `"stop"` raises `CollapseError`.

    Faults lose nothing (docs/reliability.md): the chief holds the model
    dir's lock for the whole run (a second writer gets `ConfigError`); an
    unreadable checkpoint is moved aside and the one before it used; SIGTERM
    or SIGINT saves a checkpoint at the current step and returns (said on
    stdout; `config.checkpoint_every_steps` / `_minutes` save mid-epoch too);
    a full disk raises `storage.StorageError` naming the last good checkpoint.

    Returns the trained `GAN` (or, when preempted, the GAN as saved).

    Example:

    >>> gan = run(TrainConfig(model_dir="/tmp/run", epochs=1))  # doctest: +SKIP
    """
    config.validate()
    saved = load_config(config.model_dir)
    check_compatible(config, saved)
    layout = config.rng_streams or (saved.rng_streams if saved else streams.LATEST_LAYOUT)
    config = dataclasses.replace(config, rng_streams=layout)
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    strategy = distribute.make_strategy(config.strategy, config.tpu)
    _check_replicas(config, strategy)
    chief = distribute.is_chief(strategy)
    out_dir = config.model_dir if chief else distribute.worker_dir(config.model_dir, strategy)
    with contextlib.ExitStack() as held:
        # Multi-worker saves are collective: one worker's signal cannot save alone.
        signals = held.enter_context(PreemptionSignals()) if config.strategy != "multi_worker" else None
        _open_model_dir(config, chief, out_dir, held)
        data = _training_data(config)
        if chief:
            _save_config(config)
        return _train(config, data, strategy, out_dir, signals, callbacks, chief)


def _train(config, data, strategy, out_dir, signals, callbacks, chief):
    """`run()` once the model dir is held: restore, train with collapse recovery, save the generator."""
    log_dir = os.path.join(out_dir, "logs")
    gan, checkpoint, initial_epoch = _restore(config, data, strategy, out_dir)
    if initial_epoch or int(checkpoint.epoch_step.numpy()):
        step = int(gan.g_optimizer.iterations.numpy())
        print(f"Resuming from {checkpoint.latest}: epoch {initial_epoch}, step {step}.")
    while initial_epoch < config.epochs:
        restart = int(checkpoint.restarts.numpy())
        guard = CollapseGuard(config.on_collapse, config.collapse_threshold)
        try:
            _fit(gan, data, config, checkpoint, log_dir, guard, signals, callbacks, chief, initial_epoch)
        except DivergenceError as e:
            raise DivergenceError(
                f"{e}; the last good checkpoint is {checkpoint.latest or 'none (none was saved)'}."
            ) from None
        except Preempted as e:
            print(f"Preempted: {e}", flush=True)
            return gan
        if guard.collapsed_epoch is None:
            break
        won = (
            f"the discriminator has won at epoch {guard.collapsed_epoch}: mean D(G(z)) = "
            f"{guard.d_fake:.4f} < {guard.threshold}"
        )
        last_good = f"the last good checkpoint is {checkpoint.latest or 'none (none was saved)'}"
        if config.on_collapse == "stop":
            raise CollapseError(f"{won} (--on_collapse=stop); {last_good}.")
        if restart >= config.max_recoveries:
            raise CollapseError(f"{won} again after --max_recoveries={config.max_recoveries} recoveries; {last_good}.")
        gan, checkpoint, initial_epoch = _restore(config, data, strategy, out_dir, restart + 1)
        message = (
            f"{won}; recovery {restart + 1} of at most {config.max_recoveries}: rolled back to "
            f"epoch {initial_epoch} and continuing on new noise, dropout and batch-order streams."
        )
        print(f"warning: {message}", file=sys.stderr)
        if chief:
            _log_recovery(log_dir, gan, restart + 1, message)
    if chief:
        _save_artifacts(gan, config.model_dir, checkpoint)
    return gan


def _save_artifacts(gan, model_dir, checkpoint):
    """Writes the trained run's `generator.keras` and `samples.png`; a full disk is one `StorageError` line."""
    kept = f"the last good checkpoint is {checkpoint.latest or 'none (none was saved)'}"
    for name, write in (("generator.keras", save_generator), ("samples.png", write_sample_grid)):
        with storage.writing(os.path.join(model_dir, name), kept):
            write(gan.inference_generator, os.path.join(model_dir, name))
