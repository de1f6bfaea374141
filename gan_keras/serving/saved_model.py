"""The SavedModel of a generator: its three serving signatures.

Signatures (each returns `{"images": float32 [n, H, W, C]}` in [0, 1]):

- `serving_default`: `z` float32 `[None, latent_dim]` -> G(z).
- `sample`: `num_samples` int32 scalar, `seed` int32 scalar -> G(z) with
  z ~ p_z drawn by the generator's own `sample_noise` from the stateless seed
  `[seed, 0]`: the same as `generator.sample(num_samples, seed=[seed, 0])`.
- `interpolate`: `z_start`, `z_end` float32 `[latent_dim]`, `num_steps` int32
  scalar -> G(z) for `num_steps` z's evenly spaced on the segment from
  `z_start` to `z_end`, both ends included (Fig. 3 of the paper).

A conditional generator (`train.py --conditional`) takes the class too: an
int32 `label` input, `[batch]` in `serving_default` and a scalar (the class
of every image) in `sample` and `interpolate`.

Bad requests (negative or too many samples, fewer than 2 steps, a label out
of range) fail with an `InvalidArgumentError` naming the input; the loaded
model keeps working.
"""


import keras
import tensorflow as tf

__all__ = [
    "DEFAULT_MAX_SAMPLES",
    "MAX_SAMPLES_LIMIT",
    "ExportError",
    "export_saved_model",
    "serving_functions",
    "signature_seed",
]

# Requests for more images than this are refused (a server would otherwise
# try to allocate whatever a client asks for).
DEFAULT_MAX_SAMPLES = 10_000
# The largest max_samples: requests count images in int32.
MAX_SAMPLES_LIMIT = 2**31 - 1



class ExportError(ValueError):
    """A bad export setting; the message names the flag."""


def signature_seed(seed):
    """The `[2]` stateless seed the `sample` signature uses for an int seed.

    Example:

    >>> signature_seed(7).numpy()
    array([7, 0], dtype=int32)
    """
    return tf.stack([tf.cast(seed, tf.int32), tf.constant(0, tf.int32)])


def _check_count(value, name, low, high):
    """Asserts (in the graph) `low <= value <= high` with a message naming `name`."""
    message = f"{name} must be in [{low}, {high}]"
    return [
        tf.debugging.assert_greater_equal(value, low, message=message, summarize=1),
        tf.debugging.assert_less_equal(value, high, message=message, summarize=1),
    ]


def _check_width(z, latent_dim, message):
    """Asserts (in the graph) that the last axis of `z` has `latent_dim` entries.

    The signature declares the shape, but a server feeding tensors directly
    does not check it: without this, a wrong width fails deep in the first
    layer with a "Matrix size-incompatible" message.
    """
    return tf.debugging.assert_equal(tf.shape(z)[-1], latent_dim, message=message, summarize=1)


def _images(generator, z, labels=None):
    inputs = z if labels is None else (z, labels)
    return {"images": generator(inputs, training=False)}


def serving_functions(generator, max_samples=DEFAULT_MAX_SAMPLES):
    """The exported endpoints as `{signature name: (fn, input_signature)}`.

    A conditional generator's signatures take a `label` too (int32; `[batch]`
    for `serving_default`, a scalar for the others).

    Example:

    >>> sample, input_signature = serving_functions(generator)["sample"]  # doctest: +SKIP
    >>> sample(4, 0)["images"].shape  # doctest: +SKIP
    TensorShape([4, 28, 28, 1])
    """
    latent_dim = generator.latent_dim
    num_classes = generator.num_classes

    def label_checks(label, batch=None):
        checks = _check_count(label, "label", 0, num_classes - 1) if label is not None else []
        if batch is not None and label is not None:
            checks.append(
                tf.debugging.assert_equal(
                    tf.shape(label)[0], batch, message="label must have one entry per row of z", summarize=1
                )
            )
        return checks

    def serving_default(z, label=None):
        checks = [_check_width(z, latent_dim, f"z must have shape [batch, {latent_dim}]")]
        with tf.control_dependencies(checks + label_checks(label, tf.shape(z)[0])):
            return _images(generator, tf.identity(z), label)

    def sample(num_samples, seed, label=None):
        checks = _check_count(num_samples, "num_samples", 0, max_samples) + label_checks(label)
        with tf.control_dependencies(checks):
            z = generator.sample_noise(num_samples, signature_seed(seed))
        return _images(generator, z, None if label is None else tf.fill([num_samples], label))

    def interpolate(z_start, z_end, num_steps, label=None):
        checks = _check_count(num_steps, "num_steps", 2, max_samples) + [
            _check_width(z_start, latent_dim, f"z_start must have shape [{latent_dim}]"),
            _check_width(z_end, latent_dim, f"z_end must have shape [{latent_dim}]"),
        ]
        with tf.control_dependencies(checks + label_checks(label)):
            t = tf.linspace(0.0, 1.0, num_steps)[:, None]
        labels = None if label is None else tf.fill([num_steps], label)
        return _images(generator, z_start[None, :] + t * (z_end - z_start)[None, :], labels)

    def spec(shape, dtype, name):
        return tf.TensorSpec(shape, dtype, name=name)

    def with_label(specs, shape):
        return specs + [spec(shape, tf.int32, "label")] if num_classes else specs

    return {
        "serving_default": (serving_default, with_label([spec([None, latent_dim], tf.float32, "z")], [None])),
        "sample": (sample, with_label([spec([], tf.int32, "num_samples"), spec([], tf.int32, "seed")], [])),
        "interpolate": (
            interpolate,
            with_label(
                [
                    spec([latent_dim], tf.float32, "z_start"),
                    spec([latent_dim], tf.float32, "z_end"),
                    spec([], tf.int32, "num_steps"),
                ],
                [],
            ),
        ),
    }


def export_saved_model(generator, path, max_samples=DEFAULT_MAX_SAMPLES):
    """Writes the generator's serving SavedModel to `path` (not atomic; see `export`).

    Example:

    >>> export_saved_model(generator, "/tmp/gan/1")  # doctest: +SKIP
    >>> tf.saved_model.load("/tmp/gan/1").signatures["sample"](
    ...     num_samples=tf.constant(4), seed=tf.constant(0))["images"].shape  # doctest: +SKIP
    TensorShape([4, 28, 28, 1])
    """
    # No `archive.track(generator)`: it would save (and a loader restore) every
    # weight twice, once as the Keras variable and once as the tf.Variable the
    # endpoints capture (keras#23553). The endpoints track what they use.
    archive = keras.export.ExportArchive()
    for name, (fn, input_signature) in serving_functions(generator, max_samples).items():
        archive.add_endpoint(name, fn, input_signature)
    archive.write_out(path, verbose=False)
