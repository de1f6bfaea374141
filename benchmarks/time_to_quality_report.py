"""The Markdown of `benchmarks/time_to_quality.json`: quality against minutes of training (no TensorFlow, no flags).

`benchmarks.time_to_quality --report` prints it; `benchmarks.results_report`
puts it at the top of docs/results.md.
"""

import statistics

from benchmarks import harness

TIME_TO_QUALITY = harness.results_file("time_to_quality.json")
EPOCH_TIME = harness.results_file("epoch_time.json")
BUDGET_MINUTES = 120


def time_to_quality_summary(name, entry, timings=None, target=225.0, budget=BUDGET_MINUTES):
    """One sentence: the best averaged G within `budget` minutes, and when it first reached `target`.

    Minutes are those of `run_minutes` (the measured speed, if `timings` has the run's preset).
    """
    rows = sorted(entry["checkpoints"].values(), key=lambda r: r["epoch"])
    scored = [(r, r.get("averaged") or r["trained"]) for r in rows if run_minutes(entry, r, timings) <= budget]
    if not scored:
        return f"{name}: no checkpoint within {budget} minutes."
    row, best = scored[-1]
    first = next((r for r, g in scored if g["parzen"] >= target), None)
    reached = (
        f"it first reached {target:.0f} nats after {run_minutes(entry, first, timings):.0f} minutes "
        f"(epoch {first['epoch']})"
        if first
        else f"it had not reached {target:.0f} nats by then"
    )
    return (
        f"After {run_minutes(entry, row, timings):.0f} minutes of training (epoch {row['epoch']}) the generator of "
        f"`{entry['command']}` scores **{best['parzen']:.1f} +/- {best['parzen_se']:.1f} nats** (sigma "
        f"{best['sigma']}), with a Frechet distance of {best['frechet_distance']:.2f}, an MNIST score of "
        f"{best['mnist_score']:.2f} and {best['classes_covered']}/10 digits covered; {reached}."
    )


def run_minutes(entry, row, timings=None):
    """Minutes of training to a checkpoint `row`: at the measured speed of the run's preset, else as the run trained."""
    timing = (timings or {}).get(preset(entry))
    return minutes_at(timing, row["epoch"]) if timing else row["minutes"]


def settings(entry):
    """The run's command without `--seed` and `--model_dir`: what runs of one setting, by seed, share."""
    return " ".join(t for t in entry["command"].split() if not t.startswith(("--seed=", "--model_dir=")))


def preset(entry):
    """The preset a run's command names (`default` if none)."""
    return next((t.split("=", 1)[1] for t in entry["command"].split() if t.startswith("--preset=")), "default")


def minutes_at(timing, epoch):
    """Minutes from the command's start to the end of `epoch`, at a speed measured by `benchmarks.epoch_time`.

    Example:

    >>> round(minutes_at({"first_epoch_seconds": 30.0, "seconds_per_epoch": 15.0}, 101), 1)
    25.5
    """
    return (timing["first_epoch_seconds"] + (epoch - 1) * timing["seconds_per_epoch"]) / 60.0


def seed_row(entry, timing, target, budget):
    """`(epoch it first reached target within the budget, or None; Markdown row)` of one seed's run."""
    rows = sorted(entry["checkpoints"].values(), key=lambda r: r["epoch"])
    scored = [(r, r.get("averaged") or r["trained"]) for r in rows if minutes_at(timing, r["epoch"]) <= budget]
    first = next((r["epoch"] for r, g in scored if g["parzen"] >= target), None)
    last, g = scored[-1]
    reached = f"{first} ({minutes_at(timing, first):.0f} min)" if first else "not reached"
    row = (
        f"| {entry['config']['seed']} | {entry['hardware']['usable_cores']} | {reached} | "
        f"{last['epoch']} ({minutes_at(timing, last['epoch']):.0f} min) | {g['parzen']:.1f} +/- {g['parzen_se']:.1f} | "
        f"{g['frechet_distance']:.2f} | {g['mnist_score']:.2f} | {g['classes_covered']}/10 |"
    )
    return first, row


def seed_spread_markdown(results, timings, target=225.0, budget=BUDGET_MINUTES):
    """A table per setting trained with more than one seed: when each seed first reached `target`, and its last score.

    A run's scores are put at the minutes the documented command takes to
    reach their epoch on this machine (`timings[preset]`, measured by
    `benchmarks.epoch_time`), whatever cores the run itself trained on: a
    seed's run is the same on one core or two. Only checkpoints within
    `budget` minutes at that speed count.

    Example:

    >>> row = {"minutes": 50.0, "epoch": 99, "trained": {"parzen": 226.0, "parzen_se": 2.1,
    ...        "frechet_distance": 3.1, "mnist_score": 8.7, "classes_covered": 10}}
    >>> runs = {f"s{seed}": {"command": f"python train.py --preset=table1 --seed={seed}", "config": {"seed": seed},
    ...         "hardware": {"usable_cores": 1}, "checkpoints": {"ckpt-99": row}} for seed in (0, 1)}
    >>> timings = {"table1": {"first_epoch_seconds": 30.0, "seconds_per_epoch": 15.0}}
    >>> print(seed_spread_markdown(runs, timings).splitlines()[-1])
    2 of 2 seeds reached 225 nats within 120 minutes: at epoch 99, after 25 minutes (medians; range 25-25 minutes).
    """
    groups = {}
    for entry in results.values():
        if preset(entry) in timings:
            groups.setdefault(settings(entry), []).append(entry)
    out = []
    for command, entries in groups.items():
        if len(entries) < 2:
            continue
        timing = timings[preset(entries[0])]
        out += [
            f"`{command}`, by seed (the averaged G's scores, or the trained G's without averaging), at "
            f"{timing['seconds_per_epoch']:.1f} s per epoch after a first epoch of "
            f"{timing['first_epoch_seconds']:.0f} s (`benchmarks/epoch_time.json`):",
            "",
            f"| seed | cores it trained on | first reached {target:.0f} nats: epoch (minutes) | last checkpoint within "
            f"{budget} minutes: epoch (minutes) | nats | FD | MNIST score | classes |",
            "|---|---|---|---|---|---|---|---|",
        ]
        reached = []
        for entry in sorted(entries, key=lambda e: e["config"]["seed"]):
            first, row = seed_row(entry, timing, target, budget)
            out.append(row)
            if first is not None:
                reached.append(first)
        out.append("")
        summary = f"{len(reached)} of {len(entries)} seeds reached {target:.0f} nats within {budget} minutes"
        if reached:
            minutes = [minutes_at(timing, e) for e in reached]
            summary += (
                f": at epoch {statistics.median(reached):.0f}, after {statistics.median(minutes):.0f} minutes "
                f"(medians; range {min(minutes):.0f}-{max(minutes):.0f} minutes)"
            )
        out.append(summary + ".")
    return "\n".join(out)


def averaging(config):
    """How the run averaged G: `EMA decay D, power P`, or `no averaging`."""
    if not config["ema_decay"]:
        return "no averaging"
    return f"EMA decay {config['ema_decay']}, power {config.get('ema_power', 8.0):g}"


def time_to_quality_markdown(results, timings=None):
    """One Markdown table per run: epoch, minutes, then the scores of the averaged and the trained G.

    With a timing of the run's preset in `timings` (`benchmarks/epoch_time.json`),
    minutes are when the documented command reaches the epoch at that speed
    (`run_minutes`), not the wall minutes of the run itself.
    """
    out = []
    for name, entry in results.items():
        out += [time_to_quality_summary(name, entry, timings), ""]
        config = entry["config"]
        timed = preset(entry) in (timings or {})
        out.append(
            f"**{name}** (`{entry['command']}`; batch {config['batch_size']}, {averaging(config)}, "
            f"seed {config['seed']}; trained on {entry['hardware']['usable_cores']} core(s) of "
            f"{entry['hardware']['cpu']}, TF {entry['hardware']['tensorflow']}):"
        )
        out.append("")
        minutes = "minutes at the measured speed" if timed else "minutes"
        out.append(
            f"| epoch | {minutes} | averaged G: nats | FD | classes | MNIST score | trained G: nats | FD | classes |"
        )
        out.append("|---|---|---|---|---|---|---|---|---|")
        for row in sorted(entry["checkpoints"].values(), key=lambda r: r["epoch"]):
            a, t = row.get("averaged"), row["trained"]
            cells = (
                f"{a['parzen']:.1f} +/- {a['parzen_se']:.1f} | {a['frechet_distance']:.2f} | "
                f"{a['classes_covered']}/10 | {a['mnist_score']:.2f}"
                if a
                else " | | |"
            )
            out.append(
                f"| {row['epoch']} | {run_minutes(entry, row, timings):.0f} | {cells} | {t['parzen']:.1f} +/- {t['parzen_se']:.1f} | "
                f"{t['frechet_distance']:.2f} | {t['classes_covered']}/10 |"
            )
        out.append("")
    return "\n".join(out)
