"""gan_keras: the metadata is in pyproject.toml; this file lets `python setup.py ...` and old pips work."""

import setuptools

setuptools.setup()
