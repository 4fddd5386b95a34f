"""The U-Net generator (tfnormals.model.unet): any H×W in, a dict of passes out, unit normals, serialization."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import plates

from tfnormals.model import layers
from tfnormals.model.unet import build_generator

TINY = dict(base_filters=8, levels=3, max_filters=32)


def normals_of(model, images, training=False):
    """The generator's normals pass as numpy."""
    return model(images, training=training)["normals"].numpy()


@pytest.fixture(scope="module")
def generator():
    keras.utils.set_random_seed(1)
    return build_generator(**TINY)


@pytest.mark.parametrize("h,w", [(8, 8), (77, 131), (33, 20), (64, 64), (5, 9)])
def test_generator_output_has_input_size_and_unit_length(generator, h, w):
    """Any H×W (down to half the stride) gives unit normals of the same H×W."""
    out = normals_of(generator, plates(2, h, w))
    assert out.shape == (2, h, w, 3)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(np.linalg.norm(out, axis=-1), 1.0, atol=1e-5)


def test_generator_rejects_images_below_half_the_stride(generator):
    with pytest.raises(tf.errors.InvalidArgumentError, match="too small"):
        generator(plates(1, 3, 40), training=False)


def test_generator_structure_follows_its_arguments():
    g = build_generator(base_filters=4, levels=4, max_filters=16, name="g4")
    assert g.name == "g4"
    assert g.get_layer("pad").multiple == 16
    filters = [g.get_layer(f"enc{i}_conv").filters for i in range(4)]
    assert filters == [4, 8, 16, 16]  # doubles per block up to max_filters
    assert g.input_shape == (None, None, None, 3) and list(g.output) == ["normals"]
    assert tuple(g.output["normals"].shape) == (None, None, None, 3)
    # No normalization after the first encoder conv; the first conv has a bias, the others do not.
    assert "enc0_norm" not in [layer.name for layer in g.layers]
    assert g.get_layer("enc0_conv").use_bias and not g.get_layer("enc1_conv").use_bias


def test_inference_is_deterministic_and_training_uses_dropout(generator):
    images = plates(2, 24, 40, seed=3)
    a = normals_of(generator, images)
    b = normals_of(generator, images)
    np.testing.assert_array_equal(a, b)
    c = normals_of(generator, images, training=True)
    assert np.abs(c - a).max() > 1e-3


def test_each_image_is_independent_of_the_batch_at_inference(generator):
    """Batch norm uses moving statistics at inference: an image's normals do not depend on its batch mates."""
    images = plates(3, 16, 24, seed=4)
    together = normals_of(generator, images)
    alone = normals_of(generator, images[1:2])
    np.testing.assert_allclose(together[1:2], alone, atol=1e-5)


@pytest.mark.parametrize("norm", layers.NORMS)
@pytest.mark.parametrize("upsample", ["bilinear", "transpose"])
def test_every_normalization_and_upsampling_builds_and_runs(norm, upsample):
    g = build_generator(norm=norm, upsample=upsample, **TINY)
    out = normals_of(g, plates(1, 19, 29))
    assert out.shape == (1, 19, 29, 3)
    np.testing.assert_allclose(np.linalg.norm(out, axis=-1), 1.0, atol=1e-5)
    names = [layer.name for layer in g.layers]
    assert ("head_up_tconv" in names) == (upsample == "transpose")


def test_unknown_options_raise():
    with pytest.raises(ValueError, match="normalization"):
        layers.normalization("layer", "n")
    with pytest.raises(ValueError, match="upsample"):
        build_generator(upsample="nearest", **TINY)


def test_generator_saves_and_reloads_with_its_custom_layers(generator, tmp_path):
    """The .keras format rebuilds the model from the registered layers' get_config and gives the same output."""
    path = str(tmp_path / "g.keras")
    generator.save(path)
    reloaded = keras.models.load_model(path)
    assert isinstance(reloaded.get_layer("pad"), layers.PadToMultiple)
    assert reloaded.get_layer("pad").multiple == 2 ** TINY["levels"]
    assert isinstance(reloaded.get_layer("unit"), layers.UnitNormalize)
    assert isinstance(reloaded.get_layer("normals_crop"), layers.CropLike)
    assert isinstance(reloaded.get_layer("dec0_resize"), layers.Upsample2x)
    images = plates(1, 21, 45, seed=5)
    np.testing.assert_allclose(normals_of(reloaded, images), normals_of(generator, images), atol=1e-6)


def test_generator_config_round_trip(generator):
    """Functional get_config → from_config rebuilds the same architecture (same layers, same parameter count)."""
    clone = keras.Model.from_config(generator.get_config())
    assert [type(layer) for layer in clone.layers] == [type(layer) for layer in generator.layers]
    assert clone.count_params() == generator.count_params()
    assert normals_of(clone, plates(1, 11, 13)).shape == (1, 11, 13, 3)
