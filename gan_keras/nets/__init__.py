"""The networks and their training step: layers, noise, G and D, losses, optimisers, the `GAN` model."""

__all__ = []
