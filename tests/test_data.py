"""TFDS loading and the order of training batches."""

import numpy as np
import pytest

from gan_keras import data as data_lib
from gan_keras.data import datasets


@pytest.fixture(scope="module")
def numbered():
    """240 tiny images, image i filled with the value i: batches show their indices."""
    images = np.arange(240, dtype=np.uint8)[:, None, None, None] * np.ones((1, 2, 2, 1), np.uint8)
    return data_lib.TrainingData(images, batch_size=10, k=3)


def indices(batch):
    """The image indices of a step, minibatch by minibatch."""
    values = np.asarray(batch)[..., 0, 0, 0] * 255  # [m, k]
    return [int(round(v)) for v in values.T.reshape(-1)]


def take(dataset, n):
    return [indices(b) for b in dataset.take(n)]


def test_mnist_splits_are_the_papers(tfds_dir):
    train = data_lib.load_images("mnist", "train", tfds_dir)
    valid = data_lib.load_images("mnist", "validation", tfds_dir)
    assert train.shape == (50000, 28, 28, 1) and valid.shape == (10000, 28, 28, 1)
    assert train.dtype == np.uint8
    assert data_lib.split_name("mnist", "validation") == "train[50000:]"


def test_batches_are_floats_in_unit_range(tfds_dir):
    data = data_lib.TrainingData(data_lib.load_images("mnist", "train", tfds_dir), 100)
    batch = next(iter(data.dataset(seed=0)))
    assert batch.shape == (100, 1, 28, 28, 1) and batch.dtype.name == "float32"
    assert 0.0 <= float(np.min(batch)) and float(np.max(batch)) <= 1.0
    assert data.steps_per_epoch == 500


def test_each_step_holds_k_distinct_minibatches_and_epochs_are_permutations(numbered):
    assert numbered.steps_per_epoch == 8
    epoch = take(numbered.dataset(seed=0), 8)
    seen = [i for step in epoch for i in step]
    assert len(seen) == len(set(seen)) == 240
    assert all(len(step) == 30 for step in epoch)
    next_epoch = take(numbered.dataset(seed=0, initial_step=8), 8)
    assert sorted(i for step in next_epoch for i in step) == list(range(240))
    assert next_epoch != epoch


def test_order_is_a_function_of_seed_and_step(numbered):
    run = take(numbered.dataset(seed=7), 20)
    assert take(numbered.dataset(seed=7), 20) == run
    assert take(numbered.dataset(seed=8), 20) != run
    # Resuming at step 11 continues exactly where an unbroken run is.
    assert take(numbered.dataset(seed=7, initial_step=11), 9) == run[11:]


def test_unknown_and_non_image_datasets_are_refused(tfds_dir):
    with pytest.raises(ValueError, match="not a TFDS dataset"):
        data_lib.check_dataset("no_such_dataset", tfds_dir)
    with pytest.raises(ValueError, match="no 'image' feature"):
        data_lib.check_dataset("imdb_reviews", tfds_dir)


def test_too_large_a_batch_is_refused(numbered):
    with pytest.raises(ValueError, match="exceeds the 240 training images"):
        data_lib.TrainingData(numbered.images, batch_size=100, k=3).dataset(seed=0)


@pytest.fixture
def counted_loads(monkeypatch):
    """The number of times TFDS is asked to read a split (the real `tfds.load`, counted)."""
    import tensorflow_datasets as tfds

    calls = []
    real = tfds.load

    def load(*args, **kwargs):
        calls.append(kwargs.get("split"))
        return real(*args, **kwargs)

    monkeypatch.setattr(tfds, "load", load)
    return calls


def test_a_split_is_decoded_once_per_process_and_callers_get_their_own_copy(tfds_dir, tmp_path, monkeypatch,
                                                                            counted_loads):
    datasets.clear_cache()
    first = data_lib.load_images("mnist", "test", tfds_dir)
    assert counted_loads == ["test"]
    first[:10] = 0  # a caller changing its array changes nothing for the next one
    again = data_lib.load_images("mnist", "test", tfds_dir)
    assert counted_loads == ["test"] and again is not first and again.flags.writeable
    assert again[:10].any()
    # The same data dir however it is named: $TFDS_DATA_DIR, a trailing slash, a symlink.
    link = tmp_path / "link"
    link.symlink_to(tfds_dir)
    monkeypatch.setenv("TFDS_DATA_DIR", tfds_dir)
    for same in (None, tfds_dir + "/", str(link)):
        np.testing.assert_array_equal(data_lib.load_images("mnist", "test", same), again)
    # The labels were decoded with the images: the labelled load reads nothing more.
    images, labels = data_lib.load_labelled_images("mnist", "test", tfds_dir)
    np.testing.assert_array_equal(images, again)
    assert labels.shape == (10_000,) and sorted(set(labels)) == list(range(10)) and counted_loads == ["test"]
    images[0] = 1
    labels[:] = -1
    again_images, again_labels = data_lib.load_labelled_images("mnist", "test", tfds_dir)
    assert again_labels.min() == 0 and not np.array_equal(again_images[0], images[0])
    assert counted_loads == ["test"]
    # Another split is another entry; clear_cache forgets them all.
    assert len(data_lib.load_images("mnist", "validation", tfds_dir)) == 10_000
    assert counted_loads == ["test", "train[50000:]"]
    datasets.clear_cache()
    np.testing.assert_array_equal(data_lib.load_labelled_images("mnist", "test", tfds_dir)[0], again)
    assert counted_loads == ["test", "train[50000:]", "test"]


def test_the_cache_keeps_datasets_and_data_dirs_apart(tfds_dir, tmp_path, counted_loads):
    empty = tmp_path / "empty"
    empty.mkdir()
    data_lib.load_images("mnist", "test", tfds_dir)
    before = len(counted_loads)
    with pytest.raises(ValueError, match=f"dataset 'mnist' is not prepared in {empty}"):
        data_lib.load_images("mnist", "test", str(empty))  # not served from the other dir's entry
    with pytest.raises(ValueError):  # and a failed load caches nothing: TFDS is asked again
        data_lib.load_images("mnist", "test", str(empty))
    assert len(counted_loads) == before + 2
    ring = data_lib.load_images("ring8", "test")
    assert ring.shape[1:] == (2,)
