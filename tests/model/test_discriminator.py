"""Discriminators (tfnormals.model.discriminator): the dense one gives one logit per pair, the PatchGAN a map."""

import keras
import numpy as np
import pytest
from helpers import plates

from tfnormals.model.discriminator import build_discriminator


@pytest.mark.parametrize("spectral", [False, True])
def test_dense_discriminator_gives_one_logit_per_image(spectral):
    d = build_discriminator(kind="dense", input_size=32, base_filters=8, levels=3, spectral=spectral)
    normals = np.broadcast_to(np.array([0.0, 0.0, 1.0], np.float32), (3, 32, 32, 3))
    logits = d([plates(3, 32, 32), normals], training=True).numpy()
    assert logits.shape == (3, 1)
    assert np.all(np.isfinite(logits))
    wrapped = [layer for layer in d.layers if isinstance(layer, keras.layers.SpectralNormalization)]
    assert bool(wrapped) == spectral


def test_patch_discriminator_gives_a_logit_map():
    d = build_discriminator(kind="patch", input_size=64, base_filters=8, levels=3)
    logits = d([plates(2, 64, 64), plates(2, 64, 64, seed=1) * 2.0 - 1.0], training=False)
    assert tuple(logits.shape) == (2, 8, 8, 1)


def test_dense_discriminator_is_sensitive_to_the_normals():
    """The logit depends on the normals input, not only on the plate (it judges the pair)."""
    keras.utils.set_random_seed(2)
    d = build_discriminator(kind="dense", input_size=32, base_filters=8, levels=2)
    plate = plates(1, 32, 32)
    up = np.broadcast_to(np.array([0.0, 1.0, 0.0], np.float32), (1, 32, 32, 3))
    facing = np.broadcast_to(np.array([0.0, 0.0, 1.0], np.float32), (1, 32, 32, 3))
    assert abs(float(d([plate, up])[0, 0]) - float(d([plate, facing])[0, 0])) > 1e-4


def test_unknown_kind_raises():
    with pytest.raises(ValueError, match="discriminator"):
        build_discriminator(kind="pixel", input_size=32)
