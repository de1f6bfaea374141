"""Speed and reproduction benchmarks: run each from the repository root as `python -m benchmarks.NAME`.

Their results files (`benchmarks/*.json`) sit next to the scripts; `harness`
holds what the scripts share.
"""
