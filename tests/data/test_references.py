"""tfnormals.data.references: a shot's reference frames, known only where alpha, a mask and finite values say so,
read in a studio's conventions (world space, flipped axes) as make_records reads them."""

import os

import numpy as np
import pytest
from helpers import camera_to_world_matrix, sphere_normal_map

from tfnormals.core import image_io, srgb
from tfnormals.data import pairs, references

SIZE = 24
CAMERA_LAYOUT = pairs.PairFormat(beauty_pattern="{id}", normals_pattern="{id}")


def _write_frame(tmp_path, normal_map, alpha=None, plate=None, name="normals.exr"):
    plate_path, normals_path = str(tmp_path / "plate.exr"), str(tmp_path / name)
    image_io.write_rgb_exr(plate_path, np.full((SIZE, SIZE, 3), 0.18, np.float32) if plate is None else plate)
    image_io.write_rgb_exr(normals_path, normal_map, alpha=alpha)
    return references.ReferenceFiles(1001, plate_path, normals_path)


def test_alpha_mask_and_nonfinite_pixels_are_unknown_and_zero(tmp_path):
    n, inside = sphere_normal_map(SIZE)
    alpha = inside.copy()
    alpha[:, :SIZE // 3] = 0.0  # the reference covers the right two thirds only
    n[2, 20] = np.nan           # a hole in the reference's values
    n[20, 12] = [np.inf, 0, 0]
    files = _write_frame(tmp_path, n, alpha)
    mask = np.ones((SIZE, SIZE), np.float32)
    mask[SIZE // 2:, :] = 0.0   # and the mask takes away the lower half
    image_io.write_png(str(tmp_path / "mask.png"), mask)
    with_mask = references.ReferenceFiles(1001, files.plate, files.normals, mask=str(tmp_path / "mask.png"))
    for ref, expected in ((references.load_reference(files, CAMERA_LAYOUT), alpha >= 0.5),
                          (references.load_reference(with_mask, CAMERA_LAYOUT), (alpha >= 0.5) & (mask >= 0.5))):
        expected = expected & np.all(np.isfinite(n), axis=-1)
        assert np.array_equal(ref.known, expected)
        assert np.all(np.isfinite(ref.normals)) and not ref.normals[~ref.known].any()
        np.testing.assert_allclose(np.linalg.norm(ref.normals[ref.known], axis=-1), 1.0, atol=1e-5)
        np.testing.assert_allclose(ref.normals[ref.known], n[expected], atol=1e-5)
    np.testing.assert_allclose(ref.plate, srgb.linear_to_srgb(np.full((SIZE, SIZE, 3), 0.18)), atol=1e-4)


def test_depth_and_albedo_references_mark_their_nonfinite_pixels_unknown(tmp_path):
    n, inside = sphere_normal_map(SIZE)
    files = _write_frame(tmp_path, n, inside)
    depth = np.where(inside > 0, 2.0, 0.0).astype(np.float32)
    depth[10, 10] = np.nan
    albedo = np.full((SIZE, SIZE, 3), 0.5, np.float32)
    albedo[12, 12] = np.inf
    image_io.write_exr(str(tmp_path / "depth.exr"), {"Z": depth})
    image_io.write_rgb_exr(str(tmp_path / "albedo.exr"), albedo)
    ref = references.load_reference(references.ReferenceFiles(1001, files.plate, files.normals,
                                                              depth=str(tmp_path / "depth.exr"),
                                                              albedo=str(tmp_path / "albedo.exr")), CAMERA_LAYOUT)
    assert not ref.known[10, 10] and not ref.known[12, 12] and ref.known[11, 11]
    assert np.all(ref.depth[ref.known] == 2.0) and not ref.depth[~ref.known].any()
    np.testing.assert_allclose(ref.albedo[ref.known], 0.5, atol=1e-3)
    assert np.all(np.isfinite(ref.depth)) and np.all(np.isfinite(ref.albedo))


def test_world_space_directx_references_come_back_in_camera_space(tmp_path):
    """A studio's world-space normals in a layered EXR with a camera matrix and DirectX Y read like make_records."""
    n, inside = sphere_normal_map(SIZE)
    right, up = np.array([0.8, 0.0, -0.6]), np.array([0.0, 1.0, 0.0])
    matrix = camera_to_world_matrix(right, up, np.cross(right, up), position=(3.0, 1.0, 2.0))
    world = (n * [1.0, -1.0, 1.0]) @ matrix[:3, :3].T  # DirectX Y, then world space
    layers = {c: world[..., i] for i, c in enumerate(("N.X", "N.Y", "N.Z"))}
    image_io.write_exr(str(tmp_path / "n.exr"), dict(layers, A=inside))
    files = _write_frame(tmp_path, n, name="unused.exr")
    studio = pairs.PairFormat(beauty_pattern="{id}", normals_pattern="{id}", normals_channels=("N.X", "N.Y", "N.Z"),
                              normals_space="world", camera_to_world=tuple(matrix.ravel()), flip_axes="y")
    ref = references.load_reference(references.ReferenceFiles(1001, files.plate, str(tmp_path / "n.exr")), studio)
    known = inside > 0
    assert np.array_equal(ref.known, known)  # named channels carry no alpha: known where the normals are non-zero
    np.testing.assert_allclose(ref.normals[known], n[known], atol=1e-4)


def test_unreadable_mismatched_or_empty_references_are_named(tmp_path):
    n, inside = sphere_normal_map(SIZE)
    files = _write_frame(tmp_path, n, np.zeros_like(inside))
    with pytest.raises(pairs.SampleError, match="no known pixel in frame 1001"):
        references.load_reference(files, CAMERA_LAYOUT)
    image_io.write_rgb_exr(str(tmp_path / "small.exr"), n[:8, :8])
    with pytest.raises(pairs.SampleError, match="size mismatch"):
        references.load_reference(references.ReferenceFiles(1001, files.plate, str(tmp_path / "small.exr")),
                                  CAMERA_LAYOUT)
    (tmp_path / "bad.exr").write_bytes(b"not an image")
    with pytest.raises(pairs.SampleError, match=os.path.join(str(tmp_path), "bad.exr")):
        references.load_reference(references.ReferenceFiles(1001, files.plate, str(tmp_path / "bad.exr")),
                                  CAMERA_LAYOUT)
