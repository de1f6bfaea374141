"""benchmarks/harness.peer_python: the PyTorch peer's Python, or one line saying why not."""

import importlib.util
import sys

import pytest

from benchmarks import harness


def test_a_peer_python_that_does_not_exist_is_named():
    with pytest.raises(SystemExit, match=r"^--peer_python=/nonexistent/bin/python does not exist\.$"):
        harness.peer_python("/nonexistent/bin/python")


@pytest.mark.skipif(importlib.util.find_spec("torch") is not None, reason="this Python has torch")
def test_a_peer_python_without_torch_is_named_with_the_requirements():
    with pytest.raises(SystemExit) as exit_:
        harness.peer_python(sys.executable)
    message = str(exit_.value)
    assert message.startswith(f"--peer_python={sys.executable} cannot import torch;")
    assert "benchmarks/torch_peer_requirements.txt" in message
    assert "\n" not in message


def test_a_failed_install_exits_with_one_line_and_the_next_call_installs_again(tmp_path, monkeypatch, capfd):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("--no-index\nno-such-package-for-the-peer==1.0\n")  # fails offline, at once
    monkeypatch.setattr(harness, "PEER_REQUIREMENTS", str(requirements))
    venv = tmp_path / "venv"
    for _ in range(2):  # the second call finds the venv made, without torch, and tries again
        with pytest.raises(SystemExit) as exit_:
            harness.peer_python(venv=str(venv))
        message = str(exit_.value)
        assert message.startswith(f"Installing {requirements} into {venv} failed")
        assert "--peer_python" in message and "\n" not in message
        assert "no-such-package-for-the-peer" in capfd.readouterr().err  # pip's own message
    assert (venv / "bin" / "python").exists()
