"""Small custom layers: any H×W in (pad and crop back), unit normals and positive depth out, VGG input, norms."""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tfnormals")
class PadToMultiple(keras.layers.Layer):
    """Pad H and W at the bottom/right (mirror padding) up to a multiple of `multiple`.

    Args:
      multiple: the network's total stride (2 ** levels).
    """

    def __init__(self, multiple, **kwargs):
        super().__init__(**kwargs)
        self.multiple = multiple

    def call(self, images):
        shape = tf.shape(images)
        pad_h = (-shape[1]) % self.multiple
        pad_w = (-shape[2]) % self.multiple
        tf.debugging.assert_less_equal(
            tf.maximum(pad_h - shape[1], pad_w - shape[2]), 0,
            message=f"image too small: each side must be at least half the model stride ({self.multiple // 2} px)")
        return tf.pad(images, [[0, 0], [0, pad_h], [0, pad_w], [0, 0]], mode="SYMMETRIC")

    def compute_output_shape(self, input_shape):
        return (input_shape[0], None, None, input_shape[3])

    def get_config(self):
        return dict(super().get_config(), multiple=self.multiple)


@keras.saving.register_keras_serializable(package="tfnormals")
class CropLike(keras.layers.Layer):
    """Crop the first input to the height and width of the second (undoes PadToMultiple)."""

    def call(self, inputs):
        image, reference = inputs
        shape = tf.shape(reference)
        return image[:, :shape[1], :shape[2], :]

    def compute_output_shape(self, input_shapes):
        image_shape, reference_shape = input_shapes
        return (image_shape[0], reference_shape[1], reference_shape[2], image_shape[3])


@keras.saving.register_keras_serializable(package="tfnormals")
class UnitNormalize(keras.layers.Layer):
    """L2-normalize the last axis, so the network's output is a field of unit vectors."""

    def call(self, x):
        return tf.math.l2_normalize(x, axis=-1, epsilon=1e-12)


@keras.saving.register_keras_serializable(package="tfnormals")
class Upsample2x(keras.layers.Layer):
    """Bilinear 2× upsampling that works with unknown H and W (keras UpSampling2D does not in graphs)."""

    def call(self, x):
        return tf.image.resize(x, tf.shape(x)[1:3] * 2, method="bilinear")

    def compute_output_shape(self, input_shape):
        scaled = [None if s is None else 2 * s for s in input_shape[1:3]]
        return (input_shape[0], *scaled, input_shape[3])


@keras.saving.register_keras_serializable(package="tfnormals")
class CaffeBGR(keras.layers.Layer):
    """sRGB in [0, 1] → the Caffe VGG input: 0..255, channels reversed to BGR, per-channel mean removed.

    Args:
      mean_bgr: mean of the B, G, R channels in 0..255 units.
    """

    def __init__(self, mean_bgr, **kwargs):
        super().__init__(**kwargs)
        self.mean_bgr = tuple(float(m) for m in mean_bgr)

    def call(self, images):
        return tf.reverse(images, [-1]) * 255.0 - tf.constant(self.mean_bgr, images.dtype)

    def get_config(self):
        return dict(super().get_config(), mean_bgr=self.mean_bgr)


@keras.saving.register_keras_serializable(package="tfnormals")
class PositiveExp(keras.layers.Layer):
    """exp of a clipped log: a head's unbounded output → a positive relative quantity (depth)."""

    def __init__(self, limit=12.0, **kwargs):
        super().__init__(**kwargs)
        self.limit = limit

    def call(self, log_values):
        return tf.exp(tf.clip_by_value(log_values, -self.limit, self.limit))

    def get_config(self):
        return dict(super().get_config(), limit=self.limit)


@keras.saving.register_keras_serializable(package="tfnormals")
class GlobalContext(keras.layers.Layer):
    """Adds a summary of the whole image to every position: mean-pooled features → MLP → broadcast add.

    The last projection starts at zero, so a model warm-started from one without this block
    computes exactly what it did before training moves it.
    """

    def __init__(self, hidden=128, **kwargs):
        super().__init__(**kwargs)
        self.hidden = hidden

    def build(self, input_shape):
        channels = input_shape[-1]
        self.squeeze = keras.layers.Dense(self.hidden, activation="relu", name="squeeze")
        self.expand = keras.layers.Dense(channels, kernel_initializer="zeros", name="expand")
        self.squeeze.build((None, channels))
        self.expand.build((None, self.hidden))

    def call(self, features):
        pooled = tf.reduce_mean(features, axis=[1, 2])
        return features + self.expand(self.squeeze(pooled))[:, None, None, :]

    def get_config(self):
        return dict(super().get_config(), hidden=self.hidden)


CONTEXTS = ("none", "pool")
NORMS = ("batch", "instance", "group", "none")


def normalization(kind, name):
    """A normalization layer by name; 'instance' is GroupNormalization with one group per channel."""
    if kind == "batch":
        return keras.layers.BatchNormalization(name=name)
    if kind == "instance":
        return keras.layers.GroupNormalization(groups=-1, name=name)
    if kind == "group":
        return keras.layers.GroupNormalization(groups=8, name=name)
    if kind == "none":
        return keras.layers.Identity(name=name)
    raise ValueError(f"unknown normalization {kind!r}; expected one of {NORMS}")
