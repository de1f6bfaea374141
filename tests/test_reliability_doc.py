"""Every bad input in docs/reliability.md gives exactly the one-line error it shows."""

import contextlib
import os
import re
import shlex
import socket
import subprocess
import sys

import pytest

from gan_keras.utils import locking

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(REPO, "docs", "reliability.md")
ROW = re.compile(r"^\| `(?P<command>[^`]+)` \| `(?P<error>.+)` \|$")


def rows():
    with open(DOC) as f:
        found = [m.groupdict() for m in map(ROW.match, f.read().splitlines()) if m]
    return [(r["command"], r["error"].replace("\\|", "|")) for r in found]


def test_the_table_is_there():
    assert len(rows()) >= 15


def faulty_dirs(command, tmp_path, stack):
    """The fault dirs a row names, made for it: `{placeholder: path}`.

    LOCKED_DIR: a dir whose lock this test holds (as `train.py`, pid
    LOCK_PID on LOCK_HOST); BAD_CONFIG_DIR: a model dir whose config.json is
    not JSON; BAD_KERAS_DIR: a dir holding only a generator.keras of garbage;
    FULL_DIR: a real 12 MB tmpfs (the test is skipped where mounting is not permitted).
    """
    dirs = {}
    for name in ("LOCKED_DIR", "BAD_CONFIG_DIR", "BAD_KERAS_DIR"):
        if name in command:
            dirs[name] = str(tmp_path / name.lower())
            os.makedirs(dirs[name])
    if "LOCKED_DIR" in dirs:
        stack.enter_context(locking.hold(dirs["LOCKED_DIR"], "train.py"))
        dirs.update(LOCK_PID=str(os.getpid()), LOCK_HOST=socket.gethostname())
    if "BAD_CONFIG_DIR" in dirs:
        with open(os.path.join(dirs["BAD_CONFIG_DIR"], "config.json"), "w") as f:
            f.write('{"dataset": "mnist",')
    if "BAD_KERAS_DIR" in dirs:
        with open(os.path.join(dirs["BAD_KERAS_DIR"], "generator.keras"), "wb") as f:
            f.write(os.urandom(4096))
    if "FULL_DIR" in command:
        dirs["FULL_DIR"] = str(tmp_path / "full")
        os.makedirs(dirs["FULL_DIR"])
        mount = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs", dirs["FULL_DIR"]],
                               capture_output=True, text=True)
        if mount.returncode:
            pytest.skip(f"cannot mount a 12 MB tmpfs here: {mount.stderr.strip() or 'not permitted'}")
        stack.callback(subprocess.run, ["umount", "-l", dirs["FULL_DIR"]], check=True)
    return dirs


@pytest.mark.parametrize("command, error", rows(), ids=[c for c, _ in rows()])
def test_documented_error(command, error, tfds_dir, trained_run, tmp_path):
    with contextlib.ExitStack() as stack:
        check_row(command, error, tfds_dir, trained_run, tmp_path, stack)


def check_row(command, error, tfds_dir, trained_run, tmp_path, stack):
    model_dir, empty_dir = trained_run["model_dir"], str(tmp_path)
    names = {**faulty_dirs(command, tmp_path, stack), "MODEL_DIR": model_dir, "EMPTY_DIR": empty_dir,
             "TFDS_DIR": tfds_dir}

    def substitute(text):
        for name, value in names.items():
            text = text.replace(name, value)
        return text

    args = shlex.split(substitute(command))
    if args[0].endswith(".py"):
        args[0] = os.path.join(REPO, args[0])
    result = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.returncode == 1, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1] == substitute(error)
    assert "Traceback" not in result.stderr
