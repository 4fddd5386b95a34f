"""Custom layers (tfnormals.model.layers): any H×W in, unit normals and positive depth out, VGG input,
normalization by name; behaviour against known answers, and serialization."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfnormals.model import layers
from tfnormals.model.layers import CaffeBGR, CropLike, PadToMultiple, PositiveExp, UnitNormalize, Upsample2x


def _image(h, w, c=3, seed=0):
    return np.random.default_rng(seed).random((2, h, w, c)).astype(np.float32)


@pytest.mark.parametrize("h,w,multiple,expected", [
    (77, 131, 32, (96, 160)),
    (64, 64, 32, (64, 64)),   # already a multiple: unchanged
    (9, 17, 8, (16, 24)),
    (8, 8, 16, (16, 16)),     # exactly half the stride is the smallest accepted side
])
def test_pad_to_multiple_shape(h, w, multiple, expected):
    out = PadToMultiple(multiple)(tf.constant(_image(h, w)))
    assert tuple(out.shape) == (2, *expected, 3)


def test_pad_to_multiple_mirrors_at_bottom_and_right():
    """The original pixels stay at the top-left; the padding is their mirror image (SYMMETRIC)."""
    image = _image(5, 6, seed=1)
    out = PadToMultiple(8)(tf.constant(image)).numpy()
    np.testing.assert_array_equal(out[:, :5, :6], image)
    np.testing.assert_array_equal(out[:, 5:8, :6], image[:, 4:1:-1])      # rows 4, 3, 2 mirrored
    np.testing.assert_array_equal(out[:, :5, 6:8], image[:, :, 5:3:-1])   # columns 5, 4 mirrored


def test_pad_to_multiple_rejects_images_smaller_than_half_the_stride():
    with pytest.raises(tf.errors.InvalidArgumentError, match="image too small"):
        PadToMultiple(32)(tf.constant(_image(15, 40)))


def test_pad_to_multiple_in_a_graph_with_unknown_size():
    """Inside a tf.function traced for [None, None, None, 3] (the SavedModel's signature)."""
    layer = PadToMultiple(16)
    fn = tf.function(layer, input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
    assert tuple(fn(tf.constant(_image(20, 33))).shape) == (2, 32, 48, 3)
    assert tuple(fn(tf.constant(_image(16, 17))).shape) == (2, 16, 32, 3)


def test_crop_like_undoes_pad_to_multiple():
    image = _image(21, 37, seed=2)
    padded = PadToMultiple(16)(tf.constant(image))
    cropped = CropLike()([padded, tf.constant(image)]).numpy()
    np.testing.assert_array_equal(cropped, image)


def test_crop_like_keeps_the_first_inputs_channels():
    big = tf.constant(_image(32, 32, c=5))
    reference = tf.zeros([2, 10, 12, 3])
    out = CropLike()([big, reference])
    assert tuple(out.shape) == (2, 10, 12, 5)
    np.testing.assert_array_equal(out.numpy(), big.numpy()[:, :10, :12])


def test_unit_normalize_gives_unit_vectors_in_the_same_direction():
    x = np.random.default_rng(3).normal(size=(2, 7, 9, 3)).astype(np.float32) * 5.0
    out = UnitNormalize()(tf.constant(x)).numpy()
    np.testing.assert_allclose(np.linalg.norm(out, axis=-1), 1.0, atol=1e-6)
    np.testing.assert_allclose(out * np.linalg.norm(x, axis=-1, keepdims=True), x, rtol=1e-5, atol=1e-5)


def test_unit_normalize_maps_zero_vectors_to_zero():
    """A zero vector (no direction) stays exactly zero instead of becoming NaN; its neighbours are unaffected."""
    x = np.zeros((1, 1, 2, 3), np.float32)
    x[0, 0, 1] = [0.0, 3.0, 4.0]
    out = UnitNormalize()(tf.constant(x)).numpy()
    np.testing.assert_array_equal(out[0, 0, 0], [0.0, 0.0, 0.0])
    np.testing.assert_allclose(out[0, 0, 1], [0.0, 0.6, 0.8], atol=1e-7)


def test_positive_exp_is_exp_of_the_clipped_log():
    out = PositiveExp(limit=2.0)(tf.constant([-5.0, -1.0, 0.0, 1.5, 9.0])).numpy()
    np.testing.assert_allclose(out, np.exp([-2.0, -1.0, 0.0, 1.5, 2.0]), rtol=1e-6)
    assert out.min() > 0.0


def test_instance_normalization_standardizes_each_channel_of_each_image():
    """'instance' normalizes every image's channels to mean 0, variance 1 on their own (per-tile statistics);
    'batch' at inference is a fixed affine map (identity when freshly built)."""
    x = np.random.default_rng(4).normal(3.0, 2.0, size=(2, 6, 5, 4)).astype(np.float32)
    x[1] *= 10.0
    out = layers.normalization("instance", "n")(tf.constant(x)).numpy()
    np.testing.assert_allclose(out.mean(axis=(1, 2)), 0.0, atol=1e-4)
    np.testing.assert_allclose(out.var(axis=(1, 2)), 1.0, atol=1e-2)
    batch = layers.normalization("batch", "b")
    np.testing.assert_allclose(batch(tf.constant(x), training=False).numpy(), x / np.sqrt(1.0 + batch.epsilon),
                               rtol=1e-5)


def test_upsample2x_doubles_size_and_keeps_constant_fields():
    x = np.full((1, 5, 7, 4), 0.25, np.float32)
    out = Upsample2x()(tf.constant(x)).numpy()
    assert out.shape == (1, 10, 14, 4)
    np.testing.assert_allclose(out, 0.25, atol=1e-7)


def test_upsample2x_is_bilinear():
    """A horizontal ramp stays a ramp (interior values interpolate linearly between neighbours)."""
    ramp = np.tile(np.arange(4, dtype=np.float32), (1, 3, 1))[..., None]   # [1, 3, 4, 1]
    out = Upsample2x()(tf.constant(ramp)).numpy()[0, 0, :, 0]
    # Half-pixel-centre bilinear resize of 0, 1, 2, 3 to 8 samples.
    np.testing.assert_allclose(out, [0.0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3.0], atol=1e-6)


def test_upsample2x_with_unknown_size_in_a_graph():
    fn = tf.function(Upsample2x(), input_signature=[tf.TensorSpec([None, None, None, 8], tf.float32)])
    assert tuple(fn(tf.zeros([3, 3, 5, 8])).shape) == (3, 6, 10, 8)


def test_compute_output_shape_with_unknown_sizes():
    assert PadToMultiple(32).compute_output_shape((None, None, None, 3)) == (None, None, None, 3)
    assert Upsample2x().compute_output_shape((None, 5, None, 8)) == (None, 10, None, 8)
    assert CropLike().compute_output_shape([(None, 64, 64, 3), (None, 50, 61, 3)]) == (None, 50, 61, 3)


@pytest.mark.parametrize("layer", [PadToMultiple(16, name="pad"), CropLike(name="crop"),
                                   UnitNormalize(name="unit"), Upsample2x(name="up"),
                                   CaffeBGR((1.0, 2.0, 3.0), name="bgr"), PositiveExp(5.0, name="exp")],
                         ids=lambda layer: type(layer).__name__)
def test_get_config_round_trip(layer):
    """get_config → from_config gives an equal layer, and Keras serialization finds the class by name."""
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    if isinstance(layer, PadToMultiple):
        assert clone.multiple == 16
    serialized = keras.saving.serialize_keras_object(layer)
    assert serialized["registered_name"] == f"tfnormals>{type(layer).__name__}"
    restored = keras.saving.deserialize_keras_object(serialized)
    assert type(restored) is type(layer) and restored.get_config() == config


def test_global_context_starts_as_identity_then_spreads_the_whole_image():
    """A fresh GlobalContext returns its input; once its weights move, changing one corner changes every position."""
    layer = layers.GlobalContext(hidden=4)
    x = _image(6, 6, c=8, seed=3)
    np.testing.assert_array_equal(layer(tf.constant(x)).numpy(), x)
    layer.expand.kernel.assign(np.random.default_rng(0).normal(size=(4, 8)).astype(np.float32))
    layer.squeeze.bias.assign(np.ones(4, np.float32))
    changed = x.copy()
    changed[:, 0, 0] += 5.0
    delta = np.abs(layer(tf.constant(changed)).numpy() - layer(tf.constant(x)).numpy())
    assert delta[:, 3:, 3:].min() > 1e-4  # far from the changed corner
    clone = layers.GlobalContext.from_config(layer.get_config())
    assert clone.hidden == 4
