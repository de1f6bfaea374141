"""The adversarial losses, per example, computed from D's logits.

With `l` a logit and `D = sigmoid(l)`: `log D = -softplus(-l)` and
`log(1 - D) = -softplus(l)`, which is stable for any `l`.
"""

import tensorflow as tf

__all__ = [
    "G_LOSSES",
    "check_g_loss",
    "discriminator_loss",
    "generator_loss",
]

G_LOSSES = ("non_saturating", "minimax")


def check_g_loss(g_loss):
    """Raises `ValueError` unless `g_loss` is one of `G_LOSSES`."""
    if g_loss not in G_LOSSES:
        raise ValueError(f"g_loss must be one of {', '.join(G_LOSSES)}; got {g_loss!r}.")


def discriminator_loss(real_logits, fake_logits):
    """`-log D(x) - log(1 - D(G(z)))` per example pair: D minimises it.

    Its mean is `-V(D, G)`, the negated value function (paper, Eq. 1).

    Example:

    >>> float(discriminator_loss(tf.zeros([1]), tf.zeros([1]))[0])  # 2 log 2
    1.3862943649291992
    """
    return tf.nn.softplus(-real_logits) + tf.nn.softplus(fake_logits)


def generator_loss(fake_logits, g_loss="non_saturating"):
    """The generator's loss per example.

    `"minimax"`: `log(1 - D(G(z)))`, the paper's objective as written.
    `"non_saturating"`: `-log D(G(z))`, the paper's recommendation: the same
    fixed point, much stronger gradients while D rejects the samples.

    Example:

    >>> float(generator_loss(tf.zeros([1]), "minimax")[0])  # log(1/2)
    -0.6931471824645996
    """
    check_g_loss(g_loss)
    if g_loss == "minimax":
        return -tf.nn.softplus(fake_logits)
    return tf.nn.softplus(-fake_logits)
