"""Figures 2 and 3 of the paper from a trained model dir.

    gan-keras-figures --model_dir=runs/mnist [--out=DIR]

writes `fig2_samples_nn.png` (samples; the rightmost column is the nearest
training image, L2 in pixel space, of the sample just left of it) and
`fig3_interpolation.png` (G along straight lines between random z's), plus
their TensorBoard image summaries, to `--out` (default:
`MODEL_DIR/logs/figures`, a run `tensorboard --logdir MODEL_DIR/logs` shows).

The generator comes from the newest checkpoint in `MODEL_DIR/checkpoints`
(with `MODEL_DIR/config.json`), else from `MODEL_DIR/generator.keras`.
"""

import os

import numpy as np
import tensorflow as tf

from gan_keras import data as data_lib
from gan_keras import training
from gan_keras.data import images as images_lib
from gan_keras.training import restoring
from gan_keras.utils.cli import first_line

__all__ = [
    "FIG2_FILE",
    "FIG3_FILE",
    "FIGURES_SUBDIR",
    "NEIGHBOUR_GAP",
    "FiguresError",
    "interpolation_grid",
    "nearest_neighbours",
    "samples_with_neighbours",
    "write_figures",
]

FIG2_FILE = "fig2_samples_nn.png"
FIG3_FILE = "fig3_interpolation.png"
FIGURES_SUBDIR = os.path.join("logs", "figures")
# White columns between the samples and their nearest neighbours in Fig. 2.
NEIGHBOUR_GAP = 4


class FiguresError(ValueError):
    """A model dir or dataset the figures cannot be made from; one line."""


def nearest_neighbours(queries, images, chunk_size=10000):
    """The nearest image (L2 in pixel space) of each query, searched in chunks.

    Distances come from `|q|^2 - 2 q.x + |x|^2` with one matmul per chunk of
    `images`, so the memory is `O(len(queries) * chunk_size)`.

    Args:
        queries: float images `[m, h, w, c]` in [0, 1].
        images: uint8 images `[n, h, w, c]` (e.g. `data.load_images(...)`).
        chunk_size: images compared per matmul.

    Returns:
        `(indices, squared_distances)`, NumPy arrays of shape `[m]`.

    Example:

    >>> train = load_images("mnist", "train")  # doctest: +SKIP
    >>> nearest_neighbours(to_float(train[:3]), train)[0]  # doctest: +SKIP
    array([0, 1, 2])
    """
    q = tf.reshape(tf.convert_to_tensor(queries, tf.float32), [len(queries), -1])
    q_norms = tf.reduce_sum(q * q, axis=1, keepdims=True)
    best_dist = tf.fill([len(queries)], np.inf)
    best_index = tf.zeros([len(queries)], tf.int64)
    for start in range(0, len(images), chunk_size):
        x = tf.reshape(data_lib.to_float(images[start : start + chunk_size]), [-1, q.shape[1]])
        dist = q_norms - 2.0 * tf.matmul(q, x, transpose_b=True) + tf.reduce_sum(x * x, axis=1)
        chunk_best = tf.reduce_min(dist, axis=1)
        closer = chunk_best < best_dist
        best_index = tf.where(closer, tf.argmin(dist, axis=1) + start, best_index)
        best_dist = tf.where(closer, chunk_best, best_dist)
    return best_index.numpy(), tf.maximum(best_dist, 0.0).numpy()


def samples_with_neighbours(generator, train_images, rows=8, cols=6, seed=(0, 1)):
    """Fig. 2: `rows` rows of `cols - 1` samples, then the last one's nearest training image.

    Returns a uint8 grid image: the `rows x (cols - 1)` sample grid, a white
    gap of `NEIGHBOUR_GAP` pixels, and the column of neighbours.

    Example:

    >>> samples_with_neighbours(gan.generator, load_images("mnist")).shape  # doctest: +SKIP
    (233, 180, 1)
    """
    if cols < 2:
        raise ValueError(f"Fig. 2 needs cols >= 2 (samples and a neighbour); got {cols}.")
    samples = np.asarray(generator.sample(rows * (cols - 1), seed=tf.constant(seed, tf.int32)))
    row_ends = samples[cols - 2 :: cols - 1]
    indices, _ = nearest_neighbours(row_ends, train_images)
    neighbours = data_lib.to_float(train_images[indices]).numpy()
    left = images_lib.image_grid(samples, rows, cols - 1)
    right = images_lib.image_grid(neighbours, rows, 1)
    gap = np.full((left.shape[0], NEIGHBOUR_GAP, left.shape[2]), 255, np.uint8)
    return np.concatenate([left, gap, right], axis=1)


def interpolation_grid(generator, rows=6, cols=10, seed=(0, 2)):
    """Fig. 3: each row is G along the straight line between two random z's.

    A conditional generator keeps one class per row (row `r`: class
    `r % num_classes`).

    Example:

    >>> interpolation_grid(gan.generator, rows=6, cols=10).shape  # doctest: +SKIP
    (175, 291, 1)
    """
    ends = generator.sample_noise(2 * rows, tf.constant(seed, tf.int32))
    start, end = ends[:rows, None, :], ends[rows:, None, :]
    t = tf.linspace(0.0, 1.0, cols)[None, :, None]
    z = tf.reshape(start + t * (end - start), [rows * cols, -1])
    if generator.num_classes:
        z = (z, tf.repeat(tf.range(rows) % generator.num_classes, cols))
    images = generator(z, training=False)
    return images_lib.image_grid(np.asarray(images), rows, cols)


def _load_train_images(dataset, data_dir):
    try:
        return data_lib.load_images(dataset, "train", data_dir)
    except Exception as e:  # TFDS raises several kinds; report one line.
        raise FiguresError(
            f"cannot load the training images of {dataset!r} "
            f"(data_dir={data_lib.resolve_data_dir(data_dir)}): {first_line(e)}"
        ) from None


def write_figures(model_dir, out_dir=None, data_dir=None, dataset=None, seed=0, train_images=None):
    """Writes Fig. 2 and Fig. 3 of a model dir as PNGs and TensorBoard images.

    Args:
        model_dir: a training run's model dir.
        out_dir: where the PNGs and the event file go (default
            `MODEL_DIR/logs/figures`).
        data_dir, dataset: where the training images are (default: the
            run's `config.json`, else `mnist` from `$TFDS_DATA_DIR`).
        seed: int; picks the samples and the interpolation ends.
        train_images: the training images as uint8, if already loaded.

    Returns:
        `{file name: path}` of the PNGs written.

    Example:

    >>> write_figures("runs/mnist", out_dir="/tmp/figures")  # doctest: +SKIP
    {'fig2_samples_nn.png': '/tmp/figures/fig2_samples_nn.png', ...}
    """
    restored = restoring.load_generator(model_dir)
    generator, step = restored.generator, restored.step or 0
    config = training.load_config(model_dir)
    dataset = dataset or (config.dataset if config else "mnist")
    data_dir = data_dir or (config.data_dir if config else None)
    if train_images is None:
        train_images = _load_train_images(dataset, data_dir)
    if tuple(generator.image_shape) != tuple(train_images.shape[1:]):
        raise FiguresError(
            f"the generator makes {tuple(generator.image_shape)} images but {dataset!r} has "
            f"{tuple(train_images.shape[1:])}; pass the --dataset it was trained on."
        )
    figures = {
        FIG2_FILE: samples_with_neighbours(generator, train_images, seed=(seed, 1)),
        FIG3_FILE: interpolation_grid(generator, seed=(seed, 2)),
    }
    out_dir = out_dir or os.path.join(model_dir, FIGURES_SUBDIR)
    os.makedirs(out_dir, exist_ok=True)
    return _write(figures, out_dir, step)


def _write(figures, out_dir, step):
    writer = tf.summary.create_file_writer(out_dir)
    paths = {}
    with writer.as_default(step=step):
        for name, image in figures.items():
            paths[name] = os.path.join(out_dir, name)
            images_lib.write_png(paths[name], image)
            tf.summary.image(f"figures/{os.path.splitext(name)[0]}", image[None])
    writer.close()
    return paths
