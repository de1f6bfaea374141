"""A small MNIST classifier, the feature extractor of `gan_keras.evaluation.classifier_metrics`.

The package ships a trained copy, `gan_keras/assets/mnist_classifier.keras`
(`load_classifier()`). To retrain it (about 5 minutes on one CPU core):

    gan-keras-classifier --output=gan_keras/assets/mnist_classifier.keras

The network is a small CNN: three 3x3 convolutions (32, 64, 64 channels, ReLU,
"same" padding), each followed by 2x2 max-pooling, then a 128-unit ReLU dense
layer named `features` (the penultimate layer whose activations the Frechet
distance compares), dropout, and a 10-way softmax named `probs`. It takes
float32 images in [0, 1], `[n, 28, 28, 1]`.

It is trained on all 60,000 MNIST training images (this package's `train` and
`validation` splits, `train[:50000]` and `train[50000:]`) with Adam, and
evaluated on the 10,000 test images; see docs/metrics.md for the measured
accuracy.
"""

import functools
import os

import keras
import numpy as np
import tensorflow as tf

from gan_keras import data as data_lib
from gan_keras.utils import storage

__all__ = [
    "ASSET_DIR",
    "CLASSIFIER_FILE",
    "FEATURES_LAYER",
    "IMAGE_SHAPE",
    "NUM_CLASSES",
    "NUM_FEATURES",
    "accuracy",
    "build_classifier",
    "load_classifier",
    "save_classifier",
    "train_classifier",
]

ASSET_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "assets")  # gan_keras/assets
CLASSIFIER_FILE = os.path.join(ASSET_DIR, "mnist_classifier.keras")
IMAGE_SHAPE = (28, 28, 1)
NUM_CLASSES = 10
FEATURES_LAYER = "features"
NUM_FEATURES = 128


def build_classifier(num_features=NUM_FEATURES, dropout=0.3):
    """The (untrained) classifier: a functional Keras CNN, softmax output.

    Example:

    >>> model = build_classifier()
    >>> model.get_layer("features").output.shape
    (None, 128)
    >>> model.output.shape
    (None, 10)
    """
    inputs = keras.Input(IMAGE_SHAPE, name="images")
    x = inputs
    for channels in (32, 64, 64):
        x = keras.layers.Conv2D(channels, 3, padding="same", activation="relu")(x)
        x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(num_features, activation="relu", name=FEATURES_LAYER)(x)
    x = keras.layers.Dropout(dropout)(x)
    outputs = keras.layers.Dense(NUM_CLASSES, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name="mnist_classifier")


def train_classifier(
    images=None,
    labels=None,
    epochs=6,
    batch_size=128,
    learning_rate=1e-3,
    seed=0,
    data_dir=None,
    verbose=0,
):
    """Trains a fresh `build_classifier()` with Adam; returns the model.

    Args:
        images, labels: uint8 `[n, 28, 28, 1]` images and their int labels
            (default: all 60,000 MNIST training images, `train` and
            `validation` splits).
        epochs, batch_size, learning_rate: the schedule (the learning rate
            decays by cosine to 0 over the run).
        seed: seeds Keras' initialisation, dropout and the shuffling.
        data_dir: TFDS data dir when the images are loaded here.
        verbose: passed to `fit`.

    Example:

    >>> model = train_classifier(epochs=1)  # doctest: +SKIP
    >>> accuracy(model, *data_lib.load_labelled_images("mnist", "test"))  # doctest: +SKIP
    0.98...
    """
    if int(epochs) < 1:
        raise ValueError(f"epochs must be >= 1; got {epochs}.")
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}.")
    if images is None:
        parts = [data_lib.load_labelled_images("mnist", role, data_dir) for role in ("train", "validation")]
        images = np.concatenate([p[0] for p in parts])
        labels = np.concatenate([p[1] for p in parts])
    elif labels is None or len(labels) != len(images):
        raise ValueError("labels must be given with images, one per image.")
    images = _as_model_input(images, "images")
    labels = np.asarray(labels, np.int64)
    keras.utils.set_random_seed(int(seed))
    model = build_classifier()
    steps = int(epochs) * int(np.ceil(len(images) / int(batch_size)))
    schedule = keras.optimizers.schedules.CosineDecay(float(learning_rate), steps)
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    dataset = (
        tf.data.Dataset.from_tensor_slices((images, labels))
        .shuffle(len(images), seed=int(seed), reshuffle_each_iteration=True)
        .batch(int(batch_size))
        .prefetch(tf.data.AUTOTUNE)
    )
    model.fit(dataset, epochs=int(epochs), shuffle=False, verbose=verbose)
    return model


def _as_model_input(images, name):
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or tuple(images.shape[1:]) != IMAGE_SHAPE:
        raise ValueError(
            f"{name} must be 28x28x1 images, [n, 28, 28, 1] (or [n, 28, 28]); "
            f"got shape {images.shape}; the classifier is for MNIST-like images."
        )
    if images.dtype == np.uint8:
        return images.astype(np.float32) / 255.0
    return images.astype(np.float32)


def accuracy(model, images, labels, batch_size=1000):
    """Fraction of `images` (uint8 or float in [0, 1]) that `model` labels correctly.

    Example:

    >>> accuracy(load_classifier(), *data_lib.load_labelled_images("mnist", "test"))  # doctest: +SKIP
    0.99...
    """
    x = _as_model_input(images, "images")
    predicted = np.concatenate(
        [np.argmax(model(x[i : i + batch_size], training=False), axis=-1) for i in range(0, len(x), batch_size)]
    )
    return float(np.mean(predicted == np.asarray(labels)))


def save_classifier(model, path):
    """Saves `model`'s weights in a fresh, uncompiled `build_classifier()` as a `.keras` file.

    Without the optimizer's state the file is a third of the size (~0.5 MB).

    Example:

    >>> save_classifier(train_classifier(), "gan_keras/assets/mnist_classifier.keras")  # doctest: +SKIP
    """
    fresh = build_classifier(num_features=model.get_layer(FEATURES_LAYER).units)
    fresh.set_weights(model.get_weights())
    with storage.replacing(path) as tmp:
        fresh.save(tmp)


@functools.cache
def _load(path):
    return keras.saving.load_model(path, compile=False)


def load_classifier(path=None):
    """The shipped trained classifier (`gan_keras/assets/mnist_classifier.keras`), or `path`.

    The model is loaded once per path and shared; treat it as read-only.

    Example:

    >>> model = load_classifier()
    >>> model.get_layer("features").output.shape
    (None, 128)
    """
    path = os.path.abspath(path or CLASSIFIER_FILE)
    if not os.path.exists(path):
        raise ValueError(
            f"classifier file {path} does not exist; retrain it with "
            "gan-keras-classifier --output=gan_keras/assets/mnist_classifier.keras."
        )
    return _load(path)


# ---------------------------------------------------------------- the CLI
