"""Image datasets from TFDS (and the `ring8` toy), in memory, in an order fixed by the seed.

The order of training batches is a pure function of `(seed, step)`: the
permutation of epoch `e` is drawn from the stateless seed `[seed, e]`. A run
resumed at global step `s` therefore sees exactly the batches an unbroken run
would have seen from step `s` on, with no input-pipeline state to checkpoint.

Datasets are loaded into memory as uint8 (MNIST: 39 MB; CIFAR-10: 150 MB) and
converted to float32 in [0, 1] a batch at a time. `ring8` (`gan_keras.data.ring`)
is not from TFDS: its points in R^2 are float32 drawn from fixed seeds.

Decoded TFDS splits are kept in memory for the life of the process (MNIST's
50,000 training images take seconds to decode, and evaluation, figures and
each training run of one process read them again; a split's labels are
decoded with its images): `load_images` and
`load_labelled_images` return fresh copies of the cached arrays, so a caller
that changes its array changes nothing for the next one. `clear_cache()`
drops them (e.g. after `tfds.testing.mock_data`, whose fake splits are cached
like real ones under the data dir they were read from).
"""

import dataclasses
import os
import threading

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from gan_keras.data import folder
from gan_keras.data.spec import SYNTHETIC as _SYNTHETIC
from gan_keras.data.spec import describe, resolve_data_dir, splits

__all__ = [
    "TrainingData",
    "check_dataset",
    "clear_cache",
    "image_shape",
    "load_images",
    "load_labelled_images",
    "num_classes",
    "resolve_data_dir",
    "finish",
    "split_name",
    "step_indices",
    "to_float",
]

def split_name(dataset, role):
    """The TFDS split for `role` (`"train"`, `"validation"`, `"test"`) of `dataset`.

    Example:

    >>> split_name("mnist", "validation")
    'train[50000:]'
    """
    return dict(splits(dataset))[role]


def check_dataset(name, data_dir=None):
    """Raises `ValueError` unless `name` is a TFDS dataset with an `image` feature; returns its `DatasetSpec`.

    Only the metadata is read; nothing is downloaded. The synthetic `ring8`
    is accepted too.
    """
    return describe(name, data_dir)


def image_shape(name, data_dir=None):
    """`(height, width, channels)` of a TFDS image dataset, from its metadata only.

    Example:

    >>> image_shape("mnist")  # doctest: +SKIP
    (28, 28, 1)
    >>> image_shape("ring8")
    (2,)
    """
    return describe(name, data_dir).shape


def num_classes(name, data_dir=None):
    """The number of classes of a dataset's `label` feature, from its metadata.

    Raises `ValueError` if it has no class labels. (`ring8`'s labels are
    the modes: 8 classes.)

    Example:

    >>> num_classes("mnist")  # doctest: +SKIP
    10
    """
    return describe(name, data_dir).require_labels()


def load_images(name, role="train", data_dir=None):
    """All images of a split as a uint8 NumPy array `[n, height, width, channels]`.

    Example:

    >>> load_images("mnist", "test").shape  # doctest: +SKIP
    (10000, 28, 28, 1)

    For `ring8`, float32 points `[n, 2]` instead; for `folder:PATH`, its
    images at the first image's size (training images only).
    """
    if folder.is_folder(name):
        return _folder_split(name, role, data_dir)[0]
    if name in _SYNTHETIC:
        return _SYNTHETIC[name].load_split(role)
    return _load_features(name, role, data_dir, ("image",))[0]


def load_labelled_images(name, role="train", data_dir=None):
    """`(images, labels)` of a split: uint8 `[n, height, width, channels]` and int64 `[n]`.

    Example:

    >>> images, labels = load_labelled_images("mnist", "test")  # doctest: +SKIP
    >>> labels[:3]  # doctest: +SKIP
    array([2, 0, 4])
    """
    num_classes(name, data_dir)  # a clear error if there are no labels
    if folder.is_folder(name):
        return _folder_split(name, role, data_dir)
    if name in _SYNTHETIC:
        return _SYNTHETIC[name].load_split(role, with_labels=True)
    return _load_features(name, role, data_dir, ("image", "label"))


def _folder_split(name, role, data_dir):
    """`(images, labels)` of a folder's training images (a one-line error for another role)."""
    describe(name, data_dir).split(role)
    index, images = folder.scan(folder.folder_path(name))
    return images, index.labels


# (name, split, resolved data dir, feature keys) -> tuple of read-only arrays.
_CACHE = {}
_CACHE_LOCK = threading.Lock()


def clear_cache():
    """Forgets every decoded split; the next load reads TFDS again."""
    with _CACHE_LOCK:
        _CACHE.clear()


def _cache_key(name, role, data_dir, keys):
    """What identifies a decoded split: the dataset, its split, the data dir as a real path, the features."""
    where = os.path.realpath(os.path.expanduser(data_dir)) if data_dir else None
    return (name, split_name(name, role), where, tuple(keys))


def _cached(key):
    """The cached arrays of `key` (or of a superset of its features), or None."""
    name, split, where, keys = key
    with _CACHE_LOCK:
        for (n, s, w, have), arrays in _CACHE.items():
            if (n, s, w) == (name, split, where) and set(keys) <= set(have):
                return tuple(arrays[have.index(k)] for k in keys)
    return None


def _load_features(name, role, data_dir, keys):
    """The NumPy arrays of the features `keys` of a TFDS split, in one pass; copies of the cached ones."""
    data_dir = resolve_data_dir(data_dir)
    arrays = _cached(_cache_key(name, role, data_dir, keys))
    if arrays is None:
        decoded = _decode_features(name, role, data_dir, keys)
        for array in decoded.values():
            array.flags.writeable = False  # the cache's own copy: only ever copied out
        with _CACHE_LOCK:
            _CACHE[_cache_key(name, role, data_dir, tuple(decoded))] = tuple(decoded.values())
        arrays = tuple(decoded[key] for key in keys)
    return tuple(np.array(array, copy=True) for array in arrays)


def _decode_features(name, role, data_dir, keys):
    """`{feature: array}` of a TFDS split: `keys`, and its labels too if it has them (for a later call)."""
    try:
        dataset = tfds.load(name, split=split_name(name, role), data_dir=data_dir, download=False)
    except AssertionError:  # TFDS's way of saying the data is not prepared there
        raise ValueError(
            f"dataset {name!r} is not prepared in {data_dir or '~/tensorflow_datasets'}; "
            f"prepare it (tfds build {name}, needs internet) or point --data_dir at it."
        ) from None
    keys = tuple(keys) + tuple(k for k in ("label",) if k not in keys and k in dataset.element_spec)
    # Big batches rather than batch_size=-1, which crashes on datasets of
    # unknown length (as tfds.testing.mock_data makes them).
    batches = list(tfds.as_numpy(dataset.map(lambda ex: tuple(ex[key] for key in keys)).batch(10_000)))
    return {key: np.concatenate([batch[i] for batch in batches]) for i, key in enumerate(keys)}


def to_float(images):
    """uint8 images to float32 in [0, 1]; float data (points) just to float32."""
    if tf.as_dtype(images.dtype) == tf.uint8:
        return tf.cast(images, tf.float32) / 255.0
    return tf.cast(images, tf.float32)


@dataclasses.dataclass(frozen=True)
class TrainingData:
    """Training images in memory and how they are cut into batches.

    Each element of `dataset(...)` holds the `k` real minibatches of one GAN
    step, shaped `[batch_size, k, height, width, channels]`: minibatch `i` is
    `element[:, i]`. The batch axis comes first so that `tf.distribute`
    splits every minibatch across replicas, and N replicas see the same
    minibatches as one device. Incomplete batches at the end of an epoch are
    dropped. With `labels` (for a conditional GAN), elements are
    `(images, labels)` with int32 labels `[batch_size, k]`.
    """

    images: np.ndarray
    batch_size: int
    k: int = 1
    labels: np.ndarray = None

    def __len__(self):
        """Examples in one pass over the data."""
        return len(self.images)

    @property
    def steps_per_epoch(self):
        """GAN steps in one pass over the data."""
        return len(self) // (self.k * self.batch_size)

    @property
    def image_shape(self):
        return tuple(self.images.shape[1:])

    def pixel_mean(self):
        """The per-pixel mean image in [0, 1] (for the generator's output bias); None for points."""
        if self.images.dtype != np.uint8:
            return None
        return self.images.mean(axis=0, dtype=np.float64) / 255.0

    def dataset(self, seed, initial_step=0):
        """An endless `tf.data.Dataset` of float32 batches, starting at `initial_step`.

        Example:

        >>> data = TrainingData(load_images("mnist"), batch_size=100)  # doctest: +SKIP
        >>> next(iter(data.dataset(seed=0))).shape  # doctest: +SKIP
        TensorShape([100, 1, 28, 28, 1])
        """
        images = tf.constant(self.images)
        labels = None if self.labels is None else tf.constant(self.labels, tf.int32)

        def element(idx):
            batch = to_float(tf.gather(images, idx))
            return batch if labels is None else (batch, tf.gather(labels, idx))

        steps = step_indices(seed, len(self.images), self.batch_size, self.k, initial_step)
        return finish(steps.map(element, num_parallel_calls=tf.data.AUTOTUNE))


def step_indices(seed, n, batch_size, k, initial_step=0):
    """The endless `tf.data.Dataset` of each step's example indices, int `[batch_size, k]`, from `initial_step`.

    Epoch `e` is the permutation drawn from the stateless seed `[seed, e]`,
    cut into `n // (batch_size * k)` steps (the rest is dropped): a pure
    function of `(seed, step)`, whatever holds the examples.

    Example:

    >>> next(iter(step_indices(0, 10, batch_size=2, k=1))).shape
    TensorShape([2, 1])
    """
    per_step = k * batch_size
    steps = n // per_step
    if steps < 1:
        raise ValueError(f"batch_size * k = {per_step} exceeds the {n} training images.")
    first_epoch, offset = divmod(int(initial_step), steps)

    def epoch_batches(epoch):
        keys = tf.random.stateless_uniform([n], seed=tf.stack([tf.cast(seed, tf.int64), epoch]))
        order = tf.argsort(keys)[: steps * per_step]
        return tf.data.Dataset.from_tensor_slices(tf.reshape(order, [steps, batch_size, k]))

    return tf.data.Dataset.range(first_epoch, tf.int64.max).flat_map(epoch_batches).skip(offset)


def finish(dataset):
    """Prefetches a training dataset and sets its sharding for `tf.distribute`.

    Under multi-worker training, every worker takes its slice of each global
    batch (the source is random-access: there are no files to shard).
    """
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.prefetch(tf.data.AUTOTUNE).with_options(options)
