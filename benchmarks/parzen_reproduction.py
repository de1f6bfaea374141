"""Reproduces Table 1: the Parzen estimate of a long training run, written up.

    TFDS_DATA_DIR=... taskset -c 0 python benchmarks/parzen_reproduction.py \\
        --model_dir=runs/paper_ema --log=runs/paper.log,runs/paper_ema.log \\
        --continues=runs/paper --continued_at_epoch=465

evaluates the run's newest checkpoint (or `--checkpoints=all` for every kept
one, or a list of paths) with the full protocol (10,000 samples, sigma from
logspace(-1, 0, 10) on 1,000 validation images, 10,000 test images): the
trained generator and, if the run averages G's weights (`--ema_decay`), the
averaged one. It appends the results to `benchmarks/parzen_reproduction.json`,
measures the same protocol with 10,000 real training images as the centres
(once; cached in that file), writes a sample grid `docs/samples_epochN.png`
and rewrites `docs/results.md` from all recorded results. The training run
keeps only its last 3 checkpoints, so run this while it trains to record a
learning curve. `--continues` names the model dir of the same run's earlier
epochs, when it was continued in a new one.
"""

import datetime
import glob
import json
import os
import re

import numpy as np
import tensorflow as tf
from absl import app, flags

from gan_keras import data as data_lib
from gan_keras.cli.evaluate import evaluate_restored
from gan_keras.data import images as images_lib
from gan_keras.evaluation import parzen
from gan_keras.evaluation.protocol import load_protocol_data
from gan_keras.training import CHECKPOINT_SUBDIR, CONFIG_FILE, load_config
from gan_keras.training.checkpointing import has_ema
from gan_keras.utils import cli
from gan_keras.utils.storage import write_json

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

flags.DEFINE_string("model_dir", None, "The training run to evaluate.")
flags.DEFINE_list("checkpoints", ["latest"], "'latest', 'all' (every kept checkpoint) or paths.")
flags.DEFINE_list("log", [], "The run's training logs, oldest first (for per-epoch training times).")
flags.DEFINE_string("continues", None, "Model dir of the same run's earlier epochs, if it was continued in --model_dir.")
flags.DEFINE_integer("continued_at_epoch", None, "The epoch at which --model_dir took over from --continues.")
flags.DEFINE_string("hardware", "one CPU core", "What the run trained on, for the training-time line.")
flags.DEFINE_string("data_dir", None, "TFDS data dir (default: the run's, then $TFDS_DATA_DIR).")
flags.DEFINE_string("results", os.path.join(REPO, "benchmarks", "parzen_reproduction.json"), "Recorded results.")
flags.DEFINE_string("docs_dir", os.path.join(REPO, "docs"), "Where results.md and sample grids go.")
flags.DEFINE_boolean("recompute_real", False, "Measure the real-data calibration again.")
flags.mark_flag_as_required("model_dir")
FLAGS = flags.FLAGS

# Table 1 of the paper, MNIST, nats (mean +/- standard error).
TABLE1 = (
    ("DBN", 138, 2.0),
    ("Stacked CAE", 121, 1.6),
    ("Deep GSN", 214, 1.1),
    ("Adversarial nets", 225, 2.0),
)
# The PyTorch peer of the released configuration (shared/docs/paper-reference.md).
PEER_CURVE = {
    10: "72-76", 20: "95-110", 40: "136-140", 60: "148-154", 80: "157-161", 100: "167",
    130: "173", 150: "174", 180: "180", 200: "182", 216: "184",
}


def checkpoint_paths(model_dir, which):
    """The checkpoints to evaluate, newest first."""
    if which not in (["latest"], ["all"]):
        return list(which)
    state = tf.train.get_checkpoint_state(os.path.join(model_dir, CHECKPOINT_SUBDIR))
    if state is None:
        raise ValueError(f"--model_dir={model_dir} has no checkpoints.")
    paths = list(state.all_model_checkpoint_paths)[::-1]
    return paths if which == ["all"] else paths[:1]


def epoch_seconds_from_log(paths):
    """Per-epoch training seconds from Keras `verbose=2` logs ("500/500 - 23s - ..."), in order."""
    seconds = []
    for path in paths:
        with open(path, errors="replace") as f:
            seconds += [int(m.group(1)) for m in re.finditer(r"^\d+/\d+ - (\d+)s - ", f.read(), re.M)]
    return seconds


def training_hours(result, epoch_seconds):
    """Hours of training up to the result's epoch: from the log if it covers it, else as recorded."""
    if epoch_seconds and result["epoch"] and len(epoch_seconds) >= result["epoch"]:
        return sum(epoch_seconds[: result["epoch"]]) / 3600.0
    return result.get("wall_hours", float("nan"))


def wall_hours(model_dir, checkpoint):
    """Hours from the run's start (config.json written) to the checkpoint's save."""
    start = os.path.getmtime(os.path.join(model_dir, CONFIG_FILE))
    return (os.path.getmtime(checkpoint + ".index") - start) / 3600.0


def real_data_calibration(dataset, data_dir, test, valid):
    """The protocol with 10,000 real training images (train[:10000]) as the centres."""
    train = data_lib.load_images(dataset, "train", data_dir)[: parzen.NUM_SAMPLES]
    result = parzen.parzen_evaluate(train, test, valid, num_samples=len(train))
    result["centres"] = f"{dataset} train[:{len(train)}]"
    return result


def load_records(path):
    if not os.path.exists(path):
        return {"evaluations": [], "real_data": None}
    with open(path) as f:
        return json.load(f)


def _key(result):
    return result["model_dir"], result["epoch"], result.get("ema", False)


def record(records, result):
    """Adds or replaces the evaluation of the same model dir, epoch and weights (trained or EMA)."""
    records["evaluations"] = [r for r in records["evaluations"] if _key(r) != _key(result)] + [result]
    records["evaluations"].sort(key=lambda r: (r["model_dir"], r["epoch"] or 0, r.get("ema", False)))


def write_samples(generator, epoch, docs_dir):
    """A 10x10 grid of samples (seed (0, 0)) as docs/samples_epochN.png, replacing older grids; returns its name."""
    name = f"samples_epoch{epoch}.png"
    samples = generator.sample(100, seed=np.asarray((0, 0), np.int32))
    images_lib.write_png(os.path.join(docs_dir, name), images_lib.image_grid(np.asarray(samples), 10, 10))
    for old in glob.glob(os.path.join(docs_dir, "samples_epoch*.png")):
        if os.path.basename(old) != name:
            os.remove(old)
    return name


def fmt(result):
    return f"{result['log_likelihood']:.1f} +/- {result['standard_error']:.1f}"


def benchmark_results(name):
    """The results file `benchmarks/NAME` of another benchmark, or None if it has not run."""
    path = os.path.join(REPO, "benchmarks", name)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def shortfall_markdown(runs, target):
    """Why the run is short of `target` so far: its recent slope, and where to read more."""
    last = runs[-1]
    if last["log_likelihood"] >= target:
        return []
    lines = ["", "## Why it is short of Table 1, so far", ""]
    recent = [r for r in runs if r["epoch"] >= last["epoch"] - 100]
    if len(recent) > 1 and recent[-1]["epoch"] > recent[0]["epoch"]:
        rate = (recent[-1]["log_likelihood"] - recent[0]["log_likelihood"]) / (
            recent[-1]["epoch"] - recent[0]["epoch"]
        )
        if rate > 0:
            lines.append(
                f"Length of training, first of all: over its last {recent[-1]['epoch'] - recent[0]['epoch']} "
                f"evaluated epochs the trained weights' estimate still rose by {10 * rate:.1f} nats per "
                f"10 epochs. At that rate (if it held, which the slowing curve suggests it will not) they "
                f"would reach {target} in about {(target - last['log_likelihood']) / rate:.0f} more epochs. The released "
                "configuration has no stopping rule; the paper does not say how long it trained."
            )
    lines += [
        "",
        "Nothing in the configuration differs from the released one (checked against its "
        "`mnist.yaml` and `AdversaryCost2`: architecture, init, dropout, the halved D loss, "
        "simultaneous update, SGD schedule; `scale_grads` is 0 there). What else we measured:",
        "",
        "- The early epochs decide whether a run trains at all: seed 0 of the current code "
        "collapses (D wins by epoch 7), seeds 1 to 5 train "
        "([reliability.md](reliability.md#mode-collapse-when-the-discriminator-wins)).",
    ]
    sweep = benchmark_results("parzen_ablation.json")
    if sweep:
        results = ", ".join(
            f"{name} {r['log_likelihood']:.1f}"
            + (f" ({r['classifier_metrics']['classes_covered']}/10 classes)" if "classifier_metrics" in r else "")
            for name, r in sweep["runs"].items()
        )
        lines.append(
            f"- One-change variants of the preset at {sweep['epochs']} epochs "
            f"([parzen_ablation.md](parzen_ablation.md)), Parzen nats: {results}. A higher "
            "Parzen number with fewer classes covered is a partial collapse the estimate does "
            "not see ([metrics.md](metrics.md))."
        )
    return lines


def classifier_comparison(averaged, trained):
    """MNIST score, Frechet distance and classes covered of the averaged vs the trained G."""
    a, t = averaged["classifier_metrics"], trained["classifier_metrics"]
    return (
        f"MNIST score {a['mnist_score']:.2f} (trained G: {t['mnist_score']:.2f}), Frechet distance "
        f"{a['frechet_distance']:.2f} ({t['frechet_distance']:.2f}), classes covered "
        f"{a['classes_covered']}/10 ({t['classes_covered']}/10)"
    )


def window_conclusion(sweeps):
    """What the tail averages say about the length of the average."""
    sweeps = list(sweeps["runs"].values())
    if all(
        [r["log_likelihood"] for r in sweep["results"]] == sorted(r["log_likelihood"] for r in sweep["results"])
        for sweep in sweeps
    ):
        longest = max(r["window"] for sweep in sweeps for r in sweep["results"])
        return (
            f"In every sweep a longer average scored higher, up to the longest measured ({longest} "
            "epochs). So for a long run a decay nearer 1 than 0.9999 should do better (0.99998 "
            "weighs about the last 100 MNIST epochs); we have not trained with one yet."
        )
    best = max((r for sweep in sweeps for r in sweep["results"]), key=lambda r: r["log_likelihood"])
    return f"The longest average is not always the best: the best was over {best['window']} epochs."


def classifier_cells(result):
    """`score | distance | classes |` table cells, empty if the metrics were not computed."""
    m = result.get("classifier_metrics")
    if not m:
        return "| | |"
    return f"{m['mnist_score']:.2f} | {m['frechet_distance']:.2f} | {m['classes_covered']}/10 |"


def versus_paper(result):
    """How a result compares with Table 1's adversarial nets."""
    _, mean, se = TABLE1[-1]
    gap = result["log_likelihood"] - mean
    side = "above" if gap >= 0 else "below"
    return f"{abs(gap):.1f} nats {side} the paper's adversarial nets ({mean} +/- {se:.0f})"


def longest_tail_average(model_dir):
    """The widest tail average of `model_dir`'s G in `weight_averaging.json`, or None."""
    sweeps = benchmark_results("weight_averaging.json") or {"runs": {}}
    results = sweeps["runs"].get(os.path.abspath(model_dir), {}).get("results", [])
    return max(results, key=lambda r: r["window"], default=None)


def run_curves(records, model_dirs):
    """`(trained, averaged)`: the run's evaluations by epoch, of G's trained and averaged weights."""
    dirs = [os.path.abspath(d) for d in model_dirs if d]
    runs = [r for r in records["evaluations"] if r["model_dir"] in dirs]
    trained = {r["epoch"]: r for r in runs if not r.get("ema", False)}
    averaged = {r["epoch"]: r for r in runs if r.get("ema", False)}
    return dict(sorted(trained.items())), dict(sorted(averaged.items()))


def averaging_markdown(decay):
    """What weight averaging is, and the measured averages of the run's last epochs."""
    lines = [
        "",
        "## Averaging G's weights",
        "",
        "Not in the paper. Adversarial training does not settle: G's weights keep circling "
        "around a good region, and the samples of any one step carry that step's wobble. "
        f"`train.py --ema_decay={decay}` keeps an exponential moving average of G's weights "
        "(`ema <- decay * ema + (1 - decay) * G` after every G step; about the last "
        f"{1 / (1 - decay):,.0f} steps) next to training, which it does not change; evaluation, "
        "sample grids and export use the average (`--noema` for the trained weights). It is "
        "standard practice in GAN training (Yazici et al., 2019; Karras et al., 2018).",
    ]
    sweeps = benchmark_results("weight_averaging.json")
    for model_dir, sweep in (sweeps or {"runs": {}})["runs"].items():
        lines += [
            "",
            f"`benchmarks/weight_averaging.py` averaged the trained G of `{shown(model_dir)}` uniformly "
            "over its last K epoch-end checkpoints (a tail average: it needs every epoch's "
            "checkpoint kept, where the EMA needs none):",
            "",
            "| epochs averaged | epochs | log-likelihood (nats) | MNIST score | Frechet distance | classes covered |",
            "|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {r['window']} | {r['first_epoch']}-{r['last_epoch']} | {fmt(r)} | " + classifier_cells(r)
            for r in sweep["results"]
        ]
    lines += ["", window_conclusion(sweeps)] if sweeps and sweeps["runs"] else []
    return lines


def shown(path):
    """A run dir as the docs name it: `runs/<its name>`, not this machine's scratch path."""
    return path and f"runs/{os.path.basename(os.path.normpath(path))}"


def lineage_markdown(model_dir, continues, continued_at):
    model_dir, continues = shown(model_dir), shown(continues)
    if not continues:
        return [f"Model dir `{model_dir}`, trained by `train.py` with these settings (its `config.json`):"]
    return [
        f"Epochs 1-{continued_at} were trained in `{continues}` by a frozen copy of the code at "
        "the start of the run, with the settings below but without `--ema_decay`. The checkpoint "
        f"format has changed since, so the epoch-{continued_at} checkpoint was converted (same "
        f"weights, optimiser slots and step) and training continued in `{model_dir}` with the "
        f"current code and the settings below (its `config.json`). The average of G's weights "
        f"starts at epoch {continued_at} as a copy of G.",
    ]


def results_markdown(
    config, records, model_dir, epoch_seconds, grid, continues=None, continued_at=None, hardware="one CPU core"
):
    """docs/results.md from the recorded evaluations of the run (`continues`, then `model_dir`)."""
    trained, averaged = run_curves(records, [continues, model_dir])
    epoch = max(trained)
    last = trained[epoch]
    best = averaged.get(epoch, last)
    real = records["real_data"]
    table1 = TABLE1[-1]
    lines = [
        "# Results: Parzen log-likelihood of the paper preset (Table 1)",
        "",
        "Generated by `benchmarks/parzen_reproduction.py` from "
        "`benchmarks/parzen_reproduction.json`; rerun it to update. Protocol and caveats: "
        "[parzen.md](parzen.md).",
        "",
        "## Summary",
        "",
    ]
    tail = longest_tail_average(model_dir)
    gap = max(r["log_likelihood"] for r in (best, tail) if r) - table1[1]
    verdict = versus_paper(best)
    if best is not last:
        lines.append(
            f"At epoch {epoch} the paper preset scores **{fmt(best)} nats** with G's weights "
            f"averaged (EMA, decay {config.ema_decay}; sigma = {best['sigma']:.3f}, "
            f"{best['num_samples']} samples, {best['num_test']} test images), {verdict}. Its "
            f"trained weights themselves score {fmt(last)}."
        )
    else:
        lines.append(
            f"At epoch {epoch} the paper preset scores **{fmt(last)} nats** (sigma = "
            f"{last['sigma']:.3f}, {last['num_samples']} samples, {last['num_test']} test images), {verdict}."
        )
    if tail:
        lines.append(
            f"Averaged uniformly over its last {tail['window']} epochs ({tail['first_epoch']}-"
            f"{tail['last_epoch']}; `benchmarks/weight_averaging.py`), the trained weights score "
            f"**{fmt(tail)} nats** (sigma = {tail['sigma']:.3f}), {versus_paper(tail)}."
        )
    if best is not last and "classifier_metrics" in best and "classifier_metrics" in last:
        lines.append(
            "The classifier metrics of the same samples ([metrics.md](metrics.md)) say the "
            "average is better, not narrower: " + classifier_comparison(best, last) + "."
        )
    peer_epoch = min(PEER_CURVE, key=lambda e: abs(e - epoch))
    lines.append(
        f"A PyTorch re-implementation of the same configuration (trained weights) scored "
        f"{PEER_CURVE[peer_epoch]} at epoch {peer_epoch}."
    )
    if len(trained) > 1:
        first = next(iter(trained.values()))
        rate = (last["log_likelihood"] - first["log_likelihood"]) / (epoch - first["epoch"])
        lines.append(
            f"From epoch {first['epoch']} to {epoch} the trained weights' estimate rose by "
            f"{10 * rate:.1f} nats per 10 epochs."
        )
    if real:
        lines.append(
            f"The same protocol with 10,000 real training images as the centres gives "
            f"{fmt(real)} nats (sigma = {real['sigma']:.3f}): what the data themselves score. "
            "It is a calibration, not a ceiling: samples that copy or average training "
            "images can score higher."
        )
    lines += shortfall_markdown(list(trained.values()), table1[1]) if gap < 0 else []
    lines += averaging_markdown(config.ema_decay) if config.ema_decay else []
    lines += ["", "## The run", ""] + lineage_markdown(model_dir, continues, continued_at)
    lines += ["", "| flag | value |", "|---|---|"]
    with open(os.path.join(model_dir, CONFIG_FILE)) as f:
        settings = json.load(f)
    for key in ("model_dir", "data_dir"):
        if settings.get(key):
            settings[key] = shown(settings[key]) if key == "model_dir" else "$TFDS_DATA_DIR"
    lines += [f"| --{k} | {v} |" for k, v in settings.items()]
    if epoch_seconds:
        lines += [
            "",
            f"Training logs: {len(epoch_seconds)} epochs finished, {sum(epoch_seconds) / 3600:.2f} h "
            f"of training ({np.median(epoch_seconds):.0f} s per epoch, median) on {hardware}.",
        ]
    lines += [
        "",
        "## Parzen estimate by epoch",
        "",
        "Training time: the sum of the per-epoch times of the training logs up to that epoch "
        "(without logs: from config.json's time to the checkpoint's, which a resumed run resets). "
        "Sigma is chosen separately for each generator.",
        "",
        "| epoch | training time (h) | trained weights: nats (sigma) | averaged weights (EMA): nats (sigma) |",
        "|---|---|---|---|",
    ]
    for e, r in trained.items():
        ema = averaged.get(e)
        ema_cell = f"{fmt(ema)} ({ema['sigma']:.3f})" if ema else ""
        lines.append(
            f"| {e} | {training_hours(r, epoch_seconds):.2f} | {fmt(r)} ({r['sigma']:.3f}) | {ema_cell} |"
        )
    lines += [
        "",
        "## Against Table 1 and real data",
        "",
        "| model | MNIST log-likelihood (nats) |",
        "|---|---|",
    ]
    lines += [f"| {name} (paper) | {mean} +/- {se} |" for name, mean, se in TABLE1]
    if best is not last:
        lines.append(f"| **this package, paper preset, epoch {epoch}, averaged G (EMA)** | **{fmt(best)}** |")
    if tail:
        lines.append(
            f"| **this package, paper preset, G averaged over epochs {tail['first_epoch']}-"
            f"{tail['last_epoch']}** | **{fmt(tail)}** |"
        )
    lines.append(f"| this package, paper preset, epoch {epoch}, trained G | {fmt(last)} |")
    if real:
        lines.append(f"| 10,000 real training images as centres (measured here) | {fmt(real)} |")
    weights = "the averaged generator" if best is not last else "the generator"
    lines += [
        "",
        "A PyTorch re-implementation of the same configuration on this machine "
        "(shared/docs/paper-reference.md) scored, by epoch: "
        + ", ".join(f"{e}: {v}" for e, v in PEER_CURVE.items())
        + ".",
        "",
        f"## Samples at epoch {epoch}",
        "",
        f"![samples at epoch {epoch}]({grid})",
        "",
        f"100 samples of {weights}, drawn with seed (0, 0) (the Parzen centres use seed "
        f"{tuple(parzen.SAMPLE_SEED)}).",
        "",
        "## Reproduce",
        "",
        "From scratch, the average then covers the whole run rather than starting at "
        f"epoch {continued_at}:" if continues else "",
        "",
        "```",
        f"python train.py --model_dir={shown(model_dir)} --epochs={config.epochs}"
        + (f" --ema_decay={config.ema_decay}" if config.ema_decay else "")
        + " --verbose=2",
        f"python -m gan_keras.evaluate --model_dir={shown(model_dir)}"
        + ("            # the averaged G; --noema: the trained one" if config.ema_decay else ""),
        f"python benchmarks/parzen_reproduction.py --model_dir={shown(model_dir)}",
        "```",
        "",
    ]
    return "\n".join(lines)


def evaluate_checkpoint(model_dir, test, valid, path, records):
    """Evaluates the trained and (if kept) averaged G of a checkpoint; returns the generator for the grid."""
    hours = wall_hours(model_dir, path)
    generator = None
    for ema in (False, True) if has_ema(path) else (False,):
        result, generator = evaluate_restored(model_dir, test, valid, checkpoint=path, ema=ema)
        result["wall_hours"] = round(hours, 3)
        record(records, result)
        weights = "averaged G" if ema else "trained G"
        print(f"epoch {result['epoch']}, {weights}: {parzen.table1_line(result)}")
    return result["epoch"], generator


def main(argv):
    del argv
    model_dir = FLAGS.model_dir
    config = load_config(model_dir)
    if config is None:
        cli.fail("parzen_reproduction.py", f"--model_dir={model_dir} holds no config.json.")
    if FLAGS.continues and FLAGS.continued_at_epoch is None:
        cli.fail("parzen_reproduction.py", "--continues needs --continued_at_epoch (the epoch of the hand-over).")
    data_dir = FLAGS.data_dir or config.data_dir
    test, valid = load_protocol_data(config.dataset, data_dir)
    records = load_records(FLAGS.results)
    os.makedirs(FLAGS.docs_dir, exist_ok=True)

    grid = None
    for path in checkpoint_paths(model_dir, FLAGS.checkpoints):
        try:
            epoch, generator = evaluate_checkpoint(model_dir, test, valid, path, records)
        except (ValueError, OSError, tf.errors.NotFoundError) as e:
            print(f"skipped {path}: {e}")  # the run may have deleted it meanwhile
            continue
        if grid is None:
            grid = write_samples(generator, epoch, FLAGS.docs_dir)

    if records["real_data"] is None or FLAGS.recompute_real:
        records["real_data"] = real_data_calibration(config.dataset, data_dir, test, valid)
    print(f"real data: {parzen.table1_line(records['real_data'])}")
    records["updated"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    write_json(FLAGS.results, records)

    if grid is None:
        cli.fail("parzen_reproduction.py", "no checkpoint could be evaluated.")
    markdown = results_markdown(
        config, records, model_dir, epoch_seconds_from_log(FLAGS.log), grid,
        FLAGS.continues, FLAGS.continued_at_epoch, FLAGS.hardware,
    )
    with open(os.path.join(FLAGS.docs_dir, "results.md"), "w") as f:
        f.write(markdown)
    print(f"Wrote {FLAGS.results} and {os.path.join(FLAGS.docs_dir, 'results.md')}.")


if __name__ == "__main__":
    app.run(main, flags_parser=cli.flags_parser("parzen_reproduction.py"))
