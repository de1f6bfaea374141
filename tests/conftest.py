"""Shared fixtures: the real MNIST copy (offline) and a small trained run."""

import os
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
_SHARED_TFDS = REPO.parent / "shared" / "data" / "tensorflow_datasets"


def _tfds_dir():
    for candidate in (os.environ.get("TFDS_DATA_DIR"), str(_SHARED_TFDS)):
        if candidate and (pathlib.Path(candidate) / "mnist").is_dir():
            return candidate
    return None


@pytest.fixture(scope="session")
def tfds_dir():
    """The TFDS data dir holding MNIST; skips the test if there is none."""
    path = _tfds_dir()
    if path is None:
        pytest.skip(
            "real MNIST not found: set TFDS_DATA_DIR to a TFDS dir with mnist/3.0.1 "
            f"(this project keeps it in {_SHARED_TFDS})"
        )
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
