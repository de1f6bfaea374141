"""Serving a trained generator: SavedModel signatures, TF Serving warm-up, numbered export versions.

Example:

>>> from gan_keras import serving
>>> serving.export(generator, "export/mnist")  # doctest: +SKIP
'export/mnist/1'
"""

from gan_keras.serving.saved_model import (
    DEFAULT_MAX_SAMPLES,
    ExportError,
    export_saved_model,
    serving_functions,
    signature_seed,
)
from gan_keras.serving.versions import existing_versions, export, export_from_model_dir, resolve_version
from gan_keras.serving.warmup import WARMUP_FILE, warmup_inputs, write_warmup_requests

__all__ = [
    "DEFAULT_MAX_SAMPLES",
    "WARMUP_FILE",
    "ExportError",
    "existing_versions",
    "export",
    "export_from_model_dir",
    "export_saved_model",
    "resolve_version",
    "serving_functions",
    "signature_seed",
    "warmup_inputs",
    "write_warmup_requests",
]
