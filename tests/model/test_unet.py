"""Generator (tfnormals.unet) and discriminators (tfnormals.discriminator): shapes, unit output, any size."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfnormals.model import layers, unet
from tfnormals.model.discriminator import build_discriminator
from tfnormals.model.unet import build_generator

TINY = dict(base_filters=8, depth=3, max_filters=32)


def _plates(n, h, w, seed=0):
    """Smooth colour ramps plus noise, sRGB-like values in [0, 1]."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x / w, y / h, 0.5 + 0.5 * np.sin(x / 5.0)], -1)
    return np.clip(base[None] * 0.8 + 0.2 * rng.random((n, h, w, 3)), 0.0, 1.0).astype(np.float32)


@pytest.fixture(scope="module")
def generator():
    keras.utils.set_random_seed(1)
    return build_generator(**TINY)


@pytest.mark.parametrize("h,w", [(8, 8), (77, 131), (33, 20), (64, 64), (5, 9)])
def test_generator_output_has_input_size_and_unit_length(generator, h, w):
    """Any H×W (down to half the stride) gives unit normals of the same H×W."""
    out = generator(_plates(2, h, w), training=False).numpy()
    assert out.shape == (2, h, w, 3)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(np.linalg.norm(out, axis=-1), 1.0, atol=1e-5)


def test_generator_rejects_images_below_half_the_stride(generator):
    with pytest.raises(tf.errors.InvalidArgumentError, match="too small"):
        generator(_plates(1, 3, 40), training=False)


def test_generator_structure_follows_its_arguments():
    g = build_generator(base_filters=4, depth=4, max_filters=16, name="g4")
    assert g.name == "g4"
    assert g.get_layer("pad").multiple == 16
    filters = [g.get_layer(f"enc{i}_conv").filters for i in range(4)]
    assert filters == [4, 8, 16, 16]  # doubles per block up to max_filters
    assert g.input_shape == (None, None, None, 3) and g.output_shape == (None, None, None, 3)
    # No normalization after the first encoder conv; the first conv has a bias, the others do not.
    assert "enc0_norm" not in [layer.name for layer in g.layers]
    assert g.get_layer("enc0_conv").use_bias and not g.get_layer("enc1_conv").use_bias


def test_inference_is_deterministic_and_training_uses_dropout(generator):
    plates = _plates(2, 24, 40, seed=3)
    a = generator(plates, training=False).numpy()
    b = generator(plates, training=False).numpy()
    np.testing.assert_array_equal(a, b)
    c = generator(plates, training=True).numpy()
    assert np.abs(c - a).max() > 1e-3


def test_each_image_is_independent_of_the_batch_at_inference(generator):
    """Batch norm uses moving statistics at inference: an image's normals do not depend on its batch mates."""
    plates = _plates(3, 16, 24, seed=4)
    together = generator(plates, training=False).numpy()
    alone = generator(plates[1:2], training=False).numpy()
    np.testing.assert_allclose(together[1:2], alone, atol=1e-5)


@pytest.mark.parametrize("norm", unet.NORMS)
@pytest.mark.parametrize("upsample", ["bilinear", "transpose"])
def test_every_normalization_and_upsampling_builds_and_runs(norm, upsample):
    g = build_generator(norm=norm, upsample=upsample, **TINY)
    out = g(_plates(1, 19, 29), training=False).numpy()
    assert out.shape == (1, 19, 29, 3)
    np.testing.assert_allclose(np.linalg.norm(out, axis=-1), 1.0, atol=1e-5)
    names = [layer.name for layer in g.layers]
    assert ("head_up_tconv" in names) == (upsample == "transpose")


def test_unknown_options_raise():
    with pytest.raises(ValueError, match="normalization"):
        unet.normalization("layer", "n")
    with pytest.raises(ValueError, match="upsample"):
        build_generator(upsample="nearest", **TINY)
    with pytest.raises(ValueError, match="discriminator"):
        build_discriminator(kind="pixel", input_size=32)


def test_generator_saves_and_reloads_with_its_custom_layers(generator, tmp_path):
    """The .keras format rebuilds the model from the registered layers' get_config and gives the same output."""
    path = str(tmp_path / "g.keras")
    generator.save(path)
    reloaded = keras.models.load_model(path)
    assert isinstance(reloaded.get_layer("pad"), layers.PadToMultiple)
    assert reloaded.get_layer("pad").multiple == 2 ** TINY["depth"]
    assert isinstance(reloaded.get_layer("unit"), layers.UnitNormalize)
    assert isinstance(reloaded.get_layer("crop"), layers.CropLike)
    assert isinstance(reloaded.get_layer("dec0_resize"), layers.Upsample2x)
    plates = _plates(1, 21, 45, seed=5)
    np.testing.assert_allclose(reloaded(plates, training=False).numpy(), generator(plates, training=False).numpy(),
                               atol=1e-6)


def test_generator_config_round_trip(generator):
    """Functional get_config → from_config rebuilds the same architecture (same layers, same parameter count)."""
    clone = keras.Model.from_config(generator.get_config())
    assert [type(layer) for layer in clone.layers] == [type(layer) for layer in generator.layers]
    assert clone.count_params() == generator.count_params()
    assert clone(_plates(1, 11, 13), training=False).shape == (1, 11, 13, 3)


@pytest.mark.parametrize("spectral", [False, True])
def test_dense_discriminator_gives_one_logit_per_image(spectral):
    d = build_discriminator(kind="dense", input_size=32, base_filters=8, depth=3, spectral=spectral)
    plates = _plates(3, 32, 32)
    normals = np.broadcast_to(np.array([0.0, 0.0, 1.0], np.float32), (3, 32, 32, 3))
    logits = d([plates, normals], training=True).numpy()
    assert logits.shape == (3, 1)
    assert np.all(np.isfinite(logits))
    wrapped = [layer for layer in d.layers if isinstance(layer, keras.layers.SpectralNormalization)]
    assert bool(wrapped) == spectral


def test_patch_discriminator_gives_a_logit_map():
    d = build_discriminator(kind="patch", input_size=64, base_filters=8, depth=3)
    logits = d([_plates(2, 64, 64), _plates(2, 64, 64, seed=1) * 2.0 - 1.0], training=False)
    assert tuple(logits.shape) == (2, 8, 8, 1)


def test_dense_discriminator_is_sensitive_to_the_normals():
    """The logit depends on the normals input, not only on the plate (it judges the pair)."""
    keras.utils.set_random_seed(2)
    d = build_discriminator(kind="dense", input_size=32, base_filters=8, depth=2)
    plates = _plates(1, 32, 32)
    up = np.broadcast_to(np.array([0.0, 1.0, 0.0], np.float32), (1, 32, 32, 3))
    facing = np.broadcast_to(np.array([0.0, 0.0, 1.0], np.float32), (1, 32, 32, 3))
    assert abs(float(d([plates, up])[0, 0]) - float(d([plates, facing])[0, 0])) > 1e-4
