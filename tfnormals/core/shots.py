"""Rendered shots (data_tools.render_shots): reading a shot folder, and the true correspondence of two frames.

Conventions. shot.json records each frame's camera as `camera_to_world`, a 4×4 matrix whose columns are
the camera's +X (right), +Y (up) and +Z (toward the viewer) axes and its position in world space: the
OpenGL camera of the normals pass (README "The normals convention", tfnormals.core.camera), with the
horizontal field of view `fov_deg` and `resolution` [width, height] (square pixels, principal point at
the image centre). Pixel (row, col) has its centre at pixel coordinates (col, row); depth is the
distance along the view axis (−P.z). A frame's `object_transforms` maps an ID-pass value (an object,
tfnormals.core.layout.ID_FIRST_OBJECT + k) to the 4×4 world transform from the object's rest pose (the
scene spec's) to its pose in that frame; everything not listed stays still.

Correspondence from frame a to frame b, per pixel of a: the camera point P = position_from_depth(depth_a),
moved by the object it shows (its ID) and seen by b: P' = C_b⁻¹ M_b M_a⁻¹ C_a P. Its pixel coordinates in
b are project(P') and the flow is those minus (col, row): x right, y down, in pixels, as OpenCV's optical
flow. It is valid where a shows a surface, P' lies in front of b and inside b's frame, and b sees that
same point: b's ID there is the same and b's depth there agrees with −P'.z (otherwise it is hidden in b).
"""

import dataclasses
import json
import os

import numpy as np

from tfnormals.core import camera, errors, image_io, layout, normals

DEPTH_TOLERANCE = 0.02  # relative difference of b's depth from the point's depth below which b sees the point


@dataclasses.dataclass(frozen=True)
class FrameCamera:
    """One frame's pinhole camera: camera_to_world (4×4, OpenGL axes), horizontal fov in degrees, size."""

    camera_to_world: np.ndarray
    fov_deg: float
    width: int
    height: int

    @property
    def focal_px(self):
        return camera.focal_pixels(self.width, self.fov_deg)


@dataclasses.dataclass(frozen=True)
class FrameView:
    """What the correspondence needs of one frame: depth (H×W, 0 = no surface), ID pass (H×W int),
    its camera and its object transforms ({ID: 4×4})."""

    depth: np.ndarray
    ids: np.ndarray
    camera: FrameCamera
    object_transforms: dict


@dataclasses.dataclass(frozen=True)
class Correspondence:
    """Where every pixel of frame a lands in frame b.

    flow: H×W×2 (x, y) pixel offsets to b (NaN where a shows no surface or the point is behind b).
    valid: H×W bool, the pixel's point is visible in b (see the module docstring).
    depth: H×W depth the point has in b's camera (0 where a shows no surface).
    ids: a's ID pass; rotations: {ID: 3×3} taking a's camera-space vectors on that ID to b's.
    """

    flow: np.ndarray
    valid: np.ndarray
    depth: np.ndarray
    ids: np.ndarray
    rotations: dict

    def transfer_normals(self, normals_a):
        """a's camera-space normals (H×W×3) rotated into b's camera space (as b would see those surfaces)."""
        out = np.zeros(normals_a.shape, np.float32)
        for value, rotation in self.rotations.items():
            where = self.ids == value
            out[where] = normals_a[where] @ rotation.T
        return normals.normalize(out)

    def sample(self, image_b):
        """b's image (H×W or H×W×C) bilinearly sampled where each pixel of a lands (0 where the flow is NaN)."""
        rows, cols = np.mgrid[0:self.flow.shape[0], 0:self.flow.shape[1]]
        return sample_bilinear(image_b, cols + self.flow[..., 0], rows + self.flow[..., 1])


def sample_bilinear(image, cols, rows):
    """image (H×W[×C]) at fractional pixel coordinates (col, row), clamped to the image; 0 where they are NaN."""
    image = np.asarray(image, np.float32)
    flat = image[..., None] if image.ndim == 2 else image
    h, w = flat.shape[:2]
    known = np.isfinite(cols) & np.isfinite(rows)
    x = np.clip(np.where(known, cols, 0.0), 0.0, w - 1.0)
    y = np.clip(np.where(known, rows, 0.0), 0.0, h - 1.0)
    x0, y0 = np.clip(np.floor(x).astype(int), 0, max(w - 2, 0)), np.clip(np.floor(y).astype(int), 0, max(h - 2, 0))
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]
    top = flat[y0, x0] * (1 - fx) + flat[y0, x1] * fx
    bottom = flat[y1, x0] * (1 - fx) + flat[y1, x1] * fx
    out = (top * (1 - fy) + bottom * fy) * known[..., None]
    return out[..., 0] if image.ndim == 2 else out


def _depth_seen(depth, cols, rows):
    """The depth b sees at fractional pixel coordinates: inverse depth interpolated bilinearly (exact on planes)
    where every pixel it weighs shows a surface, else the nearest pixel's depth."""
    h, w = depth.shape
    covered = sample_bilinear((depth > 0).astype(np.float32), cols, rows) > 1.0 - 1e-4
    inverse = sample_bilinear(np.where(depth > 0, 1.0 / np.maximum(depth, 1e-12), 0.0), cols, rows)
    nearest = depth[np.clip(np.rint(rows).astype(int), 0, h - 1), np.clip(np.rint(cols).astype(int), 0, w - 1)]
    return np.where(covered, 1.0 / np.maximum(inverse, 1e-12), nearest)


def motion_between(transforms_a, transforms_b, value):
    """4×4 world transform taking a point of ID `value` from its pose in frame a to its pose in frame b."""
    m_a = np.asarray(transforms_a.get(value, np.eye(4)), np.float64)
    m_b = np.asarray(transforms_b.get(value, np.eye(4)), np.float64)
    return m_b @ np.linalg.inv(m_a)


def correspondence(a, b, tolerance=DEPTH_TOLERANCE):
    """The Correspondence from FrameView a to FrameView b (module docstring)."""
    surface = a.depth > 0
    p_a = camera.position_from_depth(a.depth, a.camera.focal_px).astype(np.float64)
    p_b = np.zeros_like(p_a)
    rotations = {}
    world_to_b = np.linalg.inv(np.asarray(b.camera.camera_to_world, np.float64))
    for value in np.unique(a.ids):
        a_to_b = world_to_b @ motion_between(a.object_transforms, b.object_transforms, int(value)) @ np.asarray(
            a.camera.camera_to_world, np.float64)
        where = surface & (a.ids == value)
        p_b[where] = p_a[where] @ a_to_b[:3, :3].T + a_to_b[:3, 3]
        rotations[int(value)] = a_to_b[:3, :3]
    coords = camera.project(p_b, b.camera.focal_px, b.camera.width, b.camera.height)
    coords[~surface] = np.nan
    rows, cols = np.mgrid[0:a.depth.shape[0], 0:a.depth.shape[1]]
    flow = coords - np.stack([cols, rows], axis=-1)
    depth = np.where(surface, -p_b[..., 2], 0.0)
    x, y = coords[..., 0], coords[..., 1]
    with np.errstate(invalid="ignore"):
        inside = (x >= -0.5) & (x < b.camera.width - 0.5) & (y >= -0.5) & (y < b.camera.height - 0.5)
    x, y = np.where(inside, x, 0.0), np.where(inside, y, 0.0)
    seen = np.abs(_depth_seen(b.depth, x, y) - depth) <= tolerance * depth
    same = b.ids[np.clip(np.rint(y).astype(int), 0, b.camera.height - 1),
                 np.clip(np.rint(x).astype(int), 0, b.camera.width - 1)] == a.ids
    return Correspondence(flow.astype(np.float32), surface & inside & seen & same, depth.astype(np.float32), a.ids,
                          rotations)


def read_ids(path):
    """An ID pass (ids.png, 8-bit) as H×W int values (tfnormals.core.layout's numbering)."""
    return np.rint(image_io.read_image(path)[..., 0] * 255.0).astype(np.int32)


@dataclasses.dataclass(frozen=True)
class Shot:
    """A rendered shot folder: its shot.json (`info`) and frame numbers."""

    folder: str
    info: dict

    @property
    def frames(self):
        return [entry["frame"] for entry in self.info["frames"]]

    def _entry(self, frame):
        for entry in self.info["frames"]:
            if entry["frame"] == frame:
                return entry
        raise errors.UsageError(f"{self.folder}: no frame {frame} (frames {self.frames[0]}-{self.frames[-1]})")

    def camera(self, frame):
        entry = self._entry(frame)
        width, height = entry["resolution"]
        return FrameCamera(np.asarray(entry["camera_to_world"], np.float64), float(entry["fov_deg"]), width, height)

    @property
    def moving_ids(self):
        """The ID-pass values of the objects that move in this shot (none in a still scene)."""
        return [int(m["id"]) for m in self.info.get("moving_objects") or ()]

    def object_transforms(self, frame):
        """{ID: 4×4} of the objects that move in this shot, at `frame`."""
        return {int(k): np.asarray(m, np.float64) for k, m in self._entry(frame)["object_transforms"].items()}

    def path(self, name, frame):
        """Path of a sample file (tfnormals.core.layout, e.g. layout.NORMALS_EXR) of one frame."""
        return os.path.join(self.folder, layout.frame_file(name, frame))

    def view(self, frame):
        """The frame's FrameView, read from its depth and ID passes."""
        return FrameView(image_io.read_image(self.path(layout.DEPTH_EXR, frame))[..., 0],
                         read_ids(self.path(layout.IDS_PNG, frame)), self.camera(frame), self.object_transforms(frame))

    def correspondence(self, frame, other, tolerance=DEPTH_TOLERANCE):
        """The true Correspondence from `frame` to `other` (any two frames of the shot)."""
        return correspondence(self.view(frame), self.view(other), tolerance)


def read_shot(folder):
    """The Shot in `folder`; errors.UsageError if it holds no readable shot.json."""
    path = os.path.join(folder, layout.SHOT_JSON)
    try:
        with open(path) as f:
            info = json.load(f)
    except FileNotFoundError:
        raise errors.MissingPathError(f"{path}: no such file (not a rendered shot folder)") from None
    except ValueError as e:
        raise errors.UsageError(f"{path}: not readable JSON ({e})") from None
    return Shot(folder, info)
