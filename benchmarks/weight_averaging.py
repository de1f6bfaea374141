"""Does averaging G's weights over the last epochs raise the Parzen estimate?

    TFDS_DATA_DIR=... python -m benchmarks.weight_averaging \\
        --model_dir=runs/paper --checkpoint_dir=runs/paper_archive --windows=1,7,14,20

takes the newest checkpoints of a run (one per epoch: a training run keeps only
3, so copy them aside while it trains), averages G's weights uniformly over
the last K of them for each K in `--windows`, and scores each average with the
full Parzen protocol (and the classifier metrics of the same samples, for
MNIST-like data). K=1 is the trained generator itself. This is the
evidence behind `train.py --ema_decay` (an exponential moving average, kept
during training, needs no saved checkpoints); results go to
`benchmarks/weight_averaging.json` (one entry per model dir), which
docs/results.md quotes (`results_report.py`).
"""

import os

import numpy as np
from absl import app, flags

from benchmarks import harness
from gan_keras.evaluation import parzen
from gan_keras.evaluation.protocol import evaluate_generator, load_protocol_data
from gan_keras.training import CHECKPOINT_SUBDIR, load_config
from gan_keras.training.checkpointing import saved_checkpoints
from gan_keras.training.restoring import Restored, load_generator
from gan_keras.utils import cli

flags.DEFINE_string("model_dir", None, "The training run (its config.json builds G).")
flags.DEFINE_string("checkpoint_dir", None, "Dir of the run's per-epoch checkpoints (default: MODEL_DIR/checkpoints).")
flags.DEFINE_list("windows", ["1", "7", "14", "20"], "Numbers of newest checkpoints to average.")
flags.DEFINE_string("output", harness.results_file("weight_averaging.json"), "Where results go.")
flags.mark_flag_as_required("model_dir")
FLAGS = flags.FLAGS


def average_weights(weight_lists):
    """The element-wise mean of several `get_weights()` lists."""
    return [np.mean(arrays, axis=0) for arrays in zip(*weight_lists)]


def main(argv):
    del argv
    windows = sorted({int(k) for k in FLAGS.windows})
    if not windows or windows[0] < 1:
        cli.fail("weight_averaging.py", f"--windows must be integers >= 1; got {FLAGS.windows}.")
    config = load_config(FLAGS.model_dir)
    if config is None:
        cli.fail("weight_averaging.py", f"--model_dir={FLAGS.model_dir} holds no config.json.")
    directory = FLAGS.checkpoint_dir or os.path.join(FLAGS.model_dir, CHECKPOINT_SUBDIR)
    paths = saved_checkpoints(directory)[-windows[-1]:]
    if len(paths) < windows[-1]:
        cli.fail(
            "weight_averaging.py",
            f"--windows asks for {windows[-1]} checkpoints; --checkpoint_dir={directory} has {len(paths)}.",
        )
    restored = [load_generator(FLAGS.model_dir, checkpoint=p, ema=False) for p in paths]
    generator = restored[-1].generator
    weights = [r.generator.get_weights() for r in restored]
    test, valid = load_protocol_data(config.dataset, config.data_dir)
    results = []
    for k in windows:
        generator.set_weights(average_weights(weights[-k:]))
        source = harness.shown_paths(f"G averaged over {paths[-k]} ... {paths[-1]}", FLAGS.model_dir, directory)
        # The Parzen protocol, and the classifier metrics of the same samples.
        result = evaluate_generator(Restored(generator, source), test, valid, dataset=config.dataset)
        result.update(window=k, first_epoch=restored[-k].epoch, last_epoch=restored[-1].epoch)
        results.append(result)
        print(f"last {k} epochs ({restored[-k].epoch}-{restored[-1].epoch}): {parzen.table1_line(result)}")
    recorded = harness.read_json(FLAGS.output, {"runs": {}})
    recorded["runs"][harness.shown_run(FLAGS.model_dir)] = {
        "date": harness.utc_now(),
        "results": results,
    }
    harness.write_json(FLAGS.output, recorded)
    print(f"Wrote {FLAGS.output}.")


if __name__ == "__main__":
    app.run(main, flags_parser=cli.flags_parser("weight_averaging.py"))
