"""The generator's gradient early in training: minimax vs non-saturating loss (Section 3).

The paper warns that early in learning, when G is poor, D rejects G's
samples with high confidence and the minimax loss log(1 - D(G(z))) saturates;
training G to maximise log D(G(z)) instead (the non-saturating loss) gives
much stronger gradients. Here D is trained against a fixed, untrained G and,
every few D steps, G's gradient norm under both losses is measured:

- `generator_gradient_norms`: the two norms on one batch of z;
- `gradient_norms_while_d_learns`: D's training loop, measuring on the way;
- `mnist_gradient_norms` (the paper's MNIST MLPs) and `toy_gradient_norms`
  (Fig. 1's 1-D models): that loop set up for each;
- `plot_gradients`: the norms and D(G(z)) against D's steps.

Example:

>>> from gan_keras.paper import gradients
>>> records = gradients.toy_gradient_norms(d_steps=300)  # doctest: +SKIP
>>> round(records[-1]["ratio"], 4)  # doctest: +SKIP
0.0036
>>> gradients.plot_gradients({"toy": records}, "docs/theory_gradients.png")  # doctest: +SKIP
'docs/theory_gradients.png'
"""

import keras
import numpy as np
import tensorflow as tf

from gan_keras import data as data_lib
from gan_keras.nets import losses
from gan_keras.nets.models import Discriminator, Generator
from gan_keras.nets.optimizers import paper_optimizer
from gan_keras.paper.plotting import pyplot, save_png
from gan_keras.paper.toy import FIG1_LATENT_DIM, _seed, default_data_dist, sample_points
from gan_keras.paper.value_function import _mean_discriminator_loss

__all__ = [
    "generator_gradient_norms",
    "gradient_norms_while_d_learns",
    "mnist_gradient_norms",
    "plot_gradients",
    "toy_gradient_norms",
]


def generator_gradient_norms(generator, discriminator, z):
    """||grad_theta_G|| of the mean minimax and the mean non-saturating G loss.

    Both losses are taken through the same forward pass of D in inference mode
    (no dropout), on the same noise `z`. Per sample, the minimax loss
    `log(1 - D(G(z)))` has derivative `-D` in D's logit and the
    non-saturating `-log D(G(z))` has `-(1 - D)`: when D rejects the samples
    (D(G(z)) -> 0) the minimax gradient vanishes (paper, Section 3).

    Returns:
        A dict: `minimax` and `non_saturating` (global L2 norms over G's
        variables), `ratio` (minimax / non_saturating) and `d_fake` (mean
        D(G(z))).

    Example:

    >>> g, d = Generator(), Discriminator()
    >>> norms = generator_gradient_norms(g, d, g.sample_noise(100, seed=[0, 1]))
    >>> sorted(norms)
    ['d_fake', 'minimax', 'non_saturating', 'ratio']
    """
    variables = generator.trainable_variables
    with tf.GradientTape(persistent=True) as tape:
        fake_logits = tf.reshape(discriminator(generator(z, training=False), training=False), [-1])
        minimax = tf.reduce_mean(losses.generator_loss(fake_logits, "minimax"))
        non_saturating = tf.reduce_mean(losses.generator_loss(fake_logits, "non_saturating"))
    norm_mm = float(tf.linalg.global_norm(tape.gradient(minimax, variables)))
    norm_ns = float(tf.linalg.global_norm(tape.gradient(non_saturating, variables)))
    del tape
    return dict(
        minimax=norm_mm,
        non_saturating=norm_ns,
        ratio=norm_mm / norm_ns if norm_ns > 0 else float("nan"),
        d_fake=float(tf.reduce_mean(tf.sigmoid(fake_logits))),
    )


def gradient_norms_while_d_learns(
    generator, discriminator, real_batch, optimizer, d_steps, every, batch_size, seed=0, eval_noise=1000
):
    """Trains D against the fixed, untrained G and measures G's gradients on the way.

    This is the start of training the paper worries about: G is still bad
    and D learns to reject its samples. Every `every` D steps (and at step 0,
    where D(G(z)) ~ 1/2: the control) it records `generator_gradient_norms`
    on one fixed batch of `eval_noise` z's.

    Args:
        generator, discriminator: built models; only D is trained.
        real_batch: `real_batch(step)` -> `batch_size` real examples.
        optimizer: D's optimiser (e.g. `paper_optimizer()` or Adam).
        d_steps, every: D's updates and the measuring interval.
        batch_size: fake examples per D step (as many as real ones).
        seed: int; the noise derives from it.
        eval_noise: size of the measuring batch of z.

    Returns:
        A list of dicts, `generator_gradient_norms(...)` plus `d_step`.

    Example:

    >>> records = gradient_norms_while_d_learns(g, d, batches, Adam(1e-3), 200, 50, 100)  # doctest: +SKIP
    >>> records[-1]["ratio"] < 0.1  # doctest: +SKIP
    True
    """
    variables = discriminator.trainable_variables
    optimizer.build(variables)

    @tf.function
    def d_step(real, z):
        with tf.GradientTape() as tape:
            loss = _mean_discriminator_loss(discriminator, real, generator(z, training=False))
        optimizer.apply(tape.gradient(loss, variables), variables)
        return loss

    z_eval = generator.sample_noise(eval_noise, _seed(seed, -1))
    records = []
    for step in range(int(d_steps) + 1):
        if step % every == 0 or step == d_steps:
            records.append(dict(d_step=step, **generator_gradient_norms(generator, discriminator, z_eval)))
        if step < d_steps:
            d_step(real_batch(step), generator.sample_noise(batch_size, _seed(seed, step)))
    return records


def mnist_gradient_norms(d_steps=200, every=20, batch_size=100, data_dir=None, seed=0, images=None):
    """`gradient_norms_while_d_learns` for the paper's MNIST models.

    G and D are `Generator()` and `Discriminator()` (the paper's MLPs, D with
    dropout while it trains); D takes `d_steps` steps of the paper's optimiser
    (`paper_optimizer()`: SGD, learning rate 0.1, momentum 0.5) on minibatches
    of `batch_size` real MNIST training images and as many samples of the
    untrained G.

    Args:
        images: the MNIST training images as uint8 (default: loaded with
            `data.load_images("mnist", "train", data_dir)`).

    Example:

    >>> round(mnist_gradient_norms(d_steps=200)[-1]["ratio"], 6)  # doctest: +SKIP
    1.1e-05
    """
    if images is None:
        images = data_lib.load_images("mnist", "train", data_dir)
    keras.utils.set_random_seed(seed)
    generator, discriminator = Generator(), Discriminator(seed=seed)
    generator.build()
    discriminator.build()
    order = np.random.default_rng(seed).permutation(len(images))

    def real_batch(step):
        start = (step * batch_size) % (len(images) - batch_size)
        return data_lib.to_float(images[np.sort(order[start : start + batch_size])])

    return gradient_norms_while_d_learns(
        generator, discriminator, real_batch, paper_optimizer(), d_steps, every, batch_size, seed
    )


def toy_gradient_norms(data_dist=None, d_steps=300, every=25, batch_size=256, seed=0):
    """`gradient_norms_while_d_learns` for the 1-D toy (Fig. 1's models).

    G is an untrained `Generator(arch="points", image_shape=(1,),
    latent_dim=4)` (its samples sit near 0), p_data defaults to N(4, 0.5),
    and D, a `points` discriminator, takes Adam steps (learning rate 1e-3).

    Example:

    >>> round(toy_gradient_norms(d_steps=300)[-1]["ratio"], 4)  # doctest: +SKIP
    0.0036
    """
    data_dist = data_dist or default_data_dist()
    keras.utils.set_random_seed(seed)
    generator = Generator(latent_dim=FIG1_LATENT_DIM, image_shape=(1,), arch="points")
    discriminator = Discriminator(arch="points", image_shape=(1,))
    generator.build()
    discriminator.build()

    def real_batch(step):
        return sample_points(data_dist, batch_size, _seed(seed + 1, step))

    return gradient_norms_while_d_learns(
        generator, discriminator, real_batch, keras.optimizers.Adam(1e-3), d_steps, every, batch_size, seed
    )


def plot_gradients(runs, path):
    """Draws G's gradient norms (minimax vs non-saturating) while D learns, one panel per run.

    Log-scale norms against D's steps, with mean D(G(z)) on a second axis;
    each title gives the final ratio. Returns `path`.

    Args:
        runs: `{title: records}` with records from `gradient_norms_while_d_learns`.
        path: the PNG to write.

    Example:

    >>> plot_gradients({"toy": toy_gradient_norms()}, "docs/theory_gradients.png")  # doctest: +SKIP
    'docs/theory_gradients.png'
    """
    plt = pyplot()
    fig, axes = plt.subplots(1, len(runs), figsize=(5.2 * len(runs), 3.8), squeeze=False)
    for ax, (title, records) in zip(axes[0], runs.items()):
        steps = [r["d_step"] for r in records]
        ax.semilogy(steps, [r["non_saturating"] for r in records], "g-o", ms=3, label="non-saturating -log D(G(z))")
        ax.semilogy(steps, [r["minimax"] for r in records], "r-s", ms=3, label="minimax log(1 - D(G(z)))")
        ax.set_xlabel("D steps against the fixed, untrained G")
        ax.set_ylabel("||grad G||")
        twin = ax.twinx()
        twin.plot(steps, [r["d_fake"] for r in records], "b--", lw=1, label="mean D(G(z))")
        twin.set_ylim(0, 1)
        twin.set_ylabel("mean D(G(z))", color="b")
        last = records[-1]
        ax.set_title(f"{title}\nend: ratio {last['ratio']:.2g} at D(G(z)) = {last['d_fake']:.3f}", fontsize=9)
        lines = ax.get_legend_handles_labels()
        more = twin.get_legend_handles_labels()
        ax.legend(lines[0] + more[0], lines[1] + more[1], loc="lower left", fontsize=7)
    fig.tight_layout()
    return save_png(fig, path)
