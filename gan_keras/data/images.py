"""Pictures of samples (grids of images, scatter plots of points) as PNG files."""


import numpy as np
import tensorflow as tf

from gan_keras.utils import storage

__all__ = [
    "image_grid",
    "sample_grid",
    "sample_picture",
    "write_png",
]


def image_grid(images, rows, cols, pad=1):
    """Tiles `rows * cols` images `[n, h, w, c]` in [0, 1] into one uint8 image.

    Example:

    >>> image_grid(np.zeros((6, 28, 28, 1)), rows=2, cols=3).shape
    (59, 88, 1)
    """
    images = np.asarray(images, dtype=np.float32)
    n, h, w, c = images.shape
    if n < rows * cols:
        raise ValueError(f"image_grid needs {rows * cols} images; got {n}.")
    grid = np.ones((rows * (h + pad) + pad, cols * (w + pad) + pad, c), np.float32)
    for i in range(rows * cols):
        r, q = divmod(i, cols)
        y, x = pad + r * (h + pad), pad + q * (w + pad)
        grid[y : y + h, x : x + w] = images[i]
    return np.round(np.clip(grid, 0.0, 1.0) * 255).astype(np.uint8)


def sample_grid(generator, rows, cols, seed):
    """A uint8 `rows x cols` grid of samples drawn from a fixed `[2]` int seed.

    For a conditional generator, one row per class instead (`rows` is its
    `num_classes`), with the same z down each column.

    Example:

    >>> sample_grid(Generator(), 2, 3, seed=(0, 0)).shape  # doctest: +SKIP
    (59, 89, 1)
    """
    seed = tf.constant(seed, tf.int32)
    if generator.num_classes:
        rows = generator.num_classes
        z = tf.tile(generator.sample_noise(cols, seed), [rows, 1])
        samples = generator((z, tf.repeat(tf.range(rows), cols)), training=False)
    else:
        samples = generator.sample(rows * cols, seed=seed)
    return image_grid(np.asarray(samples), rows, cols)


def sample_picture(generator, seed, rows=10, cols=10, num_points=1000):
    """A uint8 picture of G's samples from a fixed `[2]` int seed.

    For images, the `rows x cols` grid of `sample_grid`; for points in R^2
    (`arch="points"`, e.g. `ring8`), a scatter plot of `num_points` samples.

    Example:

    >>> sample_picture(Generator(), seed=(0, 0)).shape  # doctest: +SKIP
    (291, 291, 1)
    """
    if len(generator.image_shape) == 1:
        from gan_keras.data import ring  # matplotlib, only for point data

        samples = generator.sample(num_points, seed=tf.constant(seed, tf.int32))
        return ring.scatter_image(np.asarray(samples))
    return sample_grid(generator, rows, cols, seed)


def write_png(path, image):
    """Writes a uint8 `[h, w, c]` image to `path` atomically (temp file + rename)."""
    with storage.replacing(path) as tmp:
        tf.io.write_file(tmp, tf.io.encode_png(image))
