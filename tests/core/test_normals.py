"""tfnormals.core.normals: storage encoding, world → camera rotation, the best rotation between two sets, angular
metrics."""

import numpy as np
import pytest
from helpers import camera_to_world_matrix

from data_tools import mitsuba_render
from tfnormals.core import normals


def test_encode_decode_round_trip():
    """0.5 n + 0.5 storage maps [-1, 1] onto [0, 1] and back."""
    n = normals.normalize(np.random.default_rng(0).normal(size=(8, 3)))
    np.testing.assert_allclose(normals.encode([[0.0, 0.0, 1.0]]), [[0.5, 0.5, 1.0]])
    np.testing.assert_allclose(normals.decode(normals.encode(n)), n, atol=1e-6)


def test_normalize_keeps_zero_vectors_zero():
    out = normals.normalize(np.array([[3.0, 4.0, 0.0], [0.0, 0.0, 0.0]]))
    np.testing.assert_allclose(out, [[0.6, 0.8, 0.0], [0.0, 0.0, 0.0]])


def test_world_to_camera_with_a_hand_computed_camera():
    """A camera at +X looking down -X (up +Y): right is world -Z, backward is world +X.

    So the world +X normal faces the camera (0, 0, 1), world -Z points right (1, 0, 0) and world
    +Y is up (0, 1, 0), whatever the camera's position or a uniform scale in its matrix.
    """
    matrix = camera_to_world_matrix(right=(0, 0, -1), up=(0, 1, 0), back=(1, 0, 0), position=(5, 2, 1), scale=2.5)
    world = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    expected = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])
    np.testing.assert_allclose(normals.world_to_camera(world, matrix), expected, atol=1e-6)
    np.testing.assert_allclose(normals.world_to_camera(world, matrix[:3, :3]), expected, atol=1e-6)


def test_world_to_camera_agrees_with_the_renderers_camera_axes():
    """For a rolled, tilted camera, world_to_camera equals projecting on mitsuba_render.camera_axes."""
    camera = {"origin": [2.0, 3.0, 4.0], "target": [0.5, 0.2, -0.3], "up": [0.3, 1.0, 0.1]}
    right, up, back = mitsuba_render.camera_axes(camera)
    n = normals.normalize(np.random.default_rng(1).normal(size=(4, 4, 3)))
    expected = np.stack([n @ right, n @ up, n @ back], -1)
    np.testing.assert_allclose(normals.world_to_camera(n, camera_to_world_matrix(right, up, back)), expected, atol=1e-5)
    # The direction towards the camera's own position is +Z.
    towards = np.asarray(camera["origin"]) - np.asarray(camera["target"])
    np.testing.assert_allclose(normals.world_to_camera(towards / np.linalg.norm(towards),
                                                       camera_to_world_matrix(right, up, back)), [0, 0, 1], atol=1e-6)


def test_camera_axes_are_right_handed_and_level():
    """camera_axes gives orthonormal right, up, back with right × up = back, and right level for an upright camera."""
    right, up, back = mitsuba_render.camera_axes({"origin": [1, 2, 3], "target": [0, 0, 0], "up": [0, 1, 0]})
    basis = np.stack([right, up, back])
    np.testing.assert_allclose(basis @ basis.T, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(np.cross(right, up), back, atol=1e-12)
    assert abs(right[1]) < 1e-12 and up[1] > 0


def test_angular_error_and_metrics():
    """Known angles, and the standard summary over them."""
    a = np.array([[0.0, 0.0, 1.0]] * 4)
    b = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, -2.0], [0.0, np.sin(0.1), np.cos(0.1)]])
    errors = normals.angular_error_deg(a, b)
    np.testing.assert_allclose(errors, [0.0, 90.0, 180.0, np.degrees(0.1)], atol=1e-3)
    metrics = normals.angular_metrics(errors)
    assert metrics["mean"] == pytest.approx(errors.mean(), abs=1e-4)
    assert metrics["median"] == pytest.approx(np.median(errors), abs=1e-4)
    assert metrics["within_11_25"] == pytest.approx(50.0)
    assert metrics["within_22_5"] == pytest.approx(50.0) and metrics["within_30"] == pytest.approx(50.0)
    with pytest.raises(ValueError):
        normals.angular_metrics([])


def test_unit_length_violation_looks_only_at_masked_pixels():
    n = np.array([[[0.0, 0.0, 1.0], [0.0, 0.0, 0.5], [0.0, 0.0, 0.0]]])
    assert normals.unit_length_violation(n, np.array([[1.0, 0.0, 0.0]])) == 0.0
    assert normals.unit_length_violation(n, np.array([[1.0, 1.0, 0.0]])) == pytest.approx(0.5)
    assert normals.unit_length_violation(n, np.zeros((1, 3))) == 0.0


def test_best_rotation_recovers_a_turn_and_ignores_pairs_weighted_zero():
    rng = np.random.default_rng(3)
    source = normals.normalize(rng.normal(size=(200, 3)))
    a = np.radians(25.0)
    turn = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])  # about the view axis
    target = source @ turn.T
    assert np.allclose(normals.best_rotation(source, target), turn, atol=1e-9)
    target[:60] = source[:60] @ turn  # pairs turned the other way, weighted out
    weight = np.r_[np.zeros(60), np.ones(140)]
    assert np.allclose(normals.best_rotation(source, target, weight), turn, atol=1e-9)
    assert not np.allclose(normals.best_rotation(source, target), turn, atol=1e-3)
    assert np.isclose(np.linalg.det(normals.best_rotation(source, -source)), 1.0)  # a rotation, never a mirror
