"""The benchmarks' `--set` flag: TrainConfig overrides, checked before any work, with a one-line error."""

import subprocess
import sys

import pytest

from benchmarks import harness


def error(items, **kwargs):
    with pytest.raises(SystemExit) as exit_:
        harness.set_overrides("bench.py", items, **kwargs)
    return str(exit_.value)


def test_overrides_are_typed_by_the_config_fields(tfds_dir):  # a valid config is checked down to its dataset
    assert harness.set_overrides("bench.py", ["d_dropout=False", "k=2", "learning_rate=0.05", "update=alternating"]) == {
        "d_dropout": False, "k": 2, "learning_rate": 0.05, "update": "alternating"}


@pytest.mark.parametrize(
    "items, kwargs, message",
    [
        (["k"], {}, "bench.py: error: --set=k: 'k' is not FIELD=VALUE (e.g. d_dropout=False)."),
        (["no_such_field=1"], {}, "bench.py: error: --set=no_such_field=1: 'no_such_field' is not a TrainConfig field."),
        (["d_dropout=yes"], {}, "bench.py: error: --set=d_dropout=yes: d_dropout='yes' is not valid; accepted: True, False."),
        (["k=1", "k=two"], {}, "bench.py: error: --set=k=1,k=two: k='two' is not valid; accepted: int values."),
        (["steps_per_execution=-1"], {"rules": ["alternating"]},
         "bench.py: error: --set=steps_per_execution=-1: --steps_per_execution must be >= 0 (0: automatic, up to 10); "
         "got -1."),
        (["update=backwards"], {"preset": "default"}, "bench.py: error: --set=update=backwards: --update='backwards' "
                                                      "is not valid; accepted: simultaneous, alternating."),
        (["update=alternating"], {"rules": ["simultaneous", "alternating"]},
         "bench.py: error: --set=update=alternating: update is set by --rules, not by --set."),
        (["seed=3"], {"owned": {"seed": "--seeds"}}, "bench.py: error: --set=seed=3: seed is set by --seeds, not by --set."),
    ],
)
def test_a_bad_override_is_named_in_one_line(items, kwargs, message):
    assert error(items, **kwargs) == message


def test_overrides_are_checked_on_the_preset_given():
    assert error([], preset="wgan") == "bench.py: error: --set=: --preset='wgan' is not valid; accepted: default, paper, table1, dcgan."


@pytest.mark.parametrize(
    "program, flags, message",
    [
        ("profile_step", ["--set=steps_per_execution=-1"], "--set=steps_per_execution=-1: --steps_per_execution must be "
                                                            ">= 0 (0: automatic, up to 10); got -1."),
        ("torch_ratio", ["--set=update=alternating"], "--set=update=alternating: update is set by --rules, not by --set."),
        ("xla_cpu", ["--set=jit_compile=True"], "--set=jit_compile=True: jit_compile is set by xla_cpu.py, not by --set."),
        ("step_baseline", ["--baseline=HEAD", "--set=k=two"], "--set=k=two: k='two' is not valid; accepted: int values."),
        ("collapse_rate", ["--preset=paper", "--set=g_loss=mse"], "--set=g_loss=mse: --g_loss='mse' is not valid; "
                                                                  "accepted: non_saturating, minimax."),
        ("collapse_trace", ["--set=epochs=3"], "--set=epochs=3: epochs is set by --epochs, not by --set."),
    ],
)
def test_each_benchmark_checks_its_set_flag_before_any_work(program, flags, message, tmp_path):
    output = tmp_path / "results.json"
    out = ["--out_dir", str(tmp_path / "runs"), f"--results={output}"] if program.startswith("collapse") else [f"--output={output}"]
    done = subprocess.run([sys.executable, "-m", f"benchmarks.{program}", *out, *flags], cwd=harness.REPO,
                          capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == f"{program}.py: error: {message}"
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no results file, no run directory
