"""Exporting a trained generator for TensorFlow Serving and for Keras: numbered versions.

`export(generator, export_dir)` writes

    EXPORT_DIR/<version>/    a SavedModel in TF Serving's layout (`saved_model`)
      assets.extra/tf_serving_warmup_requests   one request per signature (`warmup`)
    EXPORT_DIR/generator.keras

`export.py` (`gan-keras-export`) is the command-line front end;
`export_from_model_dir` is what it runs.
"""

import os
import shutil
import tempfile

from gan_keras.nets.precision import float32_copy
from gan_keras.serving.saved_model import DEFAULT_MAX_SAMPLES, MAX_SAMPLES_LIMIT, ExportError, export_saved_model
from gan_keras.serving.warmup import write_warmup_requests
from gan_keras.training import restoring, save_generator
from gan_keras.training.restoring import GENERATOR_FILE
from gan_keras.utils import locking, storage

__all__ = [
    "existing_versions",
    "export",
    "export_from_model_dir",
    "resolve_version",
]


def existing_versions(export_dir):
    """The integer version dirs in `export_dir`, sorted (TF Serving's rule: all digits)."""
    if not os.path.isdir(export_dir):
        return []
    return sorted(
        int(name)
        for name in os.listdir(export_dir)
        if name.isdigit() and os.path.isdir(os.path.join(export_dir, name))
    )


def resolve_version(export_dir, version=None):
    """`version`, or the next integer after the existing ones; checks it is new and >= 1.

    Example:

    >>> resolve_version("/nonexistent")
    1
    """
    versions = existing_versions(export_dir)
    if version is None:
        return (versions[-1] + 1) if versions else 1
    if version < 1:
        raise ExportError(f"--version must be >= 1; got {version}.")
    if version in versions:
        raise ExportError(
            f"--version={version} already exists in --export_dir={export_dir} "
            f"(existing: {', '.join(map(str, versions))}); pick a new version or omit --version."
        )
    return version


def export(generator, export_dir, version=None, max_samples=DEFAULT_MAX_SAMPLES):
    """Exports `generator` (in float32) to `export_dir/<version>/` and `export_dir/generator.keras`.

    The SavedModel (with its warm-up requests) is written to a hidden temporary dir in `export_dir` and
    renamed into place, so TF Serving never sees a partial version; the
    `.keras` file is replaced atomically too. Returns the version dir.

    Example:

    >>> export(generator, "/tmp/models/gan")  # doctest: +SKIP
    '/tmp/models/gan/1'
    """
    version = resolve_version(export_dir, version)
    generator = float32_copy(generator)  # a mixed-precision generator is served in float32
    os.makedirs(export_dir, exist_ok=True)
    target = os.path.join(export_dir, str(version))
    tmp = tempfile.mkdtemp(prefix=f".tmp-{version}-", dir=export_dir)
    try:
        export_saved_model(generator, tmp, max_samples)
        write_warmup_requests(generator, tmp)
        os.rename(tmp, target)  # Fails (rather than merging) if target appeared meanwhile.
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    save_generator(generator, os.path.join(export_dir, GENERATOR_FILE))
    return target


def export_from_model_dir(
    model_dir, export_dir, checkpoint=None, version=None, max_samples=DEFAULT_MAX_SAMPLES, ema=True, generator=None
):
    """Exports the generator of a training dir, or a generator `.keras` file; what `export.py` runs.

    The generator is the averaged one if the run kept it (`--ema_decay`),
    unless `ema=False`; with `generator` (a path; `model_dir` is then None)
    it is that file's. The version is checked before anything is loaded.
    The export dir's lock is held while writing (one exporter at a time); a
    full disk or unwritable dir raises `storage.StorageError`, with the
    versions already there intact. Returns the version dir.

    Example:

    >>> export_from_model_dir("runs/mnist", "/tmp/models/gan")  # doctest: +SKIP
    '/tmp/models/gan/1'
    >>> export_from_model_dir(None, "/tmp/models/gan", generator="pretrained/mnist/generator.keras")  # doctest: +SKIP
    '/tmp/models/gan/2'
    """
    if not 1 <= max_samples <= MAX_SAMPLES_LIMIT:
        raise ExportError(
            f"--max_samples must be in [1, {MAX_SAMPLES_LIMIT}] (requests count images in int32); got {max_samples}."
        )
    if generator is not None and (checkpoint is not None or not ema):
        raise ExportError(restoring.GENERATOR_FILE_OPTIONS)
    if not export_dir:
        raise ExportError(f"--export_dir must name a directory (e.g. models/gan); got {export_dir!r}.")
    if os.path.exists(export_dir) and not os.path.isdir(export_dir):
        raise ExportError(f"--export_dir={export_dir} is a file; pass a directory (new, or holding versions).")
    version = resolve_version(export_dir, version)
    if generator is not None:
        generator = restoring.load_generator_file(generator).generator
    else:
        generator = restoring.load_generator(model_dir, checkpoint, ema).generator
    existing = ", ".join(map(str, existing_versions(export_dir))) or "none"
    kept = f"the versions there before ({existing}) and its {GENERATOR_FILE} are as they were"
    with storage.writing(f"version {version} to --export_dir={export_dir}", kept):
        try:
            os.makedirs(export_dir, exist_ok=True)
        except OSError as e:
            raise ExportError(f"--export_dir={export_dir} cannot be created: {e.strerror}: {e.filename}.") from None
        try:
            with locking.hold(export_dir, "export.py", flag="--export_dir"):
                return export(generator, export_dir, version, max_samples)
        except locking.LockedError as e:
            raise ExportError(str(e)) from None
