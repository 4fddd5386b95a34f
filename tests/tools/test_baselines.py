"""Baselines (tfnormals.tools.baselines) on synthetic plates: flat, constant, mean normal and the
luminance-gradient ("shape from shading" proxy) normals, with their sign conventions."""

import numpy as np
import pytest

from tfnormals.core import normals
from tfnormals.tools import baselines


def _gray(height_map):
    """A gray sRGB plate whose luminance is `height_map` (Rec. 709 weights sum to 1)."""
    return np.repeat(height_map[..., None], 3, axis=-1).astype(np.float32)


def test_flat_and_constant():
    np.testing.assert_array_equal(baselines.flat((4, 5, 3))[..., :], np.broadcast_to([0, 0, 1], (4, 5, 3)))
    c = baselines.constant((2, 3, 3), [0.0, 3.0, 4.0])
    assert c.shape == (2, 3, 3) and c.dtype == np.float32
    np.testing.assert_allclose(c, np.broadcast_to([0.0, 0.6, 0.8], (2, 3, 3)), atol=1e-7)


def test_mean_normal_averages_masked_pixels_of_all_maps():
    a = np.broadcast_to(np.float32([1.0, 0.0, 0.0]), (2, 2, 3)).copy()
    b = np.broadcast_to(np.float32([0.0, 0.0, 1.0]), (2, 2, 3)).copy()
    mask_a = np.array([[1.0, 1.0], [0.0, 0.0]], np.float32)       # 2 pixels facing +X
    mask_b = np.array([[1.0, 1.0], [0.4, 0.0]], np.float32)       # 2 pixels facing +Z (0.4 is below threshold)
    b[1, 0] = [0.0, -1.0, 0.0]                                     # excluded by its mask
    np.testing.assert_allclose(baselines.mean_normal([a, b], [mask_a, mask_b]),
                               [np.sqrt(0.5), 0.0, np.sqrt(0.5)], atol=1e-6)
    with pytest.raises(ValueError, match="no masked pixels"):
        baselines.mean_normal([a], [np.zeros((2, 2), np.float32)])


def test_luminance_gradient_sign_convention_on_ramps():
    """n ∝ (-s ∂h/∂x, s ∂h/∂row, 1): brighter to the right → faces left (-X); brighter downwards → faces up (+Y)."""
    cols = np.tile(np.arange(24, dtype=np.float32), (24, 1))
    strength, slope = 4.0, 0.02
    inner = (slice(6, -6), slice(6, -6))  # away from the blur's edge padding

    right = baselines.luminance_gradient(_gray(0.2 + slope * cols), strength)
    expected = normals.normalize(np.float32([-strength * slope, 0.0, 1.0]))
    np.testing.assert_allclose(right[inner], np.broadcast_to(expected, right[inner].shape), atol=1e-5)
    assert expected[0] < 0  # a slope rising to the right faces left

    down = baselines.luminance_gradient(_gray(0.2 + slope * cols.T), strength)
    expected = normals.normalize(np.float32([0.0, strength * slope, 1.0]))
    np.testing.assert_allclose(down[inner], np.broadcast_to(expected, down[inner].shape), atol=1e-5)
    assert expected[1] > 0  # rising towards the bottom of the frame faces up (+Y is up)

    np.testing.assert_allclose(np.linalg.norm(right, axis=-1), 1.0, atol=1e-6)
    flat_plate = baselines.luminance_gradient(_gray(np.full((16, 16), 0.5, np.float32)), strength)
    np.testing.assert_allclose(flat_plate, baselines.flat((16, 16, 3)), atol=1e-6)


def test_luminance_gradient_of_a_bright_bump_points_outwards_like_a_dome():
    """A bright blob reads as a dome: right of the centre faces +X, above the centre faces +Y (up)."""
    size, centre = 33, 16
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float32)
    bump = 0.2 + 0.6 * np.exp(-((rows - centre) ** 2 + (cols - centre) ** 2) / (2 * 5.0 ** 2))
    n = baselines.luminance_gradient(_gray(bump), 8.0)
    assert n[centre, centre + 5, 0] > 0.1 and n[centre, centre - 5, 0] < -0.1   # right faces right
    assert n[centre - 5, centre, 1] > 0.1 and n[centre + 5, centre, 1] < -0.1   # top faces up
    assert abs(n[centre, centre + 5, 1]) < 1e-4 and abs(n[centre - 5, centre, 0]) < 1e-4
    np.testing.assert_allclose(n[centre, centre], [0.0, 0.0, 1.0], atol=1e-4)   # the summit faces the camera


def test_fit_gradient_strength_recovers_the_strength_that_made_the_normals():
    rng = np.random.default_rng(0)
    plates = [np.clip(baselines._blur(rng.random((24, 24)).astype(np.float32), 2.0)[..., None].repeat(3, -1), 0, 1)
              for _ in range(3)]
    masks = [np.ones((24, 24), np.float32)] * 3
    for strength in (2.0, 8.0):
        maps = [baselines.luminance_gradient(p, strength) for p in plates]
        assert baselines.fit_gradient_strength(plates, maps, masks) == strength
