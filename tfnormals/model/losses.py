"""Masked losses and metrics for the passes (TensorFlow ops, usable inside train_step).

Normals: L1 and (1 − cos), optionally weighted so common directions (floors, walls) do not
dominate. Depth: relative (a plate has no scale), so the loss is scale-invariant in log depth
plus multi-scale gradient matching. Albedo: scale-invariant per image and channel in log space
(a plate cannot tell a dim red light on white paint from white light on red paint).
"""

import math

import tensorflow as tf

DIRECTION_BINS = (12, 6)  # azimuth × polar-angle bins over the visible hemisphere
LOG_EPS = 1e-3
# Depth is relative: nothing holds a prediction's scale, so its log must not be clamped where the
# depth head can go (exp of a log clipped to ±12, see layers.PositiveExp): no dead zone for gradients.
DEPTH_LOG_EPS = 1e-6
ABSREL_LOG_LIMIT = 4.0  # the median-scaled log-depth error is clipped here (AbsRel ≤ e⁴ − 1) to keep exp finite


def _masked_mean(values, mask):
    """Mean of [B, H, W] values weighted by a [B, H, W, 1] mask."""
    weights = mask[..., 0]
    return tf.reduce_sum(values * weights) / tf.maximum(tf.reduce_sum(weights), 1.0)


def masked_l1(pred, target, mask):
    """Mean absolute error per component over masked pixels."""
    return _masked_mean(tf.reduce_mean(tf.abs(pred - target), axis=-1), mask)


def direction_bin(normals, bins=DIRECTION_BINS):
    """Index of each normal's azimuth × polar-angle bin, [B, H, W] int32 (back-facing → the last ring)."""
    azimuth_bins, polar_bins = bins
    x, y, z = tf.unstack(normals, axis=-1)
    polar = tf.acos(tf.clip_by_value(z, -1.0, 1.0)) / (math.pi / 2)
    azimuth = (tf.atan2(y, x) + math.pi) / (2 * math.pi)
    p = tf.minimum(tf.cast(polar * polar_bins, tf.int32), polar_bins - 1)
    a = tf.minimum(tf.cast(azimuth * azimuth_bins, tf.int32), azimuth_bins - 1)
    return p * azimuth_bins + a


def direction_balance(target, mask, power=0.5, bins=DIRECTION_BINS):
    """Per-pixel weights ∝ (share of the batch's surface pixels in the pixel's direction bin) ** -power.

    The weights are scaled to a masked mean of 1 (power 0 gives plain masking) and carry no
    gradient. Returns [B, H, W, 1], zero outside the mask.
    """
    count = bins[0] * bins[1]
    index = tf.reshape(direction_bin(target, bins), [-1])
    m = tf.reshape(mask, [-1])
    share = tf.math.unsorted_segment_sum(m, index, count) / tf.maximum(tf.reduce_sum(m), 1.0)
    weight = tf.pow(tf.maximum(tf.gather(share, index), 1e-4), -power) * m
    weight *= tf.reduce_sum(m) / tf.maximum(tf.reduce_sum(weight), 1e-6)
    return tf.stop_gradient(tf.reshape(weight, tf.shape(mask)))


def cosine_similarity(pred, target):
    """Per-pixel cosine between two normal fields (inputs need not be unit length)."""
    return tf.reduce_sum(tf.math.l2_normalize(pred, -1) * tf.math.l2_normalize(target, -1), axis=-1)


def masked_angular(pred, target, mask):
    """Mean (1 - cos angle) over masked pixels: the angular (cosine) loss."""
    return _masked_mean(1.0 - cosine_similarity(pred, target), mask)


def angle_degrees(pred, target):
    """Per-pixel angle in degrees between two normal fields, [B, H, W]."""
    cos = tf.clip_by_value(cosine_similarity(pred, target), -1.0, 1.0)
    return tf.acos(cos) * (180.0 / math.pi)


def masked_mean_angle(pred, target, mask):
    """Mean angular error in degrees over masked pixels."""
    return _masked_mean(angle_degrees(pred, target), mask)


def adversarial(logits, is_real):
    """Non-saturating GAN loss: sigmoid cross-entropy against all-real or all-fake labels."""
    logits = tf.cast(logits, tf.float32)
    labels = tf.ones_like(logits) if is_real else tf.zeros_like(logits)
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits))


def _per_image_mean(values, weights):
    """Weighted mean over H and W of [B, H, W, C] values with [B, H, W, 1] weights → [B, 1, 1, C]."""
    total = tf.reduce_sum(weights, axis=[1, 2], keepdims=True)
    return tf.reduce_sum(values * weights, axis=[1, 2], keepdims=True) / tf.maximum(total, 1.0)


def _mean_over_images(per_image, valid):
    """Mean of per-image [B, 1, 1, 1] values over the images that have a valid pixel (0 when none has)."""
    has = tf.cast(tf.reduce_sum(valid, axis=[1, 2, 3]) > 0, tf.float32)
    return tf.reduce_sum(tf.reshape(per_image, [-1]) * has) / tf.maximum(tf.reduce_sum(has), 1.0)


def _log(x, eps=LOG_EPS):
    return tf.math.log(tf.maximum(x, eps))


def scale_free_log(values, valid, eps=LOG_EPS):
    """log(values) minus each image's and channel's mean over valid pixels, zero elsewhere.

    What the discriminator sees of a relative pass (depth, albedo): the losses ignore each image's
    scale, so a real and a predicted pass must not differ by scale alone.
    """
    logs = _log(values, eps)
    return (logs - _per_image_mean(logs, valid)) * valid


def scale_invariant_log_depth(pred, target, valid):
    """Variance of the log-depth error over valid pixels, averaged over images: 0 for any pred = s · target."""
    d = _log(pred, DEPTH_LOG_EPS) - _log(target, DEPTH_LOG_EPS)
    mean = _per_image_mean(d, valid)
    return _mean_over_images(_per_image_mean(tf.square(d - mean), valid), valid)


def _per_image_median(values, valid):
    """Median over H and W of [B, H, W, 1] values at valid pixels → [B, 1, 1, 1] (the lower middle value for an
    even count; an image without valid pixels gets the largest float)."""
    flat_valid = tf.reshape(valid > 0, [tf.shape(values)[0], -1])
    flat = tf.where(flat_valid, tf.reshape(values, tf.shape(flat_valid)), tf.float32.max)
    middle = (tf.maximum(tf.reduce_sum(tf.cast(flat_valid, tf.int32), axis=1), 1) - 1) // 2
    return tf.reshape(tf.gather(tf.sort(flat, axis=1), middle, batch_dims=1), [-1, 1, 1, 1])


def median_scaled_absrel(pred, target, valid):
    """AbsRel |s·pred − target| / target after each image's median scaling s = median(target) / median(pred), the
    metric evaluate reports, averaged over images. Unlike the log-depth variance it charges an over-estimate more
    than an under-estimate, so where the depth is uncertain it favours a flatter guess, as the metric does."""
    pred, target = tf.cast(pred, tf.float32), tf.cast(target, tf.float32)
    log_pred, log_target = _log(pred, DEPTH_LOG_EPS), _log(target, DEPTH_LOG_EPS)
    error = log_pred - log_target + _per_image_median(log_target, valid) - _per_image_median(log_pred, valid)
    error = tf.clip_by_value(error, -ABSREL_LOG_LIMIT, ABSREL_LOG_LIMIT)
    absrel = tf.where(valid > 0, tf.abs(tf.exp(error) - 1.0), 0.0)
    return _mean_over_images(_per_image_mean(absrel, valid), valid)


DEPTH_LOSSES = {"si_log": scale_invariant_log_depth, "absrel": median_scaled_absrel}


def gradient_matching(pred, target, valid, scales=4):
    """Multi-scale gradient matching of the scale-aligned log-depth error (MiDaS), mean over scales."""
    d = _log(pred, DEPTH_LOG_EPS) - _log(target, DEPTH_LOG_EPS)
    d = (d - _per_image_mean(d, valid)) * valid
    total = 0.0
    for s in range(scales):
        step = 2 ** s
        r, v = d[:, ::step, ::step], valid[:, ::step, ::step]
        gx = tf.abs(r[:, :, 1:] - r[:, :, :-1]) * v[:, :, 1:] * v[:, :, :-1]
        gy = tf.abs(r[:, 1:] - r[:, :-1]) * v[:, 1:] * v[:, :-1]
        count = tf.reduce_sum(v[:, :, 1:] * v[:, :, :-1]) + tf.reduce_sum(v[:, 1:] * v[:, :-1])
        total += (tf.reduce_sum(gx) + tf.reduce_sum(gy)) / tf.maximum(count, 1.0)
    return total / scales


def scale_invariant_log_albedo(pred, target, valid):
    """L1 of the log-albedo error after removing each image's and channel's mean log ratio."""
    d = _log(pred) - _log(target)
    d -= _per_image_mean(d, valid)
    return _masked_mean(tf.reduce_mean(tf.abs(d), axis=-1), valid)
