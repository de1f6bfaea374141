"""Judging a generator: the Parzen protocol of Table 1, the MNIST classifier and its metrics, callbacks."""

__all__ = []
