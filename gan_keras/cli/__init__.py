"""The command-line programs (console scripts `gan-keras-*`); `train.py` and `export.py` call these."""

__all__ = []
