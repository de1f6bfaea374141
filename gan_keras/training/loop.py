"""Training runs: configuration, model construction, resume, artifacts.

`train.py` is a thin absl front end over `run(TrainConfig(...))`; the field
names of `TrainConfig` are its flag names.
"""

import contextlib
import dataclasses
import math
import os
import shutil
import sys

import keras
import tensorflow as tf

from gan_keras import data as data_lib
from gan_keras.data import folder, ring, streaming
from gan_keras.evaluation.callbacks import ClassifierMetricsCallback, ParzenCallback
from gan_keras.evaluation.protocol import load_protocol_data
from gan_keras.nets import streams
from gan_keras.training import distribute, monitoring
from gan_keras.training.build import build_gan, save_generator, write_sample_grid
from gan_keras.training.checkpointing import CheckpointEveryEpoch, GANCheckpoint, checkpoint_epoch, checkpoint_paths
from gan_keras.training.config import (
    CHECKPOINT_SUBDIR,
    CONFIG_FILE,
    ConfigError,
    check_compatible,
    dataset_error,
    load_config,
    save_config,
)
from gan_keras.training.divergence import (
    CollapseError,
    CollapseGuard,
    DivergenceError,
    StopOnDivergence,
)
from gan_keras.training.preemption import Preempted, PreemptionSignals, ResumeEpochMetrics, StepCheckpoints
from gan_keras.utils import locking, storage

__all__ = [
    "COLLAPSE_RECOVERIES_TAG",
    "run",
    "training_callbacks",
]

COLLAPSE_RECOVERIES_TAG = "collapse/recoveries"


def training_callbacks(config, checkpoint, log_dir, guard, step_checkpoints):
    """The divergence and collapse guards, checkpoints every epoch, the metrics enabled, TensorBoard, mid-epoch checkpoints.

    The metric callbacks (Parzen, classifier metrics, ring8's modes) add keys
    to the epoch logs, so they come before the TensorBoard callbacks that
    write them; `step_checkpoints` (a `preemption.StepCheckpoints`), which
    may stop the run, comes last.
    """
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
    """The run's `TrainingData` (or `StreamingData`); a dataset that cannot be loaded is a `ConfigError`."""
    try:
        if folder.is_folder(config.dataset):
            return streaming.folder_training_data(
                folder.folder_path(config.dataset), config.batch_size, config.k, labels=config.conditional,
                image_size=config.image_size, channels=config.image_channels, source=config.data_source,
                run_dir=config.model_dir,
            )
        if config.conditional:
            images, labels = data_lib.load_labelled_images(config.dataset, "train", config.data_dir)
        else:
            images, labels = data_lib.load_images(config.dataset, "train", config.data_dir), None
    except ValueError as e:
        raise dataset_error(e) from None
    return data_lib.TrainingData(images, batch_size=config.batch_size, k=config.k, labels=labels)


def _check_epoch(config, data):
    """The data must fill a step, and a set `--steps_per_execution` must divide the epoch (or `fit` runs past it)."""
    if not data.steps_per_epoch:
        per_step = f"--batch_size={config.batch_size}" + (f" x --k={config.k}" if config.k > 1 else "")
        raise ConfigError(
            f"{per_step} takes {config.batch_size * config.k} images a step, but --dataset={config.dataset} has "
            f"{len(data)} training images; use a --batch_size of at most {len(data) // config.k}."
        )
    steps = config.steps_per_epoch or data.steps_per_epoch
    if config.steps_per_execution and steps % config.steps_per_execution:
        raise ConfigError(
            f"--steps_per_execution={config.steps_per_execution} must divide the {steps} steps of an epoch "
            f"(--dataset={config.dataset} at --batch_size={config.batch_size}); use a divisor, or 0 (automatic)."
        )


# What a trained run writes in its model dir, over any file of the same name.
_ARTIFACTS = {"generator.keras": save_generator, "samples.png": write_sample_grid}


def _check_writes_over_nothing(model_dir):
    """A model dir without a run's config must not hold the files a run writes when done (an export dir does).

    A run's dir whose config was moved away holds `checkpoints/` and resumes
    from them, with the flags given.
    """
    names = set(os.listdir(model_dir)) if os.path.isdir(model_dir) else set()
    mine = sorted(names & set(_ARTIFACTS))
    if mine and CHECKPOINT_SUBDIR not in names:
        raise ConfigError(
            f"--model_dir={model_dir} holds {' and '.join(mine)} but no run (no {CONFIG_FILE} or "
            f"{CHECKPOINT_SUBDIR}/), and training would write over it; use a new dir, or a run's --model_dir."
        )


def _open_model_dir(config, chief, out_dir, held):
    """Creates the run's dir and, on the chief, takes the model dir's lock for the life of `held`.

    Returns the dirs it created, deepest first (none if `out_dir` existed).

    Raises:
        ConfigError: one line if the dir cannot be created or another writer holds it.
    """
    new_dirs = _missing_dirs(out_dir)
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise ConfigError(f"--model_dir={config.model_dir} is a file, not a directory.")
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"--model_dir={config.model_dir} cannot be created: {e.strerror}: {e.filename}.") from None
    if chief:
        try:
            held.enter_context(locking.hold(config.model_dir, "train.py"))
        except locking.LockedError as e:
            raise ConfigError(str(e)) from None
    return new_dirs


def _missing_dirs(path):
    """The dirs `os.makedirs(path)` would create, deepest first (none if `path` exists)."""
    missing, path = [], os.path.abspath(path)
    while not os.path.exists(path):
        missing.append(path)
        path = os.path.dirname(path)
    return missing


def _remove_new_dirs(new_dirs):
    """Removes the run dir `run()` made (`new_dirs[0]`, with what it wrote there) and its new parents if empty.

    A parent is left if another run has made a dir in it meanwhile.
    """
    if new_dirs:
        shutil.rmtree(new_dirs[0], ignore_errors=True)
    for parent in new_dirs[1:]:
        try:
            os.rmdir(parent)
        except OSError:
            return


def _set_steps_per_call(gan, steps):
    """Makes `fit` run `steps` train steps per `tf.function` call (the train function is traced again)."""
    if gan.steps_per_execution != steps:
        gan.steps_per_execution = steps
        gan.train_function = None


def _fit(gan, data, config, checkpoint, log_dir, guard, signals, callbacks, chief, initial_epoch):
    """Fits from the restored state: the rest of a partly done epoch, then whole epochs to `config.epochs`.

    A mid-epoch checkpoint (`checkpoint.epoch_step` > 0) resumes with one
    `fit` of that epoch's remaining steps, its logged means restored, so
    every epoch ends at the step, and with the logs, of an unbroken run.
    """
    steps_per_epoch = config.steps_per_epoch or data.steps_per_epoch
    per_call = gan.steps_per_execution  # as compiled: config.steps_per_call(steps_per_epoch)
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
        # The rest of the epoch may not be a multiple of the steps per call
        # (a checkpoint saved by a run with another --steps_per_execution).
        _set_steps_per_call(gan, math.gcd(per_call, steps_per_epoch - epoch_step))
        fit_epochs(initial_epoch, initial_epoch + 1, steps_per_epoch - epoch_step, epoch_step)
        _set_steps_per_call(gan, per_call)
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
    if saved is None:
        _check_writes_over_nothing(config.model_dir)
    check_compatible(config, saved)
    layout = config.rng_streams or (saved.rng_streams if saved else streams.LATEST_LAYOUT)
    config = dataclasses.replace(config, rng_streams=layout)
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    try:
        strategy = distribute.make_strategy(config.strategy, config.tpu)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    _check_replicas(config, strategy)
    chief = distribute.is_chief(strategy)
    out_dir = config.model_dir if chief else distribute.worker_dir(config.model_dir, strategy)
    with contextlib.ExitStack() as held:
        # Multi-worker saves are collective: one worker's signal cannot save alone.
        signals = held.enter_context(PreemptionSignals()) if config.strategy != "multi_worker" else None
        new_dirs = _open_model_dir(config, chief, out_dir, held)
        try:
            data = _training_data(config)
            _check_epoch(config, data)
        except ConfigError:
            # Bad input writes nothing: the dirs this run made go, while it still holds the lock.
            _remove_new_dirs(new_dirs)
            raise
        if chief:
            save_config(config)
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
    for name, write in _ARTIFACTS.items():
        with storage.writing(os.path.join(model_dir, name), kept):
            write(gan.inference_generator, os.path.join(model_dir, name))
