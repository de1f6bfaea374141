"""Faults lose nothing: one writer per dir, corrupt checkpoints fall back, a full disk is one line.

Real processes, real signals, real truncated files and a real tmpfs: nothing
under test is mocked. (SIGTERM mid-epoch and its bit-identical resume:
tests/test_reliability.py.)
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf
from cli_runner import run_commands

from gan_keras.training import ConfigError, TrainConfig, run
from gan_keras.training.checkpointing import CheckpointError
from gan_keras.training.restoring import load_generator
from gan_keras.utils import locking

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN = [sys.executable, os.path.join(REPO, "train.py")]
QUICK = ["--steps_per_epoch=20", "--verbose=0"]


def wait_for(path, process, timeout=240):
    """Waits until `path` exists while `process` runs (no fixed sleeps)."""
    deadline = time.time() + timeout
    while not os.path.exists(path):
        assert process.poll() is None, f"ended before writing {path}"
        assert time.time() < deadline, f"timed out waiting for {path}"
        time.sleep(0.05)


def last_line(result):
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    return result.stderr.strip().splitlines()[-1]


def copy_run(trained_run, target):
    shutil.copytree(trained_run["model_dir"], target)
    return str(target)


@contextlib.contextmanager
def tmpfs(path, size):
    """A real tmpfs of `size` at `path` (skips the test where mounting is not permitted)."""
    os.makedirs(path, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                             capture_output=True, text=True)
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip() or 'not permitted'}); a full disk needs one")
    try:
        yield str(path)
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


@pytest.mark.multiprocess
@pytest.mark.slow
def test_one_writer_per_model_dir_and_a_stale_lock_is_taken_over(tfds_dir, trained_run, tmp_path):
    model_dir = copy_run(trained_run, tmp_path / "run")
    first = subprocess.Popen([*TRAIN, f"--model_dir={model_dir}", "--epochs=500", *QUICK],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(os.path.join(model_dir, locking.LOCK_FILE), first)
        holder = f"train.py (pid {first.pid} on {socket.gethostname()})"
        # A second train.py, then an export.py, both refused (one Python runs the two programs).
        second, exporter = run_commands({
            "train.py": [[f"--model_dir={model_dir}", "--epochs=3", *QUICK]],
            "export.py": [[f"--model_dir={model_dir}", f"--export_dir={model_dir}"]],
        })
        for refused in (second, exporter):
            assert refused["status"] == 1 and refused["traceback"] is None, refused
            assert "Traceback" not in refused["stderr"]
        assert second["message"] == (
            f"train.py: error: --model_dir={model_dir} is in use by {holder}; one writer at a time: "
            "wait for it to end, or use another --model_dir.")
        assert exporter["message"] == (
            f"export.py: error: --export_dir={model_dir} is in use by {holder}; one writer at a time: "
            "wait for it to end, or use another --export_dir.")
        assert load_generator(model_dir).epoch >= 2  # readers keep working
        first.send_signal(signal.SIGKILL)  # leaves its .lock behind
        assert first.wait(timeout=60) == -signal.SIGKILL
    finally:
        first.kill()
    assert os.path.exists(os.path.join(model_dir, locking.LOCK_FILE))

    # The next run takes the stale lock over; Ctrl-C (SIGINT) saves it and releases the lock.
    third = subprocess.Popen([*TRAIN, f"--model_dir={model_dir}", "--epochs=500", *QUICK],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lock = os.path.join(model_dir, locking.LOCK_FILE)
        while not (os.path.exists(lock) and str(third.pid) in open(lock).read()):  # its lock, not the stale one
            assert third.poll() is None, third.communicate()[1][-3000:]
            time.sleep(0.05)
        third.send_signal(signal.SIGINT)
        stdout, stderr = third.communicate(timeout=120)
    finally:
        third.kill()
    assert third.returncode == 0, stderr[-3000:]
    assert (f"warning: --model_dir={model_dir}: taking over the stale lock of {holder}, "
            "which ended without releasing it.") in stderr
    assert "Resuming from" in stdout
    assert stdout.strip().splitlines()[-1].startswith("Preempted: SIGINT at step ")
    assert not os.path.exists(lock)  # released


@pytest.mark.multiprocess
@pytest.mark.slow
def test_a_truncated_newest_checkpoint_falls_back_to_the_previous_one(tfds_dir, trained_run, tmp_path, capsys):
    model_dir = copy_run(trained_run, tmp_path / "run")
    checkpoints = os.path.join(model_dir, "checkpoints")
    data = os.path.join(checkpoints, "ckpt-2.data-00000-of-00001")
    with open(data, "r+b") as f:
        f.truncate(os.path.getsize(data) // 2)

    # A reader (evaluate, export, figures) falls back too, and moves nothing.
    assert load_generator(model_dir).epoch == 1
    warning = capsys.readouterr().err.strip().splitlines()[-1]
    assert warning.startswith(f"warning: --model_dir={model_dir} ({checkpoints}/ckpt-2): cannot restore the generator: ")
    assert warning.endswith(f"; using {checkpoints}/ckpt-1.")
    assert os.path.exists(data)

    result = subprocess.run([*TRAIN, f"--model_dir={model_dir}", "--epochs=3", *QUICK],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: checkpoint")]
    assert len(warnings) == 1, result.stderr[-3000:]
    assert warnings[0].startswith(f"warning: checkpoint {checkpoints}/ckpt-2 cannot be restored (")
    assert warnings[0].endswith(f"); moved to {checkpoints}/corrupt; using {checkpoints}/ckpt-1.")
    assert f"Resuming from {checkpoints}/ckpt-1: epoch 1, step 20." in result.stdout
    # The bad one is kept aside, whole as it was; the run went on from epoch 1.
    assert sorted(os.listdir(os.path.join(checkpoints, "corrupt"))) == [
        "ckpt-2.data-00000-of-00001", "ckpt-2.index"]
    assert tf.train.latest_checkpoint(checkpoints).endswith("ckpt-3")


def test_no_restorable_checkpoint_is_one_error_and_nothing_is_moved(tfds_dir, trained_run, tmp_path):
    model_dir = copy_run(trained_run, tmp_path / "run")
    checkpoints = os.path.join(model_dir, "checkpoints")
    for name in os.listdir(checkpoints):
        if ".data-" in name:
            with open(os.path.join(checkpoints, name), "r+b") as f:
                f.truncate(100)
    before = sorted(os.listdir(checkpoints))
    config = TrainConfig(model_dir=model_dir, data_dir=tfds_dir, epochs=3, steps_per_epoch=20, verbose=0)
    with pytest.raises(CheckpointError, match=(
            rf"^no checkpoint of {checkpoints} can be restored \(2 tried; ckpt-2: .*\); they are left in "
            r"place: restore a copy, or move them away to start the run again\.$")):
        run(config)
    assert sorted(os.listdir(checkpoints)) == before


@pytest.mark.slow
def test_a_broken_state_file_does_not_start_the_run_again(tfds_dir, trained_run, tmp_path):
    model_dir = copy_run(trained_run, tmp_path / "run")
    with open(os.path.join(model_dir, "checkpoints", "checkpoint"), "w") as f:
        f.write("model_checkpoint_path: \"ckpt-2\n")  # cut in the middle
    config = TrainConfig(model_dir=model_dir, data_dir=tfds_dir, epochs=3, steps_per_epoch=20, verbose=0)
    gan = run(config)
    assert int(gan.g_optimizer.iterations.numpy()) == 60  # resumed at 40, not restarted at 0


@pytest.mark.slow
def test_a_run_whose_config_was_moved_away_resumes_with_the_flags_given(tfds_dir, trained_run, tmp_path):
    # What the error for a bad config.json advises; the run's other files do not make it a foreign dir.
    model_dir = copy_run(trained_run, tmp_path / "run")
    os.rename(os.path.join(model_dir, "config.json"), tmp_path / "config.json")
    assert {"checkpoints", "generator.keras", "logs"} <= set(os.listdir(model_dir))
    config = TrainConfig(model_dir=model_dir, data_dir=tfds_dir, epochs=3, steps_per_epoch=20, verbose=0)
    gan = run(config)
    assert int(gan.g_optimizer.iterations.numpy()) == 60  # resumed at 40


def test_an_export_dir_is_refused_and_left_as_it_was(tfds_dir, tmp_path):
    # A dir with a generator.keras but no run: the run's would be written over it.
    export_dir = tmp_path / "export"
    (export_dir / "1").mkdir(parents=True)
    (export_dir / "generator.keras").write_bytes(b"the exported generator")
    config = TrainConfig(model_dir=str(export_dir), data_dir=tfds_dir, epochs=1, steps_per_epoch=2, verbose=0)
    with pytest.raises(ConfigError, match=r"holds generator\.keras but no run \(no config\.json or checkpoints/\)"):
        run(config)
    assert sorted(os.listdir(export_dir)) == ["1", "generator.keras"]
    assert (export_dir / "generator.keras").read_bytes() == b"the exported generator"


@pytest.mark.multiprocess
@pytest.mark.slow
def test_full_disk_keeps_the_last_checkpoint_and_says_so(tfds_dir, trained_run, tmp_path):
    # Room for the run's newest checkpoint (40 MB), not for a second.
    with tmpfs(tmp_path / "disk", "64m") as disk:
        model_dir = os.path.join(disk, "run")
        checkpoints = os.path.join(model_dir, "checkpoints")
        os.makedirs(checkpoints)
        source = os.path.join(trained_run["model_dir"], "checkpoints")
        for name in os.listdir(source):
            if name.startswith(("ckpt-2.", "checkpoint")):
                shutil.copy(os.path.join(source, name), checkpoints)
        shutil.copy(os.path.join(trained_run["model_dir"], "config.json"), model_dir)
        before = tf.train.load_checkpoint(os.path.join(checkpoints, "ckpt-2"))

        result = subprocess.run([*TRAIN, f"--model_dir={model_dir}", "--epochs=3", *QUICK],
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 1
        assert last_line(result) == (
            f"train.py: error: no space left on device writing {checkpoints}/ckpt-3; "
            f"the last good checkpoint is {checkpoints}/ckpt-2.")
        assert not [n for n in os.listdir(checkpoints) if n.startswith("ckpt-3")]  # no partial save left
        after = tf.train.load_checkpoint(tf.train.latest_checkpoint(checkpoints))
        names = [n for n in before.get_variable_to_shape_map() if "CHECKPOINTABLE" not in n]
        for name in names:
            np.testing.assert_array_equal(before.get_tensor(name), after.get_tensor(name), err_msg=name)


@pytest.mark.multiprocess
@pytest.mark.slow
def test_export_onto_a_full_disk_keeps_the_previous_version(tfds_dir, trained_run, tmp_path):
    # Room for one version (10 MB: each weight saved once) and the generator.keras (10 MB),
    # not for a second version.
    with tmpfs(tmp_path / "disk", "25m") as disk:
        export_dir = os.path.join(disk, "gan")
        args = [f"--model_dir={trained_run['model_dir']}", f"--export_dir={export_dir}"]
        first, result = run_commands("export.py", [args, args])  # one Python, export.py run twice
        assert first["status"] == 0 and first["traceback"] is None, first
        before = {n: os.path.getsize(os.path.join(export_dir, n, "saved_model.pb")) for n in ["1"]}

        assert result["status"] == 1 and result["traceback"] is None, result
        assert "Traceback" not in result["stderr"]
        assert result["message"] == (
            f"export.py: error: no space left on device writing version 2 to --export_dir={export_dir}; "
            "the versions there before (1) and its generator.keras are as they were.")
        assert sorted(os.listdir(export_dir)) == ["1", "generator.keras"]
        assert os.path.getsize(os.path.join(export_dir, "1", "saved_model.pb")) == before["1"]
        assert tf.saved_model.load(os.path.join(export_dir, "1")).signatures["sample"] is not None


def test_a_dataset_that_cannot_be_loaded_leaves_no_model_dir(tmp_path):
    """Bad input writes nothing: the model dir run() made for it (and its new parents) go again; an old one stays."""
    tfds_empty = tmp_path / "tfds"
    kept = tmp_path / "kept"
    for made in (tfds_empty, kept):
        made.mkdir()
    (kept / "notes.txt").write_text("the user's")
    for model_dir in (tmp_path / "runs" / "new", kept):
        with pytest.raises(ConfigError, match=r"^--dataset: dataset 'cifar10' is not prepared in "):
            run(TrainConfig(model_dir=str(model_dir), dataset="cifar10", data_dir=str(tfds_empty)))
    assert sorted(os.listdir(tmp_path)) == ["kept", "tfds"]
    assert os.listdir(kept) == ["notes.txt"]
