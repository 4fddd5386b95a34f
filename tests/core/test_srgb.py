"""tfnormals.core.srgb: the sRGB transfer functions and luminance, numpy and TensorFlow paths alike."""

import numpy as np
import pytest

from tfnormals.core import srgb

# (linear, sRGB-encoded) pairs from the IEC 61966-2-1 formulas, computed independently.
KNOWN = [(0.0, 0.0), (0.001, 0.01292), (0.0031308, 0.040449936), (0.01, 0.0998528), (0.18, 0.461356),
         (0.2140411, 0.5), (0.5, 0.735357), (1.0, 1.0)]


@pytest.mark.parametrize("linear,encoded", KNOWN)
def test_known_values(linear, encoded):
    assert float(srgb.linear_to_srgb(linear)) == pytest.approx(encoded, abs=2e-6)
    assert float(srgb.srgb_to_linear(encoded)) == pytest.approx(linear, abs=2e-6)


def test_round_trip_and_monotonic():
    x = np.linspace(0.0, 1.0, 2001, dtype=np.float32)
    encoded = srgb.linear_to_srgb(x)
    assert encoded.dtype == np.float32 and np.all(np.diff(encoded) > 0)
    np.testing.assert_allclose(srgb.srgb_to_linear(encoded), x, atol=2e-6)
    # The two pieces of each curve meet at the knee (no jump).
    knee = srgb.SRGB_LINEAR_KNEE
    below, above = srgb.linear_to_srgb([knee * (1 - 1e-6), knee * (1 + 1e-6)])
    assert abs(float(above - below)) < 1e-6


def test_out_of_range_values_are_clipped():
    """Display-referred: negative light and HDR values above 1 encode to 0 and 1, and decoding clips too."""
    for fn, values in ((srgb.linear_to_srgb, [-0.5, 1.0, 7.0]), (srgb.srgb_to_linear, [-0.1, 1.0, 1.5])):
        low, one, high = fn(values)
        assert low == 0.0 and high == one == pytest.approx(1.0, abs=1e-6), fn.__name__


def test_luminance_uses_rec709_weights():
    rgb = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 1.0, 1.0], [0.5, 0.25, 0.125]])
    np.testing.assert_allclose(srgb.luminance(rgb), [0.2126, 0.7152, 0.0722, 1.0,
                                                       0.2126 * 0.5 + 0.7152 * 0.25 + 0.0722 * 0.125], rtol=1e-6)
    assert srgb.luminance(np.zeros((4, 5, 3))).shape == (4, 5)


def test_tensorflow_path_matches_numpy_in_a_graph():
    """With xp=tf.experimental.numpy (as augmentation calls them, inside tf.function) the functions give the
    numpy results, clipping included, and finite gradients at 0 (where x ** (1/2.4) has none)."""
    import tensorflow as tf
    import tensorflow.experimental.numpy as tnp
    x = np.concatenate([np.linspace(-0.2, 1.3, 297), [0.0, srgb.SRGB_LINEAR_KNEE, srgb.SRGB_ENCODED_KNEE]])
    x = x.astype(np.float32).reshape(-1, 3)

    @tf.function
    def both(t):
        return (srgb.linear_to_srgb(t, xp=tnp), srgb.srgb_to_linear(t, xp=tnp), srgb.luminance(t, xp=tnp))

    encoded, decoded, luma = (v.numpy() for v in both(tf.constant(x)))
    np.testing.assert_allclose(encoded, srgb.linear_to_srgb(x), atol=1e-6)
    np.testing.assert_allclose(decoded, srgb.srgb_to_linear(x), atol=1e-6)
    np.testing.assert_allclose(luma, srgb.luminance(x), atol=1e-6)

    zero = tf.Variable([0.0, 0.5])
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(srgb.linear_to_srgb(zero, xp=tnp))
    grad = tape.gradient(y, zero).numpy()
    assert np.all(np.isfinite(grad)) and grad[0] == pytest.approx(12.92)
