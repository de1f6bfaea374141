"""TensorBoard monitoring of a training run: `monitoring_callbacks(...)`.

Everything goes under one log dir (a run writes to `MODEL_DIR/logs`), in
TensorBoard "runs" (sub-directories) that differ in what their step is:

- `train/`: Keras' `TensorBoard` callback: `epoch_<key>` for every key of the
  epoch logs (`d_loss`, `g_loss`, `d_real`, `d_fake`, `value`, and
  `parzen_ll_<n>samples` when a callback earlier in the list adds it). Step:
  the epoch (0-based; a resumed `fit` continues from `initial_epoch`).
- `steps/`: this module's callbacks. Step: the global GAN step
  (`gan.g_optimizer.iterations`, checkpointed, so a resumed run continues
  its curves). Scalars every `update_freq` steps: `metrics/<name>` (the mean
  of each GAN metric over the steps since the previous point),
  `optimizer/{d,g}_learning_rate`, `optimizer/{d,g}_momentum`,
  `speed/steps_per_second`; at every epoch end the image
  `samples/fixed_noise` (G on the same z) and, with `histograms=True`,
  histograms of G's and D's weights; the text `config`.
- the log dir itself: the HParams dashboard's data (`HParamsSummary`): the
  run's flags as hparams, and as its metrics the last value of the scalars
  `HPARAMS_METRICS` names (in `train/`), so the runs under one `--logdir`
  can be compared in its table and parallel-coordinates views.
- `figures/`: written by `python -m gan_keras.figures`.

Keras' callback alone does not fit a GAN: batch scalars use a counter that
restarts at 0 with every `fit` and counts executions, not steps; it reads the
learning rate from `model.optimizer` (None here); `write_images` shows
weights, not samples. All summaries here are written eagerly in callbacks,
outside the traced `train_step`.
"""

import time

import keras
import numpy as np
import tensorflow as tf
from tensorboard.plugins.hparams import api as hp

from gan_keras.data import images as images_lib

__all__ = [
    "CONFIG_TAG",
    "HPARAMS_METRICS",
    "SAMPLES_TAG",
    "STEPS_SUBDIR",
    "TRAIN_SUBDIR",
    "ConfigText",
    "FixedNoiseSamples",
    "HParamsSummary",
    "StepScalars",
    "SummaryWriter",
    "WeightHistograms",
    "config_markdown",
    "global_step",
    "hparam_values",
    "hparams_metrics",
    "monitoring_callbacks",
    "optimizer_scalars",
    "weight_tags",
]

STEPS_SUBDIR = "steps"
SAMPLES_TAG = "samples/fixed_noise"
CONFIG_TAG = "config"
TRAIN_SUBDIR = "train"  # Keras' TensorBoard callback writes the epoch scalars here.

# The HParams dashboard's metrics: `(epoch log key, display name)`; the Parzen
# key depends on the run's `parzen_samples` (see `hparams_metrics`).
HPARAMS_METRICS = (
    ("parzen_ll_{parzen_samples}samples", "Parzen log-likelihood (nats)"),
    ("frechet_distance", "Frechet distance"),
    ("classes_covered", "classes covered"),
    ("d_fake", "mean D(G(z))"),
)


def global_step(gan):
    """The number of GAN steps taken so far (the generator optimiser's `iterations`)."""
    return int(gan.g_optimizer.iterations.numpy())


class SummaryWriter:
    """One `tf.summary` file writer, created on first use, shared by callbacks.

    The callbacks writing to one directory share a writer so the directory
    holds one active event file: TensorBoard follows only the newest file of
    a run.

    Example:

    >>> writer = SummaryWriter("/tmp/logs/steps")
    >>> with writer.as_default(step=0):  # doctest: +SKIP
    ...     tf.summary.scalar("x", 1.0)
    """

    def __init__(self, log_dir):
        self.log_dir = str(log_dir)
        self._writer = None

    def as_default(self, step):
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)
        return self._writer.as_default(step=step)

    def flush(self):
        if self._writer is not None:
            self._writer.flush()

    def close(self):
        """Closes the file; a later write opens a new one."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class _StepSummaryCallback(keras.callbacks.Callback):
    """Base: writes through a shared `SummaryWriter` at the global GAN step."""

    def __init__(self, writer):
        super().__init__()
        self.writer = writer

    def on_epoch_end(self, epoch, logs=None):
        self.writer.flush()

    def on_train_end(self, logs=None):
        self.writer.close()


class StepScalars(_StepSummaryCallback):
    """Scalars every `update_freq` GAN steps: metrics, schedules, throughput.

    A point is written after the first batch (or execution, with
    `steps_per_execution > 1`) that reaches a multiple of `update_freq`.
    `metrics/<name>` is the mean of each of `gan.metrics` over the steps since
    the previous point (or the start of the epoch), computed from the
    metrics' running totals, so it is exact for any `update_freq`.
    `speed/steps_per_second` is wall-clock over the same span (the first
    point of a `fit` includes tracing).

    Example:

    >>> gan.fit(data, callbacks=[StepScalars(SummaryWriter("logs/steps"), 50)])  # doctest: +SKIP
    """

    def __init__(self, writer, update_freq=50):
        super().__init__(writer)
        if int(update_freq) < 1:
            raise ValueError(f"update_freq must be >= 1; got {update_freq}.")
        self.update_freq = int(update_freq)

    def on_epoch_begin(self, epoch, logs=None):
        # fit() resets the metrics just before this: their totals are 0.
        self._last_step = global_step(self.model)
        self._last_time = time.perf_counter()
        self._last_totals = {m.name: (0.0, 0.0) for m in self.model.metrics}

    def on_train_batch_end(self, batch, logs=None):
        step = global_step(self.model)
        if step // self.update_freq > self._last_step // self.update_freq:
            self._write(step)

    def _write(self, step):
        now = time.perf_counter()
        totals = {m.name: _running_total(m) for m in self.model.metrics}
        scalars = {
            **self._metric_means(totals),
            **{
                f"optimizer/{prefix}_{name}": value
                for prefix, optimizer in (("d", self.model.d_optimizer), ("g", self.model.g_optimizer))
                for name, value in optimizer_scalars(optimizer).items()
            },
            "speed/steps_per_second": (step - self._last_step) / (now - self._last_time),
        }
        with self.writer.as_default(step=step):
            for tag, value in scalars.items():
                tf.summary.scalar(tag, value)
        self._last_step, self._last_time, self._last_totals = step, now, totals

    def _metric_means(self, totals):
        """`metrics/<name>`: each metric's mean since the previous point."""
        means = {}
        for name, (total, count) in totals.items():
            last_total, last_count = self._last_totals.get(name, (0.0, 0.0))
            if count is None:  # not a running mean: its current value
                means[f"metrics/{name}"] = total
            elif count > last_count:
                means[f"metrics/{name}"] = (total - last_total) / (count - last_count)
        return means


def _running_total(metric):
    """`(total, count)` of a running-mean metric (`keras.metrics.Mean`), else `(result, None)`."""
    if hasattr(metric, "total") and hasattr(metric, "count"):
        return float(np.asarray(metric.total)), float(np.asarray(metric.count))
    return float(np.asarray(metric.result())), None


def optimizer_scalars(optimizer):
    """The current learning rate and, if it has one, momentum of an optimiser.

    Example:

    >>> values = optimizer_scalars(keras.optimizers.SGD(0.1, momentum=0.5))
    >>> {name: round(value, 6) for name, value in values.items()}
    {'learning_rate': 0.1, 'momentum': 0.5}
    """
    values = {"learning_rate": float(np.asarray(optimizer.learning_rate))}
    if hasattr(optimizer, "current_momentum"):
        values["momentum"] = float(np.asarray(optimizer.current_momentum()))
    elif isinstance(getattr(optimizer, "momentum", None), (int, float)):
        values["momentum"] = float(optimizer.momentum)
    return values


class FixedNoiseSamples(_StepSummaryCallback):
    """The image `samples/fixed_noise`: G on the same z at every epoch end.

    A grid of images, or a scatter plot for point data (`ring8`).

    z is drawn from the fixed `seed` (stateless), so successive images show
    the same samples evolving. A new run (global step 0) also logs the
    untrained generator.

    Example:

    >>> gan.fit(data, callbacks=[FixedNoiseSamples(SummaryWriter("logs/steps"))])  # doctest: +SKIP
    """

    def __init__(self, writer, seed=(0, 0), rows=10, cols=10):
        super().__init__(writer)
        self.seed, self.rows, self.cols = tuple(seed), int(rows), int(cols)

    def on_train_begin(self, logs=None):
        if global_step(self.model) == 0:
            self._write()

    def on_epoch_end(self, epoch, logs=None):
        self._write()
        super().on_epoch_end(epoch, logs)

    def _write(self):
        grid = images_lib.sample_picture(self.model.inference_generator, self.seed, self.rows, self.cols)
        with self.writer.as_default(step=global_step(self.model)):
            tf.summary.image(SAMPLES_TAG, grid[None])


class WeightHistograms(_StepSummaryCallback):
    """Histograms of G's and D's trainable weights at every epoch end.

    Tags are `<network>/layer<i>_<LayerClass>/<weight>`, e.g.
    `generator/layer0_Dense/kernel`: unlike Keras' auto-numbered layer names
    they do not depend on what else the process built.

    Example:

    >>> gan.fit(data, callbacks=[WeightHistograms(SummaryWriter("logs/steps"))])  # doctest: +SKIP
    """

    def on_epoch_end(self, epoch, logs=None):
        with self.writer.as_default(step=global_step(self.model)):
            for network in (self.model.generator, self.model.discriminator):
                for tag, weight in weight_tags(network).items():
                    tf.summary.histogram(tag, weight)
        super().on_epoch_end(epoch, logs)


def weight_tags(network):
    """`{tag: variable}` for the trainable weights of a network, by layer position.

    Example:

    >>> list(weight_tags(Generator(name="generator")))[:2]  # doctest: +SKIP
    ['generator/layer0_Dense/kernel', 'generator/layer0_Dense/bias']
    """
    return {
        f"{network.name}/layer{i}_{type(layer).__name__}/{weight.name}": weight
        for i, layer in enumerate(network.layers)
        for weight in layer.trainable_weights
    }


def config_markdown(config_dict):
    """A Markdown table of settings, as TensorBoard's text plugin shows it.

    Example:

    >>> print(config_markdown({"epochs": 2}))
    | setting | value |
    |---|---|
    | epochs | `2` |
    """
    rows = [f"| {name} | `{value!r}` |" for name, value in config_dict.items()]
    return "\n".join(["| setting | value |", "|---|---|", *rows])


class ConfigText(_StepSummaryCallback):
    """The text `config`: the run's settings, at the step each `fit` starts from.

    Example:

    >>> ConfigText(SummaryWriter("logs/steps"), dataclasses.asdict(config))  # doctest: +SKIP
    """

    def __init__(self, writer, config_dict):
        super().__init__(writer)
        self.config_dict = dict(config_dict)

    def on_train_begin(self, logs=None):
        with self.writer.as_default(step=global_step(self.model)):
            tf.summary.text(CONFIG_TAG, config_markdown(self.config_dict))
        self.writer.flush()


def hparam_values(config_dict):
    """The settings as HParams values: bools, numbers and strings kept, others as text, None left out.

    Example:

    >>> hparam_values({"epochs": 2, "tpu": None, "seed": (1, 2)})
    {'epochs': 2, 'seed': '(1, 2)'}
    """
    return {
        name: value if isinstance(value, (bool, int, float, str)) else repr(value)
        for name, value in config_dict.items()
        if value is not None
    }


def hparams_metrics(config_dict):
    """The `hp.Metric`s of a run: the last epoch's values of `HPARAMS_METRICS` in `train/`.

    Example:

    >>> [m.as_proto().name.tag for m in hparams_metrics({"parzen_samples": 10})][:2]
    ['epoch_parzen_ll_10samples', 'epoch_frechet_distance']
    """
    return [
        hp.Metric(f"epoch_{key.format(**config_dict)}", group=TRAIN_SUBDIR, display_name=display)
        for key, display in HPARAMS_METRICS
        if "{parzen_samples}" not in key or "parzen_samples" in config_dict
    ]


class HParamsSummary(keras.callbacks.Callback):
    """Writes the HParams dashboard's data of a run into `log_dir` when training starts.

    `log_dir` becomes one session (a row of the table) whose hparams are the
    settings (`hparam_values`) and whose metrics are `hparams_metrics`: the
    table shows each one's last value. Written through `hp.hparams` (not
    `hp.KerasCallback`, which needs tf-keras), in its own event file.

    Example:

    >>> gan.fit(data, callbacks=[HParamsSummary("runs/a/logs", {"epochs": 2})])  # doctest: +SKIP
    """

    def __init__(self, log_dir, config_dict):
        super().__init__()
        self.writer = SummaryWriter(log_dir)
        self.config_dict = dict(config_dict)

    def on_train_begin(self, logs=None):
        values = hparam_values(self.config_dict)
        with self.writer.as_default(step=global_step(self.model)):
            hp.hparams_config(
                hparams=[hp.HParam(name) for name in self.config_dict], metrics=hparams_metrics(self.config_dict)
            )
            hp.hparams(values)
        self.writer.close()


def monitoring_callbacks(
    log_dir,
    config_dict=None,
    update_freq=50,
    histograms=False,
    sample_seed=(0, 0),
    sample_grid_shape=(10, 10),
):
    """The callbacks that log a GAN run to TensorBoard under `log_dir`.

    Args:
        log_dir: the log dir, e.g. `MODEL_DIR/logs`.
        config_dict: settings logged as the text `config` and as the
            HParams dashboard's hparams, e.g. `dataclasses.asdict(config)`;
            None logs neither.
        update_freq: GAN steps between points of the per-step scalars.
        histograms: also log histograms of G's and D's weights every epoch.
        sample_seed: the `[2]` int seed of the fixed noise of the sample grid.
        sample_grid_shape: `(rows, cols)` of the sample grid.

    Put callbacks that add keys to the epoch logs (e.g. the Parzen estimate)
    *before* these in `fit`'s list, so `epoch_<key>` is written.

    Example:

    >>> callbacks = monitoring_callbacks("runs/mnist/logs", dataclasses.asdict(config))  # doctest: +SKIP
    >>> gan.fit(dataset, epochs=5, callbacks=callbacks)  # doctest: +SKIP
    """
    log_dir = str(log_dir)
    writer = SummaryWriter(tf.io.gfile.join(log_dir, STEPS_SUBDIR))
    rows, cols = sample_grid_shape
    callbacks = [
        keras.callbacks.TensorBoard(log_dir=log_dir, write_graph=False, update_freq="epoch"),
        StepScalars(writer, update_freq),
        FixedNoiseSamples(writer, sample_seed, rows, cols),
    ]
    if histograms:
        callbacks.append(WeightHistograms(writer))
    if config_dict is not None:
        callbacks += [ConfigText(writer, config_dict), HParamsSummary(log_dir, config_dict)]
    return callbacks
