"""Writes docs/results.md, the write-up of Table 1's reproduction, from its recorded results.

    python -m benchmarks.results_report

`parzen_reproduction.py` evaluates a training run's checkpoints, records the
results in `benchmarks/parzen_reproduction.json` (with, in its `report`
section, what the write-up says of the run: its model dirs, its config.json,
what its training logs say, the sample grid) and then calls this module.
Run alone, it rewrites `docs/results.md` from that file (and from
`weight_averaging.json` and `parzen_ablation.json`, which it quotes): no
TensorFlow, no model dir, no checkpoint needed.
"""

import os
import sys

from absl import app, flags

from benchmarks import harness
from benchmarks.time_to_quality_report import (
    EPOCH_TIME,
    TIME_TO_QUALITY,
    seed_spread_markdown,
    time_to_quality_markdown,
)

PROGRAM = "results_report.py"

flags.DEFINE_string("results", harness.results_file("parzen_reproduction.json"), "Recorded results.")
flags.DEFINE_string("docs_dir", harness.DOCS, "Where results.md and sample grids go.")
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



def fmt(result):
    return f"{result['log_likelihood']:.1f} +/- {result['standard_error']:.1f}"


def benchmark_results(name):
    """The results file `benchmarks/NAME` of another benchmark, or None if it has not run."""
    return harness.read_json(harness.results_file(name))


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
    results = sweeps["runs"].get(harness.shown_run(model_dir), {}).get("results", [])
    return max(results, key=lambda r: r["window"], default=None)


def run_curves(records, model_dirs):
    """`(trained, averaged)`: the run's evaluations by epoch, of G's trained and averaged weights."""
    dirs = [harness.shown_run(d) for d in model_dirs if d]
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
            f"`benchmarks/weight_averaging.py` averaged the trained G of `{harness.shown_run(model_dir)}` uniformly "
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


def lineage_markdown(model_dir, continues, continued_at):
    model_dir, continues = harness.shown_run(model_dir), harness.shown_run(continues)
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


def results_markdown(records):
    """docs/results.md from the recorded evaluations of the run `records["report"]` describes.

    The run's evaluations are those of its model dir and, if it continued an
    earlier one, of that (`continues`, up to `continued_at_epoch`).
    """
    report = records["report"]
    model_dir, continues, continued_at = report["model_dir"], report["continues"], report["continued_at_epoch"]
    ema_decay, log, grid = report["ema_decay"], report["training_log"], report["samples"]
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
            f"averaged (EMA, decay {ema_decay}; sigma = {best['sigma']:.3f}, "
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
    lines += averaging_markdown(ema_decay) if ema_decay else []
    lines += ["", "## The run", ""] + lineage_markdown(model_dir, continues, continued_at)
    lines += ["", "| flag | value |", "|---|---|"]
    settings = dict(report["config"])
    for key in ("model_dir", "data_dir"):
        if settings.get(key):
            settings[key] = harness.shown_run(settings[key]) if key == "model_dir" else "$TFDS_DATA_DIR"
    lines += [f"| --{k} | {v} |" for k, v in settings.items()]
    if log:
        lines += [
            "",
            f"Training logs: {log['epochs']} epochs finished, {log['hours']:.2f} h "
            f"of training ({log['median_epoch_seconds']:.0f} s per epoch, median) on {report['hardware']}.",
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
            f"| {e} | {training_hours(r, log):.2f} | {fmt(r)} ({r['sigma']:.3f}) | {ema_cell} |"
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
        f"{tuple(best['seed'])}).",
        "",
        "## Reproduce",
        "",
        "From scratch, the average then covers the whole run rather than starting at "
        f"epoch {continued_at}:" if continues else "",
        "",
        "```",
        f"python train.py --model_dir={harness.shown_run(model_dir)} --epochs={report['epochs']}"
        + (f" --ema_decay={ema_decay}" if ema_decay else "")
        + " --verbose=2",
        f"python -m gan_keras.evaluate --model_dir={harness.shown_run(model_dir)}"
        + ("            # the averaged G; --noema: the trained one" if ema_decay else ""),
        f"python -m benchmarks.parzen_reproduction --model_dir={harness.shown_run(model_dir)}",
        "```",
        "",
    ]
    return "\n".join(lines)


def training_hours(result, log):
    """Hours of training up to the result's epoch: from the training logs if they cover it, else as recorded."""
    hours = (log or {}).get("hours_by_epoch", {}).get(str(result["epoch"]))
    return hours if hours is not None else result.get("wall_hours", float("nan"))


def time_to_quality_section(ttq, timings):
    """The page's first section: runs trained from scratch, scored against minutes (`timings`: epoch_time.json)."""
    if not ttq:
        return ""
    return "\n".join(
        [
            "# Results: Table 1 from the product, and the paper preset's long run",
            "",
            "## Time to quality: `python train.py`, trained from scratch",
            "",
            "Generated by `python -m benchmarks.results_report` from `benchmarks/time_to_quality.json` and "
            "`benchmarks/epoch_time.json`. `python -m benchmarks.time_to_quality` scored every checkpoint a run "
            "kept (`--keep_checkpoint_every_hours=0.1667`, one per 10 minutes of its wall time) with the full "
            "protocol (10,000 samples, sigma from logspace(-1, 0, 10) on 1,000 validation images, 10,000 test "
            "images) and the shipped MNIST classifier on the same samples (FD: Frechet distance in its features "
            "to the test images), for the averaged G and the trained G.",
            "",
            "**Minutes.** A seed's run is the same, weight for weight, on one core or two, with any "
            "`--epochs` and any `--steps_per_execution` (docs/reliability.md#determinism), so a checkpoint's "
            "scores belong to its epoch, whatever the machine was doing meanwhile. Where "
            "`benchmarks/epoch_time.json` has the run's preset, its minutes are when the documented command, "
            "on both cores of this machine with nothing beside it, ends that epoch: `python -m "
            "benchmarks.epoch_time` timed a fresh `train.py` run of the preset (the first epoch with start-up "
            "and tracing, then the median epoch), and minutes = (first epoch + (epoch - 1) x later epoch) / 60. "
            "The runs themselves trained on one core or two, often beside tests and benchmarks, so their wall "
            "minutes say nothing about the product's speed; the other runs' minutes are their own wall time.",
            "",
            "The runs, each from scratch. `table1` (`--preset=table1`: the default with G averaged over the "
            "whole run, each step weighted by its number) trained with seeds 0, 1 and 2: seed 0 on both cores "
            "(stopped by SIGTERM at epoch 149: its last row is that mid-epoch checkpoint); seeds 1 and 2 their "
            "whole 250 epochs side by side, one core each, by code whose training is bit-identical to today's (the "
            "fused optimiser update, maxout over the middle axis and the automatic steps per call change no weight); "
            "they were stopped and resumed (exactly) on the way, so they have no wall minutes of their own. `paper` (`--preset=paper`, the "
            "released configuration: no averaging) trained its default 250 epochs on one core. `default` "
            "(`python train.py`, averaging about the last tenth of the run) trained on one core for 2 hours. "
            "The last checkpoint of the seed-1 `table1` run (epoch 250, the preset's end) is committed as "
            "`pretrained/mnist/generator.keras` (re-score it: `python -m gan_keras.evaluate "
            "--generator=pretrained/mnist/generator.keras`).",
            "",
            "### Over seeds",
            "",
            seed_spread_markdown(ttq, timings),
            "",
            "### Each run",
            "",
            time_to_quality_markdown(ttq, timings),
            "",
        ]
    ).replace("\n\n\n", "\n\n")


def write_results_md(records, docs_dir):
    """Writes `docs_dir/results.md` from the recorded results (and `time_to_quality.json`); returns its path."""
    path = os.path.join(docs_dir, "results.md")
    page = results_markdown(records)
    ttq = harness.read_json(TIME_TO_QUALITY)
    if ttq:
        page = time_to_quality_section(ttq, harness.read_json(EPOCH_TIME, {})) + page.replace(
            "# Results: Parzen log-likelihood of the paper preset (Table 1)", "# The paper preset's long run", 1
        ).replace("\n## ", "\n### ").replace("# The paper preset's long run", "## The paper preset's long run", 1)
    with open(path, "w") as f:
        f.write(page)
    return path


def main(argv):
    del argv
    records = harness.read_json(FLAGS.results)
    if not records or not records.get("report"):
        sys.exit(
            f"{PROGRAM}: error: --results={FLAGS.results} records no run to write up; "
            "run parzen_reproduction.py first."
        )
    print(f"Wrote {write_results_md(records, FLAGS.docs_dir)}.")


if __name__ == "__main__":
    app.run(main)
