"""Masked losses and angular metrics for normal maps (TensorFlow ops, usable inside train_step)."""

import math

import tensorflow as tf


def _masked_mean(values, mask):
    """Mean of [B, H, W] values weighted by a [B, H, W, 1] mask."""
    weights = mask[..., 0]
    return tf.reduce_sum(values * weights) / tf.maximum(tf.reduce_sum(weights), 1.0)


def masked_l1(pred, target, mask):
    """Mean absolute error per component over masked pixels."""
    return _masked_mean(tf.reduce_mean(tf.abs(pred - target), axis=-1), mask)


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
    labels = tf.ones_like(logits) if is_real else tf.zeros_like(logits)
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits))
