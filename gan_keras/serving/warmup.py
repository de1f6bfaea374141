"""TF Serving warm-up requests for an exported version.

TF Serving runs the `PredictionLog`s of
`assets.extra/tf_serving_warmup_requests` (a TFRecord file) when it loads a
version, so the first real request does not pay the graph warm-up. The
records are built with the `tensorflow-serving-api` protos (the `[serving]`
extra); without them the version is exported without the file and one
warning line says so.
"""

import os
import sys

import numpy as np
import tensorflow as tf

__all__ = [
    "WARMUP_FILE",
    "warmup_inputs",
    "write_warmup_requests",
]

# Where TF Serving looks for warm-up requests in a version dir.
WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")


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
