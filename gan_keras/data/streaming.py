"""A folder of images read from disk as training runs: `StreamingData`, and the choice of source.

`StreamingData` is `TrainingData` for a dataset too large for memory: the
same batch order (`datasets.step_indices`, a pure function of `(seed,
step)`), applied to the folder's fixed list of files, which are read and
decoded (`folder.decode`) a batch at a time by parallel tf.data workers. Its
batches are the ones the in-memory source gives for the same folder, and a
resumed run reads exactly the files an unbroken run would have. Memory does
not grow with the number of images.

`folder_training_data` makes the source of a `folder:PATH` run: in memory
when the decoded images fit in `MEMORY_LIMIT_BYTES` (or when asked), else
streamed.

Example:

>>> SOURCES
('auto', 'memory', 'stream')
"""

import dataclasses

import tensorflow as tf

from gan_keras.data import folder
from gan_keras.data.datasets import TrainingData, finish, step_indices, to_float

__all__ = ["MEMORY_LIMIT_BYTES", "SOURCES", "StreamingData", "folder_training_data"]

SOURCES = ("auto", "memory", "stream")
# `--data_source=auto` holds a folder in memory up to this many decoded bytes.
MEMORY_LIMIT_BYTES = 2 * 2**30


@dataclasses.dataclass(frozen=True)
class StreamingData:
    """The images of a `folder.FolderIndex`, streamed from disk in `TrainingData`'s batch order.

    Elements are `[batch_size, k, height, width, channels]` float32 in [0, 1]
    (with `labels`, `(images, labels)` with int32 labels `[batch_size, k]`),
    as `TrainingData` gives them.

    Example:

    >>> index, _ = folder.scan("folder_of_pngs", keep_images=False)  # doctest: +SKIP
    >>> next(iter(StreamingData(index, batch_size=64).dataset(seed=0))).shape  # doctest: +SKIP
    TensorShape([64, 1, 28, 28, 1])
    """

    index: folder.FolderIndex
    batch_size: int
    k: int = 1
    labels: bool = False

    def __len__(self):
        """Examples in one pass over the data."""
        return len(self.index)

    @property
    def steps_per_epoch(self):
        """GAN steps in one pass over the data."""
        return len(self) // (self.k * self.batch_size)

    @property
    def image_shape(self):
        return tuple(self.index.shape)

    def pixel_mean(self):
        """The per-pixel mean image in [0, 1] (for the generator's output bias)."""
        return self.index.pixel_mean()

    def dataset(self, seed, initial_step=0):
        """An endless `tf.data.Dataset` of float32 batches, starting at `initial_step`."""
        paths = tf.constant(self.index.paths())
        labels = tf.constant(self.index.labels, tf.int32) if self.labels else None
        height, width, channels = self.index.shape
        per_step = self.batch_size * self.k

        def read(i):
            return folder.decode(tf.io.read_file(tf.gather(paths, i)), self.index.shape)

        def element(idx, images):
            batch = to_float(tf.reshape(images, [self.batch_size, self.k, height, width, channels]))
            return batch if labels is None else (batch, tf.gather(labels, idx))

        steps = step_indices(seed, len(self.index), self.batch_size, self.k, initial_step)
        images = (
            steps.unbatch()
            .unbatch()
            .map(read, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .batch(per_step, drop_remainder=True)
        )
        return finish(tf.data.Dataset.zip(steps, images).map(element, num_parallel_calls=tf.data.AUTOTUNE))


def folder_training_data(path, batch_size, k=1, labels=False, image_size=0, channels=0, source="auto",
                         run_dir=None):
    """The training data of `--dataset=folder:PATH`: a `TrainingData` (in memory) or `StreamingData`.

    The folder's good files are listed once, when a run starts, and kept as
    `RUN_DIR/data_index.json`: a resumed run (same `run_dir`) reads that
    list, so it sees the same images in the same order even if the folder
    has changed.

    Args:
        path: the folder.
        batch_size, k: as `TrainingData`'s.
        labels: whether elements carry the class labels (the sub-folders).
        image_size, channels: the target size and channels (0: the first image's).
        source: `"memory"`, `"stream"`, or `"auto"`: in memory up to
            `MEMORY_LIMIT_BYTES` of decoded images.
        run_dir: where the file list is kept (None: not kept).

    Raises:
        ValueError: one line, for a folder without usable images, or
            labels asked of a folder without class sub-folders.

    Example:

    >>> data = folder_training_data("folder_of_pngs", batch_size=64, image_size=32)  # doctest: +SKIP
    """
    if source not in SOURCES:
        raise ValueError(f"--data_source={source!r} is not valid; accepted: {', '.join(SOURCES)}.")
    index = folder.read_index(run_dir) if run_dir else None
    images = None
    if index is None:
        files, _, _ = folder.list_images(path)
        shape = folder.first_image_shape(path, files, image_size, channels)
        in_memory = source == "memory" or (
            source == "auto" and len(files) * shape[0] * shape[1] * shape[2] <= MEMORY_LIMIT_BYTES
        )
        index, images = folder.scan(path, image_size, channels, keep_images=in_memory)
        if run_dir:
            folder.write_index(index, run_dir)
    else:
        in_memory = source == "memory" or (source == "auto" and len(index) * index.shape[0] * index.shape[1]
                                           * index.shape[2] <= MEMORY_LIMIT_BYTES)
    if labels and index.labels is None:
        raise ValueError(
            f"--dataset={folder.PREFIX}{path} has no classes: --conditional needs one sub-folder per class."
        )
    if not in_memory:
        return StreamingData(index, batch_size, k, labels=labels)
    if images is None:
        images = folder.load(index)
    return TrainingData(images, batch_size, k, labels=index.labels if labels else None)
