"""Mixed precision for accelerators: the networks' compute dtype, loss scaling, float32 copies.

Training under `"mixed_float16"` or `"mixed_bfloat16"` builds G and D with
that Keras dtype policy: their variables stay float32 and their layers
compute in the low precision. The GAN's losses, D's logits, the samples
that evaluation sees (`Generator.sample`) and every saved generator are
float32. Under `"mixed_float16"` each network's optimiser is wrapped in its
own `keras.optimizers.LossScaleOptimizer`, so an overflow in G's gradients
skips G's step only, and one in D's skips D's only (Keras 3 has no shared
scaler; see keras-team/keras#19479).
"""

import contextlib

import keras

__all__ = [
    "POLICIES",
    "dtype_policy",
    "float32_copy",
    "loss_scaled",
]

POLICIES = ("float32", "mixed_float16", "mixed_bfloat16")


@contextlib.contextmanager
def dtype_policy(name):
    """Layers made inside take the Keras dtype policy `name` (sub-layers too); the old one is restored.

    Example:

    >>> with dtype_policy("mixed_bfloat16"):
    ...     layer = keras.layers.Dense(2)
    >>> layer.compute_dtype, layer.variable_dtype
    ('bfloat16', 'float32')
    """
    if name not in POLICIES:
        raise ValueError(f"mixed_precision must be one of {', '.join(POLICIES)}; got {name!r}.")
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def loss_scaled(optimizer, policy):
    """`optimizer` wrapped in its own `LossScaleOptimizer` under `"mixed_float16"`, else itself.

    Example:

    >>> loss_scaled(keras.optimizers.SGD(), "mixed_float16").__class__.__name__
    'LossScaleOptimizer'
    """
    if policy == "mixed_float16":
        return keras.optimizers.LossScaleOptimizer(optimizer, name=f"{optimizer.name}_loss_scale")
    return optimizer


def float32_copy(network):
    """`network` itself if it computes in float32, else a float32 copy with the same weights.

    Example:

    >>> from gan_keras.nets.models import Generator
    >>> with dtype_policy("mixed_bfloat16"):
    ...     g = Generator(latent_dim=4)
    >>> float32_copy(g).compute_dtype
    'float32'
    """
    if network.compute_dtype == "float32":
        return network
    if not network.built:
        network.build()
    with dtype_policy("float32"):
        copy = network.__class__.from_config({**network.get_config(), "dtype": "float32"})
        copy.build()
    copy.set_weights(network.get_weights())
    return copy
