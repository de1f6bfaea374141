"""Every bad input in docs/reliability.md gives exactly the one-line error it shows."""

import os
import re
import shlex
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(REPO, "docs", "reliability.md")
ROW = re.compile(r"^\| `(?P<command>[^`]+)` \| `(?P<error>.+)` \|$")


def rows():
    with open(DOC) as f:
        found = [m.groupdict() for m in map(ROW.match, f.read().splitlines()) if m]
    return [(r["command"], r["error"].replace("\\|", "|")) for r in found]


def test_the_table_is_there():
    assert len(rows()) >= 15


@pytest.mark.parametrize("command, error", rows(), ids=[c for c, _ in rows()])
def test_documented_error(command, error, tfds_dir, trained_run, tmp_path):
    model_dir, empty_dir = trained_run["model_dir"], str(tmp_path)

    def substitute(text):
        for name, value in (("MODEL_DIR", model_dir), ("EMPTY_DIR", empty_dir), ("TFDS_DIR", tfds_dir)):
            text = text.replace(name, value)
        return text

    args = shlex.split(substitute(command))
    if args[0].endswith(".py"):
        args[0] = os.path.join(REPO, args[0])
    result = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.returncode == 1, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1] == substitute(error)
    assert "Traceback" not in result.stderr
