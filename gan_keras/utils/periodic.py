"""`EveryEpochs`: the schedule of callbacks that evaluate a generator now and then."""

import keras

__all__ = [
    "EveryEpochs",
]


class EveryEpochs(keras.callbacks.Callback):
    """Base of callbacks that act every `every_epochs` epochs.

    `due(epoch)` is true when `(epoch + 1) % every_epochs == 0`, and also after
    the first epoch of each `fit`, so that CSVLogger, which takes its columns
    from the first epoch's logs, sees the keys the callback adds.

    Example:

    >>> class PrintEpoch(EveryEpochs):
    ...     def on_epoch_end(self, epoch, logs=None):
    ...         if self.due(epoch):
    ...             print(epoch + 1)
    """

    def __init__(self, every_epochs=1, generator=None):
        super().__init__()
        if int(every_epochs) < 1:
            raise ValueError(f"every_epochs must be >= 1; got {every_epochs}.")
        self.every_epochs = int(every_epochs)
        self.generator = generator
        self._first_epoch = True

    def on_train_begin(self, logs=None):
        self._first_epoch = True

    def due(self, epoch):
        """Whether to act at the end of (0-based) `epoch`."""
        due = self._first_epoch or (epoch + 1) % self.every_epochs == 0
        self._first_epoch = False
        return due

    def target_generator(self):
        """The generator given, else the `inference_generator` of the `GAN` being trained.

        That is the EMA generator when the GAN averages G's weights, else G.
        """
        return self.generator if self.generator is not None else self.model.inference_generator
