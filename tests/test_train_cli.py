"""train.py end to end: checkpoints, resume, artifacts, one-line errors, the flags reaching the run.

Every command line of this file runs in one fresh Python (`cli_runner`:
train.py's own flag parser and `main`, flags reset between command lines).
"""

import dataclasses
import json
import math
import os

import numpy as np
import pytest
import tensorflow as tf
from cli_runner import run_commands
from tensorboard.backend.event_processing import event_accumulator

from gan_keras.training import ConfigError, TrainConfig

QUICK = ["--steps_per_epoch=15", "--verbose=0"]
BAD_FLAGS = [
    ("--arch=rnn", "flag --arch=rnn: value should be one of <mlp|conv|points|dcgan>"),
    ("--k=0", "--k must be >= 1; got 0."),
    ("--dataset=no_such_set", "--dataset: dataset 'no_such_set' is not a TFDS dataset"),
]
# Every architecture and optimiser setting away from its default (the
# alternating rule with k=2, minimax G loss, Gaussian z of 16 dims).
CUSTOM = [
    "--latent_dim=16", "--noise=gaussian", "--g_loss=minimax", "--update=alternating", "--k=2",
    "--batch_size=50", "--learning_rate=0.05", "--lr_decay=1.01", "--min_learning_rate=0.045",
    "--momentum_initial=0.3", "--momentum_final=0.6", "--momentum_saturate_epoch=3",
    "--steps_per_epoch=4", "--log_every_steps=2", "--verbose=0",
]


@pytest.fixture(scope="module")
def runs(tfds_dir, trained_run, tmp_path_factory):
    """`{name: (result, dirs)}` of each command line, all run in one process."""
    tmp = tmp_path_factory.mktemp("train_cli")
    flagfile = tmp / "run.flags"
    flagfile.write_text(f"--model_dir={tmp / 'flagfile_run'}\n--epochs=1\n--steps_per_epoch=3\n--verbose=0\n")
    commands = {
        **{f"bad {flag}": [f"--model_dir={tmp / ('bad' + str(i))}", flag] for i, (flag, _) in enumerate(BAD_FLAGS)},
        "other arch": [f"--model_dir={trained_run['model_dir']}", "--arch=conv", *QUICK],
        "train": [f"--model_dir={tmp / 'run'}", "--epochs=1", *QUICK],
        "resume": [f"--model_dir={tmp / 'run'}", "--epochs=2", *QUICK],
        "flagfile": [f"--flagfile={flagfile}"],
        "custom": [f"--model_dir={tmp / 'custom'}", "--epochs=1", *CUSTOM],
        "custom resumed": [f"--model_dir={tmp / 'custom'}", "--epochs=2", *CUSTOM],
    }
    results = run_commands("train.py", list(commands.values()))
    return {"tmp": tmp, **dict(zip(commands, results))}


def succeeded(result):
    assert result["status"] == 0 and result["traceback"] is None, result
    return result


def saved(checkpoint, name):
    return tf.train.load_checkpoint(checkpoint).get_tensor(f"{name}/.ATTRIBUTES/VARIABLE_VALUE")


@pytest.mark.multiprocess
@pytest.mark.slow
def test_trains_checkpoints_and_resumes_with_the_step_counter_continuing(runs):
    model_dir = str(runs["tmp"] / "run")
    succeeded(runs["train"])
    checkpoints = os.path.join(model_dir, "checkpoints")
    first = os.path.join(checkpoints, "ckpt-1")
    assert saved(first, "g_optimizer/_iterations") == 15 == saved(first, "d_optimizer/_iterations")
    assert saved(first, "epoch") == 1
    # Noise and the three dropout layers' seeds are checkpointed.
    assert len([k for k in tf.train.load_checkpoint(first).get_variable_to_shape_map() if "seed_states" in k]) == 4

    result = succeeded(runs["resume"])
    assert "Resuming from" in result["stdout"] and "epoch 1, step 15" in result["stdout"]
    second = tf.train.latest_checkpoint(checkpoints)
    assert second.endswith("ckpt-2")
    assert saved(second, "g_optimizer/_iterations") == 30
    assert saved(second, "epoch") == 2

    grid = tf.io.decode_png(tf.io.read_file(os.path.join(model_dir, "samples.png")))
    assert grid.shape == (291, 291, 1)
    generator = tf.keras.models.load_model(os.path.join(model_dir, "generator.keras"))
    assert generator.sample(2, seed=[0, 0]).shape == (2, 28, 28, 1)


@pytest.mark.multiprocess
@pytest.mark.slow
def test_flagfile_is_read(runs):
    succeeded(runs["flagfile"])
    assert os.path.exists(runs["tmp"] / "flagfile_run" / "checkpoints" / "ckpt-1.index")


@pytest.mark.multiprocess
@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(BAD_FLAGS)), ids=[flag for flag, _ in BAD_FLAGS])
def test_bad_flags_exit_with_one_line_naming_the_flag(runs, index):
    flag, message = BAD_FLAGS[index]
    result = runs[f"bad {flag}"]
    assert result["status"] != 0
    assert result["message"].startswith("train.py: error: ") and message in result["message"]
    assert "\n" not in result["message"]
    assert result["traceback"] is None and "Traceback" not in result["stderr"]
    assert not os.path.exists(runs["tmp"] / f"bad{index}" / "checkpoints")


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


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_every_float_setting_must_be_finite(value):
    # NaN passes every `<` check (a NaN learning rate trained to NaN), and inf is no rate or period.
    names = [f.name for f in dataclasses.fields(TrainConfig) if isinstance(f.default, float)]
    assert "learning_rate" in names and "checkpoint_every_minutes" in names
    for name in names:
        with pytest.raises(ConfigError) as error:
            TrainConfig(**{name: value}).validate()
        assert str(error.value) == f"--{name} must be a finite number; got {value}."


@pytest.mark.multiprocess
@pytest.mark.slow
def test_a_model_dir_of_another_architecture_is_refused(runs):
    result = runs["other arch"]
    assert result["status"] != 0
    assert "holds a run with --arch='mlp', not 'conv'" in result["message"]


def step_scalars(model_dir):
    """`{tag: [(step, value), ...]}` of the run's `logs/steps` scalars."""
    accumulator = event_accumulator.EventAccumulator(
        os.path.join(model_dir, "logs", "steps"), size_guidance={event_accumulator.TENSORS: 0}
    )
    accumulator.Reload()
    return {
        tag: [(e.step, float(tf.make_ndarray(e.tensor_proto))) for e in accumulator.Tensors(tag)]
        for tag in accumulator.Tags()[event_accumulator.TENSORS]
        if tag.startswith(("optimizer/", "metrics/"))
    }


@pytest.mark.multiprocess
@pytest.mark.slow
def test_non_default_flags_reach_the_networks_and_optimisers_and_survive_resume(runs):
    for name in ("custom", "custom resumed"):
        succeeded(runs[name])
    model_dir = str(runs["tmp"] / "custom")
    assert "Resuming from" in runs["custom resumed"]["stdout"]
    with open(os.path.join(model_dir, "config.json")) as f:
        config = json.load(f)
    assert (config["latent_dim"], config["noise"], config["g_loss"], config["update"], config["k"]) == (
        16, "gaussian", "minimax", "alternating", 2)
    assert (config["momentum_final"], config["momentum_saturate_epoch"]) == (0.6, 3)

    # k=2 D updates per G update, across the resume.
    last = tf.train.latest_checkpoint(os.path.join(model_dir, "checkpoints"))
    assert last.endswith("ckpt-2")
    assert saved(last, "g_optimizer/_iterations") == 8 and saved(last, "d_optimizer/_iterations") == 16

    # What the built optimisers reported at each logged step: the flags' learning
    # rate, decay and floor (G after s updates, D after 2s), and momentum_initial
    # (the momentum epoch is a pass over the data, still the first).
    scalars = step_scalars(model_dir)
    steps = [step for step, _ in scalars["optimizer/g_learning_rate"]]
    assert steps == [2, 4, 6, 8]
    for prefix, updates_per_step in (("g", 1), ("d", 2)):
        want = [max(0.05 * math.exp(-updates_per_step * s * math.log(1.01)), 0.045) for s in steps]
        got = [v for _, v in scalars[f"optimizer/{prefix}_learning_rate"]]
        np.testing.assert_allclose(got, want, rtol=1e-5, err_msg=prefix)
        assert [v for _, v in scalars[f"optimizer/{prefix}_momentum"]] == pytest.approx([0.3] * 4)
    assert got[-1] == pytest.approx(0.045)  # D reached the floor (G, with half the updates, did not)
    # The minimax G loss, log(1 - D(G(z))), is negative; the non-saturating one is not.
    assert all(v < 0 for _, v in scalars["metrics/g_loss"])

    # The resumed run built the same networks: z of 16 Gaussian dims.
    from gan_keras.training.restoring import load_generator

    generator = load_generator(model_dir).generator
    assert generator.latent_dim == 16 and generator.noise == "gaussian"
    z = np.asarray(generator.sample_noise(4000, [1, 2]))
    assert z.shape == (4000, 16) and np.abs(z).max() > math.sqrt(3)  # U[-sqrt 3, sqrt 3] never is
    kernel = [w for w in generator.weights if len(w.shape) == 2][0]
    assert kernel.shape[0] == 16


@pytest.mark.multiprocess
@pytest.mark.slow
def test_the_non_default_run_exports_with_its_latent_dim_and_noise(runs, tmp_path):
    from gan_keras.serving import export_from_model_dir
    from gan_keras.training.restoring import load_generator

    model_dir = str(runs["tmp"] / "custom")
    succeeded(runs["custom resumed"])
    served = tf.saved_model.load(export_from_model_dir(model_dir, str(tmp_path / "gan"))).signatures
    assert served["serving_default"].structured_input_signature[1]["z"].shape.as_list() == [None, 16]
    generator = load_generator(model_dir).generator
    # `sample` draws z with the run's own (Gaussian) noise.
    images = served["sample"](num_samples=tf.constant(3), seed=tf.constant(9))["images"]
    np.testing.assert_allclose(images, generator.sample(3, [9, 0]), atol=1e-5)
