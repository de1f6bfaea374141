"""The same train_step under tf.distribute: 2 logical CPUs, and 2 worker processes."""

import json
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf
from cli_runner import finish_commands, start_commands

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Runs in a fresh process: logical devices must be set before TF starts.
MIRRORED_VS_ONE_DEVICE = textwrap.dedent(
    """
    import json, sys
    import keras, numpy as np, tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from gan_keras import data as data_lib
    from gan_keras.training import TrainConfig, build_gan


    def train(strategy, config, data):
        keras.utils.set_random_seed(config.seed)  # the same initial weights, as run() does
        with strategy.scope():
            gan = build_gan(config, data.image_shape, data.pixel_mean(), data.steps_per_epoch,
                            config.num_classes())
        history = gan.fit(data.dataset(config.seed), epochs=1, steps_per_epoch=4,
                          verbose=0, shuffle=False).history
        weights = [np.asarray(v) for v in gan.generator.variables + gan.discriminator.variables
                   if v.trainable]
        if gan.ema_generator is not None:  # the average is kept on every replica alike
            weights += [np.asarray(v) for v in gan.ema_generator.variables]
        return gan, history, weights

    for settings in json.loads(sys.argv[1]):  # one report line per settings
        config = TrainConfig(d_dropout=False, **settings)
        if config.conditional:
            images, labels = data_lib.load_labelled_images("mnist", "train")
            labels = labels[:3000]
        else:
            images, labels = data_lib.load_images("mnist", "train"), None
        data = data_lib.TrainingData(images[:3000], config.batch_size, config.k, labels)
        one, one_history, one_weights = train(tf.distribute.OneDeviceStrategy("/cpu:0"), config, data)
        two, two_history, two_weights = train(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]), config, data)
        assert two.distribute_strategy.num_replicas_in_sync == 2
        assert two.d_optimizer.iterations.numpy() == 4 * config.k and two.g_optimizer.iterations.numpy() == 4
        worst = max(float(np.max(np.abs(a - b)) / (np.max(np.abs(a)) + 1e-12))
                    for a, b in zip(one_weights, two_weights))
        print(json.dumps({"settings": settings, "worst_relative_difference": worst,
                          "one": {k: v[-1] for k, v in one_history.items()},
                          "two": {k: v[-1] for k, v in two_history.items()}}), flush=True)
    """
)


SETTINGS = {
    "simultaneous": dict(update="simultaneous"),
    "alternating_k2": dict(update="alternating", k=2),
    "conditional": dict(update="simultaneous", conditional=True),
    "ema": dict(update="simultaneous", ema_decay=0.5),
}
# Two logical CPUs, set before TensorFlow starts: tf.distribute.MirroredStrategy()
# (train.py --strategy=mirrored) then has two replicas on a machine without GPUs.
TWO_CPUS = (
    "import tensorflow as tf\n"
    "cpu = tf.config.list_physical_devices('CPU')[0]\n"
    "tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)\n"
)
MIRRORED_RUN = ["--epochs=1", "--steps_per_epoch=4", "--nod_dropout", "--verbose=0", "--log_every_steps=2"]


@pytest.fixture(scope="module")
def mirrored(tfds_dir, tmp_path_factory):
    """The fresh Pythons of the mirrored tests: `{"reports": {name: report}, "train": {...}}`.

    One per `SETTINGS` trains on one device and on two replicas; another runs
    train.py (`cli_runner`) with --strategy=mirrored on two logical CPUs: a
    run, the same run with the default strategy, and a batch two replicas
    cannot split.
    """
    tmp = tmp_path_factory.mktemp("mirrored")
    train_rows = {  # the refused one last: it makes a MirroredStrategy too, but runs no collective op
        "mirrored": [f"--model_dir={tmp / 'mirrored'}", "--strategy=mirrored", *MIRRORED_RUN],
        "default": [f"--model_dir={tmp / 'default'}", *MIRRORED_RUN],
        "odd batch": [f"--model_dir={tmp / 'odd'}", "--strategy=mirrored", "--batch_size=51", *MIRRORED_RUN],
    }
    # One Python per settings: a second MirroredStrategy in a process that ran one
    # collides with its collective instance keys (a "shape mismatch in the
    # collective instance"). They and the train.py runner run side by side.
    comparing = {
        name: subprocess.Popen([sys.executable, "-c", MIRRORED_VS_ONE_DEVICE, json.dumps([settings])],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for name, settings in SETTINGS.items()
    }
    training = start_commands("train.py", list(train_rows.values()), setup=TWO_CPUS)
    reports = {}
    try:
        for name, process in comparing.items():
            stdout, stderr = process.communicate(timeout=900)
            reports[name] = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
            reports[name] = reports[name][0] if process.returncode == 0 and reports[name] else stderr[-3000:]
    finally:
        for process in comparing.values():
            process.kill()
    return {"tmp": tmp, "train": dict(zip(train_rows, finish_commands(training))), "reports": reports}


@pytest.mark.multiprocess
@pytest.mark.slow
@pytest.mark.parametrize("name", SETTINGS)
def test_mirrored_on_two_replicas_follows_the_one_device_trajectory(mirrored, name):
    report = mirrored["reports"][name]
    assert isinstance(report, dict), report  # else the process's stderr
    assert report["settings"] == SETTINGS[name]
    # Same data, noise and (dropout-free) D: only the all-reduce's summation
    # order differs, so weights agree to float32 round-off.
    assert report["worst_relative_difference"] < 1e-4, report
    for metric, value in report["one"].items():
        assert report["two"][metric] == pytest.approx(value, rel=1e-4, abs=1e-6), metric


@pytest.mark.multiprocess
@pytest.mark.slow
def test_train_py_mirrored_refuses_a_batch_its_replicas_cannot_split(mirrored):
    result = mirrored["train"]["odd batch"]
    assert result["status"] == 1 and result["traceback"] is None, result
    assert result["message"] == (
        "train.py: error: --batch_size=51 (the global minibatch) must be divisible by the 2 replicas of "
        "--strategy=mirrored.")
    assert not os.path.exists(mirrored["tmp"] / "odd" / "checkpoints")


@pytest.mark.multiprocess
@pytest.mark.slow
def test_train_py_mirrored_trains_on_two_replicas_like_one_device(mirrored):
    for name in ("mirrored", "default"):
        result = mirrored["train"][name]
        assert result["status"] == 0 and result["traceback"] is None, result
    path = {name: os.path.join(mirrored["tmp"], name, "checkpoints", "ckpt-1") for name in ("mirrored", "default")}
    two, one = (tf.train.load_checkpoint(path[name]) for name in ("mirrored", "default"))
    names = sorted(n for n in one.get_variable_to_shape_map() if "OBJECT_GRAPH" not in n)
    assert names == sorted(n for n in two.get_variable_to_shape_map() if "OBJECT_GRAPH" not in n)
    assert any(n.startswith("g_optimizer/_trainable_variables/") for n in names)  # G's weights, D's, the EMA's ...
    assert two.get_tensor("g_optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE") == 4
    for name in names:  # the global batch split in two: the same steps, to float32 round-off
        a, b = one.get_tensor(name), two.get_tensor(name)
        if a.dtype.kind == "f":  # (D's output bias is ~5e-6 here: an absolute floor too)
            assert np.max(np.abs(a - b)) <= 1e-4 * np.max(np.abs(a)) + 1e-7, name
        else:
            np.testing.assert_array_equal(a, b, err_msg=name)


def free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.multiprocess
@pytest.mark.slow
def test_multi_worker_training_with_two_processes(tfds_dir, tmp_path):
    model_dir = str(tmp_path / "run")
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
    flags = [
        f"--model_dir={model_dir}", "--strategy=multi_worker", "--epochs=1",
        "--steps_per_epoch=4", "--verbose=0", "--log_every_steps=2", "--ema_decay=0.5",
    ]
    workers = []
    try:
        for index in range(2):
            env = dict(os.environ, TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
            workers.append(subprocess.Popen(
                [sys.executable, os.path.join(REPO, "train.py"), *flags],
                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            ))
        outputs = [w.communicate(timeout=300) for w in workers]
    finally:
        for w in workers:
            w.kill()
    for w, (_, err) in zip(workers, outputs):
        assert w.returncode == 0, err[-3000:]

    # The chief (worker 0) wrote the run; worker 1 only its scratch copy.
    assert os.path.exists(os.path.join(model_dir, "generator.keras"))
    chief = tf.train.load_checkpoint(os.path.join(model_dir, "checkpoints", "ckpt-1"))
    other = tf.train.load_checkpoint(os.path.join(model_dir, "workers", "worker-1", "checkpoints", "ckpt-1"))
    names = [n for n in chief.get_variable_to_shape_map() if "OBJECT_GRAPH" not in n]
    assert chief.get_tensor("g_optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE") == 4
    assert any(name.startswith("ema_generator/") for name in names)  # averaged on both workers alike
    for name in names:
        np.testing.assert_array_equal(chief.get_tensor(name), other.get_tensor(name), err_msg=name)
