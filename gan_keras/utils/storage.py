"""Writes that can fail for want of space or permission: one line, and nothing kept is lost.

Every file a run keeps is written under a temporary name and renamed into
place (checkpoints by TensorFlow, the rest by `atomic_write`), so a full disk
or an unwritable path leaves the previous version whole. `writing` turns the
failure into a `StorageError` whose message names the file and what is still
intact; the entry points print it as their one-line error.
"""

import contextlib
import errno
import json
import os
import shutil

import tensorflow as tf

__all__ = [
    "StorageError",
    "atomic_write",
    "replacing",
    "storage_reason",
    "write_json",
    "writing",
]

# OSError numbers that mean "this path cannot be written": the disk, not the code.
_REASONS = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
}


class StorageError(RuntimeError):
    """A write failed for want of space or permission; the message names the file and what was kept."""


def storage_reason(error):
    """Why `error` is a storage failure ("no space left on device", ...), or None if it is not one.

    TensorFlow reports a full disk as `ResourceExhaustedError` and a
    forbidden path as `PermissionDeniedError`.

    Example:

    >>> storage_reason(OSError(errno.ENOSPC, "No space left on device"))
    'no space left on device'
    >>> storage_reason(ValueError("bad")) is None
    True
    """
    if isinstance(error, tf.errors.ResourceExhaustedError) and "No space left" in str(error):
        return _REASONS[errno.ENOSPC]
    if isinstance(error, tf.errors.PermissionDeniedError):
        return _REASONS[errno.EACCES]
    if isinstance(error, OSError):
        return _REASONS.get(error.errno)
    return None


@contextlib.contextmanager
def writing(path, kept, cleanup=None):
    """Runs the block that writes `path`; a storage failure becomes one `StorageError` line.

    Args:
        path: the file or dir being written, named in the message.
        kept: what is still intact, e.g. "the last good checkpoint is runs/mnist/checkpoints/ckpt-3".
        cleanup: optional path of a temporary file or dir to remove on failure (frees the space).

    Example:

    >>> with writing("/tmp/run/config.json", "nothing was changed"):  # doctest: +SKIP
    ...     atomic_write("/tmp/run/config.json", "{}")
    """
    try:
        yield
    except Exception as e:
        reason = storage_reason(e)
        if reason is None:
            raise
        if cleanup and os.path.isdir(cleanup):
            shutil.rmtree(cleanup, ignore_errors=True)
        elif cleanup:
            with contextlib.suppress(OSError):
                os.remove(cleanup)
        raise StorageError(f"{reason} writing {path}; {kept}.") from None


@contextlib.contextmanager
def replacing(path):
    """Yields a temporary path beside `path` to write; after the block it replaces `path` by a rename.

    The one way this package writes a file atomically: readers see the old
    file or the new one, never a partial one. If the block fails, the
    temporary file is removed and `path` is untouched. The temporary name is
    `.tmp-NAME`, so it keeps the file's extension (Keras and PNG writers
    need it).

    Example:

    >>> with replacing("/tmp/grid.png") as tmp:  # doctest: +SKIP
    ...     tf.io.write_file(tmp, png_bytes)
    """
    tmp = os.path.join(os.path.dirname(path) or ".", ".tmp-" + os.path.basename(path))
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)


def atomic_write(path, text):
    """Writes `text` to `path` atomically (`replacing`); a full disk is one `StorageError` line.

    Example:

    >>> atomic_write("/tmp/config.json", "{}")  # doctest: +SKIP
    """
    with writing(path, f"{path} is unchanged"), replacing(path) as tmp:
        with open(tmp, "w") as f:
            f.write(text)


def write_json(path, obj, indent=2):
    """Writes `obj` as indented JSON to `path` atomically (`atomic_write`).

    Example:

    >>> write_json("/tmp/result.json", {"log_likelihood": 225.0})  # doctest: +SKIP
    """
    atomic_write(path, json.dumps(obj, indent=indent) + "\n")
