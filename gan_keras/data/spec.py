"""What a run needs to know of its dataset, read once from the metadata: `DatasetSpec`.

`describe(name, data_dir)` opens one TFDS builder (nothing is downloaded or
decoded) and returns the image shape, the number of classes, the splits of
the three roles and where the data come from. The config's checks, the model
construction and the loaders all take their facts from it, so a dataset is
described in one place.

Example:

>>> spec = describe("ring8")
>>> spec.shape, spec.num_classes, spec.source
((2,), 8, 'synthetic')
>>> spec.split("validation")
'validation'
"""

import dataclasses
import functools
import os

import tensorflow_datasets as tfds

from gan_keras.data import folder, ring

__all__ = [
    "ROLES",
    "DatasetSpec",
    "describe",
    "splits",
    "resolve_data_dir",
]

ROLES = ("train", "validation", "test")
# MNIST's training split is cut as in the authors' code: the first 50,000
# images train, the last 10,000 are the validation set of the Parzen protocol.
_SPLITS = {
    "mnist": {"train": "train[:50000]", "validation": "train[50000:]", "test": "test"},
}
_DEFAULT_SPLITS = {"train": "train", "validation": "validation", "test": "test"}
# Datasets made here rather than read from TFDS: name -> module with
# `load_split(role)` and `NUM_CLASSES`.
SYNTHETIC = {ring.NAME: ring}


def splits(name):
    """`((role, split), ...)`: the split each role of `ROLES` reads from dataset `name`.

    Example:

    >>> dict(splits("mnist"))["validation"]
    'train[50000:]'
    """
    return tuple(_SPLITS.get(name, _DEFAULT_SPLITS).items())


def resolve_data_dir(data_dir=None):
    """`data_dir` if given, else `$TFDS_DATA_DIR`, else TFDS's default (None)."""
    return data_dir or os.environ.get("TFDS_DATA_DIR") or None


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """A dataset's facts: `shape` of one example, `num_classes` (0: no labels), splits, source.

    Example:

    >>> describe("mnist").shape  # doctest: +SKIP
    (28, 28, 1)
    """

    name: str
    shape: tuple
    num_classes: int
    splits: tuple  # ((role, split), ...) for ROLES
    source: str  # "tfds", "synthetic" or "folder"
    data_dir: str = None

    def split(self, role):
        """The split read for `role` (`"train"`, `"validation"` or `"test"`).

        Raises:
            ValueError: one line, for a role the dataset does not have (a
                folder of images has training images only).
        """
        roles = dict(self.splits)
        if role not in roles:
            raise ValueError(
                f"dataset {self.name!r} has no {role} images (a folder of images is a training set only); "
                f"it has: {', '.join(roles)}."
            )
        return roles[role]

    def require_labels(self):
        """`num_classes`; a `ValueError` naming the dataset if it has no class labels."""
        if not self.num_classes:
            where = "one sub-folder per class" if self.source == "folder" else "a 'label' ClassLabel feature"
            raise ValueError(f"dataset {self.name!r} has no class labels ({where}).")
        return self.num_classes


def describe(name, data_dir=None, image_size=0, channels=0, run_dir=None):
    """The `DatasetSpec` of `name` (a TFDS image dataset, `ring8` or `folder:PATH`), from its metadata only.

    A folder's shape is `image_size` square with `channels` channels, or
    where 0 the first image's; its classes are its sub-folders (see
    `gan_keras.data.folder`). A run that has started keeps its folder's
    facts in `run_dir` (`folder.INDEX_FILE`), which are then used instead:
    the folder itself need not be there to restore or export the run.

    Raises:
        ValueError: one line, if `name` is not a TFDS dataset or has no
            `image` feature, or is a folder without usable images.
    """
    if folder.is_folder(name):
        index = folder.read_index(run_dir) if run_dir else None
        if index is not None:
            classes = len(index.class_names) if index.labels is not None else 0
            return DatasetSpec(name, tuple(index.shape), classes, (("train", "train"),), "folder")
        return _describe_folder(name, int(image_size), int(channels))
    if image_size or channels:
        raise ValueError(
            f"--image_size and --image_channels are for --dataset={folder.PREFIX}PATH; {name!r} has its own shape "
            "(use 0)."
        )
    return _describe(name, resolve_data_dir(data_dir))


@functools.lru_cache(maxsize=64)  # a folder's listing is read once per process
def _describe_folder(name, image_size, channels):
    path = folder.folder_path(name)
    files, labels, class_names = folder.list_images(path)
    shape = folder.first_image_shape(path, files, image_size, channels)
    return DatasetSpec(name, shape, len(class_names) if labels is not None else 0, (("train", "train"),), "folder")


@functools.lru_cache(maxsize=64)  # metadata do not change while a process runs
def _describe(name, data_dir):
    roles = splits(name)
    if name in SYNTHETIC:
        source = SYNTHETIC[name]
        shape = tuple(source.load_split("validation").shape[1:])
        return DatasetSpec(name, shape, source.NUM_CLASSES, roles, "synthetic", data_dir)
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except ValueError:  # DatasetNotFoundError, or a name TFDS cannot parse ("", "mnist/")
        raise ValueError(
            f"dataset {name!r} is not a TFDS dataset; accepted: a TFDS image dataset "
            "(e.g. mnist, fashion_mnist, cifar10; see tfds.list_builders())."
        ) from None
    features = builder.info.features
    if "image" not in features:
        raise ValueError(f"dataset {name!r} has no 'image' feature; pick an image dataset.")
    label = features["label"] if "label" in features else None
    classes = int(label.num_classes) if isinstance(label, tfds.features.ClassLabel) else 0
    shape = tuple(int(d) for d in features["image"].shape)
    return DatasetSpec(name, shape, classes, roles, "tfds", data_dir)
