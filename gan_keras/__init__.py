"""gan_keras: Generative Adversarial Nets (Goodfellow et al., 2014) in Keras 3.

Example:

>>> import gan_keras
>>> g = gan_keras.Generator(latent_dim=100, image_shape=(28, 28, 1))
>>> d = gan_keras.Discriminator(image_shape=(28, 28, 1))
>>> gan = gan_keras.GAN(g, d, update="simultaneous", seed=0)
"""

from gan_keras.gan import GAN
from gan_keras.layers import Maxout
from gan_keras.models import Discriminator, Generator, output_bias_from_mean
from gan_keras.optimizers import (
    LinearMomentum,
    PaperLearningRate,
    ScheduledMomentumSGD,
    paper_optimizer,
)

__version__ = "0.1.0"

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
]
