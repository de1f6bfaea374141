"""Choosing a `tf.distribute` strategy, and who writes files under it.

`--batch_size` is the *global* minibatch: each of N replicas gets
`batch_size / N` of every minibatch, and losses are averaged over the global
batch, so N replicas take the same steps as one device.
"""

import os

import tensorflow as tf

from gan_keras.utils.cli import first_line

__all__ = [
    "STRATEGIES",
    "is_chief",
    "make_strategy",
    "worker_dir",
]

STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")


def make_strategy(name="default", tpu=None):
    """The strategy called `name`.

    - `default`: one device (TensorFlow's default strategy).
    - `mirrored`: every local GPU (or the CPU) of this machine.
    - `multi_worker`: several machines, described by the `TF_CONFIG`
      environment variable (`{"cluster": {"worker": [...]}, "task": {...}}`).
    - `tpu`: a Cloud TPU at address `tpu` ("" or "local" for a TPU VM).

    Raises:
        ValueError: one line, if `tpu` names no TPU this process can reach.

    Example:

    >>> strategy = make_strategy("mirrored")  # doctest: +SKIP
    >>> with strategy.scope():  # doctest: +SKIP
    ...     gan = build_gan(config, (28, 28, 1))
    """
    if name not in STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}; got {name!r}.")
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or "")
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
        except (ValueError, RuntimeError, tf.errors.OpError) as e:
            raise ValueError(f"--strategy=tpu found no TPU at --tpu={tpu or ''!r}: {first_line(e)}") from None
        return tf.distribute.TPUStrategy(resolver)
    return tf.distribute.get_strategy()


def is_chief(strategy):
    """Whether this process writes the run's files (always, but for multi-worker)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) or resolver is None:
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return task_type in (None, "chief") or (task_type == "worker" and task_id == 0 and not has_chief)


def worker_dir(model_dir, strategy):
    """Where a non-chief worker writes its copies: `MODEL_DIR/workers/<type>-<id>`.

    Every worker must take part in saving (saving may run collective ops),
    but only the chief's files are the run's; the others' can be deleted.
    """
    resolver = strategy.cluster_resolver
    return os.path.join(model_dir, "workers", f"{resolver.task_type}-{resolver.task_id}")
