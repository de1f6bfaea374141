"""Crashes, divergence and determinism: a run is never lost and is repeatable."""

import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import keras
import numpy as np
import pytest
import tensorflow as tf
from cli_runner import run_commands

from gan_keras.training import TrainConfig, run

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN = [sys.executable, os.path.join(REPO, "train.py")]
# Epochs of 60 steps (~2 s), so a kill lands inside one.
RUN = ["--epochs=3", "--steps_per_epoch=60", "--deterministic", "--verbose=0", "--log_every_steps=20"]


def checkpoint_tensors(model_dir):
    path = tf.train.latest_checkpoint(os.path.join(model_dir, "checkpoints"))
    reader = tf.train.load_checkpoint(path)
    names = [n for n in reader.get_variable_to_shape_map() if "_CHECKPOINTABLE_OBJECT_GRAPH" not in n]
    return path, {n: reader.get_tensor(n) for n in names}


def wait_for(path, process, timeout=240):
    deadline = time.time() + timeout
    while not os.path.exists(path):
        assert process.poll() is None, "train.py ended before writing " + path
        assert time.time() < deadline, "timed out waiting for " + path
        time.sleep(0.05)


@pytest.fixture(scope="module")
def unbroken(tfds_dir, tmp_path_factory):
    """The model dir of an unbroken `train.py` run of `RUN`."""
    model_dir = str(tmp_path_factory.mktemp("unbroken"))
    subprocess.run([*TRAIN, f"--model_dir={model_dir}", *RUN], check=True, capture_output=True, timeout=600)
    return model_dir


def assert_same_final_checkpoint(unbroken, resumed, saves_differ=False):
    """Weights, both optimisers' slots and counters, seeds, epoch: all bit-identical.

    With `saves_differ`, the count of saves (`save_counter`, bookkeeping, not
    training state) is not compared: extra mid-epoch saves raise it.
    """
    path_a, a = checkpoint_tensors(unbroken)
    path_b, b = checkpoint_tensors(resumed)
    assert path_a.endswith("ckpt-3") and path_b.endswith("ckpt-3")
    assert sorted(a) == sorted(b)
    assert any("optimizer/_variables" in n for n in a) and any("seed_states" in n for n in a)
    for name in a:
        if saves_differ and name.startswith("save_counter/"):
            continue
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


@pytest.mark.multiprocess
@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_equals_an_unbroken_run(unbroken, tmp_path):
    killed = str(tmp_path / "killed")
    # --verbose=2 prints "Epoch 2/3" (flushed) when epoch 2 begins, after epoch 1's
    # checkpoint: the kill lands inside epoch 2 however fast the machine is.
    args = [*TRAIN, f"--model_dir={killed}", *RUN, "--verbose=2"]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        seen = []
        for line in process.stdout:
            seen.append(line)
            if line.startswith("Epoch 2/3"):
                break
        assert seen and seen[-1].startswith("Epoch 2/3"), "".join(seen)[-2000:]
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=60) == -signal.SIGKILL
    finally:
        process.kill()
        process.stdout.close()
    path, _ = checkpoint_tensors(killed)
    assert path.endswith(("ckpt-1", "ckpt-2")), path  # killed before the end

    resumed = subprocess.run([*TRAIN, f"--model_dir={killed}", *RUN], check=True, capture_output=True, text=True, timeout=600)
    assert "Resuming from" in resumed.stdout
    assert_same_final_checkpoint(unbroken, killed)


@pytest.mark.multiprocess
@pytest.mark.slow
def test_sigterm_mid_epoch_saves_the_step_and_resume_equals_an_unbroken_run(unbroken, tmp_path):
    preempted = str(tmp_path / "preempted")
    # Mid-epoch saves change nothing in the run; the one at step 65 (epoch 2,
    # step 5 of 60) says the run is inside epoch 2.
    args = [*TRAIN, f"--model_dir={preempted}", *RUN, "--checkpoint_every_steps=65"]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        wait_for(os.path.join(preempted, "checkpoints", "ckpt-2.index"), process)
        process.send_signal(signal.SIGTERM)
        stdout, _ = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 0
    line = stdout.strip().splitlines()[-1]
    match = re.fullmatch(
        r"Preempted: SIGTERM at step (\d+) \(epoch 2, (\d+) of its 60 steps done\): saved (\S+); "
        r"rerun the same command to resume\.", line)
    assert match, line
    step, done, path = int(match[1]), int(match[2]), match[3]
    assert path == os.path.join(preempted, "checkpoints", "ckpt-2") and step == 60 + done and done >= 5
    reader = tf.train.load_checkpoint(path)
    assert reader.get_tensor("epoch/.ATTRIBUTES/VARIABLE_VALUE") == 1
    assert reader.get_tensor("epoch_step/.ATTRIBUTES/VARIABLE_VALUE") == done

    resumed = subprocess.run([*TRAIN, f"--model_dir={preempted}", *RUN], check=True, capture_output=True, text=True, timeout=600)
    assert f"Resuming from {path}: epoch 1, step {step}." in resumed.stdout
    assert_same_final_checkpoint(unbroken, preempted, saves_differ=True)


SAVE_LOOP = textwrap.dedent(
    """
    import sys
    from gan_keras.training.checkpointing import GANCheckpoint
    from gan_keras.training import TrainConfig, build_gan
    gan = build_gan(TrainConfig(), (28, 28, 1))
    checkpoint = GANCheckpoint(gan, sys.argv[1], max_to_keep=2)
    epoch = 0
    while True:
        epoch += 1
        for v in gan.generator.trainable_variables:
            v.assign(v * 0 + epoch)
        checkpoint.save(epoch)
        print(epoch, flush=True)
    """
)


@pytest.mark.multiprocess
@pytest.mark.slow
def test_a_kill_during_a_save_leaves_the_previous_checkpoint_usable(tmp_path):
    from gan_keras.training import build_gan
    from gan_keras.training.checkpointing import GANCheckpoint

    directory = str(tmp_path / "checkpoints")
    reader = build_gan(TrainConfig(), (28, 28, 1))  # reads back what each killed process left
    for delay in (0.37, 0.81, 1.53):  # land at different points of a 30 MB save
        process = subprocess.Popen([sys.executable, "-c", SAVE_LOOP, directory], stdout=subprocess.PIPE, text=True)
        try:
            assert process.stdout.readline().strip()  # at least one save done
            time.sleep(delay)
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=60)
        finally:
            process.kill()
            process.stdout.close()
        epoch = GANCheckpoint(reader, directory).restore()
        assert epoch >= 1
        for v in reader.generator.trainable_variables:
            assert np.all(np.asarray(v) == epoch), (v.path, epoch)


@pytest.mark.multiprocess
@pytest.mark.slow
def test_divergence_stops_with_the_step_and_keeps_the_last_good_checkpoint(tfds_dir, tmp_path):
    model_dir = str(tmp_path / "run")
    quick = ["--steps_per_epoch=20", "--verbose=0"]
    first, result = run_commands("train.py", [[f"--model_dir={model_dir}", "--epochs=1", *quick],
                                              [f"--model_dir={model_dir}", "--epochs=3", "--learning_rate=1e12", *quick]])
    assert first["status"] == 0 and first["traceback"] is None, first
    good_path = os.path.join(model_dir, "checkpoints", "ckpt-1")

    assert result["status"] != 0 and result["traceback"] is None, result
    last = result["message"]
    # 10 steps per call (automatic): the NaN is in the first call of the second run.
    assert last.startswith("train.py: error: training diverged in steps 21-30: "), last
    assert "nan" in last.lower() and last.endswith(f"the last good checkpoint is {good_path}.")
    path, tensors = checkpoint_tensors(model_dir)
    assert path == good_path
    assert all(np.all(np.isfinite(t)) for t in tensors.values() if t.dtype.kind == "f")


@pytest.mark.slow
def test_same_seed_gives_bit_identical_losses(tfds_dir, tmp_path):
    histories = []
    for i in range(2):
        config = TrainConfig(
            model_dir=str(tmp_path / str(i)), data_dir=tfds_dir, epochs=2, steps_per_epoch=10,
            deterministic=True, verbose=0,
        )
        histories.append(run(config).history.history)
    assert histories[0] == histories[1]
    other = run(TrainConfig(model_dir=str(tmp_path / "other"), data_dir=tfds_dir, epochs=2,
                            steps_per_epoch=10, deterministic=True, seed=1, verbose=0))
    assert other.history.history != histories[0]


class SigtermAfter(keras.callbacks.Callback):
    """Sends this process SIGTERM once `step` GAN steps are done (train.py's handler saves at the next call's end)."""

    def __init__(self, step):
        super().__init__()
        self.step = step

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.g_optimizer.iterations) == self.step:
            os.kill(os.getpid(), signal.SIGTERM)


@pytest.mark.slow
def test_a_mid_epoch_checkpoint_resumes_exactly_with_more_steps_per_call(tfds_dir, tmp_path):
    """Saved at step 8 by a run of one step per call, resumed with the automatic 10 per call.

    The rest of epoch 1 (12 steps) runs 2 per call, epoch 2 runs 10 per call,
    and the run ends exactly as an unbroken one.
    """
    common = dict(data_dir=tfds_dir, epochs=2, steps_per_epoch=20, verbose=0)
    unbroken, resumed = str(tmp_path / "unbroken"), str(tmp_path / "resumed")
    assert run(TrainConfig(model_dir=unbroken, **common)).steps_per_execution == 10
    run(TrainConfig(model_dir=resumed, steps_per_execution=1, **common), callbacks=[SigtermAfter(7)])
    path, saved = checkpoint_tensors(resumed)
    assert saved["epoch_step/.ATTRIBUTES/VARIABLE_VALUE"] == 8, path
    assert run(TrainConfig(model_dir=resumed, **common)).steps_per_execution == 10
    _, a = checkpoint_tensors(unbroken)
    _, b = checkpoint_tensors(resumed)
    assert sorted(a) == sorted(b)
    for name in a:
        if not name.startswith("save_counter/"):  # the extra mid-epoch save
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)


@pytest.mark.multiprocess
@pytest.mark.slow
@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two usable cores to compare with one")
def test_a_seed_gives_the_same_run_on_one_core_and_on_two(tfds_dir, tmp_path):
    # TensorFlow sizes its thread pools by the cores it may use: taskset
    # gives the first run one, the second all of them.
    args = ["--epochs=1", "--steps_per_epoch=200", "--verbose=0", "--log_every_steps=100"]
    one, all_cores = str(tmp_path / "one"), str(tmp_path / "all")
    subprocess.run(["taskset", "-c", str(min(os.sched_getaffinity(0))), *TRAIN, f"--model_dir={one}", *args],
                   check=True, capture_output=True, timeout=600)
    subprocess.run([*TRAIN, f"--model_dir={all_cores}", *args], check=True, capture_output=True, timeout=600)
    _, a = checkpoint_tensors(one)
    _, b = checkpoint_tensors(all_cores)
    assert sorted(a) == sorted(b)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_no_collapse_is_seen_while_the_game_is_even(tfds_dir):
    import io

    from gan_keras import data
    from gan_keras.training import build_gan
    from gan_keras.training.divergence import CollapseGuard

    # A short run of the preset: D(G(z)) stays well above 0.01, no warning.
    images = data.load_images("mnist", "train", tfds_dir)[:3000]
    gan = build_gan(TrainConfig(), (28, 28, 1), data.TrainingData(images, 100).pixel_mean(), 30)
    stream = io.StringIO()
    guard = CollapseGuard("warn", stream=stream)
    history = gan.fit(
        data.TrainingData(images, batch_size=100).dataset(seed=0),
        epochs=1, steps_per_epoch=30, verbose=0, callbacks=[guard],
    )
    assert history.history["d_fake"][0] > 0.01 and stream.getvalue() == "" and guard.healthy()
