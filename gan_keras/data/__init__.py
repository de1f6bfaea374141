"""Training data: TFDS image datasets (whole splits in memory) and the ring8 toy.

Example:

>>> from gan_keras import data
>>> data.image_shape("ring8")
(2,)
"""

from gan_keras.data.datasets import (
    TrainingData,
    check_dataset,
    image_shape,
    load_images,
    load_labelled_images,
    num_classes,
    resolve_data_dir,
    split_name,
    to_float,
)
from gan_keras.data.spec import DatasetSpec, describe

__all__ = [
    "DatasetSpec",
    "describe",
    "TrainingData",
    "check_dataset",
    "image_shape",
    "load_images",
    "load_labelled_images",
    "num_classes",
    "resolve_data_dir",
    "split_name",
    "to_float",
]
