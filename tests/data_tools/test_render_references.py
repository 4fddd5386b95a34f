"""data_tools.render_references: meshes with their own normals, and reference passes that match the renderer's own
passes of the same mesh and camera (the camera files: tests/core/test_camera_files.py)."""

import json
import subprocess
import sys

import numpy as np
import pytest
from helpers import REPO, subprocess_env

from data_tools import import_assets
from tfnormals.core import image_io, layout, normals


def write_ply(path, vertices, faces, vertex_normals):
    """A binary little-endian PLY with float x, y, z, nx, ny, nz per vertex and triangles."""
    header = (f"ply\nformat binary_little_endian 1.0\nelement vertex {len(vertices)}\n"
              + "".join(f"property float {p}\n" for p in ("x", "y", "z", "nx", "ny", "nz"))
              + f"element face {len(faces)}\nproperty list uchar int vertex_indices\nend_header\n")
    body = np.concatenate([vertices, vertex_normals], 1).astype("<f4").tobytes()
    rows = b"".join(b"\x03" + np.asarray(f, "<i4").tobytes() for f in faces)
    with open(path, "wb") as f:
        f.write(header.encode() + body + rows)


def test_obj_and_ply_normals_are_read_with_their_vertices(tmp_path):
    """OBJ `vn` per corner: a vertex per (position, normal) pair, so a crease keeps both normals; PLY nx/ny/nz."""
    (tmp_path / "crease.obj").write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\nvn 0 0 1\nvn 1 0 0\n"
                                         "f 1//1 2//1 3//1\nf 1//2 3//2 4//2\n")
    vertices, faces, vertex_normals = import_assets.read_mesh(str(tmp_path / "crease.obj"), with_normals=True)
    assert len(vertices) == 6 and faces.shape == (2, 3)  # vertices 1 and 3 are split: two normals each
    for face, expected in zip(faces, ([0, 0, 1], [1, 0, 0])):
        np.testing.assert_array_equal(vertex_normals[face], [expected] * 3)
    np.testing.assert_array_equal(vertices[faces[1]], [[0, 0, 0], [0, 1, 0], [0, 0, 1]])
    plain = import_assets.read_mesh(str(tmp_path / "crease.obj"))
    assert len(plain[0]) == 4  # without normals, the positions as stored
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], np.float32)
    write_ply(str(tmp_path / "t.ply"), v, [[0, 1, 2]], np.tile([[0, 0, 1]], (3, 1)))
    vertices, faces, vertex_normals = import_assets.read_mesh(str(tmp_path / "t.ply"), with_normals=True)
    np.testing.assert_array_equal(vertices, v)
    np.testing.assert_array_equal(vertex_normals, np.tile([[0, 0, 1]], (3, 1)))


@pytest.mark.slow
def test_references_of_a_shot_object_match_the_renderers_own_passes(tmp_path):
    """A rendered shot's object, written as a PLY in its own frame with --transform placing it, rendered through the
    shot's cameras (its shot.json): the normals, depth and coverage agree with the shot's passes where the ID pass
    shows the object."""
    from scipy import ndimage

    from data_tools import mitsuba_render, render_shots
    from data_tools.scene import geometry, sampling, transforms
    size, spp = 48, 16
    settings = {"resolution": size, "spp": spp, "seed": 0, "num_frames": 2, "first_frame": layout.FIRST_FRAME,
                "families": sampling.format_family_weights(sampling.parse_family_weights("object_study=1")),
                "camera_paths": "orbit", "shake_share": 0.0, "moving_share": 0.0, "denoise": False,
                "variant": mitsuba_render.FAST_VARIANT}
    shots = tmp_path / "shots"
    assert render_shots.render_shots(str(shots), [(0, 0), (0, 1)], settings) == (2, 0, [])
    shot = shots / layout.shot_id(0)
    spec = json.loads((shot / layout.SHOT_JSON).read_text())["scene"]
    mesh = geometry.object_surface(spec["objects"][0], 0, size).mesh
    place = transforms.translation([0.3, -0.2, 0.5]) @ transforms.rotation(30.0, 10.0)  # object → world
    local = np.linalg.inv(place)
    write_ply(str(tmp_path / "object.ply"), mesh.vertices @ local[:3, :3].T + local[:3, 3], mesh.faces,
              mesh.normals @ place[:3, :3])  # normals by the inverse transpose of `local`
    out = tmp_path / "refs"
    proc = subprocess.run([sys.executable, "-m", "data_tools.render_references", f"--mesh={tmp_path / 'object.ply'}",
                           f"--cameras={shot / layout.SHOT_JSON}", f"--output_dir={out}", f"--spp={spp}",
                           "--transform=" + ",".join(str(v) for v in place.ravel())],
                          cwd=REPO, env=subprocess_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout)["rendered"] == [1001, 1002]
    for frame in (1001, 1002):
        ref = image_io.read_image(str(out / layout.frame_file(layout.NORMALS_EXR, frame)))
        ref_depth = image_io.read_image(str(out / layout.frame_file(layout.DEPTH_EXR, frame)))[..., 0]
        alpha = image_io.read_image(str(out / layout.frame_file(layout.ALPHA_EXR, frame)))[..., 0]
        np.testing.assert_array_equal(alpha, ref[..., 3])
        truth = image_io.read_image(str(shot / layout.frame_file(layout.NORMALS_EXR, frame)))
        depth = image_io.read_image(str(shot / layout.frame_file(layout.DEPTH_EXR, frame)))[..., 0]
        ids = np.rint(image_io.read_image(str(shot / layout.frame_file(layout.IDS_PNG, frame)))[..., 0] * 255)
        seen = ids == layout.ID_FIRST_OBJECT
        assert seen.sum() > 100
        assert np.mean((alpha > 0.5) == seen) > 0.98  # the coverage is the object's
        inside = ndimage.binary_erosion(seen) & (alpha > 0.999)
        error = normals.angular_error_deg(ref[..., :3], truth)[inside]
        assert np.median(error) < 1.0 and np.mean(error < 5.0) > 0.9, (np.median(error), np.mean(error < 5.0))
        relative = np.abs(ref_depth[inside] / depth[inside] - 1.0)  # sampling differs only at self-occlusions
        assert np.median(relative) < 0.002 and np.mean(relative < 0.02) > 0.98
        flipped = normals.angular_error_deg(ref[..., :3] * [1, -1, 1], truth)[inside]  # a wrong convention fails
        assert np.median(flipped) > 10.0
