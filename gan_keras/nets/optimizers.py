"""The optimisers: the paper's SGD with a decaying learning rate and ramped momentum, and Adam.

`OPTIMIZERS` names the kinds a run can use (`TrainConfig.optimizer`): `"sgd"`
(`paper_optimizer`, the default) or `"adam"` (`adam_optimizer`, DCGAN's:
Radford et al. 2015 train with Adam, lr 2e-4, beta_1 0.5).

The schedules are functions of the optimiser's own `iterations` counter, so
their position is checkpointed with the optimiser (with Adam's moments) and a
resumed run continues exactly where it stopped.
"""

import math

import keras
import tensorflow as tf
from keras import ops

__all__ = [
    "ADAM_EPSILON",
    "OPTIMIZERS",
    "LinearMomentum",
    "PaperLearningRate",
    "ScheduledMomentumSGD",
    "adam_optimizer",
    "paper_optimizer",
]

OPTIMIZERS = ("sgd", "adam")
# Adam's epsilon: the DCGAN authors' code's (and PyTorch's) 1e-8, not Keras' 1e-7.
ADAM_EPSILON = 1e-8


@keras.saving.register_keras_serializable(package="gan_keras")
class PaperLearningRate(keras.optimizers.schedules.LearningRateSchedule):
    """`initial / decay_factor ** step`, never below `min_learning_rate`.

    The released configuration divides the learning rate by 1.000004 after
    every update, with a floor of 1e-6.

    Example:

    >>> lr = PaperLearningRate(0.1, 1.000004, 1e-6)
    >>> round(float(lr(0)), 4), round(float(lr(100_000)), 4)
    (0.1, 0.067)
    """

    def __init__(self, initial_learning_rate=0.1, decay_factor=1.000004, min_learning_rate=1e-6):
        self.initial_learning_rate = initial_learning_rate
        self.decay_factor = decay_factor
        self.min_learning_rate = min_learning_rate

    def __call__(self, step):
        # exp(-step log f), with log f in float64: (1 / f) ** step in float32
        # is 0.2% off after 250k updates, because 1 / 1.000004 rounds.
        step = ops.cast(step, "float32")
        lr = self.initial_learning_rate * ops.exp(-step * math.log(self.decay_factor))
        return ops.maximum(lr, self.min_learning_rate)

    def get_config(self):
        return dict(
            initial_learning_rate=self.initial_learning_rate,
            decay_factor=self.decay_factor,
            min_learning_rate=self.min_learning_rate,
        )


@keras.saving.register_keras_serializable(package="gan_keras")
class LinearMomentum(keras.optimizers.schedules.LearningRateSchedule):
    """Momentum rising linearly per epoch, as pylearn2's `MomentumAdjustor`.

    `initial` during epoch 1, `final` from epoch `saturate_epoch` on, linear in
    between. Epochs are counted in optimiser updates: update `i` (from 0)
    belongs to epoch `i // updates_per_epoch + 1`.

    Example:

    >>> mu = LinearMomentum(0.5, 0.7, saturate_epoch=250, updates_per_epoch=500)
    >>> [round(float(mu(s)), 3) for s in (0, 499, 500, 249 * 500, 10**7)]
    [0.5, 0.5, 0.501, 0.7, 0.7]
    """

    def __init__(self, initial=0.5, final=0.7, saturate_epoch=250, updates_per_epoch=500):
        self.initial = initial
        self.final = final
        self.saturate_epoch = saturate_epoch
        self.updates_per_epoch = updates_per_epoch

    def __call__(self, step):
        epoch = ops.cast(ops.floor_divide(step, self.updates_per_epoch), "float32")
        ramp = ops.clip(epoch / max(self.saturate_epoch - 1, 1), 0.0, 1.0)
        return self.initial + (self.final - self.initial) * ramp

    def get_config(self):
        return dict(
            initial=self.initial,
            final=self.final,
            saturate_epoch=self.saturate_epoch,
            updates_per_epoch=self.updates_per_epoch,
        )


def _handle(variable):
    """The resource handle of a Keras or TF variable (the replica's own, inside `strategy.extended.update`)."""
    return (variable.value if isinstance(variable, keras.Variable) else variable).handle


@keras.saving.register_keras_serializable(package="gan_keras")
class ScheduledMomentumSGD(keras.optimizers.SGD):
    """SGD with classic momentum whose coefficient follows a schedule.

    `v <- mu(t) v - lr(t) g; w <- w + v`, where `mu` is a schedule of the
    update count `t` (e.g. `LinearMomentum`) and `lr` a learning-rate schedule.
    A dense gradient is applied by one fused `ResourceApplyKerasMomentum`
    kernel per weight, which computes these two lines in the same float32
    arithmetic (bit-identical weights, a third of the time).

    Example:

    >>> opt = ScheduledMomentumSGD(PaperLearningRate(), LinearMomentum())
    """

    def __init__(self, learning_rate, momentum_schedule, **kwargs):
        kwargs.pop("momentum", None)
        kwargs.pop("nesterov", None)
        # A non-zero base momentum makes SGD.build() create the velocity slots.
        super().__init__(learning_rate=learning_rate, momentum=0.5, **kwargs)
        if isinstance(momentum_schedule, dict):
            momentum_schedule = keras.saving.deserialize_keras_object(momentum_schedule)
        self.momentum_schedule = momentum_schedule

    def current_momentum(self):
        """The momentum coefficient the next update uses."""
        return self.momentum_schedule(self.iterations)

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        # The momentum is computed once per update and passed to every
        # weight's `update_step` with the learning rate, the way Keras passes
        # the learning rate (through `merge_call` under `tf.distribute`).
        # Computed once per weight, it cost about 8 small ops per weight.
        super()._backend_update_step(grads, trainable_variables, (learning_rate, self.current_momentum()))

    def update_step(self, gradient, variable, learning_rate):
        """Updates one weight; `learning_rate` is `(learning rate, momentum)` of this update."""
        learning_rate, momentum = learning_rate
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        momentum = ops.cast(momentum, variable.dtype)
        velocity = self.momentums[self._get_variable_index(variable)]
        if isinstance(gradient, tf.IndexedSlices):
            self.assign(velocity, velocity * momentum - gradient * learning_rate)
            self.assign_add(variable, velocity)
            return
        # The same two lines in one kernel, one pass over the weight (five
        # element-wise ops otherwise), with the same float32 arithmetic: the
        # weights are bit-identical (tests/test_losses_and_schedules.py).
        tf.raw_ops.ResourceApplyKerasMomentum(
            var=_handle(variable), accum=_handle(velocity), lr=learning_rate, grad=gradient, momentum=momentum
        )

    def get_config(self):
        config = super().get_config()
        config.pop("momentum", None)
        config.pop("nesterov", None)
        config["momentum_schedule"] = keras.saving.serialize_keras_object(self.momentum_schedule)
        return config


def paper_optimizer(
    learning_rate=0.1,
    lr_decay=1.000004,
    min_learning_rate=1e-6,
    momentum_initial=0.5,
    momentum_final=0.7,
    momentum_saturate_epoch=250,
    updates_per_epoch=500,
    name=None,
):
    """The released configuration's optimiser for one of the two networks.

    Example:

    >>> d_opt = paper_optimizer(updates_per_epoch=500, name="d_optimizer")
    """
    return ScheduledMomentumSGD(
        PaperLearningRate(learning_rate, lr_decay, min_learning_rate),
        LinearMomentum(momentum_initial, momentum_final, momentum_saturate_epoch, updates_per_epoch),
        name=name,
    )


def adam_optimizer(
    learning_rate=2e-4, beta_1=0.5, beta_2=0.999, lr_decay=1.0, min_learning_rate=0.0, name=None
):
    """Adam for one of the two networks; the defaults are DCGAN's (Radford et al. 2015).

    The learning rate follows `PaperLearningRate(learning_rate, lr_decay,
    min_learning_rate)`: constant with `lr_decay=1` (DCGAN), so the
    `TrainConfig` fields `learning_rate`, `lr_decay` and `min_learning_rate`
    mean the same for both kinds of optimiser.

    Example:

    >>> opt = adam_optimizer(name="g_optimizer")
    >>> round(float(opt.learning_rate), 6), opt.beta_1, opt.epsilon
    (0.0002, 0.5, 1e-08)
    """
    return keras.optimizers.Adam(
        PaperLearningRate(learning_rate, lr_decay, min_learning_rate),
        beta_1=beta_1,
        beta_2=beta_2,
        epsilon=ADAM_EPSILON,
        name=name,
    )
