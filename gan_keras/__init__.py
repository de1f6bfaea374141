"""gan_keras: Generative Adversarial Nets (Goodfellow et al., 2014) in Keras 3.

The public API: the networks and the `GAN` model (`gan_keras.nets`), training
runs (`gan_keras.training`), the Parzen protocol and classifier metrics
(`gan_keras.evaluation`) and export for TF Serving (`gan_keras.serving`).
The names of the last three are loaded on first use, so `import gan_keras`
(which registers the Keras classes a saved `generator.keras` needs) stays
light.

Example:

>>> import gan_keras
>>> g = gan_keras.Generator(latent_dim=100, image_shape=(28, 28, 1))
>>> d = gan_keras.Discriminator(image_shape=(28, 28, 1))
>>> gan = gan_keras.GAN(g, d, update="simultaneous", seed=0)
>>> config = gan_keras.TrainConfig.preset("paper", model_dir="runs/paper")
>>> gan_keras.run(config)  # doctest: +SKIP
>>> generator = gan_keras.load_generator("runs/paper").generator  # doctest: +SKIP
>>> gan_keras.evaluate_model_dir("runs/paper")["log_likelihood"]  # doctest: +SKIP
>>> gan_keras.export(generator, "models/gan")  # doctest: +SKIP
"""

import importlib

from gan_keras.nets.gan import GAN
from gan_keras.nets.layers import Maxout
from gan_keras.nets.models import Discriminator, Generator, output_bias_from_mean
from gan_keras.nets.optimizers import (
    LinearMomentum,
    PaperLearningRate,
    ScheduledMomentumSGD,
    paper_optimizer,
)

__version__ = "0.1.0"

# Public names loaded on first use: name -> module.
_LAZY = {
    "PRESETS": "gan_keras.training.config",
    "TrainConfig": "gan_keras.training.config",
    "build_gan": "gan_keras.training.build",
    "run": "gan_keras.training.loop",
    "load_generator": "gan_keras.training.restoring",
    "load_generator_file": "gan_keras.training.restoring",
    "parzen_evaluate": "gan_keras.evaluation.parzen",
    "load_protocol_data": "gan_keras.evaluation.protocol",
    "evaluate_generator": "gan_keras.evaluation.protocol",
    "classifier_metrics": "gan_keras.evaluation.classifier_metrics",
    "ParzenCallback": "gan_keras.evaluation.callbacks",
    "ClassifierMetricsCallback": "gan_keras.evaluation.callbacks",
    "evaluate_model_dir": "gan_keras.cli.evaluate",
    "export": "gan_keras.serving.versions",
    "export_from_model_dir": "gan_keras.serving.versions",
}

__all__ = [
    "GAN",
    "Discriminator",
    "Generator",
    "LinearMomentum",
    "Maxout",
    "PaperLearningRate",
    "ScheduledMomentumSGD",
    "output_bias_from_mean",
    "paper_optimizer",
    *_LAZY,
]


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'gan_keras' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
