"""The docstring examples of every module run as doctests (those marked `+SKIP` need data or a trained run)."""

import doctest
import importlib
import pkgutil

import pytest

import gan_keras

# Benchmark modules define flags at import (which clash if all are imported): only flag-free ones here.
BENCHMARK_MODULES = ["benchmarks.harness", "benchmarks.philox", "benchmarks.time_to_quality_report"]
MODULES = (
    ["gan_keras"]
    + sorted(m.name for m in pkgutil.walk_packages(gan_keras.__path__, "gan_keras."))
    + BENCHMARK_MODULES
)


@pytest.mark.parametrize("name", MODULES)
def test_the_examples_of_a_module_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, report=True)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {name} failed (see the output)"


def test_the_examples_are_many():
    """A guard against a collector that finds nothing: the package documents itself by example."""
    attempted = sum(
        doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS, report=False).attempted
        for name in MODULES
    )
    assert attempted >= 100
