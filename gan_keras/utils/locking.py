"""One writer per directory: a lock held for the life of a run.

`train.py` (the chief, under multi-worker) locks `MODEL_DIR` and `export.py`
locks `EXPORT_DIR`, so a second writer is refused with one line naming the
holder. The lock is an exclusive `flock` on the directory itself, which the
kernel drops however the holder ends (exit, exception, SIGKILL): a lock cannot
outlive its process. While held, `DIR/.lock` names the holder (program, pid,
host); a clean exit removes it, so a `.lock` found while the lock is free was
left by a killed process: it is stale, and the next writer takes over with a
one-line warning. Readers (evaluate, figures, TensorBoard) take no lock.
"""

import contextlib
import fcntl
import json
import os
import socket
import sys

from gan_keras.utils import storage

__all__ = [
    "LOCK_FILE",
    "LockedError",
    "describe",
    "hold",
]

LOCK_FILE = ".lock"


class LockedError(RuntimeError):
    """The directory is held by another writer; the message names it."""


def describe(holder):
    """`program (pid N on host)` of a lock file's contents.

    Example:

    >>> describe({"program": "train.py", "pid": 12, "host": "box"})
    'train.py (pid 12 on box)'
    >>> describe({})
    'another writer (starting up)'
    """
    if not holder:
        return "another writer (starting up)"
    return f"{holder.get('program', '?')} (pid {holder.get('pid', '?')} on {holder.get('host', '?')})"


def _alive_here(holder):
    """Whether `holder` is a live process of this host other than this one (pid reuse aside)."""
    pid = holder.get("pid")
    if holder.get("host") != socket.gethostname() or not isinstance(pid, int) or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def _read_holder(path):
    try:
        with open(path) as f:
            return json.loads(f.read() or "{}")
    except FileNotFoundError:
        return {}
    except ValueError:  # a holder killed while writing it
        return {"program": "an unknown writer"}


@contextlib.contextmanager
def hold(directory, program, flag="--model_dir"):
    """Holds `directory`'s lock for the `with` block (the directory must exist).

    Raises:
        LockedError: one line naming `flag`, the directory and the live holder.

    Example:

    >>> with hold("/tmp/run", "train.py"):  # doctest: +SKIP
    ...     train()
    """
    path = os.path.join(directory, LOCK_FILE)
    fd = os.open(directory, os.O_RDONLY)  # closing it drops the flock
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            stale = _read_holder(path)
            if _alive_here(stale):  # a file system where flock does not lock: trust the pid
                raise BlockingIOError
        except BlockingIOError:
            raise LockedError(
                f"{flag}={directory} is in use by {describe(_read_holder(path))}; one writer at a time: "
                f"wait for it to end, or use another {flag}."
            ) from None
        if stale:
            print(f"warning: {flag}={directory}: taking over the stale lock of {describe(stale)}, "
                  "which ended without releasing it.", file=sys.stderr)
        try:  # only for the messages: the flock is the lock, so a full disk does not stop the run here
            storage.atomic_write(path, json.dumps({"program": program, "pid": os.getpid(), "host": socket.gethostname()}))
        except storage.StorageError:
            pass
        try:
            yield
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
    finally:
        os.close(fd)
