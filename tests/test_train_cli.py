"""train.py end to end: checkpoints, resume, artifacts, one-line errors."""

import os
import subprocess
import sys

import pytest
import tensorflow as tf

from gan_keras.training import ConfigError, TrainConfig

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUICK = ["--steps_per_epoch=15", "--verbose=0"]


def train(*flags, check=True):
    result = subprocess.run(
        [sys.executable, os.path.join(REPO, "train.py"), *flags],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"train.py failed:\n{result.stderr[-3000:]}")
    return result


def saved(checkpoint, name):
    return tf.train.load_checkpoint(checkpoint).get_tensor(f"{name}/.ATTRIBUTES/VARIABLE_VALUE")


def test_trains_checkpoints_and_resumes_with_the_step_counter_continuing(tfds_dir, tmp_path):
    model_dir = str(tmp_path / "run")
    train(f"--model_dir={model_dir}", "--epochs=1", *QUICK)
    first = tf.train.latest_checkpoint(os.path.join(model_dir, "checkpoints"))
    assert first.endswith("ckpt-1")
    assert saved(first, "g_optimizer/_iterations") == 15 == saved(first, "d_optimizer/_iterations")
    assert saved(first, "epoch") == 1
    # Noise and the three dropout layers' seeds are checkpointed.
    assert len([k for k in tf.train.load_checkpoint(first).get_variable_to_shape_map() if "seed_states" in k]) == 4

    result = train(f"--model_dir={model_dir}", "--epochs=2", *QUICK)
    assert "Resuming from" in result.stdout and "epoch 1, step 15" in result.stdout
    second = tf.train.latest_checkpoint(os.path.join(model_dir, "checkpoints"))
    assert second.endswith("ckpt-2")
    assert saved(second, "g_optimizer/_iterations") == 30
    assert saved(second, "epoch") == 2

    grid = tf.io.decode_png(tf.io.read_file(os.path.join(model_dir, "samples.png")))
    assert grid.shape == (291, 291, 1)
    generator = tf.keras.models.load_model(os.path.join(model_dir, "generator.keras"))
    assert generator.sample(2, seed=[0, 0]).shape == (2, 28, 28, 1)


def test_flagfile_is_read(tfds_dir, tmp_path):
    flagfile = tmp_path / "run.flags"
    flagfile.write_text(f"--model_dir={tmp_path / 'run'}\n--epochs=1\n--steps_per_epoch=3\n--verbose=0\n")
    train(f"--flagfile={flagfile}")
    assert os.path.exists(tmp_path / "run" / "checkpoints" / "ckpt-1.index")


@pytest.mark.parametrize(
    "flag, message",
    [
        ("--arch=rnn", "flag --arch=rnn: value should be one of <mlp|conv|points>"),
        ("--k=0", "--k must be >= 1; got 0."),
        ("--dataset=no_such_set", "--dataset: dataset 'no_such_set' is not a TFDS dataset"),
    ],
)
def test_bad_flags_exit_with_one_line_naming_the_flag(tfds_dir, tmp_path, flag, message):
    result = train(f"--model_dir={tmp_path}", flag, check=False)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("train.py: error: ") and message in last
    assert "Traceback" not in result.stderr
    assert not os.path.exists(tmp_path / "checkpoints")


@pytest.mark.parametrize(
    "settings, message",
    [
        (dict(noise="laplace"), "--noise='laplace' is not valid; accepted: uniform, gaussian."),
        (dict(g_loss="wgan"), "--g_loss='wgan' is not valid; accepted: non_saturating, minimax."),
        (dict(update="seq"), "--update='seq' is not valid; accepted: simultaneous, alternating."),
        (dict(batch_size=0), "--batch_size must be >= 1"),
        (dict(k=3), "--k=3 needs --update=alternating"),
        (dict(epochs=0), "--epochs must be >= 1"),
        (dict(steps_per_epoch=0), "--steps_per_epoch must be >= 1"),
        (dict(learning_rate=0.0), "--learning_rate must be > 0"),
        (dict(lr_decay=0.5), "--lr_decay must be >= 1"),
        (dict(momentum_final=1.5), "--momentum_final must be in [0, 1)"),
    ],
)
def test_bad_settings_name_the_flag_and_the_accepted_values(tfds_dir, settings, message):
    with pytest.raises(ConfigError) as error:
        TrainConfig(data_dir=tfds_dir, **settings).validate()
    assert message in str(error.value)


def test_a_model_dir_of_another_architecture_is_refused(tfds_dir, trained_run):
    result = train(f"--model_dir={trained_run['model_dir']}", "--arch=conv", *QUICK, check=False)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert "holds a run with --arch='mlp', not 'conv'" in last
