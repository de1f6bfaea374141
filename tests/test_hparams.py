"""The HParams dashboard: two real runs in one log dir, read back as TensorBoard reads them.

The event files are read with `event_accumulator` and the hparams plugin's
own parsers; then a TensorBoard server's hparams plugin is asked for its
table (session groups), which is what the dashboard's table and
parallel-coordinates views show.
"""

import json
import math
import pathlib
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest
import tensorflow as tf
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.plugins.hparams import metadata as hp_metadata

from gan_keras import training
from gan_keras.training import monitoring

LEARNING_RATES = {"a": 0.1, "b": 0.05}
PARZEN_SAMPLES = 10
METRIC_TAGS = [
    f"epoch_parzen_ll_{PARZEN_SAMPLES}samples",
    "epoch_frechet_distance",
    "epoch_classes_covered",
    "epoch_d_fake",
]


@pytest.fixture(scope="module")
def runs(tfds_dir, tmp_path_factory):
    """Two 1-epoch runs (different learning rates) under one root, with Parzen and classifier metrics."""
    root = tmp_path_factory.mktemp("hparams_runs")
    configs = {}
    for name, learning_rate in LEARNING_RATES.items():
        configs[name] = training.TrainConfig(
            model_dir=str(root / name),
            data_dir=tfds_dir,
            epochs=1,
            steps_per_epoch=5,
            learning_rate=learning_rate,
            parzen_every_epochs=1,
            parzen_samples=PARZEN_SAMPLES,
            classifier_metrics_every_epochs=1,
            classifier_metrics_samples=200,
            verbose=0,
        )
        training.run(configs[name])
    return {"root": root, "configs": configs}


def accumulate(run_dir):
    accumulator = event_accumulator.EventAccumulator(str(run_dir), size_guidance={event_accumulator.TENSORS: 0})
    accumulator.Reload()
    return accumulator


def hparams_plugin_data(log_dir):
    """`{tag: plugin content bytes}` of the hparams plugin's tags in a run dir."""
    accumulator = accumulate(log_dir)
    return {
        tag: accumulator.SummaryMetadata(tag).plugin_data.content
        for tag in accumulator.Tags()[event_accumulator.TENSORS]
        if accumulator.SummaryMetadata(tag).plugin_data.plugin_name == hp_metadata.PLUGIN_NAME
    }


def last_scalar(run_dir, tag):
    return float(tf.make_ndarray(accumulate(run_dir).Tensors(tag)[-1].tensor_proto))


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(LEARNING_RATES))
def test_each_run_logs_its_flags_as_hparams(runs, name):
    config = runs["configs"][name]
    content = hparams_plugin_data(runs["root"] / name / "logs")
    assert set(content) == {hp_metadata.EXPERIMENT_TAG, hp_metadata.SESSION_START_INFO_TAG}
    start = hp_metadata.parse_session_start_info_plugin_data(content[hp_metadata.SESSION_START_INFO_TAG])
    assert start.hparams["learning_rate"].number_value == pytest.approx(config.learning_rate)
    assert start.hparams["epochs"].number_value == 1
    assert start.hparams["update"].string_value == config.update
    assert start.hparams["conditional"].bool_value is False
    assert start.hparams["model_dir"].string_value == config.model_dir
    assert "tpu" not in start.hparams  # None: left out

    experiment = hp_metadata.parse_experiment_plugin_data(content[hp_metadata.EXPERIMENT_TAG])
    assert {h.name for h in experiment.hparam_infos} == set(training.TrainConfig.__dataclass_fields__)
    assert [(m.name.group, m.name.tag) for m in experiment.metric_infos] == [("train", t) for t in METRIC_TAGS]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(LEARNING_RATES))
def test_each_metric_is_a_scalar_the_run_wrote(runs, name):
    train_dir = runs["root"] / name / "logs" / monitoring.TRAIN_SUBDIR
    values = {tag: last_scalar(train_dir, tag) for tag in METRIC_TAGS}
    assert all(math.isfinite(v) for v in values.values()), values
    assert 0 < values["epoch_d_fake"] < 1
    assert 0 <= values["epoch_classes_covered"] <= 10


def _post_json(url, body):
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.multiprocess
@pytest.mark.slow
def test_tensorboard_hparams_table_compares_the_runs(runs):
    port = _free_port()
    tensorboard = pathlib.Path(sys.executable).parent / "tensorboard"
    process = subprocess.Popen(
        [str(tensorboard), "--logdir", str(runs["root"]), "--host", "127.0.0.1", "--port", str(port),
         "--load_fast=false"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/data/plugin/hparams/session_groups"
    request = {
        "experimentName": "",
        "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"],
        "colParams": [{"metric": {"group": "train", "tag": tag}} for tag in METRIC_TAGS]
        + [{"hparam": "learning_rate"}],
        "startIndex": 0,
        "sliceSize": 10,
    }
    try:
        groups, deadline = [], time.monotonic() + 90
        while time.monotonic() < deadline and len(groups) < 2:
            assert process.poll() is None, "tensorboard exited early"
            try:
                groups = _post_json(url, request).get("sessionGroups", [])
            except OSError:
                pass
            # Wait until every metric of both rows is loaded.
            if len(groups) == 2 and any(len(g.get("metricValues", [])) < len(METRIC_TAGS) for g in groups):
                groups = []
            time.sleep(1)
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert len(groups) == 2, groups
    by_rate = {g["hparams"]["learning_rate"]: g for g in groups}
    assert sorted(by_rate) == sorted(LEARNING_RATES.values())
    for name, rate in LEARNING_RATES.items():
        train_dir = runs["root"] / name / "logs" / monitoring.TRAIN_SUBDIR
        shown = {v["name"]["tag"]: v["value"] for v in by_rate[rate]["metricValues"]}
        expected = {tag: last_scalar(train_dir, tag) for tag in METRIC_TAGS}
        np.testing.assert_allclose([shown[t] for t in METRIC_TAGS], [expected[t] for t in METRIC_TAGS], rtol=1e-6)
        assert by_rate[rate]["sessions"][0]["name"] == f"{name}/logs"
