"""Every bad input in docs/reliability.md gives exactly the one-line error it shows.

The rows of one program run in one fresh Python (`cli_runner`: the program's
own flag parser and `main`, as `app.run` calls them, with absl's flags reset
between rows), the programs side by side: a Python and TensorFlow per program,
not per row.
"""

import contextlib
import os
import re
import shlex
import socket
import subprocess

import pytest
from cli_runner import finish_commands, start_commands

from gan_keras.utils import locking

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(REPO, "docs", "reliability.md")
ROW = re.compile(r"^\| `(?P<command>[^`]+)` \| `(?P<error>.+)` \|$")


def rows():
    with open(DOC) as f:
        found = [m.groupdict() for m in map(ROW.match, f.read().splitlines()) if m]
    return [(r["command"], r["error"].replace("\\|", "|")) for r in found]


ROWS = rows()


def test_the_table_is_there():
    assert len(ROWS) >= 15
    assert len({command for command, _ in ROWS}) == len(ROWS)  # each row is its own test


class CannotMount(Exception):
    """The row needs a tmpfs and mounting is not permitted here."""


def faulty_dirs(command, tmp_path, stack):
    """The fault dirs a row names, made for it: `{placeholder: path}`.

    LOCKED_DIR: a dir whose lock this test holds (as `train.py`, pid
    LOCK_PID on LOCK_HOST); BAD_CONFIG_DIR: a model dir whose config.json is
    not JSON; BAD_KERAS_DIR: a dir holding only a generator.keras of garbage;
    FULL_DIR: a real 12 MB tmpfs (`CannotMount` where mounting is not permitted).
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
            raise CannotMount(f"cannot mount a 12 MB tmpfs here: {mount.stderr.strip() or 'not permitted'}")
        stack.callback(subprocess.run, ["umount", "-l", dirs["FULL_DIR"]], check=True)
    return dirs


def program_and_args(args):
    """`("-m module", rest)` or `("script.py", rest)` of a row's command line."""
    if args[0] == "-m":
        return f"-m {args[1]}", args[2:]
    return args[0], args[1:]


@pytest.fixture(scope="module")
def documented_runs(tfds_dir, trained_run, tmp_path_factory):
    """`({command: (skip, result, substitute)}, what the rows left in their working dir)`.

    Each row runs in its own dirs, one runner per program, all in one empty
    working dir (where a default `--model_dir`, `runs/mnist`, would go).
    """
    prepared, by_program = {}, {}
    with contextlib.ExitStack() as stack:
        for i, (command, _) in enumerate(ROWS):
            tmp_path = tmp_path_factory.mktemp(f"row{i}")
            try:
                dirs = faulty_dirs(command, tmp_path, stack)
            except CannotMount as e:
                prepared[command] = (str(e), None)
                continue
            names = {**dirs, "MODEL_DIR": trained_run["model_dir"], "EMPTY_DIR": str(tmp_path), "TFDS_DIR": tfds_dir}

            def substitute(text, names=names):
                for name, value in names.items():
                    text = text.replace(name, value)
                return text

            program, args = program_and_args(shlex.split(substitute(command)))
            by_program.setdefault(program, []).append((command, args))
            prepared[command] = (None, substitute)
        cwd = tmp_path_factory.mktemp("cwd")  # where a row's default dirs (runs/mnist) would go
        processes = {
            program: start_commands(program, [args for _, args in commands], cwd=cwd)
            for program, commands in by_program.items()
        }
        results = {}
        for program, process in processes.items():
            for (command, _), result in zip(by_program[program], finish_commands(process)):
                results[command] = result
    runs = {command: (skip, results.get(command), substitute) for command, (skip, substitute) in prepared.items()}
    return runs, sorted(os.listdir(cwd))


@pytest.mark.multiprocess
@pytest.mark.slow
@pytest.mark.parametrize("command, error", ROWS, ids=[c for c, _ in ROWS])
def test_documented_error(command, error, documented_runs):
    skip, result, substitute = documented_runs[0][command]
    if skip:
        pytest.skip(skip)
    assert result["traceback"] is None, result["traceback"]
    assert "Traceback" not in result["stderr"], result["stderr"][-2000:]
    assert result["status"] == 1, result
    assert result["message"] == substitute(error)


@pytest.mark.multiprocess
@pytest.mark.slow
def test_no_bad_input_writes_anything(documented_runs):
    """"Every flag is checked before anything is written": no row left a file or dir where it ran."""
    assert documented_runs[1] == []
