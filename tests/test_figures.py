"""Figures 2 and 3: the neighbour search, the grids, and the command line."""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from tensorboard.backend.event_processing import event_accumulator

from gan_keras import data
from gan_keras.nets.models import Generator
from gan_keras.paper import figures
from gan_keras.training import restoring

# 28x28 MNIST tiles with a 1-pixel border: Fig. 2 is 8 rows of 5 samples, a
# 4-pixel gap and the neighbours; Fig. 3 is 6 rows of 10.
FIG2_SHAPE = (8 * 29 + 1, (5 * 29 + 1) + figures.NEIGHBOUR_GAP + (29 + 1), 1)
FIG3_SHAPE = (6 * 29 + 1, 10 * 29 + 1, 1)


@pytest.fixture(scope="module")
def train_images(tfds_dir):
    return data.load_images("mnist", "train", tfds_dir)


def read_png(path):
    return tf.io.decode_png(tf.io.read_file(str(path))).numpy()


def test_nearest_neighbour_of_a_training_image_is_itself(train_images):
    picks = [0, 6999, 7000, 31415, 49999]  # chunk_size=7000: across chunk boundaries
    queries = data.to_float(train_images[picks]).numpy()
    indices, distances = figures.nearest_neighbours(queries, train_images, chunk_size=7000)
    np.testing.assert_array_equal(train_images[indices], train_images[picks])
    np.testing.assert_allclose(distances, 0.0, atol=1e-3)


def test_nearest_neighbours_match_brute_force(train_images):
    images = train_images[:3000]
    queries = np.random.default_rng(0).uniform(size=(4, 28, 28, 1)).astype(np.float32)
    indices, distances = figures.nearest_neighbours(queries, images, chunk_size=1024)
    pixels = images.reshape(len(images), -1).astype(np.float64) / 255.0
    brute = ((queries.reshape(4, 1, -1) - pixels[None]) ** 2).sum(axis=-1)
    np.testing.assert_array_equal(indices, brute.argmin(axis=1))
    np.testing.assert_allclose(distances, brute.min(axis=1), rtol=1e-4)


def test_interpolation_rows_start_and_end_at_their_random_z():
    generator = Generator(latent_dim=8, image_shape=(28, 28, 1))
    grid = figures.interpolation_grid(generator, rows=2, cols=3, seed=(5, 6))
    assert grid.shape == (2 * 29 + 1, 3 * 29 + 1, 1)
    ends = generator(generator.sample_noise(4, tf.constant([5, 6])))  # rows 0, 1: 0->2, 1->3
    for row, (first, last) in enumerate(((0, 2), (1, 3))):
        y = 1 + row * 29
        for col, end in ((0, first), (2, last)):
            x = 1 + col * 29
            tile = grid[y : y + 28, x : x + 28]
            expected = np.round(np.clip(ends[end].numpy(), 0, 1) * 255)
            np.testing.assert_allclose(tile, expected, atol=1)


def test_write_figures_from_a_checkpoint(trained_run, train_images, tmp_path):
    paths = figures.write_figures(trained_run["model_dir"], out_dir=str(tmp_path), train_images=train_images)
    assert sorted(paths) == [figures.FIG2_FILE, figures.FIG3_FILE]
    fig2, fig3 = read_png(paths[figures.FIG2_FILE]), read_png(paths[figures.FIG3_FILE])
    assert fig2.shape == FIG2_SHAPE and fig3.shape == FIG3_SHAPE
    # The gap between the samples and the neighbour column is white, and each
    # neighbour tile is a training image.
    gap_start = 5 * 29 + 1
    assert np.all(fig2[:, gap_start : gap_start + figures.NEIGHBOUR_GAP] == 255)
    x = gap_start + figures.NEIGHBOUR_GAP + 1
    neighbour = fig2[1 : 1 + 28, x : x + 28]
    assert np.any(np.all(train_images == neighbour, axis=(1, 2, 3)))

    accumulator = event_accumulator.EventAccumulator(
        str(tmp_path), size_guidance={event_accumulator.TENSORS: 0}
    )
    accumulator.Reload()
    step = trained_run["config"].epochs * trained_run["config"].steps_per_epoch
    for name, image in ((figures.FIG2_FILE, fig2), (figures.FIG3_FILE, fig3)):
        (event,) = accumulator.Tensors(f"figures/{os.path.splitext(name)[0]}")
        assert event.step == step
        np.testing.assert_array_equal(tf.io.decode_png(tf.make_ndarray(event.tensor_proto)[2]), image)


def test_model_dir_without_a_model_is_a_one_line_error(tmp_path):
    with pytest.raises(restoring.RestoreError, match="holds no training run") as error:
        figures.write_figures(str(tmp_path), train_images=np.zeros((1, 28, 28, 1), np.uint8))
    assert "\n" not in str(error.value)


@pytest.mark.multiprocess
@pytest.mark.slow
def test_command_line_with_a_bare_generator_keras(trained_run, tfds_dir, tmp_path):
    """The fallback to MODEL_DIR/generator.keras, through `gan-keras-figures`."""
    model_dir = tmp_path / "bare"
    model_dir.mkdir()
    shutil.copy(os.path.join(trained_run["model_dir"], restoring.GENERATOR_FILE), model_dir)
    result = subprocess.run(
        [sys.executable, "-m", "gan_keras.cli.figures", f"--model_dir={model_dir}"],
        env={**os.environ, "TFDS_DATA_DIR": tfds_dir},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out_dir = model_dir / figures.FIGURES_SUBDIR
    assert read_png(out_dir / figures.FIG2_FILE).shape == FIG2_SHAPE
    assert read_png(out_dir / figures.FIG3_FILE).shape == FIG3_SHAPE
    assert any(name.startswith("events.out.tfevents") for name in os.listdir(out_dir))
    assert result.stdout.split() == [str(out_dir / figures.FIG2_FILE), str(out_dir / figures.FIG3_FILE)]
