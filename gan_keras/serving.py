"""Exporting a trained generator for TensorFlow Serving and for Keras.

`export(generator, export_dir)` writes

    EXPORT_DIR/<version>/    a SavedModel in TF Serving's layout (signatures below)
      assets.extra/tf_serving_warmup_requests   one request per signature (below)
    EXPORT_DIR/generator.keras

Signatures of the SavedModel (each returns `{"images": float32 [n, H, W, C]}`
in [0, 1]):

- `serving_default`: `z` float32 `[None, latent_dim]` -> G(z).
- `sample`: `num_samples` int32 scalar, `seed` int32 scalar -> G(z) with
  z ~ p_z drawn by the generator's own `sample_noise` from the stateless seed
  `[seed, 0]`: the same as `generator.sample(num_samples, seed=[seed, 0])`.
- `interpolate`: `z_start`, `z_end` float32 `[latent_dim]`, `num_steps` int32
  scalar -> G(z) for `num_steps` z's evenly spaced on the segment from
  `z_start` to `z_end`, both ends included (Fig. 3 of the paper).

A conditional generator (`train.py --conditional`) takes the class too: an
int32 `label` input, `[batch]` in `serving_default` and a scalar (the class
of every image) in `sample` and `interpolate`.

Bad requests (negative or too many samples, fewer than 2 steps, a label out
of range) fail with an `InvalidArgumentError` naming the input; the loaded
model keeps working.

Warm-up: TF Serving runs the `PredictionLog`s of
`assets.extra/tf_serving_warmup_requests` (a TFRecord file) when it loads a
version, so the first real request does not pay the graph warm-up. The
records are built with the `tensorflow-serving-api` protos (the `[serving]`
extra); without them the version is exported without the file and one
warning line says so.

`export.py` is the command-line front end; `export_from_model_dir` is what it
runs.
"""

import os
import shutil
import sys
import tempfile

import keras
import numpy as np
import tensorflow as tf

from gan_keras import locking, restoring, storage
from gan_keras.restoring import GENERATOR_FILE
from gan_keras.training import save_generator

# Requests for more images than this are refused (a server would otherwise
# try to allocate whatever a client asks for).
DEFAULT_MAX_SAMPLES = 10_000

# Where TF Serving looks for warm-up requests in a version dir.
WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")


class ExportError(ValueError):
    """A bad export setting; the message names the flag."""


def signature_seed(seed):
    """The `[2]` stateless seed the `sample` signature uses for an int seed.

    Example:

    >>> signature_seed(7).numpy()
    array([7, 0], dtype=int32)
    """
    return tf.stack([tf.cast(seed, tf.int32), tf.constant(0, tf.int32)])


def _check_count(value, name, low, high):
    """Asserts (in the graph) `low <= value <= high` with a message naming `name`."""
    message = f"{name} must be in [{low}, {high}]"
    return [
        tf.debugging.assert_greater_equal(value, low, message=message, summarize=1),
        tf.debugging.assert_less_equal(value, high, message=message, summarize=1),
    ]


def _check_width(z, latent_dim, message):
    """Asserts (in the graph) that the last axis of `z` has `latent_dim` entries.

    The signature declares the shape, but a server feeding tensors directly
    does not check it: without this, a wrong width fails deep in the first
    layer with a "Matrix size-incompatible" message.
    """
    return tf.debugging.assert_equal(tf.shape(z)[-1], latent_dim, message=message, summarize=1)


def _images(generator, z, labels=None):
    inputs = z if labels is None else (z, labels)
    return {"images": generator(inputs, training=False)}


def serving_functions(generator, max_samples=DEFAULT_MAX_SAMPLES):
    """The exported endpoints as `{signature name: (fn, input_signature)}`.

    A conditional generator's signatures take a `label` too (int32; `[batch]`
    for `serving_default`, a scalar for the others).

    Example:

    >>> sample, input_signature = serving_functions(generator)["sample"]  # doctest: +SKIP
    >>> sample(4, 0)["images"].shape  # doctest: +SKIP
    TensorShape([4, 28, 28, 1])
    """
    latent_dim = generator.latent_dim
    num_classes = generator.num_classes

    def label_checks(label, batch=None):
        checks = _check_count(label, "label", 0, num_classes - 1) if label is not None else []
        if batch is not None and label is not None:
            checks.append(
                tf.debugging.assert_equal(
                    tf.shape(label)[0], batch, message="label must have one entry per row of z", summarize=1
                )
            )
        return checks

    def serving_default(z, label=None):
        checks = [_check_width(z, latent_dim, f"z must have shape [batch, {latent_dim}]")]
        with tf.control_dependencies(checks + label_checks(label, tf.shape(z)[0])):
            return _images(generator, tf.identity(z), label)

    def sample(num_samples, seed, label=None):
        checks = _check_count(num_samples, "num_samples", 0, max_samples) + label_checks(label)
        with tf.control_dependencies(checks):
            z = generator.sample_noise(num_samples, signature_seed(seed))
        return _images(generator, z, None if label is None else tf.fill([num_samples], label))

    def interpolate(z_start, z_end, num_steps, label=None):
        checks = _check_count(num_steps, "num_steps", 2, max_samples) + [
            _check_width(z_start, latent_dim, f"z_start must have shape [{latent_dim}]"),
            _check_width(z_end, latent_dim, f"z_end must have shape [{latent_dim}]"),
        ]
        with tf.control_dependencies(checks + label_checks(label)):
            t = tf.linspace(0.0, 1.0, num_steps)[:, None]
        labels = None if label is None else tf.fill([num_steps], label)
        return _images(generator, z_start[None, :] + t * (z_end - z_start)[None, :], labels)

    def spec(shape, dtype, name):
        return tf.TensorSpec(shape, dtype, name=name)

    def with_label(specs, shape):
        return specs + [spec(shape, tf.int32, "label")] if num_classes else specs

    return {
        "serving_default": (serving_default, with_label([spec([None, latent_dim], tf.float32, "z")], [None])),
        "sample": (sample, with_label([spec([], tf.int32, "num_samples"), spec([], tf.int32, "seed")], [])),
        "interpolate": (
            interpolate,
            with_label(
                [
                    spec([latent_dim], tf.float32, "z_start"),
                    spec([latent_dim], tf.float32, "z_end"),
                    spec([], tf.int32, "num_steps"),
                ],
                [],
            ),
        ),
    }


def export_saved_model(generator, path, max_samples=DEFAULT_MAX_SAMPLES):
    """Writes the generator's serving SavedModel to `path` (not atomic; see `export`).

    Example:

    >>> export_saved_model(generator, "/tmp/gan/1")  # doctest: +SKIP
    >>> tf.saved_model.load("/tmp/gan/1").signatures["sample"](
    ...     num_samples=tf.constant(4), seed=tf.constant(0))["images"].shape  # doctest: +SKIP
    TensorShape([4, 28, 28, 1])
    """
    # No `archive.track(generator)`: it would save (and a loader restore) every
    # weight twice, once as the Keras variable and once as the tf.Variable the
    # endpoints capture (keras#23553). The endpoints track what they use.
    archive = keras.export.ExportArchive()
    for name, (fn, input_signature) in serving_functions(generator, max_samples).items():
        archive.add_endpoint(name, fn, input_signature)
    archive.write_out(path, verbose=False)


def warmup_inputs(generator):
    """`{signature name: {input name: numpy array}}`: one small valid request per signature.

    Example:

    >>> {name: sorted(inputs) for name, inputs in warmup_inputs(generator).items()}  # doctest: +SKIP
    {'serving_default': ['z'], 'sample': ['num_samples', 'seed'], 'interpolate': ['num_steps', 'z_end', 'z_start']}
    """
    z = generator.sample_noise(2, tf.constant([0, 0])).numpy()
    label = {"label": 0} if generator.num_classes else {}
    requests = {
        "serving_default": {"z": z[:1], **({"label": [0]} if label else {})},
        "sample": {"num_samples": 1, "seed": 0, **label},
        "interpolate": {"z_start": z[0], "z_end": z[1], "num_steps": 2, **label},
    }
    return {name: {key: _as_input(value) for key, value in inputs.items()} for name, inputs in requests.items()}


def _as_input(value):
    """An int becomes int32 and a float array float32, the dtypes of the signatures."""
    array = np.asarray(value)
    return array.astype(np.int32 if array.dtype.kind == "i" else np.float32)


def _serving_protos():
    """`(predict_pb2, prediction_log_pb2)` of `tensorflow-serving-api`, or None if it is not installed."""
    try:
        from tensorflow_serving.apis import predict_pb2, prediction_log_pb2
    except ImportError:
        return None
    return predict_pb2, prediction_log_pb2


def write_warmup_requests(generator, version_dir):
    """Writes `version_dir/assets.extra/tf_serving_warmup_requests`; returns its path, or None.

    One `PredictionLog` per signature (`warmup_inputs`). Without the
    `tensorflow-serving-api` protos it writes nothing and prints one warning line.

    Example:

    >>> write_warmup_requests(generator, "/tmp/models/gan/1")  # doctest: +SKIP
    '/tmp/models/gan/1/assets.extra/tf_serving_warmup_requests'
    """
    protos = _serving_protos()
    if protos is None:
        print(
            f"warning: tensorflow-serving-api is not installed (pip install 'gan_keras[serving]'): "
            f"exported without {WARMUP_FILE}, so TF Serving's first request to each signature pays its warm-up.",
            file=sys.stderr,
        )
        return None
    predict_pb2, prediction_log_pb2 = protos
    path = os.path.join(version_dir, WARMUP_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path) as writer:
        for name, inputs in warmup_inputs(generator).items():
            request = predict_pb2.PredictRequest()
            request.model_spec.signature_name = name
            for key, value in inputs.items():
                request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
            log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())
    return path


def existing_versions(export_dir):
    """The integer version dirs in `export_dir`, sorted (TF Serving's rule: all digits)."""
    if not os.path.isdir(export_dir):
        return []
    return sorted(
        int(name)
        for name in os.listdir(export_dir)
        if name.isdigit() and os.path.isdir(os.path.join(export_dir, name))
    )


def resolve_version(export_dir, version=None):
    """`version`, or the next integer after the existing ones; checks it is new and >= 1.

    Example:

    >>> resolve_version("/nonexistent")
    1
    """
    versions = existing_versions(export_dir)
    if version is None:
        return (versions[-1] + 1) if versions else 1
    if version < 1:
        raise ExportError(f"--version must be >= 1; got {version}.")
    if version in versions:
        raise ExportError(
            f"--version={version} already exists in --export_dir={export_dir} "
            f"(existing: {', '.join(map(str, versions))}); pick a new version or omit --version."
        )
    return version


def export(generator, export_dir, version=None, max_samples=DEFAULT_MAX_SAMPLES):
    """Exports `generator` to `export_dir/<version>/` and `export_dir/generator.keras`.

    The SavedModel (with its warm-up requests) is written to a hidden temporary dir in `export_dir` and
    renamed into place, so TF Serving never sees a partial version; the
    `.keras` file is replaced atomically too. Returns the version dir.

    Example:

    >>> export(generator, "/tmp/models/gan")  # doctest: +SKIP
    '/tmp/models/gan/1'
    """
    version = resolve_version(export_dir, version)
    os.makedirs(export_dir, exist_ok=True)
    target = os.path.join(export_dir, str(version))
    tmp = tempfile.mkdtemp(prefix=f".tmp-{version}-", dir=export_dir)
    try:
        export_saved_model(generator, tmp, max_samples)
        write_warmup_requests(generator, tmp)
        os.rename(tmp, target)  # Fails (rather than merging) if target appeared meanwhile.
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    save_generator(generator, os.path.join(export_dir, GENERATOR_FILE))
    return target


def export_from_model_dir(
    model_dir, export_dir, checkpoint=None, version=None, max_samples=DEFAULT_MAX_SAMPLES, ema=True, generator=None
):
    """Exports the generator of a training dir, or a generator `.keras` file; what `export.py` runs.

    The generator is the averaged one if the run kept it (`--ema_decay`),
    unless `ema=False`; with `generator` (a path; `model_dir` is then None)
    it is that file's. The version is checked before anything is loaded.
    The export dir's lock is held while writing (one exporter at a time); a
    full disk or unwritable dir raises `storage.StorageError`, with the
    versions already there intact. Returns the version dir.

    Example:

    >>> export_from_model_dir("runs/mnist", "/tmp/models/gan")  # doctest: +SKIP
    '/tmp/models/gan/1'
    >>> export_from_model_dir(None, "/tmp/models/gan", generator="pretrained/mnist/generator.keras")  # doctest: +SKIP
    '/tmp/models/gan/2'
    """
    if max_samples < 1:
        raise ExportError(f"--max_samples must be >= 1; got {max_samples}.")
    if os.path.exists(export_dir) and not os.path.isdir(export_dir):
        raise ExportError(f"--export_dir={export_dir} is a file; pass a directory (new, or holding versions).")
    version = resolve_version(export_dir, version)
    if generator is not None:
        generator = restoring.load_generator_file(generator).generator
    else:
        generator = restoring.load_generator(model_dir, checkpoint, ema).generator
    existing = ", ".join(map(str, existing_versions(export_dir))) or "none"
    kept = f"the versions there before ({existing}) and its {GENERATOR_FILE} are as they were"
    with storage.writing(f"version {version} to --export_dir={export_dir}", kept):
        try:
            os.makedirs(export_dir, exist_ok=True)
        except OSError as e:
            raise ExportError(f"--export_dir={export_dir} cannot be created: {e.strerror}: {e.filename}.") from None
        try:
            with locking.hold(export_dir, "export.py", flag="--export_dir"):
                return export(generator, export_dir, version, max_samples)
        except locking.LockedError as e:
            raise ExportError(str(e)) from None
