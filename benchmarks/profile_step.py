"""Where a training step's time goes, op by op, from TensorFlow's own profiler.

    TFDS_DATA_DIR=... python -m benchmarks.profile_step               # both update rules
    python -m benchmarks.profile_step --rules=simultaneous --steps=50

The paper preset is traced and warmed up through `build_gan` + `GAN.fit`, then
`--steps` steps of `fit` run under `tf.profiler`. The op events of the trace
(the `.xplane.pb` TensorBoard's profile plugin reads) are summed by what they
do: the matmuls, the optimiser updates, maxout's max and its gradient, the
dropout masks, everything else; the time between ops (dispatch, `fit`'s
loop, callbacks) is the wall time not covered by any op. Each matmul is
also timed on its own (`matmuls`): its median duration, and its median over
the events when no other op ran beside it, so that a run on one core
(`taskset -c 0 ... --output=benchmarks/profile_step_one_core.json`) and one
on every core show which matmuls a second core makes faster. Writes
`benchmarks/profile_step.json`; the trace stays in `--trace_dir` for TensorBoard.

With `--set=jit_compile=True` the step runs as one XLA program, whose events
are HLO instructions (`MatMul.30`, `bitcast_concatenate_fusion.2`). XLA's
optimised HLO is dumped beside the trace, and each instruction is counted
under the TensorFlow op it was compiled from (its `op_name` metadata), so the
categories mean the same with and without XLA. Without it, maxout's max and
its gradient are still small XLA programs of their own
(`gan_keras.nets.layers.max_over_pieces`); their instructions are counted under
the function they came from (`_max_of_pieces`, `_max_of_pieces_gradient`).
"""

import collections
import glob
import os
import re
import statistics
import tempfile
import time

import tensorflow as tf
from absl import app, flags
from tensorflow.tsl.profiler.protobuf import xplane_pb2

from benchmarks import harness
from gan_keras import data as data_lib
from gan_keras.training import TrainConfig, build_gan
from gan_keras.utils import cli

flags.DEFINE_list("rules", list(harness.UPDATE_RULES), f"Update rules, of: {', '.join(harness.UPDATE_RULES)}.")
flags.DEFINE_list("set", [], "TrainConfig overrides, e.g. steps_per_execution=10.")
flags.DEFINE_integer("steps", 100, "Profiled steps.", lower_bound=1)
flags.DEFINE_string("trace_dir", None, "Where the traces go (default: a new temporary directory).")
flags.DEFINE_string("output", harness.results_file("profile_step.json"), "Results file.")
FLAGS = flags.FLAGS
XLA_DUMP = "xla_hlo"  # the directory of XLA's HLO, in the trace directory


def category(event_name):
    """What an op event (`"graph/op/name:OpType"`) does, or None for a non-op event."""
    name, _, op = event_name.rpartition(":")
    if not name or not op or "::" in event_name:
        return None
    if "MatMul" in op or op.startswith("dot"):
        return "matmul (forward and gradient)"
    if "optimizer" in name:
        return "optimiser updates"
    if "dropout" in name:
        return "dropout masks and their gradient"
    if "maxout" in name or "max_of_pieces" in name:
        return "maxout max and its gradient"
    return "other ops"


_HLO_LINE = re.compile(r'^\s*(?:ROOT )?%?([\w.\-]+) = .*metadata=\{[^}]*op_name="([^"]+)"')


def hlo_op_names(dump_dir):
    """`{HLO instruction: "function/tf/op/name:instruction"}` from the optimised HLO XLA dumped into `dump_dir`.

    `function` is the compiled `tf.function`'s (the module's) name, e.g.
    `a_inference__max_of_pieces_gradient_836__`.
    """
    names = {}
    for path in glob.glob(os.path.join(dump_dir, "*after_optimizations.txt")):
        function = os.path.basename(path).split(".")[1]
        with open(path) as f:
            for line in f:
                match = _HLO_LINE.match(line)
                if match:
                    names[match.group(1)] = f"{function}/{match.group(2)}:{match.group(1)}"
    return names


def op_seconds(trace_path, hlo_names):
    """Seconds per category over the op events of the compute threads, the top ops, the busy time, the events.

    The events are `(start, end, "graph/op/name:OpType")`, in seconds.
    TensorFlow's kernels run on its `tf_Compute` threads, XLA's instructions
    on those or on the Eigen pool's; `hlo_names` (`hlo_op_names`) names the latter.
    """
    space = xplane_pb2.XSpace()
    with open(trace_path, "rb") as f:
        space.ParseFromString(f.read())
    plane = next(p for p in space.planes if p.name == "/host:CPU")
    by_category, by_op = collections.Counter(), collections.Counter()
    events = []
    for line in plane.lines:
        if not line.name.startswith(("tf_Compute", "tf_numa") if hlo_names else "tf_Compute"):
            continue
        for event in line.events:
            name = plane.event_metadata[event.metadata_id].name
            name = hlo_names.get(name, name)
            what = category(name)
            if what is None:
                continue
            seconds = event.duration_ps * 1e-12
            by_category[what] += seconds
            by_op[name.rpartition(":")[2] + " " + name.rpartition(":")[0].split("/", 1)[-1]] += seconds
            start = line.timestamp_ns * 1e-9 + event.offset_ps * 1e-12
            events.append((start, start + seconds, name))
    return by_category, by_op, covered([event[:2] for event in events]), events


def covered(intervals):
    """The length of the union of `(start, end)` intervals: the wall time some op was running."""
    total, end = 0.0, None
    for a, b in sorted(intervals):
        if end is None or a > end:
            total, end = total + (b - a), b
        elif b > end:
            total, end = total + (b - end), b
    return total


def alone(events):
    """For each `(start, end, name)` event, whether no other event overlapped it in time."""
    order = sorted(range(len(events)), key=lambda i: events[i][0])
    result = [True] * len(events)
    latest_end = None  # the latest end of the events started before this one
    for position, i in enumerate(order):
        start, end, _ = events[i]
        if latest_end is not None and latest_end > start:
            result[i] = False
        following = order[position + 1] if position + 1 < len(order) else None
        if following is not None and events[following][0] < end:
            result[i] = False
        latest_end = end if latest_end is None else max(latest_end, end)
    return result


def matmul_times(events, steps):
    """The matmuls' wall time per step, and each matmul op's median duration: all events, and those run alone.

    `events` are `(start, end, "graph/op/name:OpType")` op events in seconds.
    Run beside another op, a matmul shares the cores with it; run alone, it
    has every core TensorFlow gives it.
    """
    matmuls = [(i, e) for i, e in enumerate(events) if category(e[2]) == "matmul (forward and gradient)"]
    by_alone = alone(events)
    durations = collections.defaultdict(lambda: ([], []))
    for i, (start, end, name) in matmuls:
        every, solo = durations[name.rpartition(":")[0].split("StatefulPartitionedCall/")[-1]]
        every.append(end - start)
        if by_alone[i]:
            solo.append(end - start)
    us = lambda seconds: round(1e6 * statistics.median(seconds), 1) if seconds else None  # noqa: E731
    return {
        "matmul_wall_ms_per_step": round(1000 * covered([e[:2] for _, e in matmuls]) / steps, 3),
        "matmuls": {
            name: {"median_us": us(every), "alone_median_us": us(solo), "alone_share": round(len(solo) / len(every), 3)}
            for name, (every, solo) in sorted(durations.items(), key=lambda item: -sum(item[1][0]))
        },
    }


def profile(rule, images, log_dir, overrides):
    settings = {**harness.UPDATE_RULES[rule], **overrides}
    config = TrainConfig.preset("paper", **settings)
    data = data_lib.TrainingData(images, config.batch_size, config.k)
    gan = build_gan(config, data.image_shape, data.pixel_mean(), data.steps_per_epoch)
    dataset = data.dataset(config.seed)
    gan.fit(dataset, epochs=1, steps_per_epoch=FLAGS.steps, verbose=0)  # tracing and warm-up
    rule_dir = os.path.join(log_dir, rule)
    tf.profiler.experimental.start(rule_dir)
    start = time.perf_counter()
    gan.fit(dataset, epochs=1, steps_per_epoch=FLAGS.steps, verbose=0)
    wall = time.perf_counter() - start
    tf.profiler.experimental.stop()
    trace = sorted(glob.glob(os.path.join(rule_dir, "**", "*.xplane.pb"), recursive=True))[-1]
    by_category, by_op, busy, events = op_seconds(trace, hlo_op_names(os.path.join(log_dir, XLA_DUMP)))
    op_total = sum(by_category.values())
    ms = lambda seconds: round(1000 * seconds / FLAGS.steps, 3)  # noqa: E731  per step
    return {
        "settings": {"preset": "paper", **settings},
        "steps": FLAGS.steps,
        "wall_ms_per_step": ms(wall),
        "ops_running_ms_per_step": ms(busy),
        "no_op_running_ms_per_step": ms(wall - busy),
        "op_ms_per_step_summed_over_threads": ms(op_total),
        # Each op is dispatched by TensorFlow's executor: many small ops cost time of their own.
        "ops_per_step": round(len(events) / FLAGS.steps, 1),
        "categories": {
            what: {"ms_per_step": ms(s), "share_of_op_time": round(s / op_total, 4)}
            for what, s in by_category.most_common()
        },
        "top_ops_ms_per_step": {name: ms(s) for name, s in by_op.most_common(15)},
        **matmul_times(events, FLAGS.steps),
    }


def main(argv):
    del argv
    harness.fail_unknown("profile_step.py", "rules", FLAGS.rules, harness.UPDATE_RULES)
    overrides = harness.set_overrides("profile_step.py", FLAGS.set, rules=FLAGS.rules)
    log_dir = FLAGS.trace_dir or tempfile.mkdtemp(prefix="gan_keras_profile_")
    # Read when XLA first compiles: the optimised HLO that names the events of XLA's programs.
    os.environ["XLA_FLAGS"] = " ".join(
        [os.environ.get("XLA_FLAGS", ""), f"--xla_dump_to={os.path.join(log_dir, XLA_DUMP)}", "--xla_dump_hlo_as_text"]
    ).strip()
    images = data_lib.load_images("mnist", "train")
    results = {}
    for rule in FLAGS.rules:
        r = results[rule] = profile(rule, images, log_dir, overrides)
        print(f"{rule}: {r['wall_ms_per_step']:.2f} ms/step wall, ops running {r['ops_running_ms_per_step']:.2f}, "
              f"none running {r['no_op_running_ms_per_step']:.2f}; {r['ops_per_step']} ops a step")
        for what, c in r["categories"].items():
            print(f"  {what:36s} {c['ms_per_step']:7.2f} ms/step {100 * c['share_of_op_time']:5.1f}%")
    name = ",".join(["paper", *FLAGS.set])
    command = harness.command("benchmarks.profile_step", local=("trace_dir", "output"))
    harness.write_results(FLAGS.output, name, dict(results, date=harness.utc_now(), command=command))
    print(f"Wrote {FLAGS.output}; traces in {log_dir} (tensorboard --logdir={log_dir}).")


if __name__ == "__main__":
    app.run(main, flags_parser=cli.flags_parser("profile_step.py"))
