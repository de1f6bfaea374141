"""Shared fixtures: the real MNIST copy (offline) and a small trained run.

Markers (declared in pyproject.toml):

- `needs_mnist` is put on every test that uses the `tfds_dir` fixture
  (directly or through another fixture), so it never drifts from what the
  tests read. Without MNIST those tests are skipped with the reason, but
  when the environment variable `CI` is set the run stops at collection with
  one error naming `TFDS_DATA_DIR` and the path looked in: in CI a wrong
  path must not pass as ~150 skips.
- `slow` and `multiprocess` are put on the tests themselves; `pytest -m "not slow"`
  is the quick tier, the full `pytest` what CI runs.
"""

import os
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
_SHARED_TFDS = REPO.parent / "shared" / "data" / "tensorflow_datasets"
MNIST_FIXTURE = "tfds_dir"


def in_ci():
    """Whether the environment variable `CI` is set (to anything but empty, 0 or false)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _has_mnist(path):
    return bool(path) and (pathlib.Path(path) / "mnist").is_dir()


def _tfds_dir():
    """`(path, None)` of the TFDS dir holding MNIST, or `(None, why)`.

    `$TFDS_DATA_DIR` first, then this workspace's shared copy; under CI a
    `$TFDS_DATA_DIR` without MNIST is an error even if the shared copy exists.
    """
    env = os.environ.get("TFDS_DATA_DIR")
    if _has_mnist(env):
        return env, None
    if env and in_ci():
        return None, f"TFDS_DATA_DIR={env} holds no prepared MNIST (no {pathlib.Path(env) / 'mnist'})"
    if _has_mnist(str(_SHARED_TFDS)):
        return str(_SHARED_TFDS), None
    looked = f"TFDS_DATA_DIR={env}" if env else "TFDS_DATA_DIR is unset"
    return None, f"real MNIST not found ({looked}; nor in {_SHARED_TFDS})"


def _advice():
    return f"set TFDS_DATA_DIR to a TFDS dir with mnist/3.0.1 (this project keeps it in {_SHARED_TFDS})"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Marks the tests that read MNIST `needs_mnist`; skips them without it (fails under CI)."""
    needing = [item for item in items if MNIST_FIXTURE in getattr(item, "fixturenames", ())]
    for item in needing:
        item.add_marker(pytest.mark.needs_mnist)
    if not needing:
        return
    path, why = _tfds_dir()
    if path is not None:
        return
    if in_ci():
        raise pytest.UsageError(
            f"{why}: {len(needing)} tests need it and CI is set, so they fail rather than skip; {_advice()}."
        )
    skip = pytest.mark.skip(reason=f"{why}: {_advice()}")
    for item in needing:
        item.add_marker(skip)


@pytest.fixture(scope="session")
def tfds_dir():
    """The TFDS data dir holding MNIST (also put in `$TFDS_DATA_DIR`, for subprocesses)."""
    path, why = _tfds_dir()
    if path is None:  # collection has skipped (or, under CI, refused) the tests that get here
        (pytest.fail if in_ci() else pytest.skip)(f"{why}: {_advice()}")
    os.environ["TFDS_DATA_DIR"] = path
    return path


@pytest.fixture(scope="session")
def trained_run(tfds_dir, tmp_path_factory):
    """A model dir after a short run of the paper preset (2 epochs of 20 steps).

    Shared by the tests that need a trained model dir (export, evaluation,
    figures); they must not modify it.
    """
    from gan_keras.training import TrainConfig, run

    model_dir = tmp_path_factory.mktemp("trained_run")
    config = TrainConfig.preset(
        "paper", model_dir=str(model_dir), data_dir=tfds_dir, epochs=2, steps_per_epoch=20, verbose=0
    )
    gan = run(config)
    return {"model_dir": str(model_dir), "config": config, "gan": gan}


@pytest.fixture(scope="session")
def conditional_run(tfds_dir, tmp_path_factory):
    """A conditional run (`--conditional`, 1 epoch of 10 steps) that logs the classifier metrics.

    Shared by the conditional tests (restore, export, evaluation) and the
    classifier-metrics callback test; they must not modify it.
    """
    from gan_keras.training import TrainConfig, run

    model_dir = str(tmp_path_factory.mktemp("conditional_run"))
    config = TrainConfig(
        model_dir=model_dir, data_dir=tfds_dir, conditional=True, epochs=1, steps_per_epoch=10,
        classifier_metrics_every_epochs=1, classifier_metrics_samples=200, verbose=0,
    )
    return {"model_dir": model_dir, "gan": run(config), "config": config}
