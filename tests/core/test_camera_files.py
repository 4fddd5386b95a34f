"""tfnormals.core.camera_files: matchmove cameras from a JSON file (both forms, a render_shots shot.json) and a Nuke
.chan file."""

import json
import math

import numpy as np
import pytest

from tfnormals.core import camera, camera_files


def test_chan_lines_become_cameras_in_nukes_rotation_order(tmp_path):
    path = tmp_path / "cam.chan"
    path.write_text("1001 1 2 3 0 90 0 40\n1002 0 0 5 30 20 10\n")
    cameras = camera_files.read_cameras(str(path), (200, 100), focal_mm=50, sensor_width_mm=36)
    first, second = cameras[1001], cameras[1002]
    np.testing.assert_allclose(first.camera_to_world[:3, 3], [1, 2, 3])
    np.testing.assert_allclose(-first.camera_to_world[:3, 2], [-1, 0, 0], atol=1e-12)  # a 90° yaw looks down −X
    assert first.fov_deg == pytest.approx(math.degrees(2 * math.atan(math.tan(math.radians(20)) * 2)))
    assert second.fov_deg == pytest.approx(camera.hfov_from_focal(50, 36))  # no vfov column: the lens
    rz, rx, ry = (camera_files.axis_rotation(a, d) for a, d in (("Z", 10), ("X", 30), ("Y", 20)))
    np.testing.assert_allclose(second.camera_to_world[:3, :3], ry @ rx @ rz, atol=1e-12)  # Z first, then X, then Y
    np.testing.assert_allclose(camera_files.axis_rotation("X", 90) @ [0, 1, 0], [0, 0, 1], atol=1e-12)
    assert (first.width, first.height) == (200, 100)
    path.write_text("1001 1 2 3\n")
    with pytest.raises(camera_files.CameraFileError, match="cam.chan:1: expected 7 or 8 columns"):
        camera_files.read_cameras(str(path), (200, 100))


def test_camera_json_in_both_forms_and_a_shot_json(tmp_path):
    matrix = np.eye(4)
    matrix[:3, 3] = [0, 1, 4]
    as_dict = {"focal_mm": 50, "resolution": [64, 48],
               "frames": {"1001": {"camera_to_world": matrix.tolist()},
                          "1002": {"camera_to_world": matrix.tolist(), "focal_mm": 25, "sensor_width_mm": 24}}}
    as_list = {"frames": [{"frame": 1001, "camera_to_world": matrix.tolist(), "fov_deg": 30.0,
                           "resolution": [64, 48]}]}
    for name, data in (("dict.json", as_dict), ("list.json", as_list)):
        (tmp_path / name).write_text(json.dumps(data))
    cameras = camera_files.read_cameras(str(tmp_path / "dict.json"))
    assert cameras[1001].fov_deg == pytest.approx(camera.hfov_from_focal(50, 36))
    assert cameras[1002].fov_deg == pytest.approx(camera.hfov_from_focal(25, 24))
    assert (cameras[1001].width, cameras[1001].height) == (64, 48)
    listed = camera_files.read_cameras(str(tmp_path / "list.json"))
    assert listed[1001].fov_deg == 30.0
    origin, target, up = camera_files.look_at_of(listed[1001].camera_to_world @ np.diag([2, 2, 2, 1]))  # scaled axes
    np.testing.assert_allclose(origin, [0, 1, 4])
    np.testing.assert_allclose(target, [0, 1, 3])
    np.testing.assert_allclose(up, [0, 1, 0])
    (tmp_path / "bad.json").write_text(json.dumps({"frames": {"1001": {"camera_to_world": [[1, 0], [0, 1]]}},
                                                   "resolution": [8, 8]}))
    with pytest.raises(camera_files.CameraFileError, match="must be 4×4"):
        camera_files.read_cameras(str(tmp_path / "bad.json"))
