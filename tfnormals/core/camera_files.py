"""Per-frame cameras from a matchmove: a JSON file (ours, or a render_shots shot.json) or a Nuke `.chan` file
(data_tools.render_references renders references through them; predict --matchmove feeds them to the temporal mode).

JSON, either of:
  {"focal_mm": 35, "sensor_width_mm": 36, "resolution": [1920, 1080],
   "frames": {"1001": {"camera_to_world": [[...4 rows...]], "focal_mm": 50}, ...}}
  {"frames": [{"frame": 1001, "camera_to_world": ..., "fov_deg": 54.4, "resolution": [256, 256]}, ...]}  (shot.json)
camera_to_world is 4×4, row-major rows, whose columns are the camera's +X (right), +Y (up), +Z (toward the
viewer) axes and its position in world space: the OpenGL camera of Maya, Houdini and Blender, and of the
normals convention. A frame's horizontal field of view is its `fov_deg`, else its (or the file's, else the
command's) focal length on the sensor width.

Nuke .chan: one line per frame, `frame tx ty tz rx ry rz [vfov]` (what Nuke's Camera "export chan file"
writes): translation, rotation in degrees applied in `rotation_order` (Nuke's default ZXY: about Z first,
then X, then Y, so R = R_y · R_x · R_z), and optionally the vertical field of view in degrees (else the
focal length gives the field of view). Nuke's cameras look down −Z with +Y up, like ours.
"""

import json
import math

import numpy as np

from tfnormals.core import camera
from tfnormals.core.shots import FrameCamera

ROTATION_ORDERS = ("XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX")
NUKE_ROTATION_ORDER = "ZXY"


class CameraFileError(ValueError):
    """A camera file that cannot be read, with the file and the reason."""


def axis_rotation(axis, degrees):
    """3×3 rotation about the X, Y or Z axis (right-handed, counter-clockwise looking down the axis)."""
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    i, j = [(1, 2), (2, 0), (0, 1)]["XYZ".index(axis)]
    m = np.eye(3)
    m[i, i], m[i, j], m[j, i], m[j, j] = c, -s, s, c
    return m


def euler_matrix(rotation_deg, order=NUKE_ROTATION_ORDER):
    """3×3 rotation of (rx, ry, rz) degrees applied in `order` (first letter first)."""
    matrix = np.eye(3)
    for axis in order:
        matrix = axis_rotation(axis, rotation_deg["XYZ".index(axis)]) @ matrix
    return matrix


def hfov_from_vfov(vfov_deg, width, height):
    """Horizontal field of view of square pixels from the vertical one."""
    return math.degrees(2.0 * math.atan(math.tan(math.radians(vfov_deg) / 2.0) * width / height))


def read_chan(path, resolution, focal_mm, sensor_width_mm, order=NUKE_ROTATION_ORDER):
    """{frame: FrameCamera} of a Nuke .chan file (see the module docstring); resolution is (width, height)."""
    width, height = resolution
    cameras = {}
    with open(path) as f:
        for number, line in enumerate(f, 1):
            fields = line.split()
            if not fields or fields[0].startswith("#"):
                continue
            try:
                values = [float(v) for v in fields]
            except ValueError:
                raise CameraFileError(f"{path}:{number}: not numbers: {line.strip()!r}") from None
            if len(values) not in (7, 8):
                raise CameraFileError(f"{path}:{number}: expected 7 or 8 columns (frame tx ty tz rx ry rz [vfov]), "
                                      f"got {len(values)}")
            matrix = np.eye(4)
            matrix[:3, :3] = euler_matrix(values[4:7], order)
            matrix[:3, 3] = values[1:4]
            fov = (hfov_from_vfov(values[7], width, height) if len(values) == 8
                   else camera.hfov_from_focal(focal_mm, sensor_width_mm))
            cameras[int(round(values[0]))] = FrameCamera(matrix, fov, width, height)
    if not cameras:
        raise CameraFileError(f"{path}: no camera lines")
    return cameras


def _frame_entries(data):
    frames = data.get("frames")
    if isinstance(frames, dict):
        return [dict(entry, frame=int(frame)) for frame, entry in frames.items()]
    if isinstance(frames, list):
        return frames
    raise CameraFileError("no 'frames' (a {frame: camera} object or a list of cameras with 'frame')")


def read_camera_json(path, resolution, focal_mm, sensor_width_mm):
    """{frame: FrameCamera} of a camera JSON (see the module docstring); resolution (width, height) or None to take
    the file's."""
    try:
        with open(path) as f:
            data = json.load(f)
        cameras = {}
        for entry in _frame_entries(data):
            width, height = resolution or entry.get("resolution") or data.get("resolution") or (None, None)
            if not width:
                raise CameraFileError("no resolution in the file: give one")
            matrix = np.asarray(entry["camera_to_world"], np.float64)
            if matrix.shape != (4, 4):
                raise CameraFileError(f"frame {entry['frame']}: camera_to_world must be 4×4, got {matrix.shape}")
            fov = entry.get("fov_deg") or camera.hfov_from_focal(
                entry.get("focal_mm", data.get("focal_mm", focal_mm)),
                entry.get("sensor_width_mm", data.get("sensor_width_mm", sensor_width_mm)))
            cameras[int(entry["frame"])] = FrameCamera(matrix, float(fov), int(width), int(height))
    except (KeyError, TypeError, ValueError) as e:
        raise CameraFileError(f"{path}: {e}") from None
    if not cameras:
        raise CameraFileError(f"{path}: no frames")
    return cameras


def read_cameras(path, resolution=None, focal_mm=camera.DEFAULT_FOCAL_MM,
                 sensor_width_mm=camera.DEFAULT_SENSOR_WIDTH_MM, order=NUKE_ROTATION_ORDER):
    """{frame: FrameCamera} of a .chan file (needs `resolution`) or a camera JSON."""
    if path.lower().endswith(".chan"):
        if not resolution:
            raise CameraFileError(f"{path}: a .chan file has no resolution: give one")
        return read_chan(path, resolution, focal_mm, sensor_width_mm, order)
    return read_camera_json(path, resolution, focal_mm, sensor_width_mm)


def look_at_of(camera_to_world):
    """(origin, target, up) of a camera-to-world matrix (its columns normalized: scale is ignored)."""
    matrix = np.asarray(camera_to_world, np.float64)
    axes = matrix[:3, :3] / np.linalg.norm(matrix[:3, :3], axis=0, keepdims=True)
    origin = matrix[:3, 3]
    return origin, origin - axes[:, 2], axes[:, 1]
