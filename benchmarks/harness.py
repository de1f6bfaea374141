"""What every benchmark here shares: results files, repeats, summary statistics, hardware info.

It imports no TensorFlow itself (only the helpers that need it do, when
called), so `results_report` runs without it.
"""

import datetime
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

# This directory: where the results files (`*.json`) live, next to the scripts.
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DOCS = os.path.join(REPO, "docs")
# The update rules the step benchmarks compare, as TrainConfig overrides of the paper preset.
UPDATE_RULES = {"simultaneous": dict(), "alternating": dict(update="alternating")}


def results_file(name):
    """The path of the results file `benchmarks/NAME`."""
    return os.path.join(HERE, name)


def read_json(path, default=None):
    """The JSON at `path`, or `default` if the file does not exist."""
    if not os.path.exists(path):
        return default
    with open(path) as f:
        return json.load(f)


def write_json(path, obj):
    """Writes `obj` to `path` atomically (`gan_keras.utils.storage.write_json`)."""
    from gan_keras.utils.storage import write_json as atomic_write_json

    atomic_write_json(path, obj)


def utc_now():
    """The current UTC time, to the second, as ISO 8601 text."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def command(module, local=()):
    """How this benchmark was run: `python -m MODULE` and its arguments.

    The values of the flags named in `local` (paths of this machine: run
    dirs, venvs) are shown as `...`, so the record names no scratch path.
    """
    def shown(arg):
        name = arg[2:].split("=", 1)[0]
        return f"--{name}=..." if arg.startswith("--") and name in local else arg

    return " ".join(["python", "-m", module, *map(shown, sys.argv[1:])])


def shown_run(path):
    """A run dir as records and docs name it: `runs/<its name>`, not this machine's path (None stays None).

    Example:

    >>> shown_run("/scratch/me/runs/paper/")
    'runs/paper'
    """
    return path and f"runs/{os.path.basename(os.path.normpath(path))}"


def shown_paths(text, *run_dirs):
    """`text` with each run dir's path in it (absolute, or as given) written as `shown_run` writes it."""
    for run_dir in filter(None, run_dirs):
        for form in (os.path.abspath(run_dir), os.path.normpath(run_dir)):
            text = text.replace(form, shown_run(run_dir))
    return text


def scores(result):
    """The rounded scores a sweep keeps of an `evaluate_generator` / `evaluate_samples` result."""
    metrics = result["classifier_metrics"]
    return {
        "parzen": round(result["log_likelihood"], 2),
        "parzen_se": round(result["standard_error"], 2),
        "sigma": result["sigma"],
        "mnist_score": round(metrics["mnist_score"], 3),
        "frechet_distance": round(metrics["frechet_distance"], 3),
        "classes_covered": metrics["classes_covered"],
        "class_histogram": [round(p, 4) for p in metrics["class_histogram"]],
    }


def report_only(program, flag_values, report):
    """A sweep's two modes. With `--report`, prints `report(results)` of its `--results` file and returns True.

    Otherwise it returns False once `--out_dir` (where the runs go) is given.
    Either mode exits with one line when its file or flag is missing.
    """
    if flag_values.report:
        results = read_json(flag_values.results)
        if results is None:
            sys.exit(f"{program}: error: --results={flag_values.results} does not exist.")
        print(report(results))
        return True
    if not flag_values.out_dir:
        sys.exit(f"{program}: error: --out_dir is required (where the runs go).")
    return False


def fail_unknown(program, flag, given, accepted):
    """Exits with one line if `given` names anything that is not in `accepted`."""
    unknown = [name for name in given if name not in accepted]
    if unknown:
        sys.exit(f"{program}: error: --{flag}: unknown {', '.join(unknown)}; accepted: {', '.join(accepted)}.")


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


def time_repeats(fn, repeats=5, warmup=1, calls=1):
    """`(wall, CPU)` seconds of each of `repeats` runs of `calls` calls of `fn()`, after `warmup` calls.

    The CPU time is this process's: on a core shared with other jobs it is
    what the wall time would be with the core to itself.
    """
    for _ in range(warmup):
        fn()
    seconds = []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(calls):
            fn()
        seconds.append((time.perf_counter() - wall, time.process_time() - cpu))
    return seconds


def fit_steps_per_second(gan, dataset, steps, repeats):
    """Steps/s of `gan.fit` over `repeats` epochs of `steps` steps, after one warm-up epoch (tracing)."""
    import keras

    seconds = []

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds.append(time.perf_counter() - self.start)

    gan.fit(dataset, epochs=1 + repeats, steps_per_epoch=steps, callbacks=[EpochTimer()], shuffle=False, verbose=0)
    return [steps / s for s in seconds[1:]]


def state_digest(gan):
    """SHA-256 of every weight of G and D and every optimiser slot: equal digests, the same trained bits."""
    import numpy as np

    state = gan.generator.weights + gan.discriminator.weights + gan.d_optimizer.variables + gan.g_optimizer.variables
    sha = hashlib.sha256()
    for variable in state:
        sha.update(np.asarray(variable).tobytes())
    return sha.hexdigest()


def write_results(path, name, results):
    """Merges `results` into section `name` of the JSON file at `path`, with hardware info."""
    data = read_json(path, {})
    data["hardware"] = hardware()
    data.setdefault(name, {}).update(results)
    write_json(path, data)


def parse_overrides(items):
    """`["d_dropout=False", "k=2"]` -> `{"d_dropout": False, "k": 2}`, typed by TrainConfig's defaults.

    Raises `ValueError` naming the first item that is not `FIELD=VALUE` of a TrainConfig field and type.
    """
    from gan_keras.training import TrainConfig

    defaults = TrainConfig()
    overrides = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"{item!r} is not FIELD=VALUE (e.g. d_dropout=False).")
        if not hasattr(defaults, name):
            raise ValueError(f"{name!r} is not a TrainConfig field.")
        default = getattr(defaults, name)
        if isinstance(default, bool):
            if value not in ("True", "False"):
                raise ValueError(f"{name}={value!r} is not valid; accepted: True, False.")
            overrides[name] = value == "True"
        elif default is None:
            overrides[name] = int(value) if value.isdigit() else value
        else:
            try:
                overrides[name] = type(default)(value)
            except ValueError:
                raise ValueError(f"{name}={value!r} is not valid; accepted: {type(default).__name__} values.") from None
    return overrides


def set_overrides(program, items, preset="paper", rules=(None,), owned=None):
    """The overrides of a `--set` flag (`parse_overrides`), or an exit with one line naming the bad item.

    They must make a valid TrainConfig of `preset` with each update rule in `rules` (names in
    `UPDATE_RULES`; None: the preset's own rule), and leave alone the rules' fields and those
    in `owned` (`{field: the flag that sets it}`).

    Example:

    >>> set_overrides("bench.py", ["d_dropout=False"], rules=["alternating"])  # doctest: +SKIP
    {'d_dropout': False}
    """
    from gan_keras.training import TrainConfig

    try:
        overrides = parse_overrides(items)
        owned = {**dict.fromkeys(field for rule in rules if rule for field in UPDATE_RULES[rule]), **(owned or {})}
        for name in overrides:
            if name in owned:
                raise ValueError(f"{name} is set by {owned[name] or '--rules'}, not by --set.")
        for rule in rules:
            TrainConfig.preset(preset, **(UPDATE_RULES[rule] if rule else {}), **overrides).validate()
    except ValueError as e:
        sys.exit(f"{program}: error: --set={','.join(items)}: {e}")
    return overrides


def short_revision(revision):
    """The short hash of git `revision` in this repository."""
    return subprocess.run(["git", "rev-parse", "--short", revision], cwd=REPO, check=True, capture_output=True,
                          text=True).stdout.strip()


def untrained_paper_gan():
    """The GAN of the paper's MNIST preset, untrained (the weights' values change neither sizes nor speed)."""
    from gan_keras.training import TrainConfig, build_gan

    return build_gan(TrainConfig.preset("paper"), (28, 28, 1))


PEER_SCRIPT = os.path.join(HERE, "torch_peer.py")
PEER_REQUIREMENTS = os.path.join(HERE, "torch_peer_requirements.txt")


def _peer_venv():
    """The default venv of the peer, named by its requirements: a new pin makes a new venv."""
    with open(PEER_REQUIREMENTS, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:10]
    return os.path.join(os.path.expanduser("~"), ".cache", "gan_keras", f"torch_peer_venv_{digest}")


DEFAULT_PEER_VENV = _peer_venv()


def peer_python(python=None, venv=DEFAULT_PEER_VENV):
    """The Python of the PyTorch peer's venv: `python` if given, else `venv`'s, made on first use.

    The venv gets `benchmarks/torch_peer_requirements.txt` (PyTorch, NumPy),
    so the peer never shares this package's environment. A venv left without
    PyTorch by an install that failed is installed into again; a `python`
    without PyTorch, or an install that fails, exits with one line.
    """
    if python:
        if not os.path.exists(python):
            sys.exit(f"--peer_python={python} does not exist.")
        if peer_torch_version(python) is None:
            sys.exit(f"--peer_python={python} cannot import torch; give the Python of a venv with "
                     f"{_requirements_shown()} installed.")
        return python
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(python):
        print(f"Making the PyTorch peer's venv {venv} ({_requirements_shown()}) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    if peer_torch_version(python) is None:
        if subprocess.run([python, "-m", "pip", "install", "-q", "-r", PEER_REQUIREMENTS]).returncode:
            sys.exit(f"Installing {_requirements_shown()} into {venv} failed (pip's "
                     "message is above); install it there by hand, or pass --peer_python=PYTHON of a venv "
                     "with torch.")
    return python


def _requirements_shown():
    """The peer's requirements file, relative to the repository when it is in it."""
    inside = PEER_REQUIREMENTS.startswith(REPO + os.sep)
    return os.path.relpath(PEER_REQUIREMENTS, REPO) if inside else PEER_REQUIREMENTS


def peer_torch_version(python):
    """The version of PyTorch `python` imports, e.g. '2.15.0+cpu', or None if it cannot import torch."""
    found = subprocess.run([python, "-c", "import torch; print(torch.__version__)"], capture_output=True, text=True)
    return found.stdout.strip() if found.returncode == 0 else None


def check_train_epochs(program, epochs):
    """Exits with one line unless `epochs` >= 2: `time_train_epochs` times the epochs after the first."""
    if epochs < 2:
        sys.exit(f"{program}: error: --epochs must be >= 2 (the first includes start-up); got {epochs}.")


def time_train_epochs(preset, epochs, extra=()):
    """Runs `train.py --preset=PRESET --epochs=EPOCHS` from scratch (`extra`: more flags) in a temporary model dir.

    Returns `(seconds from the command's start to the end of each epoch, the command as records show it)`:
    the ends are the save times of the epochs' checkpoints.
    """
    with tempfile.TemporaryDirectory() as model_dir:
        # Keep every epoch's checkpoint (one per 0.036 s at most): their save times are the epochs' ends.
        keep = "--keep_checkpoint_every_hours=0.00001"
        args = [f"--preset={preset}", f"--epochs={epochs}", keep, *extra, "--verbose=0", f"--model_dir={model_dir}"]
        start = time.time()
        subprocess.run([sys.executable, os.path.join(REPO, "train.py"), *args], check=True)
        checkpoints = os.path.join(model_dir, "checkpoints")
        ends = [os.path.getmtime(os.path.join(checkpoints, f"ckpt-{e}.index")) - start for e in range(1, epochs + 1)]
    return ends, " ".join(["python train.py", *args[:-1], "--model_dir=..."])


def json_result(command, cwd=None, env=None):
    """Runs `command` (a worker process; `env`: its environment) and returns the JSON on the last line of its stdout."""
    out = subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def peer_steps_per_second(python, config, threads, steps, repeats):
    """The peer's steps/s (`torch_peer.py speed`) for `config`'s update rule, k and batch, `repeats` epochs of `steps`."""
    return json_result([python, PEER_SCRIPT, "speed", f"--update={config.update}", f"--k={config.k}",
                        f"--batch_size={config.batch_size}", f"--steps={steps}", f"--repeats={repeats}",
                        f"--threads={threads}"])["steps_per_second"]
