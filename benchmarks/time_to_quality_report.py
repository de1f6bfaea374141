"""The Markdown of `benchmarks/time_to_quality.json`: quality against minutes of training (no TensorFlow, no flags).

`benchmarks.time_to_quality --report` prints it; `benchmarks.results_report`
puts it at the top of docs/results.md.
"""

import statistics

from benchmarks import harness

TIME_TO_QUALITY = harness.results_file("time_to_quality.json")
BUDGET_MINUTES = 120


def time_to_quality_summary(name, entry, target=225.0, budget=BUDGET_MINUTES):
    """One sentence: the best averaged G within `budget` minutes, and when it first reached `target`."""
    rows = sorted(entry["checkpoints"].values(), key=lambda r: r["minutes"])
    scored = [(r, r.get("averaged") or r["trained"]) for r in rows if r["minutes"] <= budget]
    if not scored:
        return f"{name}: no checkpoint within {budget} minutes."
    row, best = scored[-1]
    first = next((r for r, g in scored if g["parzen"] >= target), None)
    reached = (
        f"it first reached {target:.0f} nats after {first['minutes']:.0f} minutes (epoch {first['epoch']})"
        if first
        else f"it had not reached {target:.0f} nats by then"
    )
    return (
        f"After {row['minutes']:.0f} minutes of training (epoch {row['epoch']}) the generator of `{entry['command']}` "
        f"scores **{best['parzen']:.1f} +/- {best['parzen_se']:.1f} nats** (sigma {best['sigma']}), with a Frechet "
        f"distance of {best['frechet_distance']:.2f}, an MNIST score of {best['mnist_score']:.2f} and "
        f"{best['classes_covered']}/10 digits covered; {reached}."
    )


def settings(entry):
    """The run's command without `--seed` and `--model_dir`: what runs of one setting, by seed, share."""
    return " ".join(t for t in entry["command"].split() if not t.startswith(("--seed=", "--model_dir=")))


def seed_row(entry, target, budget):
    """`(minutes to target or None, Markdown row)` of one seed's run: when it reached `target`, and its last score."""
    rows = [r for r in sorted(entry["checkpoints"].values(), key=lambda r: r["minutes"]) if r["minutes"] <= budget]
    scored = [(r, r.get("averaged") or r["trained"]) for r in rows]
    first = next((r for r, g in scored if g["parzen"] >= target), None)
    last, g = scored[-1]
    reached = f"{first['minutes']:.0f} ({first['epoch']})" if first else "not reached"
    row = (
        f"| {entry['config']['seed']} | {entry['hardware']['usable_cores']} | {reached} | "
        f"{last['minutes']:.0f} ({last['epoch']}) | {g['parzen']:.1f} +/- {g['parzen_se']:.1f} | "
        f"{g['frechet_distance']:.2f} | {g['mnist_score']:.2f} | {g['classes_covered']}/10 |"
    )
    return (first["minutes"] if first else None), row


def seed_spread_markdown(results, target=225.0, budget=BUDGET_MINUTES):
    """A table per setting trained with more than one seed: when each seed first reached `target`, and its last score.

    Example:

    >>> row = {"minutes": 50.0, "epoch": 99, "trained": {"parzen": 226.0, "parzen_se": 2.1,
    ...        "frechet_distance": 3.1, "mnist_score": 8.7, "classes_covered": 10}}
    >>> runs = {f"s{seed}": {"command": f"python train.py --seed={seed}", "config": {"seed": seed},
    ...         "hardware": {"usable_cores": 1}, "checkpoints": {"ckpt-1": row}} for seed in (0, 1)}
    >>> print(seed_spread_markdown(runs).splitlines()[-1])
    2 of 2 seeds reached 225 nats within 120 minutes, after 50 minutes (median; range 50-50).
    """
    groups = {}
    for entry in results.values():
        groups.setdefault(settings(entry), []).append(entry)
    out = []
    for command, entries in groups.items():
        if len(entries) < 2:
            continue
        out += [
            f"`{command}`, by seed (the averaged G's scores, or the trained G's without averaging):",
            "",
            f"| seed | cores | first reached {target:.0f} nats: minutes (epoch) | last checkpoint within {budget} "
            "minutes: minutes (epoch) | nats | FD | MNIST score | classes |",
            "|---|---|---|---|---|---|---|---|",
        ]
        reached = []
        for entry in sorted(entries, key=lambda e: e["config"]["seed"]):
            minutes, row = seed_row(entry, target, budget)
            out.append(row)
            if minutes is not None:
                reached.append(minutes)
        out.append("")
        summary = f"{len(reached)} of {len(entries)} seeds reached {target:.0f} nats within {budget} minutes"
        if reached:
            summary += (
                f", after {statistics.median(reached):.0f} minutes (median; range "
                f"{min(reached):.0f}-{max(reached):.0f})"
            )
        out.append(summary + ".")
    return "\n".join(out)


def averaging(config):
    """How the run averaged G: `EMA decay D, power P`, or `no averaging`."""
    if not config["ema_decay"]:
        return "no averaging"
    return f"EMA decay {config['ema_decay']}, power {config.get('ema_power', 8.0):g}"


def time_to_quality_markdown(results):
    """One Markdown table per run: minutes, epoch, then the scores of the averaged and the trained G."""
    out = []
    for name, entry in results.items():
        out += [time_to_quality_summary(name, entry), ""]
        config = entry["config"]
        out.append(
            f"**{name}** (`{entry['command']}`; batch {config['batch_size']}, {averaging(config)}, "
            f"seed {config['seed']}; {entry['hardware']['usable_cores']} core(s) of {entry['hardware']['cpu']}, "
            f"TF {entry['hardware']['tensorflow']}):"
        )
        out.append("")
        out.append(
            "| minutes | epoch | averaged G: nats | FD | classes | MNIST score | trained G: nats | FD | classes |"
        )
        out.append("|---|---|---|---|---|---|---|---|---|")
        for row in sorted(entry["checkpoints"].values(), key=lambda r: r["minutes"]):
            a, t = row.get("averaged"), row["trained"]
            cells = (
                f"{a['parzen']:.1f} +/- {a['parzen_se']:.1f} | {a['frechet_distance']:.2f} | "
                f"{a['classes_covered']}/10 | {a['mnist_score']:.2f}"
                if a
                else " | | |"
            )
            out.append(
                f"| {row['minutes']:.0f} | {row['epoch']} | {cells} | {t['parzen']:.1f} +/- {t['parzen_se']:.1f} | "
                f"{t['frechet_distance']:.2f} | {t['classes_covered']}/10 |"
            )
        out.append("")
    return "\n".join(out)
