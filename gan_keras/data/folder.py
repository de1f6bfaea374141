"""A folder of images as a dataset: `--dataset=folder:PATH`.

Every PNG, JPEG, BMP or GIF under `PATH` (searched recursively, in sorted
order) is one training image. If every image lies in a first-level
sub-folder and there are at least two of them, the sub-folders are the
classes (sorted by name), which gives the labels of `--conditional`.

Each image is decoded, converted to the run's channels (1: grayscale, 3:
RGB; an alpha channel is dropped and palette images are expanded), resized
so that it covers the target size with its aspect ratio kept, and cropped
at the centre. The target is `--image_size` (square), or the first image's
own size; the channels are `--image_channels`, or the first image's (1 for
grayscale, 3 otherwise). The same TensorFlow ops decode an image whether the
run holds the folder in memory or streams it from disk, so both see the
same pixels.

A file that cannot be decoded is skipped with a warning that names it, and
the skipped files are counted (`FolderIndex.skipped`). The list of good
files is fixed when a run starts (`write_index`/`read_index` keep it in the
run's directory), so a resumed run reads the same files in the same order
even if the folder has changed since.

Example:

>>> is_folder("folder:/data/faces"), folder_path("folder:/data/faces")
(True, '/data/faces')
>>> is_folder("mnist")
False
"""

import concurrent.futures
import dataclasses
import json
import os
import re
import sys

import numpy as np
import tensorflow as tf

from gan_keras.utils import storage

__all__ = [
    "EXTENSIONS",
    "INDEX_FILE",
    "PREFIX",
    "FolderIndex",
    "decode",
    "first_image_shape",
    "folder_path",
    "is_folder",
    "list_images",
    "load",
    "read_index",
    "scan",
    "write_index",
]

PREFIX = "folder:"
EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
# The file in a run's directory that fixes the run's list of images.
INDEX_FILE = "data_index.json"
_THREADS = max(2, os.cpu_count() or 1)


def is_folder(name):
    """Whether a `--dataset` value names a folder of images (`folder:PATH`)."""
    return str(name).startswith(PREFIX)


def folder_path(name):
    """The directory of a `folder:PATH` dataset name."""
    return str(name)[len(PREFIX) :]


def _flag(path):
    return f"--dataset={PREFIX}{path}"


def list_images(path):
    """`(files, labels, class_names)` of a folder: sorted paths relative to `path`.

    `labels` is an int array `[n]` and `class_names` a tuple when the images
    are in class sub-folders; otherwise `None` and `()`.

    Raises:
        ValueError: one line, if `path` is not a directory or holds no images.

    Example:

    >>> list_images("/no/such/dir")
    Traceback (most recent call last):
    ...
    ValueError: --dataset=folder:/no/such/dir: not a directory.
    """
    if not os.path.isdir(path):
        raise ValueError(f"{_flag(path)}: not a directory.")
    files = []
    for root, dirs, names in os.walk(path):
        dirs.sort()
        for name in sorted(names):
            if name.lower().endswith(EXTENSIONS) and not name.startswith("."):
                files.append(os.path.relpath(os.path.join(root, name), path))
    if not files:
        raise ValueError(f"{_flag(path)}: no images ({', '.join(EXTENSIONS)}) under it.")
    files.sort()
    tops = [f.split(os.sep)[0] for f in files]
    classes = sorted(set(tops))
    if all(os.sep in f for f in files) and len(classes) >= 2:
        number = {name: i for i, name in enumerate(classes)}
        return tuple(files), np.array([number[t] for t in tops], np.int64), tuple(classes)
    return tuple(files), None, ()


def first_image_shape(path, files, image_size=0, channels=0):
    """`(height, width, channels)` of the run: the flags, or where 0, the first image's.

    Raises:
        ValueError: one line naming the file, if the first image cannot be decoded.
    """
    if image_size and channels:
        return (int(image_size), int(image_size), int(channels))
    name = os.path.join(path, files[0])
    try:
        shape = tf.io.decode_image(tf.io.read_file(name), expand_animations=False).shape
    except (tf.errors.InvalidArgumentError, tf.errors.NotFoundError) as e:
        raise ValueError(
            f"{_flag(path)}: the first image {name} cannot be decoded ({_reason(e)}); "
            "give --image_size and --image_channels, or remove the file."
        ) from None
    height, width = (image_size, image_size) if image_size else (int(shape[0]), int(shape[1]))
    return (int(height), int(width), int(channels) or (1 if shape[-1] in (1, 2) else 3))


def decode(contents, shape):
    """One encoded image (a string tensor) as uint8 `shape` (`(height, width, channels)`).

    Drops an alpha channel, converts grayscale/colour to `shape[2]` channels,
    scales the image to cover `shape[:2]` with its aspect ratio kept
    (antialiased bilinear) and crops the centre. Works in graphs (tf.data)
    and eagerly.

    Example:

    >>> png = tf.io.encode_png(tf.zeros([40, 60, 4], tf.uint8))
    >>> decode(png, (32, 32, 3)).shape
    TensorShape([32, 32, 3])
    """
    height, width, channels = (int(d) for d in shape)
    image = tf.io.decode_image(contents, expand_animations=False)
    have = tf.shape(image)[-1]
    if channels == 1:
        image = tf.cond(
            have >= 3, lambda: tf.image.rgb_to_grayscale(image[..., :3]), lambda: image[..., :1]
        )
    else:
        image = tf.cond(
            have >= 3, lambda: image[..., :3], lambda: tf.image.grayscale_to_rgb(image[..., :1])
        )
    size = tf.cast(tf.shape(image)[:2], tf.float64)
    target = tf.constant([height, width], tf.float64)
    scaled = tf.cast(tf.math.ceil(size * tf.reduce_max(target / size) - 1e-6), tf.int32)
    scaled = tf.maximum(scaled, [height, width])

    def resize():
        resized = tf.image.resize(image, scaled, method="bilinear", antialias=True)
        return tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8)

    image = tf.cond(tf.reduce_all(tf.shape(image)[:2] == scaled), lambda: image, resize)
    top = (scaled[0] - height) // 2
    left = (scaled[1] - width) // 2
    return tf.ensure_shape(image[top : top + height, left : left + width], [height, width, channels])


@dataclasses.dataclass(frozen=True)
class FolderIndex:
    """The good images of a folder: paths relative to `root`, labels, the pixel sum, skips.

    `pixel_sum` is the exact int64 sum over the images (for the mean image
    that initialises G's output bias); `skipped` lists the files that could
    not be decoded.
    """

    root: str
    shape: tuple
    files: tuple
    labels: np.ndarray = None
    class_names: tuple = ()
    pixel_sum: np.ndarray = None
    skipped: tuple = ()

    def __len__(self):
        return len(self.files)

    def paths(self):
        """The absolute path of every image."""
        return [os.path.join(self.root, f) for f in self.files]

    def pixel_mean(self):
        """The per-pixel mean image in [0, 1], as float64 `shape`."""
        return self.pixel_sum / len(self.files) / 255.0


_DECODERS = {}


def _decoder(shape):
    if shape not in _DECODERS:
        _DECODERS[shape] = tf.function(lambda contents: decode(contents, shape), reduce_retracing=True)
    return _DECODERS[shape]


def _decode_file(root, name, shape):
    """The uint8 image of one file, or the reason it cannot be decoded."""
    try:
        return _decoder(shape)(tf.io.read_file(os.path.join(root, name))).numpy()
    except (tf.errors.InvalidArgumentError, tf.errors.NotFoundError, tf.errors.UnknownError) as e:
        return _reason(e)


def _reason(error):
    """The first line of a TensorFlow error, without its graph-function prefix."""
    line = (error.message or type(error).__name__).splitlines()[0]
    return re.sub(r"^\{\{function_node [^}]*\}\}\s*", "", line)


def _decode_all(root, files, shape, chunk=1024):
    """Each file's image (or why it cannot be decoded), in order, decoded by parallel threads a chunk at a time.

    Chunks keep the pending work, and so memory, bounded whatever the number of files.
    """
    with concurrent.futures.ThreadPoolExecutor(_THREADS) as pool:
        for start in range(0, len(files), chunk):
            yield from pool.map(lambda f: _decode_file(root, f, shape), files[start : start + chunk])


def scan(path, image_size=0, channels=0, keep_images=True):
    """Decodes every image of a folder once: `(FolderIndex, images or None)`.

    With `keep_images`, the decoded uint8 images `[n, h, w, c]` are returned
    too (the in-memory source); without, only the index (streaming: memory
    does not grow with the folder). Unreadable files are skipped, each with
    a warning on stderr naming it.

    Example:

    >>> index, images = scan("folder_of_pngs", image_size=32)  # doctest: +SKIP
    >>> images.shape  # doctest: +SKIP
    (1000, 32, 32, 1)
    """
    files, labels, class_names = list_images(path)
    shape = first_image_shape(path, files, image_size, channels)
    good, kept, skipped = [], [], []
    total = np.zeros(shape, np.int64)
    for i, image in enumerate(_decode_all(path, files, shape)):
        if isinstance(image, str):
            print(f"warning: {_flag(path)}: skipping {os.path.join(path, files[i])}: {image}", file=sys.stderr)
            skipped.append(files[i])
            continue
        good.append(i)
        total += image
        if keep_images:
            kept.append(image)
    if not good:
        raise ValueError(f"{_flag(path)}: none of its {len(files)} image files can be decoded.")
    if skipped:
        print(f"warning: {_flag(path)}: skipped {len(skipped)} of {len(files)} files that cannot be decoded.",
              file=sys.stderr)
    index = FolderIndex(
        root=path,
        shape=shape,
        files=tuple(files[i] for i in good),
        labels=None if labels is None else labels[good],
        class_names=class_names,
        pixel_sum=total,
        skipped=tuple(skipped),
    )
    return index, (np.stack(kept) if keep_images else None)


def load(index):
    """The uint8 images `[n, h, w, c]` of an index's files (the in-memory source of a resumed run).

    Raises:
        ValueError: one line naming the file, if one of them can no longer be decoded.
    """
    images = np.empty((len(index), *index.shape), np.uint8)
    for i, image in enumerate(_decode_all(index.root, index.files, index.shape)):
        if isinstance(image, str):
            raise ValueError(
                f"{_flag(index.root)}: {os.path.join(index.root, index.files[i])}, one of this run's "
                f"images, cannot be decoded any more ({image}); restore it or start a new run."
            )
        images[i] = image
    return images


def write_index(index, directory):
    """Writes `index` as `DIRECTORY/data_index.json` atomically (`read_index` reads it)."""
    storage.write_json(
        os.path.join(directory, INDEX_FILE),
        {
            "root": index.root,
            "shape": list(index.shape),
            "files": list(index.files),
            "labels": None if index.labels is None else index.labels.tolist(),
            "class_names": list(index.class_names),
            "pixel_sum": index.pixel_sum.reshape(-1).tolist(),
            "skipped": list(index.skipped),
        },
        indent=None,
    )


def read_index(directory):
    """The `FolderIndex` a run saved in `directory`, or None if it has none."""
    path = os.path.join(directory, INDEX_FILE)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        values = json.load(f)
    shape = tuple(values["shape"])
    return FolderIndex(
        root=values["root"],
        shape=shape,
        files=tuple(values["files"]),
        labels=None if values["labels"] is None else np.array(values["labels"], np.int64),
        class_names=tuple(values["class_names"]),
        pixel_sum=np.array(values["pixel_sum"], np.int64).reshape(shape),
        skipped=tuple(values["skipped"]),
    )
