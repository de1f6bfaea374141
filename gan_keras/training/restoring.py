"""Loading a trained generator from a model dir: for evaluation, figures, export.

A model dir written by `train.py` holds `config.json` and checkpoints; the
newest checkpoint (or a given one) is read. A dir holding only a
`generator.keras` (e.g. copied from a run, or an export dir) works too.
"""

import dataclasses
import os
import sys
import zipfile

import keras
import tensorflow as tf

from gan_keras import training
from gan_keras.nets.precision import float32_copy
from gan_keras.training.checkpointing import EMA_KEY, checkpoint_paths, has_ema
from gan_keras.utils.cli import first_line

__all__ = [
    "GENERATOR_FILE",
    "GENERATOR_FILE_OPTIONS",
    "RestoreError",
    "Restored",
    "load_generator",
    "load_generator_file",
]

GENERATOR_FILE = "generator.keras"
# Why --checkpoint and --noema are refused with --generator (evaluate, export).
GENERATOR_FILE_OPTIONS = (
    "--checkpoint and --noema apply to --model_dir, not to --generator (a .keras file holds one set of weights)."
)


class RestoreError(ValueError):
    """Nothing to load, or it does not match; the message names the flag."""


@dataclasses.dataclass
class Restored:
    """A restored generator and where it came from."""

    generator: keras.Model
    source: str  # the checkpoint or .keras file read
    step: int = None  # GAN steps trained (None for a .keras file)
    epoch: int = None  # finished epochs (None for a .keras file)
    ema: bool = False  # whether these are G's averaged (EMA) weights (None: unknown, a .keras file)


def load_generator(model_dir, checkpoint=None, ema=True):
    """The generator of a training run: newest checkpoint, `checkpoint`, or `generator.keras`.

    From a checkpoint only G, its optimiser (for the step) and the epoch are
    read, and they must match; the discriminator is not needed. A newest
    checkpoint that cannot be read is reported in one line and the one
    before it used. If the run
    averaged G's weights (`--ema_decay`) the averaged generator is returned,
    unless `ema=False` asks for the trained weights themselves.

    Raises:
        RestoreError: naming `--model_dir` or `--checkpoint`, if there is
            nothing to load or it does not match the run's config.

    Example:

    >>> restored = load_generator("runs/mnist")  # doctest: +SKIP
    >>> restored.generator.sample(16, seed=[0, 0]).shape  # doctest: +SKIP
    TensorShape([16, 28, 28, 1])
    """
    if not os.path.isdir(model_dir):
        raise RestoreError(f"--model_dir={model_dir} is not a directory.")
    try:
        config = training.load_config(model_dir)
    except training.ConfigError as e:
        raise RestoreError(str(e)) from None
    if checkpoint is not None and config is None:
        raise RestoreError(
            f"--model_dir={model_dir} holds no {training.CONFIG_FILE}, which is needed to read "
            f"--checkpoint={checkpoint}."
        )
    if checkpoint:
        return _from_checkpoint(config, checkpoint, f"--checkpoint={checkpoint}", ema)
    paths = checkpoint_paths(os.path.join(model_dir, training.CHECKPOINT_SUBDIR)) if config else []
    if paths:
        return _newest_readable(config, model_dir, paths[::-1], ema)
    keras_file = os.path.join(model_dir, GENERATOR_FILE)
    if os.path.exists(keras_file):
        return load_generator_file(keras_file, source=f"--model_dir={model_dir} ({keras_file})")
    raise RestoreError(
        f"--model_dir={model_dir} holds no training run (no checkpoint with "
        f"{training.CONFIG_FILE}, no {GENERATOR_FILE}); pass the --model_dir of a train.py run."
    )


def load_generator_file(path, source=None):
    """A generator saved as a `.keras` file (`generator.keras` of a run, an export, `pretrained/`).

    Raises:
        RestoreError: one line naming `source` (default: `--generator=PATH`),
            if the file is missing, not a Keras archive, or not a generator.

    Example:

    >>> restored = load_generator_file("pretrained/mnist/generator.keras")  # doctest: +SKIP
    >>> restored.generator.sample(4, seed=[0, 0]).shape  # doctest: +SKIP
    TensorShape([4, 28, 28, 1])
    """
    source = source or f"--generator={path}"
    if os.path.isdir(path):
        raise RestoreError(f"{source} is a directory; pass a .keras file (e.g. {os.path.join(path, GENERATOR_FILE)}).")
    if not os.path.isfile(path):
        raise RestoreError(f"{source}: no such file.")
    if not zipfile.is_zipfile(path):  # Keras would say "File not found"
        raise RestoreError(f"{source} is not a .keras file (a .keras file is a zip archive); it may be corrupt.")
    try:
        generator = keras.saving.load_model(path, compile=False)
    except Exception as e:  # Keras raises ValueError, OSError, zipfile errors, ...
        raise RestoreError(f"{source} is not a readable .keras file: {first_line(e)}") from None
    if not hasattr(generator, "sample_noise"):
        raise RestoreError(f"{source} holds a {type(generator).__name__}, not a gan_keras Generator.")
    return Restored(generator, path, ema=None)


def _newest_readable(config, model_dir, paths, ema):
    """The generator of the first of `paths` (newest first) that restores; a bad one is a one-line warning.

    Readers move nothing: `train.py` moves an unreadable checkpoint aside when it resumes.
    """
    for i, path in enumerate(paths):
        try:
            return _from_checkpoint(config, path, f"--model_dir={model_dir} ({path})", ema)
        except RestoreError as e:
            if i + 1 == len(paths):
                raise
            print(f"warning: {e}; using {paths[i + 1]}.", file=sys.stderr)


def _from_checkpoint(config, path, source, ema):
    gan = training.build_gan(
        config, config.dataset_spec().shape, num_classes=config.num_classes()
    )
    epoch = tf.Variable(0, dtype=tf.int64)
    try:
        ema = ema and has_ema(path)
        key, generator = (EMA_KEY, gan.ema_generator) if ema else ("generator", gan.generator)
        # The names GANCheckpoint saves these under.
        reader = tf.train.Checkpoint(**{key: generator}, g_optimizer=gan.g_optimizer, epoch=epoch)
        try:
            reader.restore(path).expect_partial().assert_existing_objects_matched()
        except AssertionError:
            if ema:  # EMA checkpoints are newer than that layout
                raise
            # Checkpoints written before gan_keras tracked G's layers by name
            # hold G's weights only in its optimiser's variable list.
            legacy = tf.train.Checkpoint(g_optimizer=gan.g_optimizer, epoch=epoch)
            legacy.restore(path).expect_partial().assert_existing_objects_matched()
    except (tf.errors.OpError, ValueError, AssertionError, IndexError) as e:  # IndexError: a truncated data file
        raise RestoreError(f"{source}: cannot restore the generator: {first_line(e)}") from None
    # A mixed-precision run's generator is evaluated and exported in float32.
    return Restored(float32_copy(generator), path, int(gan.g_optimizer.iterations.numpy()), int(epoch.numpy()), ema)
