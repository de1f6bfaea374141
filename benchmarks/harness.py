"""What every benchmark here shares: repeats, summary statistics, hardware info."""

import json
import os
import platform
import statistics
import time


def hardware():
    """CPU model, cores usable by this process, memory, library versions."""
    import tensorflow as tf

    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        memory_gib = None
    return {
        "cpu": cpu,
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_gib": round(memory_gib, 1) if memory_gib else None,
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "gpus": len(tf.config.list_physical_devices("GPU")),
    }


def summarize(values):
    """Median, min and max of repeated measurements."""
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "repeats": len(values),
    }


def time_repeats(fn, repeats=5, warmup=1):
    """Seconds per call of `fn()` over `repeats` calls, after `warmup` calls."""
    for _ in range(warmup):
        fn()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - start)
    return seconds


def write_results(path, name, results):
    """Merges `results` into section `name` of the JSON file at `path`, with hardware info."""
    data = {}
    if os.path.exists(path):
        with open(path) as f:
            data = json.load(f)
    data["hardware"] = hardware()
    data.setdefault(name, {}).update(results)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=2)
    os.replace(tmp, path)


def parse_overrides(items):
    """`["d_dropout=False", "k=2"]` -> `{"d_dropout": False, "k": 2}`, typed by TrainConfig's defaults."""
    from gan_keras.training import TrainConfig

    defaults = TrainConfig()
    overrides = {}
    for item in items:
        name, _, value = item.partition("=")
        if not hasattr(defaults, name):
            raise ValueError(f"--set: {name!r} is not a TrainConfig field.")
        default = getattr(defaults, name)
        if isinstance(default, bool):
            overrides[name] = value == "True"
        elif default is None:
            overrides[name] = int(value) if value.isdigit() else value
        else:
            overrides[name] = type(default)(value)
    return overrides
