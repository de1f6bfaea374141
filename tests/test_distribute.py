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

    settings = json.loads(sys.argv[1])
    config = TrainConfig(d_dropout=False, **settings)
    if config.conditional:
        images, labels = data_lib.load_labelled_images("mnist", "train")
        labels = labels[:3000]
    else:
        images, labels = data_lib.load_images("mnist", "train"), None
    data = data_lib.TrainingData(images[:3000], config.batch_size, config.k, labels)

    def train(strategy):
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

    one, one_history, one_weights = train(tf.distribute.OneDeviceStrategy("/cpu:0"))
    two, two_history, two_weights = train(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
    assert two.distribute_strategy.num_replicas_in_sync == 2
    assert two.d_optimizer.iterations.numpy() == 4 * config.k and two.g_optimizer.iterations.numpy() == 4
    worst = max(float(np.max(np.abs(a - b)) / (np.max(np.abs(a)) + 1e-12))
                for a, b in zip(one_weights, two_weights))
    print(json.dumps({"worst_relative_difference": worst,
                      "one": {k: v[-1] for k, v in one_history.items()},
                      "two": {k: v[-1] for k, v in two_history.items()}}))
    """
)


@pytest.mark.parametrize(
    "settings",
    [
        dict(update="simultaneous"),
        dict(update="alternating", k=2),
        dict(update="simultaneous", conditional=True),
        dict(update="simultaneous", ema_decay=0.5),
    ],
    ids=["simultaneous", "alternating_k2", "conditional", "ema"],
)
def test_mirrored_on_two_replicas_follows_the_one_device_trajectory(tfds_dir, settings):
    result = subprocess.run(
        [sys.executable, "-c", MIRRORED_VS_ONE_DEVICE, json.dumps(settings)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    # Same data, noise and (dropout-free) D: only the all-reduce's summation
    # order differs, so weights agree to float32 round-off.
    assert report["worst_relative_difference"] < 1e-4, report
    for name, value in report["one"].items():
        assert report["two"][name] == pytest.approx(value, rel=1e-4, abs=1e-6), name


def free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


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
