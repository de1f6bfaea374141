"""Training runs: the config and model-dir format, building the GAN, the run loop, checkpoints, restoring.

Example:

>>> from gan_keras.training import TrainConfig, run
>>> run(TrainConfig(model_dir="runs/mnist", epochs=5))  # doctest: +SKIP
"""

from gan_keras.training.build import build_gan, save_generator, write_sample_grid
from gan_keras.training.config import (
    ARCHITECTURE_FIELDS,
    CHECKPOINT_SUBDIR,
    CONFIG_FILE,
    PRESETS,
    ConfigError,
    TrainConfig,
    check_compatible,
    load_config,
)
from gan_keras.training.loop import COLLAPSE_RECOVERIES_TAG, run

__all__ = [
    "ARCHITECTURE_FIELDS",
    "CHECKPOINT_SUBDIR",
    "COLLAPSE_RECOVERIES_TAG",
    "CONFIG_FILE",
    "PRESETS",
    "ConfigError",
    "TrainConfig",
    "build_gan",
    "check_compatible",
    "load_config",
    "run",
    "save_generator",
    "write_sample_grid",
]
