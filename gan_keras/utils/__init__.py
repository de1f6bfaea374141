"""Helpers with no knowledge of GANs: one-line CLI errors, atomic writes, run-dir locks, periodic callbacks."""

__all__ = []
