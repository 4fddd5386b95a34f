"""A shot model that falls back to its base model on images unlike its references.

A fine-tune (training.finetune) teaches the network one shot; on another shot it can be several
degrees worse than the base it came from (BUILD_NOTES.md "A shot model that knows its shot").
So the exported shot model carries the base too, and per image it measures how far the image is
from the views it was trained on: its encoder's coarsest skip features, mean- and std-pooled
(the image's "look"), against a bank of those of the reference views (1 − cosine to the
nearest). Near the bank the shot model's passes come out as they are; beyond `far` the base's;
in between a blend. A shot model runs both networks: it costs twice the base.
"""

import keras
import numpy as np
import tensorflow as tf

FALLBACK_SCOPE = "fallback"  # name scope of the base's copy inside a shot model (its variables' prefix)
FEATURE_LEVELS = 3  # the decoder's coarsest skip inputs pooled into an image's features


def feature_tensors(generator):
    """The symbolic skip features of a tfnormals generator the gate pools: the inputs the coarsest
    FEATURE_LEVELS decoder blocks concatenate (the encoder's deepest skips, before the bottleneck)."""
    skips = [layer for layer in generator.layers if layer.name.startswith("dec") and layer.name.endswith("_skip")]
    skips.sort(key=lambda layer: int(layer.name[3:-5]))  # dec{i}_skip: i = 0 is the finest
    return [layer.input[1] for layer in skips[-FEATURE_LEVELS:]]


def pooled_features(tensors):
    """[B, F] unit vectors: each feature map's per-channel mean and standard deviation over the image, each map's
    pair scaled to unit length (so every level counts alike), all concatenated and scaled to unit length."""
    parts = []
    for x in tensors:
        x = tf.cast(x, tf.float32)
        mean, variance = tf.nn.moments(x, axes=[1, 2])
        parts.append(tf.math.l2_normalize(tf.concat([mean, tf.sqrt(variance + 1e-12)], -1), -1))
    return tf.math.l2_normalize(tf.concat(parts, -1), -1)


def with_features(generator):
    """A Keras model of the generator's input returning (its outputs dict, its pooled gate features [B, F])."""
    return keras.Model(generator.input, [generator.output, keras.layers.Lambda(pooled_features)(feature_tensors(
        generator))])


def distances(features, bank):
    """[B]: 1 − cosine of each feature vector to its nearest in the bank ([K, F], unit rows)."""
    return 1.0 - tf.reduce_max(tf.matmul(features, bank, transpose_b=True), axis=-1)


def calibrate(bank, unlike, quantile, start):
    """(near, far) distances of the gate from the bank and the features of images unlike the shot: `far` is their
    `quantile` (that share of unlike images is nearer than it, the rest get the base alone), `near` = start · far."""
    far = float(np.quantile(distances(tf.constant(unlike), tf.constant(bank)).numpy(), quantile))
    return start * far, far


def shot_weight(distance, near, far):
    """The share of the shot model in the blend: 1 up to `near`, 0 from `far`, linear in between."""
    return tf.clip_by_value((far - distance) / max(far - near, 1e-9), 0.0, 1.0)


def image_weights(features, bank, near, far):
    """[B] shot weights of images by their pooled features: shot_weight of their distances from the bank."""
    return shot_weight(distances(features, bank), near, far)


def _blend(shot, base, weight):
    """Per image, weight · shot + (1 − weight) · base of every pass: normals renormalised, depth (scale free) with
    each model's per-image mean brought to one first."""
    w = weight[:, None, None, None]
    result = {}
    for name, value in shot.items():
        other = base[name]
        if name == "depth":
            value = value / tf.reduce_mean(value, axis=[1, 2, 3], keepdims=True)
            other = other / tf.reduce_mean(other, axis=[1, 2, 3], keepdims=True)
        mixed = w * value + (1.0 - w) * other
        result[name] = tf.math.l2_normalize(mixed, -1) if name == "normals" else mixed
    return result


class GatedShotModel(tf.Module):
    """Called like a generator (images → passes dict): the shot generator's passes, blended toward the base's per
    image by shot_weight of the image's distance from the bank.

    Args:
      shot_generator: the fine-tuned float32 generator.
      base_generator: the base's float32 generator, built under keras.name_scope(FALLBACK_SCOPE) so its variables
        keep their own names in the SavedModel.
      bank: [K, F] pooled features of the reference views (pooled_features through the shot generator).
      near, far: calibrate()'s distances.
    """

    def __init__(self, shot_generator, base_generator, bank, near, far):
        super().__init__(name="shot_model")
        self.shot = with_features(shot_generator)
        self.base = base_generator
        with tf.name_scope(FALLBACK_SCOPE):  # a variable, not a captured constant: tf2onnx freezes variables only
            self.bank = tf.Variable(np.asarray(bank, np.float32), trainable=False, name="bank")
        self.near, self.far = float(near), float(far)

    def __call__(self, images, training=False):
        shot, features = self.shot(images, training=False)
        weight = image_weights(features, self.bank, self.near, self.far)
        # Both networks run on every image: TensorFlow's convolutions fail on an empty batch, and tf2onnx turns
        # a tf.cond around the base into an invalid ONNX graph.
        return _blend(shot, self.base(images, training=False), weight)
