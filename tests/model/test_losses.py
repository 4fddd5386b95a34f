"""Masked losses and angular metrics (tfnormals.model.losses) on tiny hand-made tensors."""

import math

import numpy as np
import pytest
import tensorflow as tf

from tfnormals.model import losses


def _field(vectors, shape=(1, 2, 2)):
    """A [B, H, W, 3] float32 field: `vectors` is one 3-vector (broadcast) or an array of that shape."""
    return tf.constant(np.broadcast_to(np.asarray(vectors, np.float32), shape + (3,)))


def _mask(values):
    """A [1, H, W, 1] mask from a 2-D list."""
    return tf.constant(np.asarray(values, np.float32)[None, ..., None])


def test_masked_l1_ignores_masked_out_pixels():
    """Errors where the mask is 0 change neither the loss nor its gradient."""
    target = np.zeros((1, 2, 2, 3), np.float32)
    target[..., 2] = 1.0
    pred = target.copy()
    pred[0, 0, 0] = [0.3, -0.6, 0.9]   # inside the mask: |error| per component 0.3, 0.6, 0.1
    pred[0, 1, 1] = [5.0, 5.0, -5.0]  # outside the mask: huge error
    mask = _mask([[1.0, 1.0], [1.0, 0.0]])
    pred_t = tf.Variable(pred)
    with tf.GradientTape() as tape:
        loss = losses.masked_l1(pred_t, tf.constant(target), mask)
    # Mean over three masked pixels of the per-pixel mean |error|: (0.3 + 0.6 + 0.1) / 3 / 3.
    assert float(loss) == pytest.approx((1.0 / 3.0) / 3.0, rel=1e-6)
    grad = tape.gradient(loss, pred_t).numpy()
    np.testing.assert_array_equal(grad[0, 1, 1], 0.0)
    assert np.all(grad[0, 0, 0] != 0.0)

    clean = pred.copy()
    clean[0, 1, 1] = target[0, 1, 1]
    assert float(losses.masked_l1(tf.constant(clean), tf.constant(target), mask)) == pytest.approx(float(loss))


def test_masked_l1_weights_pixels_by_coverage():
    """A half-covered pixel counts half: the loss is the coverage-weighted mean."""
    target = _field([0.0, 0.0, 1.0], (1, 1, 2))
    pred = tf.constant([[[[0.0, 0.0, 1.0 - 0.6], [0.0, 0.0, 1.0 - 0.3]]]])  # per-pixel mean |e| 0.2, 0.1
    mask = _mask([[0.5, 1.0]])
    assert float(losses.masked_l1(pred, target, mask)) == pytest.approx((0.5 * 0.2 + 1.0 * 0.1) / 1.5, rel=1e-5)


def test_empty_mask_gives_zero_loss_not_nan():
    pred, target = _field([1.0, 0.0, 0.0]), _field([0.0, 0.0, 1.0])
    mask = _mask([[0.0, 0.0], [0.0, 0.0]])
    for fn in (losses.masked_l1, losses.masked_angular, losses.masked_mean_angle):
        value = float(fn(pred, target, mask))
        assert value == 0.0, fn.__name__


@pytest.mark.parametrize("a,b,expected", [
    ([0.0, 0.0, 1.0], [0.0, 0.0, 1.0], 0.0),      # identical
    ([0.0, 0.0, 1.0], [1.0, 0.0, 0.0], 90.0),     # orthogonal
    ([0.0, 1.0, 0.0], [0.0, 0.0, -3.0], 90.0),    # orthogonal, not unit length
    ([0.0, 0.0, 1.0], [0.0, 0.0, -1.0], 180.0),   # opposite
    ([0.0, 0.0, 2.0], [1.0, 0.0, 1.0], 45.0),     # 45°, inputs need not be unit length
    ([1.0, 1.0, 1.0], [1.0, 1.0, 1.0], 0.0),      # identical, cosine rounding must not give NaN
])
def test_angle_degrees(a, b, expected):
    angle = losses.angle_degrees(_field(a), _field(b)).numpy()
    assert angle.shape == (1, 2, 2)
    assert np.all(np.isfinite(angle))
    np.testing.assert_allclose(angle, expected, atol=0.05)


def test_masked_angular_and_mean_angle_use_masked_pixels_only():
    """Masked pixels at 90° and 0°, an unmasked one at 180°: mean angle 45°, mean (1 - cos) 0.5."""
    target = _field([0.0, 0.0, 1.0], (1, 1, 3))
    pred = tf.constant([[[[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, -1.0]]]])
    mask = _mask([[1.0, 1.0, 0.0]])
    assert float(losses.masked_mean_angle(pred, target, mask)) == pytest.approx(45.0, abs=1e-3)
    assert float(losses.masked_angular(pred, target, mask)) == pytest.approx(0.5, abs=1e-6)
    np.testing.assert_allclose(losses.cosine_similarity(pred, target).numpy()[0, 0], [0.0, 1.0, -1.0], atol=1e-6)


def test_adversarial_loss_values():
    """Sigmoid cross-entropy: near 0 for confident correct logits, ≈ |logit| for confident wrong ones."""
    confident_real = tf.fill([4, 1], 20.0)
    confident_fake = tf.fill([4, 1], -20.0)
    assert float(losses.adversarial(confident_real, True)) < 1e-6
    assert float(losses.adversarial(confident_fake, False)) < 1e-6
    assert float(losses.adversarial(confident_real, False)) == pytest.approx(20.0, rel=1e-4)
    assert float(losses.adversarial(confident_fake, True)) == pytest.approx(20.0, rel=1e-4)
    # Undecided logits cost ln 2 either way; a patch map of logits is averaged.
    assert float(losses.adversarial(tf.zeros([2, 4, 4, 1]), True)) == pytest.approx(math.log(2.0), rel=1e-6)
    mixed = tf.constant([[20.0], [-20.0]])
    assert float(losses.adversarial(mixed, True)) == pytest.approx(10.0, rel=1e-4)


def test_non_saturating_generator_loss_keeps_gradient_when_discriminator_wins():
    """When D confidently calls a fake fake (logit -10), the generator's loss still has a useful gradient."""
    logits = tf.Variable([[-10.0]])
    with tf.GradientTape() as tape:
        loss = losses.adversarial(logits, True)
    grad = float(tape.gradient(loss, logits)[0, 0])
    assert grad == pytest.approx(-1.0, abs=1e-3)  # d softplus(-x)/dx = -sigmoid(-x) ≈ -1


def test_median_scaled_absrel_is_the_metric_evaluate_reports_and_ignores_scale():
    from tfnormals.core import camera
    rng = np.random.default_rng(3)
    target = rng.uniform(1.0, 6.0, (3, 9, 9, 1)).astype(np.float32)
    pred = (target * np.exp(rng.normal(0.0, 0.4, target.shape))).astype(np.float32)
    valid = np.ones_like(target)
    valid[1, :4] = 0.0  # 45 valid pixels: an odd count, so both medians are one pixel's value
    valid[2] = 0.0      # no valid pixel: left out of the mean, no NaN
    loss = float(losses.median_scaled_absrel(tf.constant(pred * 7.0), tf.constant(target), tf.constant(valid)))
    expected = np.mean([camera.depth_metrics(pred[i, ..., 0], target[i, ..., 0], valid[i, ..., 0] > 0)["absrel_median"]
                        for i in (0, 1)])
    assert loss == pytest.approx(expected, rel=1e-4)
    scaled = losses.median_scaled_absrel(tf.constant(target * 0.01), tf.constant(target), tf.constant(valid))
    assert float(scaled) < 1e-5


def test_median_scaled_absrel_charges_an_over_estimate_more_than_an_under_estimate():
    """What makes it favour a flatter depth where depth is uncertain (the log-depth variance is symmetric)."""
    target = np.ones((1, 1, 5, 1), np.float32)
    valid = np.ones_like(target)
    def cost(log_error):
        pred = target * np.exp(np.float32([0, 0, 0, 0, log_error])).reshape(target.shape)
        return float(losses.median_scaled_absrel(tf.constant(pred), tf.constant(target), tf.constant(valid)))
    assert cost(0.5) > cost(-0.5) > 0.0
    assert cost(0.5) == pytest.approx((math.exp(0.5) - 1) / 5, rel=1e-5)


def test_median_scaled_absrel_has_finite_gradients_with_empty_images_and_zero_depth():
    pred = tf.Variable(np.random.default_rng(4).uniform(0.0, 2.0, (2, 8, 8, 1)).astype(np.float32))
    target = np.random.default_rng(5).uniform(0.0, 3.0, (2, 8, 8, 1)).astype(np.float32)
    valid = (target > 1.0).astype(np.float32)
    valid[1] = 0.0
    with tf.GradientTape() as tape:
        loss = losses.median_scaled_absrel(pred, tf.constant(target), tf.constant(valid))
    gradient = tape.gradient(loss, pred).numpy()
    assert np.isfinite(float(loss)) and np.all(np.isfinite(gradient))
    assert np.abs(gradient[0]).sum() > 0 and np.all(gradient[1] == 0)
