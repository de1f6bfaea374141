"""Size of an exported version and the memory its variables take once loaded.

    taskset -c 0 python -m benchmarks.export_size

Exports the paper's MNIST generator (untrained: the values do not change the
sizes) twice: as `serving.export_saved_model` does, and with the
`ExportArchive.track(generator)` call Keras' docs suggest, which saves every
weight a second time (keras#23553). For each it reports the files, the
variable values saved, and what a loader holds: the variables the TF1
session loader (TF Serving's way) creates, and the resident memory each
loader (TF1 session, `tf.saved_model.load`) adds, each in a fresh Python. Writes
`benchmarks/export_size.json`.
"""

import json
import os
import subprocess
import sys
import tempfile

import keras
import numpy as np
import tensorflow as tf
from absl import app, flags

from benchmarks import harness
from gan_keras import serving
from gan_keras.utils.cli import flags_parser

flags.DEFINE_string("output", harness.results_file("export_size.json"), "Results file.")
FLAGS = flags.FLAGS

# Runs in a fresh Python: what loading a version costs, without this package.
LOAD_PROBE = """
import json, sys
import tensorflow as tf

def rss():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:"))

path, loader = sys.argv[1:]
tf.constant(0.0) + 1.0  # start the runtime before measuring
if loader == "tf2":
    before = rss()
    loaded = tf.saved_model.load(path)
    print(json.dumps(dict(tf2_load_rss_bytes=rss() - before)))
else:
    v1 = tf.compat.v1
    with v1.Session(graph=tf.Graph()) as sess:
        before = rss()
        v1.saved_model.loader.load(sess, ["serve"], path)
        grown = rss() - before
        handles = [op for op in sess.graph.get_operations() if op.type == "VarHandleOp"]
        print(json.dumps(dict(
            tf1_session_variables=len(handles),
            tf1_session_variable_bytes=sum(
                tf.TensorShape(op.get_attr("shape")).num_elements() * tf.as_dtype(op.get_attr("dtype")).size
                for op in handles
            ),
            tf1_session_load_rss_bytes=grown,
        )))
"""


def dir_bytes(path):
    """Total size of the files under `path`."""
    return sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(path) for f in files)


def export_tracked(generator, path):
    """The export with `archive.track(generator)` added: the layout keras#23553 describes."""
    archive = keras.export.ExportArchive()
    archive.track(generator)
    for name, (fn, input_signature) in serving.serving_functions(generator).items():
        archive.add_endpoint(name, fn, input_signature)
    archive.write_out(path, verbose=False)


def measure(path):
    """Files, saved variable values and a fresh loader's variables of one version dir."""
    saved = [
        shape
        for name, shape in tf.train.list_variables(os.path.join(path, "variables", "variables"))
        if name.endswith("VARIABLE_VALUE")
    ]
    loaded = {}
    for loader in ("tf1", "tf2"):
        probe = subprocess.run(
            [sys.executable, "-c", LOAD_PROBE, path, loader],
            capture_output=True, text=True, check=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
        )
        loaded.update(json.loads(probe.stdout.splitlines()[-1]))
    return {
        "version_dir_bytes": dir_bytes(path),
        "saved_model_pb_bytes": os.path.getsize(os.path.join(path, "saved_model.pb")),
        "variables_data_bytes": dir_bytes(os.path.join(path, "variables")),
        "saved_variable_values": len(saved),
        "saved_variable_value_bytes": 4 * sum(int(np.prod(s)) for s in saved),  # all float32
        **loaded,
    }


def main(argv):
    del argv
    generator = harness.untrained_paper_gan().inference_generator
    results = {
        "what": "one exported version of the paper's MNIST generator: files and loaded variables",
        "weights": len(generator.weights),
        "weight_bytes": sum(int(np.prod(w.shape)) * 4 for w in generator.weights),
    }
    with tempfile.TemporaryDirectory() as tmp:
        serving.export(generator, tmp, version=1)
        export_tracked(generator, os.path.join(tmp, "tracked"))
        results["export"] = measure(os.path.join(tmp, "1"))
        results["with_track"] = measure(os.path.join(tmp, "tracked"))
    harness.write_results(FLAGS.output, "export_size", results)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    app.run(main, flags_parser=flags_parser("export_size.py"))
