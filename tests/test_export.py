"""export.py and gan_keras.serving: the SavedModel loads and serves the way its users load it.

One export of the shared `trained_run` (by `export_from_model_dir`, what
`export.py` runs) serves all tests. Each consumer that must work without this package (TF2 loader, TF1
session loader as TF Serving does it, saved_model_cli, TFSMLayer) runs in a
fresh Python that never imports `gan_keras` (the clients one after another in
one such Python), and writes what it got to a file that the test compares with
the in-process generator. The other `export.py` command lines run together in
one Python of their own (`cli_runner`), beside the clients.
"""

import json
import os
import pathlib
import re
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf
from cli_runner import finish_commands, start_commands

from gan_keras import serving
from gan_keras.nets.models import Generator
from gan_keras.training.restoring import RestoreError, load_generator

REPO = pathlib.Path(__file__).resolve().parents[1]
BIN = pathlib.Path(sys.executable).parent
ATOL = 1e-5  # Exported graphs may fuse ops differently from eager Keras.


def _env():
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")


def run_command(*args, check=True):
    """Runs a command (inheriting this process's CPU affinity); returns the result."""
    result = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, env=_env(), cwd=REPO
    )
    if check and result.returncode:
        pytest.fail(f"{args[:2]} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result


def start_command(*args):
    """Starts a command like `run_command`; `finish_command` waits for it."""
    return subprocess.Popen([str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_env(), cwd=REPO)


def finish_command(process, check=True, timeout=600):
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    finally:
        process.kill()
    result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    if check and result.returncode:
        pytest.fail(f"{process.args[:2]} failed ({result.returncode}):\n{stderr[-3000:]}")
    return result


def without_gan_keras(code):
    """`code`, then a check that it never imported gan_keras (for a fresh Python)."""
    return textwrap.dedent(code) + "\nassert 'gan_keras' not in sys.modules, 'imported gan_keras'\n"


def tree_state(path):
    """`{relative path: (size, mtime)}` of every file under `path`."""
    path = pathlib.Path(path)
    return {
        str(p.relative_to(path)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(path.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def exported(trained_run, tmp_path_factory):
    """The trained run exported once (as `export.py` does); paths, z's and the generator."""
    tmp = tmp_path_factory.mktemp("serving")
    export_dir = tmp / "models" / "gan"
    version_dir = serving.export_from_model_dir(trained_run["model_dir"], str(export_dir))
    generator = trained_run["gan"].inference_generator  # what export.py exports (the EMA one)
    z = generator.sample_noise(6, tf.constant([3, 4])).numpy()
    np.save(tmp / "z.npy", z)
    return {
        "export_dir": export_dir,
        "version_dir": pathlib.Path(version_dir),
        "generator": generator,
        "z": z,
        "z_path": tmp / "z.npy",
        "tmp": tmp,
        "model_dir": trained_run["model_dir"],
        "config": trained_run["config"],
    }


def test_export_layout(exported):
    assert sorted(os.listdir(exported["export_dir"])) == ["1", "generator.keras"]
    assert (exported["version_dir"] / "saved_model.pb").is_file()
    assert (exported["version_dir"] / "variables" / "variables.index").is_file()
    assert (exported["version_dir"] / serving.WARMUP_FILE).is_file()
    assert exported["version_dir"] == exported["export_dir"] / "1"


TF2_CLIENT = """
import json, sys
import numpy as np
import tensorflow as tf

path, z_path, out = sys.argv[1:]
model = tf.saved_model.load(path)
sig = model.signatures
z = np.load(z_path)

def sample(n, seed):
    return sig["sample"](num_samples=tf.constant(n), seed=tf.constant(seed))["images"].numpy()

def error(call):
    try:
        call()
    except tf.errors.InvalidArgumentError as e:
        return e.message
    return None

results = dict(
    signatures=sorted(sig.keys()),
    default=sig["serving_default"](z=tf.constant(z))["images"].numpy(),
    sample_a=sample(5, 7), sample_b=sample(5, 7), sample_other=sample(5, 8),
    interpolate=sig["interpolate"](
        z_start=tf.constant(z[0]), z_end=tf.constant(z[1]), num_steps=tf.constant(4)
    )["images"].numpy(),
)
errors = dict(
    width=error(lambda: sig["serving_default"](z=tf.zeros([2, z.shape[1] + 1]))),
    dtype=error(lambda: sig["serving_default"](z=tf.zeros(z.shape, tf.int32))),
    negative=error(lambda: sample(-1, 0)),
    too_many=error(lambda: sample(10**6, 0)),
    one_step=error(lambda: sig["interpolate"](
        z_start=tf.constant(z[0]), z_end=tf.constant(z[1]), num_steps=tf.constant(1))),
)
results["after_errors"] = sample(5, 7)
np.savez(out + ".npz", **{k: v for k, v in results.items() if k != "signatures"})
json.dump(dict(signatures=results["signatures"], errors=errors), open(out + ".json", "w"))
"""


@pytest.fixture(scope="module")
def tf2(background):
    """What `tf.saved_model.load` in a fresh process (no gan_keras) got."""
    out = background.client("tf2")
    return dict(np.load(f"{out}.npz"), **json.loads(pathlib.Path(f"{out}.json").read_text()))


@pytest.mark.multiprocess
@pytest.mark.slow
def test_tf2_signatures_shapes_and_range(tf2, exported):
    assert tf2["signatures"] == ["interpolate", "sample", "serving_default"]
    shape = exported["generator"].image_shape
    assert tf2["default"].shape == (6, *shape)
    assert tf2["sample_a"].shape == (5, *shape)
    assert tf2["interpolate"].shape == (4, *shape)
    for key in ("default", "sample_a", "interpolate"):
        assert tf2[key].dtype == np.float32
        assert 0.0 <= tf2[key].min() and tf2[key].max() <= 1.0


@pytest.mark.multiprocess
@pytest.mark.slow
def test_tf2_sample_is_deterministic_per_seed(tf2):
    np.testing.assert_array_equal(tf2["sample_a"], tf2["sample_b"])
    assert np.abs(tf2["sample_a"] - tf2["sample_other"]).max() > 1e-3


@pytest.mark.multiprocess
@pytest.mark.slow
def test_tf2_images_equal_in_process_generator(tf2, exported):
    generator, z = exported["generator"], exported["z"]
    np.testing.assert_allclose(tf2["default"], generator(z), atol=ATOL)
    # `sample(n, seed)` draws z with the generator's own sample_noise from [seed, 0].
    np.testing.assert_allclose(tf2["sample_a"], generator.sample(5, [7, 0]), atol=ATOL)
    # Interpolation includes both ends.
    np.testing.assert_allclose(tf2["interpolate"][[0, -1]], generator(z[:2]), atol=ATOL)


@pytest.mark.multiprocess
@pytest.mark.slow
@pytest.mark.parametrize(
    "kind, message",
    [
        ("width", "z must have shape [batch, 100]"),
        ("dtype", "expected to be a float tensor but is a int32 tensor"),
        ("negative", "num_samples must be in [0, 10000]"),
        ("too_many", "num_samples must be in [0, 10000]"),
        ("one_step", "num_steps must be in [2, 10000]"),
    ],
)
def test_tf2_bad_requests_fail_clearly_and_model_keeps_working(tf2, kind, message):
    assert tf2["errors"][kind] is not None, f"{kind}: no InvalidArgumentError"
    assert message in tf2["errors"][kind]
    np.testing.assert_array_equal(tf2["after_errors"], tf2["sample_a"])


TF1_SESSION_CLIENT = """
import json, sys
import numpy as np
import tensorflow as tf

path, z_path, out = sys.argv[1:]
z = np.load(z_path)
v1 = tf.compat.v1
results, errors = {}, {}
with v1.Session(graph=tf.Graph()) as sess:
    meta_graph = v1.saved_model.loader.load(sess, ["serve"], path)
    signatures = meta_graph.signature_def

    def run(name, **inputs):
        sig = signatures[name]
        feed = {sig.inputs[k].name: v for k, v in inputs.items()}
        return sess.run(sig.outputs["images"].name, feed)

    def error(name, **inputs):
        try:
            run(name, **inputs)
        except (tf.errors.InvalidArgumentError, ValueError) as e:
            return str(e).splitlines()[0] if isinstance(e, ValueError) else e.message
        return None

    results["default"] = run("serving_default", z=z)
    results["sample_a"] = run("sample", num_samples=5, seed=7)
    results["sample_b"] = run("sample", num_samples=5, seed=7)
    errors["negative"] = error("sample", num_samples=-1, seed=7)
    errors["width"] = error("serving_default", z=np.zeros([2, z.shape[1] + 1], np.float32))
    results["after_errors"] = run("serving_default", z=z)
np.savez(out + ".npz", **results)
json.dump(dict(signatures=sorted(signatures), errors=errors), open(out + ".json", "w"))
"""


@pytest.fixture(scope="module")
def tf1(background):
    """What the TF1 session loader (TF Serving's way) in a fresh process got."""
    out = background.client("tf1")
    return dict(np.load(f"{out}.npz"), **json.loads(pathlib.Path(f"{out}.json").read_text()))


@pytest.mark.multiprocess
@pytest.mark.slow
def test_tf1_session_runs_signatures_by_tensor_name(tf1, tf2, exported):
    assert {"serving_default", "sample", "interpolate"} <= set(tf1["signatures"])
    np.testing.assert_allclose(tf1["default"], exported["generator"](exported["z"]), atol=ATOL)
    np.testing.assert_array_equal(tf1["sample_a"], tf1["sample_b"])
    np.testing.assert_allclose(tf1["sample_a"], tf2["sample_a"], atol=ATOL)


@pytest.mark.multiprocess
@pytest.mark.slow
def test_tf1_session_bad_requests_fail_clearly_and_session_keeps_working(tf1):
    assert "num_samples must be in [0, 10000]" in tf1["errors"]["negative"]
    assert "Cannot feed value of shape (2, 101)" in tf1["errors"]["width"]
    np.testing.assert_array_equal(tf1["after_errors"], tf1["default"])


WARMUP_CLIENT = """
import json, os, sys
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

path, out = sys.argv[1:]
v1 = tf.compat.v1
requests = []
for record in tf.data.TFRecordDataset(os.path.join(path, "assets.extra", "tf_serving_warmup_requests")):
    log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
    request = log.predict_log.request
    requests.append((request.model_spec.signature_name, {k: tf.make_ndarray(v) for k, v in request.inputs.items()}))

results, described = {}, []
with v1.Session(graph=tf.Graph()) as sess:
    signatures = v1.saved_model.loader.load(sess, ["serve"], path).signature_def
    for name, inputs in requests:
        sig = signatures[name]
        described.append(dict(
            name=name,
            inputs={k: str(v.dtype) for k, v in inputs.items()},
            signature_inputs={k: tf.dtypes.as_dtype(t.dtype).name for k, t in sig.inputs.items()},
        ))
        feed = {sig.inputs[k].name: v for k, v in inputs.items()}
        results[f"tf1_{name}"] = sess.run(sig.outputs["images"].name, feed)
        for k, v in inputs.items():
            results[f"input_{name}_{k}"] = v
loaded = tf.saved_model.load(path)
for name, inputs in requests:
    outputs = loaded.signatures[name](**{k: tf.constant(v) for k, v in inputs.items()})
    results[f"tf2_{name}"] = outputs["images"].numpy()
np.savez(out + ".npz", **results)
json.dump(described, open(out + ".json", "w"))
"""


@pytest.fixture(scope="module")
def warmup(background):
    """The warm-up file parsed back and run (TF1 session and TF2 signatures) in a fresh process."""
    out = background.client("warmup")
    return dict(np.load(f"{out}.npz")), json.loads(pathlib.Path(f"{out}.json").read_text())


@pytest.mark.multiprocess
@pytest.mark.slow
def test_warmup_has_one_valid_request_per_signature(warmup):
    _, described = warmup
    assert sorted(d["name"] for d in described) == ["interpolate", "sample", "serving_default"]
    for request in described:  # TF Serving refuses a request without every input, or with the wrong dtype.
        assert request["inputs"] == request["signature_inputs"], request


@pytest.mark.multiprocess
@pytest.mark.slow
def test_warmup_requests_run_in_the_tf1_session_like_the_signatures(warmup, exported):
    results, described = warmup
    generator = exported["generator"]
    for name in (d["name"] for d in described):
        np.testing.assert_allclose(results[f"tf1_{name}"], results[f"tf2_{name}"], atol=ATOL)
    z = results["input_serving_default_z"]
    assert z.shape == (1, generator.latent_dim)
    np.testing.assert_allclose(results["tf1_serving_default"], generator(z), atol=ATOL)
    seed = int(results["input_sample_seed"])
    np.testing.assert_allclose(results["tf1_sample"], generator.sample(1, [seed, 0]), atol=ATOL)
    ends = np.stack([results["input_interpolate_z_start"], results["input_interpolate_z_end"]])
    np.testing.assert_allclose(results["tf1_interpolate"], generator(ends), atol=ATOL)


@pytest.mark.multiprocess
@pytest.mark.slow
def test_warmup_of_a_conditional_generator_sends_the_label(background):
    generator = background.conditional
    out = background.client("warmup_conditional")
    results = dict(np.load(f"{out}.npz"))
    for request in json.loads(pathlib.Path(f"{out}.json").read_text()):
        assert request["inputs"] == request["signature_inputs"] and "label" in request["inputs"], request
        name = request["name"]
        np.testing.assert_allclose(results[f"tf1_{name}"], results[f"tf2_{name}"], atol=ATOL)
    z, label = results["input_serving_default_z"], results["input_serving_default_label"]
    np.testing.assert_allclose(results["tf1_serving_default"], generator((z, label)), atol=ATOL)


# A Python where `import tensorflow_serving` fails, running export.py.
NO_SERVING_PROTOS = (
    "import runpy, sys; sys.modules['tensorflow_serving'] = None; "
    "sys.argv = ['export.py'] + sys.argv[1:]; runpy.run_path('export.py', run_name='__main__')"
)


@pytest.mark.multiprocess
@pytest.mark.slow
def test_export_without_serving_protos_warns_once_and_still_exports(background):
    result, tmp_path = background.no_protos, background.no_protos_dir
    warnings = [line for line in result.stderr.splitlines() if "tensorflow-serving-api" in line]
    assert len(warnings) == 1 and warnings[0].startswith("warning: "), result.stderr[-2000:]
    assert serving.WARMUP_FILE in warnings[0]
    assert (tmp_path / "1" / "saved_model.pb").is_file()
    assert not (tmp_path / "1" / "assets.extra").exists()


def test_each_weight_is_saved_once(exported):
    # keras#23553: `ExportArchive.track(model)` saved each weight a second time.
    saved = tf.train.list_variables(str(exported["version_dir"] / "variables" / "variables"))
    values = [shape for name, shape in saved if name.endswith("VARIABLE_VALUE")]
    weights = exported["generator"].weights
    assert sorted(map(tuple, values)) == sorted(tuple(w.shape) for w in weights)
    data = exported["version_dir"] / "variables" / "variables.data-00000-of-00001"
    weight_bytes = sum(int(np.prod(w.shape)) * 4 for w in weights)
    assert weight_bytes <= data.stat().st_size < 1.01 * weight_bytes


SERVING_DOC = REPO / "docs" / "serving.md"

REST_DOC_CLIENT = r"""
import json, re, sys
import numpy as np
import tensorflow as tf

docs, path, out = sys.argv[1:]
text = open(docs).read()
section = text[text.index("### REST requests"):]
requests = re.findall(r"\*\*`(\w+)`, (rows|columns)\*\*: (.*?)\n\n```json\n(.*?)\n```", section, re.S)
loaded = tf.saved_model.load(path)


def server_tensors(body, specs):
    # TF Serving's REST rules: rows ("instances") stack each input over the
    # entries (a batch axis for every input); columns ("inputs") take each
    # input as is. A lone input may be given without its name. The dtype is
    # the signature's.
    if "instances" in body:
        rows = body["instances"]
        if not isinstance(rows[0], dict):
            (name,) = specs
            rows = [{name: row} for row in rows]
        values = {name: [row[name] for row in rows] for name in rows[0]}
    else:
        values = body["inputs"]
        if not isinstance(values, dict):
            (name,) = specs
            values = {name: values}
    return {name: np.asarray(v, specs[name].dtype.as_numpy_dtype) for name, v in values.items()}


results = []
for heading, layout, claim, body in requests:
    body = json.loads(body)
    name = body.get("signature_name", "serving_default")
    fn = loaded.signatures[name]
    specs = fn.structured_input_signature[1]
    tensors = server_tensors(body, specs)
    result = dict(
        heading=heading, layout=layout, claim=claim, signature=name,
        inputs=sorted(tensors), signature_inputs=sorted(specs),
        shapes={k: list(v.shape) for k, v in tensors.items()},
        mismatched=sorted(k for k, v in tensors.items() if not specs[k].shape.is_compatible_with(v.shape)),
    )
    try:
        images = fn(**{k: tf.constant(v) for k, v in tensors.items()})["images"].numpy()
    except (TypeError, ValueError, tf.errors.InvalidArgumentError) as e:
        result["error"] = str(e).splitlines()[0]
    else:
        response = {"predictions": [image.tolist() for image in images]} if "instances" in body else {"outputs": images.tolist()}
        (key,) = response
        result.update(key=key, shape=list(np.shape(response[key])))
    results.append(result)
json.dump(results, open(out, "w"))
"""


@pytest.fixture(scope="module")
def rest_doc(background):
    """Each REST request of docs/serving.md, turned into tensors as the server does and run (fresh process)."""
    out = background.client("rest_doc")
    return json.loads(out.read_text())


@pytest.mark.multiprocess
@pytest.mark.slow
def test_docs_show_both_rest_formats_for_every_signature(rest_doc):
    found = sorted((r["heading"], r["layout"]) for r in rest_doc)
    assert found == sorted((s, f) for s in ("interpolate", "sample", "serving_default") for f in ("columns", "rows"))
    for request in rest_doc:
        assert request["signature"] == request["heading"], request
        assert request["inputs"] == request["signature_inputs"], request  # the server refuses missing inputs


@pytest.mark.multiprocess
@pytest.mark.slow
def test_documented_rest_responses_have_the_documented_shapes(rest_doc):
    for request in rest_doc:
        match = re.fullmatch(r"response `(\w+)`, shape `\[([\d, ]+)\]`", request["claim"])
        if match is None:
            continue
        assert not request["mismatched"] and "error" not in request, request
        assert request["key"] == match[1], request
        assert request["shape"] == [int(n) for n in match[2].split(",")], request


@pytest.mark.multiprocess
@pytest.mark.slow
def test_documented_rest_refusals_are_refused(rest_doc):
    refused = [r for r in rest_doc if r["claim"].startswith("refused")]
    assert {r["heading"] for r in refused} == {"sample", "interpolate"}
    for request in refused:
        assert request["mismatched"] and "error" in request, request
        for name in request["mismatched"]:
            assert f"`{name}`" in request["claim"]
            assert f"`{request['shapes'][name]}`".replace(" ", "") in request["claim"].replace(" ", ""), request


def _fenced_block_after(text, heading):
    """The first fenced block after `heading` in a Markdown text."""
    after = text[text.index(heading):]
    return re.search(r"```\w*\n(.*?)\n```", after, re.S)[1]


def test_documented_models_config_parses_and_serves_two_versions():
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    text = SERVING_DOC.read_text()
    config = text_format.Parse(
        _fenced_block_after(text, "### Two versions"), model_server_config_pb2.ModelServerConfig()
    )
    (model,) = config.model_config_list.config
    assert model.name == "gan" and model.base_path.endswith("/gan")
    assert list(model.model_version_policy.specific.versions) == [1, 2]
    assert set(model.version_labels.values()) == {1, 2}
    for label, version in model.version_labels.items():
        assert f"/v1/models/gan/labels/{label}:predict" in text or f"/v1/models/gan/versions/{version}:predict" in text


@pytest.mark.multiprocess
@pytest.mark.slow
def test_saved_model_cli_show_lists_signatures(exported):
    result = run_command(BIN / "saved_model_cli", "show", "--all", "--dir", exported["version_dir"])
    for name in ("serving_default", "sample", "interpolate"):
        assert f"signature_def['{name}']" in result.stdout
    assert "inputs['z'] tensor_info" in result.stdout
    assert "outputs['images'] tensor_info" in result.stdout


@pytest.mark.multiprocess
@pytest.mark.slow
def test_saved_model_cli_run_serving_default(exported):
    z = exported["z"][:2]
    literal = json.dumps(z.tolist())  # saved_model_cli takes Python literals only.
    outdir = exported["tmp"] / "cli_run"
    run_command(
        BIN / "saved_model_cli", "run", "--dir", exported["version_dir"], "--tag_set", "serve",
        "--signature_def", "serving_default", "--input_exprs", f"z={literal}",
        "--outdir", outdir,
    )
    images = np.load(outdir / "images.npy")
    np.testing.assert_allclose(images, exported["generator"](z), atol=ATOL)


TFSM_LAYER_CLIENT = """
import sys
import keras
import numpy as np

path, z_path, out = sys.argv[1:]
z = np.load(z_path)
generator = keras.layers.TFSMLayer(path, call_endpoint="serving_default")
inputs = keras.Input(shape=(z.shape[1],))
images = generator(inputs)["images"]
mean_intensity = keras.layers.GlobalAveragePooling2D()(images)
model = keras.Model(inputs, [images, mean_intensity])
images, mean = model.predict(z, verbose=0)
np.savez(out, images=images, mean=mean)
"""


@pytest.mark.multiprocess
@pytest.mark.slow
def test_tfsm_layer_inside_another_keras_model(exported, background):
    out = background.client("tfsm")
    got = np.load(out)
    expected = np.asarray(exported["generator"](exported["z"]))
    np.testing.assert_allclose(got["images"], expected, atol=ATOL)
    np.testing.assert_allclose(got["mean"], expected.mean(axis=(1, 2)), atol=ATOL)


def test_generator_keras_round_trips(exported):
    reloaded = keras.models.load_model(exported["export_dir"] / "generator.keras")
    generator, z = exported["generator"], exported["z"]
    assert isinstance(reloaded, Generator)
    assert reloaded.get_config() == generator.get_config()
    np.testing.assert_array_equal(reloaded(z), generator(z))
    np.testing.assert_array_equal(reloaded.sample(3, [1, 2]), generator.sample(3, [1, 2]))


def test_reloaded_keras_file_exports(exported, tmp_path):
    # keras#19913: exporting a model reloaded from .keras failed on list shapes.
    reloaded = keras.models.load_model(exported["export_dir"] / "generator.keras")
    path = serving.export(reloaded, str(tmp_path))
    assert path == str(tmp_path / "1")
    loaded = tf.saved_model.load(path)
    z = exported["z"]
    images = loaded.signatures["serving_default"](z=tf.constant(z))["images"]
    np.testing.assert_allclose(images, exported["generator"](z), atol=ATOL)


class _BrokenGenerator(Generator):
    """A generator whose forward pass fails while the export traces it."""

    def call(self, z, training=None):
        raise RuntimeError("broken generator")


def test_failed_export_leaves_no_partial_version(tmp_path):
    (tmp_path / "1").mkdir()
    generator = _BrokenGenerator(latent_dim=4, name="broken")
    generator.build()
    with pytest.raises(RuntimeError, match="broken generator"):
        serving.export(generator, str(tmp_path))
    assert os.listdir(tmp_path) == ["1"]


def test_version_defaults_to_next_integer(tmp_path):
    for name in ("1", "3", "10", "not_a_version", ".tmp-11-x"):
        (tmp_path / name).mkdir()
    assert serving.resolve_version(str(tmp_path)) == 11
    assert serving.resolve_version(str(tmp_path / "new")) == 1


@pytest.mark.multiprocess
@pytest.mark.slow
def test_empty_model_dir_fails_with_one_line_naming_model_dir(background):
    assert "--model_dir=" in runner_error(background.rows["empty model dir"])
    out = background.tmp / "empty_out"
    assert not out.exists() or not os.listdir(out)


@pytest.mark.multiprocess
@pytest.mark.slow
@pytest.mark.parametrize("version, message", [(1, "already exists"), (0, "must be >= 1")])
def test_invalid_version_fails_and_keeps_existing_versions(exported, background, version, message):
    line = runner_error(background.rows[f"version {version}"])
    assert f"--version={version}" in line or "--version must" in line
    assert message in line
    assert tree_state(exported["export_dir"]) == background.before


@pytest.mark.multiprocess
@pytest.mark.slow
def test_version_flag_names_the_version_and_the_next_export_follows_it(exported, background):
    export_dir = background.tmp / "versions"
    first, second = (ran(background.rows[name]) for name in ("version 5", "after version 5"))
    assert f"Exported {export_dir / '5'}" in first["stdout"] and f"Exported {export_dir / '6'}" in second["stdout"]
    assert sorted(os.listdir(export_dir)) == ["5", "6", "generator.keras"]
    z = exported["z"]
    for version in ("5", "6"):
        images = tf.saved_model.load(str(export_dir / version)).signatures["serving_default"](z=tf.constant(z))
        np.testing.assert_allclose(images["images"], exported["generator"](z), atol=ATOL)


@pytest.mark.multiprocess
@pytest.mark.slow
def test_checkpoint_flag_exports_an_older_checkpoint(exported, background):
    ran(background.rows["older checkpoint"])
    older = os.path.join(exported["model_dir"], "checkpoints", "ckpt-1")
    generator = load_generator(exported["model_dir"], checkpoint=older).generator
    served = tf.saved_model.load(str(background.tmp / "older" / "1")).signatures["serving_default"]
    z = exported["z"]
    images = served(z=tf.constant(z))["images"]
    np.testing.assert_allclose(images, generator(z), atol=ATOL)
    keras_file = keras.models.load_model(background.tmp / "older" / "generator.keras")
    for saved, older_weight in zip(keras_file.weights, generator.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(saved), np.asarray(older_weight))
    # Not the newest checkpoint's G (after 20 and 40 steps its images are both near-black, its weights are not).
    assert any(not np.allclose(a, b) for a, b in zip(generator.get_weights(), exported["generator"].get_weights()))


def test_model_dir_without_checkpoint_or_bad_checkpoint_fails_clearly(exported, tmp_path):
    model_dir = tmp_path / "run"
    model_dir.mkdir()
    config = pathlib.Path(exported["model_dir"]) / "config.json"
    (model_dir / "config.json").write_text(config.read_text())
    with pytest.raises(RestoreError, match=r"^--model_dir=.* holds no training run \(no checkpoint"):
        serving.export_from_model_dir(str(model_dir), str(tmp_path / "out"))
    with pytest.raises(RestoreError, match=r"^--checkpoint=.*ckpt-99: cannot restore the generator"):
        serving.export_from_model_dir(
            exported["model_dir"], str(tmp_path / "out"),
            checkpoint=str(pathlib.Path(exported["model_dir"]) / "checkpoints" / "ckpt-99"),
        )
    assert not (tmp_path / "out").exists()


def test_checkpoint_with_other_state_still_exports(exported, tmp_path):
    # Like a run started with older code: G and its optimiser as now, the rest
    # (D, seed state) laid out differently.
    from gan_keras.training import build_gan

    model_dir = tmp_path / "old_run"
    (model_dir / "checkpoints").mkdir(parents=True)
    config = pathlib.Path(exported["model_dir"]) / "config.json"
    (model_dir / "config.json").write_text(config.read_text())
    gan = build_gan(exported["config"], exported["generator"].image_shape)
    gan.generator.set_weights(exported["generator"].get_weights())
    old = tf.train.Checkpoint(
        generator=gan.generator,
        g_optimizer=gan.g_optimizer,
        epoch=tf.Variable(1, dtype=tf.int64),
        noise_seed=tf.Variable([1, 0]),
    )
    tf.train.CheckpointManager(old, str(model_dir / "checkpoints"), 1).save()

    path = serving.export_from_model_dir(str(model_dir), str(tmp_path / "out"))
    images = tf.saved_model.load(path).signatures["serving_default"](z=tf.constant(exported["z"]))
    np.testing.assert_allclose(images["images"], exported["generator"](exported["z"]), atol=ATOL)


@pytest.mark.multiprocess
@pytest.mark.slow
def test_export_cli_takes_a_generator_file(exported, background):
    # export.py --generator=PATH: a .keras file without its run (e.g. pretrained/mnist/).
    ran(background.rows["generator file"])
    loaded = tf.saved_model.load(str(background.tmp / "from_file" / "1"))
    z = exported["z"]
    images = loaded.signatures["serving_default"](z=tf.constant(z))["images"]
    np.testing.assert_allclose(images, exported["generator"](z), atol=ATOL)
    assert "pass exactly one of --model_dir" in runner_error(background.rows["generator and model_dir"])


def ran(result):
    """A `cli_runner` result that must have succeeded."""
    assert result["status"] == 0 and result["traceback"] is None, result
    return result


def runner_error(result):
    """The one `export.py: error: ...` line of a `cli_runner` result that failed."""
    assert result["status"] == 1 and result["traceback"] is None, result
    assert "Traceback" not in result["stderr"], result["stderr"][-2000:]
    line = result["message"]
    assert line.startswith("export.py: error:") and "\n" not in line, line
    return line


CLIENT_DRIVER = """
import json, sys, traceback
spec, out = sys.argv[1:]
errors = {}
for name, code, args in json.load(open(spec)):
    sys.argv = ["-c", *args]
    try:
        exec(compile(code, f"<{name} client>", "exec"), {"__name__": "__main__"})
        errors[name] = None
    except BaseException:
        errors[name] = traceback.format_exc()
json.dump(errors, open(out, "w"))
"""


class Background:
    """What the fresh Pythons of this file returned (see `background`)."""

    def client(self, name):
        """The output path of client `name`; fails its tests if the client failed."""
        if self.client_errors[name]:
            pytest.fail(f"the {name} client failed:\n{self.client_errors[name]}")
        return self.client_outputs[name]


@pytest.fixture(scope="module")
def background(exported, trained_run):
    """The fresh Pythons this file needs, run side by side once the export exists.

    One Python without gan_keras runs every client (TF2 loader, TF1 session,
    warm-up requests, the REST examples of docs/serving.md, TFSMLayer); one
    runs the other `export.py` command lines (`cli_runner`); one runs
    export.py where `tensorflow_serving` cannot be imported.
    """
    from gan_keras.training import TrainConfig, build_gan

    found = Background()
    tmp = found.tmp = exported["tmp"]
    version_dir, z_path = exported["version_dir"], exported["z_path"]
    found.conditional = build_gan(TrainConfig(conditional=True), (28, 28, 1), num_classes=10).inference_generator
    conditional_dir = serving.export(found.conditional, str(tmp / "conditional_export"))
    clients = {
        "tf2": (TF2_CLIENT, [version_dir, z_path], tmp / "tf2"),
        "tf1": (TF1_SESSION_CLIENT, [version_dir, z_path], tmp / "tf1"),
        "warmup": (WARMUP_CLIENT, [version_dir], tmp / "warmup"),
        "warmup_conditional": (WARMUP_CLIENT, [conditional_dir], tmp / "warmup_conditional"),
        "rest_doc": (REST_DOC_CLIENT, [SERVING_DOC, version_dir], tmp / "rest_doc.json"),
        "tfsm": (TFSM_LAYER_CLIENT, [version_dir, z_path], tmp / "tfsm.npz"),
    }
    found.client_outputs = {name: out for name, (_, _, out) in clients.items()}
    spec = tmp / "clients.json"
    spec.write_text(json.dumps([(name, textwrap.dedent(code), [str(a) for a in (*args, out)])
                                for name, (code, args, out) in clients.items()]))

    model_dir = exported["model_dir"]
    (tmp / "empty").mkdir()
    keras_file = exported["export_dir"] / "generator.keras"
    rows = {
        "empty model dir": [f"--model_dir={tmp / 'empty'}", f"--export_dir={tmp / 'empty_out'}"],
        "version 1": [f"--model_dir={model_dir}", f"--export_dir={exported['export_dir']}", "--version=1"],
        "version 0": [f"--model_dir={model_dir}", f"--export_dir={exported['export_dir']}", "--version=0"],
        "version 5": [f"--model_dir={model_dir}", f"--export_dir={tmp / 'versions'}", "--version=5"],
        "after version 5": [f"--model_dir={model_dir}", f"--export_dir={tmp / 'versions'}"],
        "older checkpoint": [f"--model_dir={model_dir}", f"--export_dir={tmp / 'older'}",
                             f"--checkpoint={os.path.join(model_dir, 'checkpoints', 'ckpt-1')}"],
        "generator file": [f"--generator={keras_file}", f"--export_dir={tmp / 'from_file'}"],
        "generator and model_dir": [f"--generator={keras_file}", f"--model_dir={tmp}", f"--export_dir={tmp}"],
    }
    found.before = tree_state(exported["export_dir"])
    found.no_protos_dir = tmp / "no_protos"
    clients_process = start_command(sys.executable, "-c", without_gan_keras(CLIENT_DRIVER), spec, tmp / "errors.json")
    rows_process = start_commands("export.py", list(rows.values()))
    no_protos_process = start_command(sys.executable, "-c", NO_SERVING_PROTOS, f"--model_dir={model_dir}",
                                      f"--export_dir={found.no_protos_dir}")
    finish_command(clients_process)
    found.client_errors = json.loads((tmp / "errors.json").read_text())
    found.rows = dict(zip(rows, finish_commands(rows_process)))
    found.no_protos = finish_command(no_protos_process)
    return found
