"""`--dataset=folder:PATH`: a folder of the user's images, in memory or streamed from disk.

The folders are made here from real MNIST digits: one sub-folder per class,
PNGs in grayscale, RGB, RGBA and palette modes, JPEGs of other sizes, and a
file that is not an image.
"""

import os
import shutil

import numpy as np
import pytest
from cli_runner import run_commands
from PIL import Image

from gan_keras.data import folder, streaming
from gan_keras.data.datasets import load_labelled_images
from gan_keras.training import TrainConfig, restoring, run

NUM = 120  # digits written (12 per class on average)


@pytest.fixture(scope="module")
def digits(tfds_dir):
    images, labels = load_labelled_images("mnist", "test", tfds_dir)
    return images[:NUM, ..., 0], labels[:NUM]


def write_digit(path, digit, kind):
    """One 28x28 uint8 digit as a file of `kind`."""
    if kind == "gray":
        Image.fromarray(digit, "L").save(path + ".png")
    elif kind == "rgb":
        Image.fromarray(np.stack([digit] * 3, -1), "RGB").save(path + ".png")
    elif kind == "rgba":
        Image.fromarray(np.stack([digit] * 3 + [np.full_like(digit, 7)], -1), "RGBA").save(path + ".png")
    elif kind == "palette":
        Image.fromarray(digit, "L").convert("P").save(path + ".png")
    elif kind == "jpeg":  # twice as large, with 8 black columns each side: scaled to cover 28x28, then cropped
        large = np.pad(np.asarray(Image.fromarray(digit, "L").resize((56, 56), Image.BILINEAR)), ((0, 0), (8, 8)))
        Image.fromarray(large, "L").convert("RGB").save(path + ".jpg", quality=95)


KINDS = ("gray", "rgb", "rgba", "palette", "jpeg")


@pytest.fixture(scope="module")
def digit_folder(digits, tmp_path_factory):
    """`(path, kinds, labels)`: NUM digits under `path/<label>/`, named so sorting keeps their order."""
    root = tmp_path_factory.mktemp("digits")
    images, labels = digits
    kinds = [KINDS[i % len(KINDS)] for i in range(NUM)]
    for i, (digit, label, kind) in enumerate(zip(images, labels, kinds)):
        os.makedirs(root / str(label), exist_ok=True)
        write_digit(str(root / str(label) / f"{i:04d}"), digit, kind)
    (root / "3" / "9999_broken.png").write_bytes(b"\x89PNG this is not an image")
    return str(root), kinds


def sorted_order(labels):
    """The order `list_images` gives the digits: by class folder, then by name."""
    return sorted(range(NUM), key=lambda i: (str(labels[i]), f"{i:04d}"))


def test_every_mode_is_decoded_and_the_broken_file_is_named_skipped_and_counted(digit_folder, digits, capfd):
    path, kinds = digit_folder
    images, labels = digits
    index, decoded = folder.scan(path, image_size=28, channels=1)
    err = capfd.readouterr().err
    assert f"skipping {os.path.join(path, '3', '9999_broken.png')}" in err
    assert "skipped 1 of 121 files that cannot be decoded" in err
    assert index.skipped == (os.path.join("3", "9999_broken.png"),)
    order = sorted_order(labels)
    assert decoded.shape == (NUM, 28, 28, 1) and len(index) == NUM
    np.testing.assert_array_equal(index.labels, labels[order])
    assert index.class_names == tuple(str(c) for c in range(10))
    for row, i in enumerate(order):
        if kinds[i] in ("gray", "palette"):  # lossless and gray: the digit itself
            np.testing.assert_array_equal(decoded[row, ..., 0], images[i], err_msg=kinds[i])
        elif kinds[i] in ("rgb", "rgba"):  # colour to gray (the alpha channel dropped): round-off only
            assert np.abs(decoded[row, ..., 0].astype(int) - images[i]).max() <= 1, kinds[i]
        else:  # the 72x56 JPEG scaled back to 28x28 and cropped: the digit, blurred
            error = np.abs(decoded[row, ..., 0].astype(float) - images[i]).mean()
            assert error < 12, (kinds[i], error)
            other = np.abs(decoded[row, ..., 0].astype(float) - images[(i + 1) % NUM]).mean()
            assert other > 2 * error, (kinds[i], error, other)  # and not any digit
    np.testing.assert_array_equal(index.pixel_sum, decoded.astype(np.int64).sum(axis=0))


def test_gray_to_rgb_repeats_the_channel_and_the_first_image_sets_the_defaults(digit_folder):
    path, kinds = digit_folder
    files, _, _ = folder.list_images(path)
    first = kinds[int(os.path.splitext(os.path.basename(files[0]))[0])]
    assert first == "rgb" and folder.first_image_shape(path, files) == (28, 28, 3)
    gray = [f for f in files if "broken" not in f and kinds[int(os.path.basename(f)[:4])] == "gray"]
    assert folder.first_image_shape(path, gray) == (28, 28, 1)
    index, decoded = folder.scan(path, image_size=32, channels=3)
    assert decoded.shape == (NUM, 32, 32, 3) and index.shape == (32, 32, 3)
    np.testing.assert_array_equal(decoded[0, ..., 0], decoded[0, ..., 2])


def test_streaming_and_memory_give_the_same_batches_from_any_step(digit_folder):
    path, _ = digit_folder
    kwargs = dict(batch_size=10, k=2, labels=True, image_size=32, channels=1)
    memory = streaming.folder_training_data(path, source="memory", **kwargs)
    stream = streaming.folder_training_data(path, source="stream", **kwargs)
    assert isinstance(memory, streaming.TrainingData) and isinstance(stream, streaming.StreamingData)
    assert memory.steps_per_epoch == stream.steps_per_epoch == NUM // 20
    np.testing.assert_array_equal(memory.pixel_mean(), stream.pixel_mean())
    a = list(memory.dataset(seed=5).take(14).as_numpy_iterator())  # more than 2 epochs
    b = list(stream.dataset(seed=5).take(14).as_numpy_iterator())
    c = list(stream.dataset(seed=5, initial_step=9).take(5).as_numpy_iterator())
    for (images_a, labels_a), (images_b, labels_b) in zip(a, b):
        assert images_a.shape == (10, 2, 32, 32, 1)
        np.testing.assert_array_equal(images_a, images_b)
        np.testing.assert_array_equal(labels_a, labels_b)
    for (images_a, _), (images_c, _) in zip(a[9:], c):
        np.testing.assert_array_equal(images_a, images_c)


def test_auto_streams_a_folder_too_large_for_the_memory_limit(digit_folder, monkeypatch):
    path, _ = digit_folder
    assert isinstance(streaming.folder_training_data(path, 10), streaming.TrainingData)
    monkeypatch.setattr(streaming, "MEMORY_LIMIT_BYTES", NUM * 28 * 28 - 1)
    assert isinstance(streaming.folder_training_data(path, 10), streaming.StreamingData)


def folder_config(path, model_dir, **kwargs):
    return TrainConfig(
        dataset=f"folder:{path}", image_size=32, image_channels=1, model_dir=str(model_dir), batch_size=10,
        steps_per_epoch=4, verbose=0, **kwargs,
    )


def weights(model_dir):
    return [np.asarray(w) for w in restoring.load_generator(str(model_dir), ema=False).generator.weights]


@pytest.mark.slow
def test_a_resumed_streaming_run_equals_an_unbroken_one_and_keeps_its_file_list(digit_folder, tmp_path):
    path = str(tmp_path / "images")
    shutil.copytree(digit_folder[0], path)
    run(folder_config(path, tmp_path / "unbroken", epochs=2, data_source="stream"))
    run(folder_config(path, tmp_path / "memory", epochs=2, data_source="memory"))
    run(folder_config(path, tmp_path / "resumed", epochs=1, data_source="stream"))
    # The folder changes between the two halves: the resumed run keeps the list it started with.
    shutil.copy(os.path.join(path, "0", os.listdir(os.path.join(path, "0"))[0]), os.path.join(path, "0", "0000a.png"))
    run(folder_config(path, tmp_path / "resumed", epochs=2, data_source="stream"))
    unbroken = weights(tmp_path / "unbroken")
    for other in ("memory", "resumed"):
        for a, b in zip(unbroken, weights(tmp_path / other)):
            np.testing.assert_array_equal(a, b, err_msg=other)
    assert len(folder.read_index(str(tmp_path / "resumed"))) == NUM


@pytest.mark.slow
def test_train_py_on_a_folder_errors_in_one_line_and_export_needs_no_folder(digit_folder, tmp_path):
    path = str(tmp_path / "images")
    shutil.copytree(digit_folder[0], path)
    flat = tmp_path / "flat"
    os.makedirs(flat)
    shutil.copy(os.path.join(path, "1", os.listdir(os.path.join(path, "1"))[0]), flat / "one.png")
    empty = tmp_path / "empty"
    os.makedirs(empty / "sub")
    run_dir = tmp_path / "run"
    train = [
        [f"--dataset=folder:{path}", "--image_size=32", f"--model_dir={run_dir}", "--epochs=1",
         "--steps_per_epoch=2", "--batch_size=10", "--conditional", "--verbose=0"],
        [f"--dataset=folder:{empty}", f"--model_dir={tmp_path / 'e'}"],
        [f"--dataset=folder:{tmp_path / 'nothing'}", f"--model_dir={tmp_path / 'n'}"],
        [f"--dataset=folder:{flat}", "--conditional", f"--model_dir={tmp_path / 'f'}"],
        ["--image_size=32", f"--model_dir={tmp_path / 'm'}"],
        [f"--dataset=folder:{path}", "--image_channels=2", f"--model_dir={tmp_path / 'c'}"],
        [f"--dataset=folder:{path}", "--arch=dcgan", "--nod_dropout", f"--model_dir={tmp_path / 'd'}"],
        [f"--dataset=folder:{path}", "--parzen_every_epochs=1", f"--model_dir={tmp_path / 'p'}"],
    ]
    results = run_commands("train.py", train)
    assert results[0]["status"] == 0 and results[0]["traceback"] is None, results[0]
    assert "skipped 1 of 121 files" in results[0]["stderr"]
    assert [r["message"] for r in results[1:]] == [
        f"train.py: error: --dataset=folder:{empty}: no images (.png, .jpg, .jpeg, .bmp, .gif) under it.",
        f"train.py: error: --dataset=folder:{tmp_path / 'nothing'}: not a directory.",
        f"train.py: error: --conditional needs class labels: dataset 'folder:{flat}' has no class labels "
        "(one sub-folder per class).",
        "train.py: error: --image_size and --image_channels are for --dataset=folder:PATH; 'mnist' has "
        "its own shape (use 0).",
        "train.py: error: --image_channels=2 is not valid; accepted: 0 (the first image's), 1 (grayscale), 3 (RGB).",
        "train.py: error: --arch=dcgan needs square images whose side is a power of 2 >= 32 (32x32, 64x64, "
        f"128x128, ...); --dataset=folder:{path} has 28x28x3.",
        "train.py: error: --parzen_every_epochs needs validation and test images; a folder of images has "
        "training images only (use 0).",
    ]
    for name in ("e", "n", "f", "m", "c", "d", "p"):
        assert not os.path.exists(tmp_path / name / "checkpoints"), name
    shutil.rmtree(path)  # the run keeps its folder's facts: export needs no images
    export_dir = tmp_path / "export"
    result = run_commands("export.py", [[f"--model_dir={run_dir}", f"--export_dir={export_dir}"]])[0]
    assert result["status"] == 0 and result["traceback"] is None, result
    import tensorflow as tf

    served = tf.saved_model.load(str(export_dir / "1"))
    out = served.signatures["serving_default"](z=tf.zeros([2, 100]), label=tf.constant([3, 4], tf.int32))
    assert out["images"].shape == (2, 32, 32, 3)  # the first image is RGB
