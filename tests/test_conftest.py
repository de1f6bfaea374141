"""tests/conftest.py itself: needs_mnist follows the tfds_dir fixture; without MNIST, skip, or under CI fail.

Each case runs pytest in a fresh Python on a two-test project that uses this
conftest.py (no TensorFlow is imported, so each takes about a second).
"""

import os
import pathlib
import shutil
import subprocess
import sys

import pytest

CONFTEST = pathlib.Path(__file__).with_name("conftest.py")
TESTS = '''
def test_reads_mnist(tfds_dir):
    assert tfds_dir

def test_does_not():
    pass
'''
INI = """[pytest]
addopts = -ra --strict-markers -p no:cacheprovider
markers =
    slow: slow
    needs_mnist: reads MNIST
    multiprocess: fresh Pythons
"""


@pytest.fixture
def project(tmp_path):
    """A project whose tests/ holds this conftest.py and `TESTS` (no shared MNIST beside it)."""
    (tmp_path / "tests").mkdir()
    shutil.copy(CONFTEST, tmp_path / "tests" / "conftest.py")
    (tmp_path / "tests" / "test_two.py").write_text(TESTS)
    (tmp_path / "pytest.ini").write_text(INI)
    return tmp_path


def pytest_in(project, *args, **env):
    environment = {k: v for k, v in os.environ.items() if k not in ("CI", "TFDS_DATA_DIR", "PYTEST_ADDOPTS")}
    environment.update(env)
    return subprocess.run([sys.executable, "-m", "pytest", *args], cwd=project, env=environment,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.multiprocess
def test_without_mnist_the_tests_that_read_it_skip_and_under_ci_the_run_fails(project, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = pytest_in(project, TFDS_DATA_DIR=str(empty))
    assert result.returncode == 0, result.stdout[-2000:]
    assert "1 passed, 1 skipped" in result.stdout
    assert f"SKIPPED [1] tests/test_two.py: real MNIST not found (TFDS_DATA_DIR={empty}; nor in " in result.stdout

    for ci in ("true", "1"):
        failed = pytest_in(project, TFDS_DATA_DIR=str(empty), CI=ci)
        assert failed.returncode == pytest.ExitCode.USAGE_ERROR, failed.stdout[-2000:]
        errors = [line for line in failed.stderr.splitlines() if line.startswith("ERROR: ")]
        assert errors == [
            f"ERROR: TFDS_DATA_DIR={empty} holds no prepared MNIST (no {empty / 'mnist'}): 1 tests need it and "
            "CI is set, so they fail rather than skip; set TFDS_DATA_DIR to a TFDS dir with mnist/3.0.1 "
            f"(this project keeps it in {project.parent / 'shared' / 'data' / 'tensorflow_datasets'})."
        ], failed.stderr[-2000:]
    unset = pytest_in(project, CI="true")
    assert unset.returncode == pytest.ExitCode.USAGE_ERROR
    assert "real MNIST not found (TFDS_DATA_DIR is unset; nor in " in unset.stderr
    # CI=false is not CI.
    assert pytest_in(project, TFDS_DATA_DIR=str(empty), CI="false").returncode == 0


@pytest.mark.multiprocess
def test_needs_mnist_is_on_exactly_the_tests_using_tfds_dir(project, tmp_path):
    fake = tmp_path / "tfds"
    (fake / "mnist").mkdir(parents=True)
    for ci in ({}, {"CI": "true"}):
        result = pytest_in(project, "-m", "needs_mnist", "-v", TFDS_DATA_DIR=str(fake), **ci)
        assert result.returncode == 0, result.stdout[-2000:]
        assert "test_reads_mnist PASSED" in result.stdout and "1 deselected" in result.stdout
    result = pytest_in(project, "-m", "not needs_mnist", "-v", TFDS_DATA_DIR=str(fake))
    assert "test_does_not PASSED" in result.stdout and "1 deselected" in result.stdout
