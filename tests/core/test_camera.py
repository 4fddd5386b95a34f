"""tfnormals.core.camera: depth ↔ position on a known sphere, normals from P, depth and albedo metrics."""

import numpy as np
import pytest
from helpers import ray_traced_sphere

from tfnormals.core import camera, normals

SIDE = 81
HFOV = 40.0
CENTRE = np.array([0.3, -0.2, -4.0])


def _sphere(side=SIDE):
    """Ray-traced unit sphere at CENTRE: (depth, true position, true normals, hit mask)."""
    depth, position, n, hit = ray_traced_sphere(side, HFOV, CENTRE)
    return depth * hit, position * hit[..., None], n, hit


def test_position_from_depth_reprojects_a_ray_traced_sphere():
    depth, position, _, hit = _sphere()
    p = camera.position_from_depth(depth, camera.focal_pixels(SIDE, HFOV))
    assert np.abs(p[hit] - position[hit]).max() < 1e-5
    assert np.all(p[hit][:, 2] < 0), "visible points have P.z < 0 (OpenGL camera)"
    assert np.all(p[~hit] == 0)


def test_normals_from_position_match_the_sphere_and_face_the_camera():
    depth, _, true_normals, hit = _sphere()
    n = camera.normals_from_position(camera.position_from_depth(depth, camera.focal_pixels(SIDE, HFOV)), hit)
    inner = hit & (np.linalg.norm(n, axis=-1) > 0)
    errors = normals.angular_error_deg(n[inner], true_normals[inner])
    assert np.median(errors) < 0.5 and np.percentile(errors, 90) < 3.0
    assert np.all(n[inner][:, 2] > 0)
    assert np.all(n[~hit] == 0)


def test_field_of_view_from_a_35mm_lens_on_full_frame():
    assert camera.hfov_from_focal(36.0 / 2.0) == pytest.approx(90.0)
    assert camera.hfov_from_focal(35.0) == pytest.approx(54.43, abs=0.01)
    assert camera.focal_pixels(200, 90.0) == pytest.approx(100.0)
    with pytest.raises(ValueError):
        camera.focal_pixels(200, 180.0)


def test_depth_metrics_ignore_scale_and_catch_shape_errors():
    depth, _, _, hit = _sphere()
    scaled = camera.depth_metrics(depth * 7.5, depth, hit)
    assert scaled["absrel_median"] < 1e-6 and scaled["delta125_median"] == 1.0 and scaled["si_log"] < 1e-12
    squared = camera.depth_metrics(depth ** 2, depth, hit)  # log error = log depth: its variance over the sphere
    assert squared["si_log"] == pytest.approx(float(np.var(np.log(depth[hit].astype(np.float64)))), rel=1e-6)
    shifted = camera.depth_metrics(depth * 2.0 + 1.0, depth, hit)
    assert shifted["absrel_lstsq"] < 1e-6 and shifted["absrel_median"] > 0.0
    flat = camera.depth_metrics(np.ones_like(depth), depth, hit)
    assert 0.02 < flat["absrel_median"] < 0.2, "a constant misses the sphere's ~25% depth range"
    with pytest.raises(ValueError):
        camera.depth_metrics(depth, depth, np.zeros_like(hit))


def test_albedo_si_mse_is_invariant_to_a_per_channel_scale_only():
    rng = np.random.default_rng(0)
    albedo = rng.uniform(0.1, 0.9, (16, 16, 3))
    valid = np.ones((16, 16), bool)
    assert camera.albedo_si_mse(albedo * [0.5, 1.0, 2.0], albedo, valid) < 1e-12
    assert camera.albedo_si_mse(albedo[::-1], albedo, valid) > 0.01
