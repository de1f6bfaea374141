"""The random streams of a training run: one seed per purpose, derived from `--seed`.

A run draws four kinds of randomness: the initial weights (`init`), the
order of the training batches (`data`), G's noise z (`noise`) and D's dropout
masks (`dropout`). Each gets its own seed, `stream_seed(seed, purpose,
restart)`, so that no two purposes share random bits and runs with
neighbouring `--seed`s share none either. `restart` counts the times a run
was rolled back after a collapse (`--on_collapse=recover`): each restart
continues on fresh streams.

Layout 1 is the one of runs made before the streams were separated: every
stream was seeded with `--seed` itself (the noise of step `s` and the batch
order of epoch `s` were drawn from the same stateless seed `[seed, s]`, and D's
dropout layers used `seed + 1 ... seed + 3`, the noise seeds of the next
runs). It is kept so that those runs resume exactly; new runs use layout 2.
"""

import keras
import numpy as np

__all__ = ["LAYOUTS", "PURPOSES", "LATEST_LAYOUT", "reseed_generator", "stream_seed"]

PURPOSES = ("init", "data", "noise", "dropout")
LAYOUTS = (1, 2)
LATEST_LAYOUT = 2
# Room above a dropout seed for the consecutive seeds of D's dropout layers.
_MAX_SEED = 2**30


def stream_seed(seed, purpose, restart=0, layout=LATEST_LAYOUT):
    """The int seed of one random stream of a run.

    Args:
        seed: the run's `--seed`.
        purpose: one of `PURPOSES`.
        restart: how many times the run has been rolled back after a collapse.
        layout: 2 (separate streams), or 1 for runs made before it.

    Returns:
        An int in `[0, 2**30)`; in layout 1 with `restart=0`, the old seeds.

    Example:

    >>> stream_seed(0, "noise") != stream_seed(0, "data")
    True
    >>> stream_seed(0, "dropout", layout=1)
    1
    """
    if purpose not in PURPOSES:
        raise ValueError(f"purpose must be one of {', '.join(PURPOSES)}; got {purpose!r}.")
    if layout not in LAYOUTS:
        raise ValueError(f"the random-stream layout must be one of {LAYOUTS}; got {layout!r}.")
    if layout == 1 and restart == 0:
        return int(seed) + 1 if purpose == "dropout" else int(seed)
    entropy = [int(seed) % 2**32, PURPOSES.index(purpose), int(restart)]
    return int(np.random.SeedSequence(entropy).generate_state(1, np.uint32)[0]) % _MAX_SEED


def reseed_generator(generator, seed):
    """Points a `keras.random.SeedGenerator` at the stream of `seed`, keeping its draw count.

    Its next draw is the one a new `SeedGenerator(seed)` would make after as
    many draws, so a run moved to new streams stays a pure function of its
    seeds and step.

    Example:

    >>> generator = keras.random.SeedGenerator(1)
    >>> reseed_generator(generator, 5)
    """
    state = generator.state
    counter = int(keras.ops.convert_to_numpy(state.value)[1])
    state.assign(np.array([seed, counter], dtype=state.dtype))
