"""data_tools.meshes and the scene generator's geometry: outward normals, transforms, displacement."""

import json

import numpy as np
import pytest

from data_tools.scene import families, geometry, meshes, sampling, shapes
from tfnormals.core.normals import angular_error_deg


def face_normals(mesh):
    """Unnormalized geometric normals from the triangles' winding."""
    v, f = mesh.vertices.astype(np.float64), mesh.faces
    return np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])


def winding_agreement(mesh):
    """Fraction of non-degenerate faces whose winding agrees with their vertex normals."""
    fn = face_normals(mesh)
    keep = np.linalg.norm(fn, axis=1) > 1e-12
    return float(np.mean(np.sum(fn[keep] * mesh.normals[mesh.faces[keep]].mean(1), -1) > 0))


def test_sphere_is_unit_with_outward_normals():
    """A UV sphere's vertices lie on the unit sphere, normals are radial and faces wind outward."""
    mesh = meshes.sphere(16, 32)
    np.testing.assert_allclose(np.linalg.norm(mesh.vertices, axis=1), 1.0, atol=1e-6)
    assert angular_error_deg(mesh.normals, mesh.vertices).max() < 3.0  # area-weighted on a coarse grid: nearly radial
    assert winding_agreement(mesh) == 1.0


def test_mirror_transform_flips_winding_and_normals():
    """A mirror (negative determinant) negates normals' X and reverses faces, so winding stays outward."""
    mesh = meshes.transform(meshes.sphere(16, 32), geometry.translation_matrix([2.0, 0.0, 0.0]))
    mirrored = meshes.transform(mesh, np.diag([-1.0, 1.0, 1.0, 1.0]))
    np.testing.assert_allclose(mirrored.vertices, mesh.vertices * [-1, 1, 1], atol=1e-6)
    np.testing.assert_allclose(mirrored.normals, mesh.normals * [-1, 1, 1], atol=1e-6)
    np.testing.assert_array_equal(mirrored.faces, mesh.faces[:, ::-1])
    assert winding_agreement(mirrored) == 1.0


def test_non_uniform_scale_uses_the_inverse_transpose():
    """Scaling a sphere into an ellipsoid gives normals along (x/a², y/b², z/c²)."""
    axes = np.array([2.0, 0.5, 1.0])
    ellipsoid = meshes.transform(meshes.sphere(16, 32), geometry.scale_matrix(axes))
    expected = ellipsoid.vertices / axes**2
    # Vertex normals came from the unit sphere's tessellation: close, not exact.
    assert angular_error_deg(ellipsoid.normals, expected).max() < 5.0


def test_displace_moves_along_normals():
    """A constant displacement of a sphere grows its radius and keeps normals radial."""
    mesh = meshes.displace(meshes.sphere(16, 32), np.full(16 * 32, 0.25))
    np.testing.assert_allclose(np.linalg.norm(mesh.vertices, axis=1), 1.25, atol=1e-3)
    assert angular_error_deg(mesh.normals, mesh.vertices).max() < 3.0


def test_box_faces_are_axis_aligned_and_closed():
    """A box spans its size, has six outward axis-aligned faces and no gaps at the edges when displaced."""
    bumps = lambda axis, uvs, extent, size: 0.05 * np.sin(20.0 * uvs[:, 0])
    for heights in (None, bumps):
        box = meshes.box((1.0, 0.5, 2.0), cells_per_unit=8, face_height=heights)
        np.testing.assert_allclose(box.vertices.min(0), [-0.5, -0.25, -1.0], atol=0.06)
        np.testing.assert_allclose(box.vertices.max(0), [0.5, 0.25, 1.0], atol=0.06)
        assert winding_agreement(box) == 1.0
        border = np.isclose(np.abs(box.vertices), [0.5, 0.25, 1.0], atol=1e-6).sum(1) >= 2
        np.testing.assert_allclose(np.abs(box.vertices[border]).max(0), [0.5, 0.25, 1.0], atol=1e-6)


def test_deep_recesses_never_cut_through_a_thin_box():
    """Window insets deeper than a slab is thick stay inside it: the top face never drops below the bottom."""
    insets = shapes.face_height_fn({"kind": "insets", "amplitude": 0.05, "windows": [2, 2]}, None)
    slab = meshes.box((1.0, 0.1, 1.0), cells_per_unit=40, face_height=insets)  # insets 0.15 deep, slab 0.1 thick
    top = slab.normals[:, 1] > 0.99
    bottom = slab.normals[:, 1] < -0.99
    assert slab.vertices[top, 1].min() > slab.vertices[bottom, 1].max()


@pytest.mark.parametrize("kind", shapes.ORGANIC_KINDS + shapes.HARD_KINDS)
def test_generated_objects_are_sane(kind):
    """Every shape kind yields finite geometry with unit normals that agree with the winding, fitted to its dims."""
    for seed in range(3):
        rng = np.random.default_rng(seed)
        obj = families.make_object(rng, kind, 0.5, 0.25)
        obj["position"][0], obj["position"][2] = 0.3, -0.2
        mesh = shapes.object_mesh(obj, 32)
        assert np.all(np.isfinite(mesh.vertices)) and len(mesh.faces) > 100
        np.testing.assert_allclose(np.linalg.norm(mesh.normals, axis=1), 1.0, atol=1e-4)
        assert mesh.faces.max() < len(mesh.vertices)
        # Strong displacement can fold a few faces of a sculpted shape, and scanned assets have a few at sharp creases
        # (test_assets checks each); everything else must agree everywhere.
        assert winding_agreement(mesh) >= (0.98 if kind in shapes.SCULPTED_KINDS + ("real",) else 1.0), kind
        lo, hi = meshes.bounds(mesh)
        assert abs(lo[1] - 0.25) < 1e-4, "the object stands on its support"
        if not any(obj["rotation"][1:]):  # unrotated about X/Z: the box it fills is its dims
            np.testing.assert_allclose(hi[1] - lo[1], obj["dims"][1], rtol=1e-4)


def test_scene_specs_are_reproducible_json():
    """A spec is a pure function of (seed, index), survives JSON, and differs between indices."""
    spec = sampling.sample_scene(3, 12, 64)
    assert json.loads(json.dumps(spec)) == spec
    assert sampling.sample_scene(3, 12, 64) == spec
    assert sampling.sample_scene(3, 13, 64) != spec
    assert 1 <= len(spec["objects"]) <= sampling.MAX_OBJECTS
    assert spec["camera"]["resolution"] == 64
