"""Philox-4x32-10 in TensorFlow's integer ops: TensorFlow's stateless uniform numbers, bit for bit.

`benchmarks/dropout_masks.py` compiles it with XLA to see whether a vectorised
generator draws D's dropout masks faster than TensorFlow's CPU kernel.
"""

import tensorflow as tf

# Philox-4x32-10 (Salmon et al., 2011), as tensorflow/core/lib/random/philox_random.h has it.
MULTIPLIERS = (0xD2511F53, 0xCD9E8D57)
KEY_STEPS = (0x9E3779B9, 0xBB67AE85)


def _mul_hi_lo(x, multiplier):
    product = tf.cast(x, tf.uint64) * tf.constant(multiplier, tf.uint64)
    return tf.cast(tf.bitwise.right_shift(product, tf.constant(32, tf.uint64)), tf.uint32), tf.cast(product, tf.uint32)


def philox_uniform(key, counter, n):
    """TensorFlow's `n` stateless uniform float32 numbers for `key`, `counter` (`StatelessRandomGetKeyCounter`).

    Number `i` is word `i % 4` of the Philox block at counter `counter + i // 4`
    (128-bit), its low 23 bits made a float in [0, 1), as TensorFlow's CPU kernel
    computes it.

    Example:

    >>> key, counter = tf.raw_ops.StatelessRandomGetKeyCounter(seed=[1, 2])
    >>> bool(tf.reduce_all(philox_uniform(key, counter, 6) == tf.random.stateless_uniform([6], [1, 2])))
    True
    """
    xor = tf.bitwise.bitwise_xor
    key_words = tf.bitcast(key, tf.uint32)  # [1, 2]: low word, high word
    k0, k1 = key_words[0, 0], key_words[0, 1]
    block = tf.cast(tf.range((n + 3) // 4, dtype=tf.int64), tf.uint64)
    low = counter[0] + block
    high = counter[1] + tf.cast(low < block, tf.uint64)  # the carry into the counter's upper 64 bits
    low_words, high_words = tf.bitcast(low, tf.uint32), tf.bitcast(high, tf.uint32)
    x0, x1, x2, x3 = low_words[:, 0], low_words[:, 1], high_words[:, 0], high_words[:, 1]
    for _ in range(10):
        hi0, lo0 = _mul_hi_lo(x0, MULTIPLIERS[0])
        hi1, lo1 = _mul_hi_lo(x2, MULTIPLIERS[1])
        x0, x1, x2, x3 = xor(xor(hi1, x1), k0), lo1, xor(xor(hi0, x3), k1), lo0
        k0, k1 = k0 + tf.constant(KEY_STEPS[0], tf.uint32), k1 + tf.constant(KEY_STEPS[1], tf.uint32)
    words = tf.reshape(tf.stack([x0, x1, x2, x3], axis=1), [-1])[:n]
    mantissa = tf.bitwise.bitwise_and(words, tf.constant(0x7FFFFF, tf.uint32))
    return tf.bitcast(tf.bitwise.bitwise_or(mantissa, tf.constant(0x3F800000, tf.uint32)), tf.float32) - 1.0
