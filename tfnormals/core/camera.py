"""Pinhole camera maths on numpy arrays: depth ↔ position (P), normals from P, field of view.

Camera space is OpenGL's (+X right, +Y up, +Z toward the viewer), so a visible point has
P.z < 0 and depth (distance along the view axis) is −P.z. Pixel (row, col) centres sit at
(col + 0.5, row + 0.5); row 0 is the top of the image.
"""

import dataclasses
import math

import numpy as np

from tfnormals.core import conventions, errors, normals

DEFAULT_SENSOR_WIDTH_MM = 36.0  # full-frame 35 mm film back, the convention focal lengths are quoted in
DEFAULT_FOCAL_MM = 35.0


def hfov_from_focal(focal_mm, sensor_width_mm=DEFAULT_SENSOR_WIDTH_MM):
    """Horizontal field of view in degrees of a lens on a film back."""
    if focal_mm <= 0 or sensor_width_mm <= 0:
        raise ValueError(f"focal length ({focal_mm}) and sensor width ({sensor_width_mm}) must be positive")
    return math.degrees(2.0 * math.atan(sensor_width_mm / (2.0 * focal_mm)))


def focal_pixels(width, hfov_deg):
    """Focal length in pixels of an image `width` pixels wide with a horizontal field of view."""
    if not 0.0 < hfov_deg < 180.0:
        raise ValueError(f"horizontal field of view must be in (0, 180) degrees, got {hfov_deg}")
    return width / (2.0 * math.tan(math.radians(hfov_deg) / 2.0))


def position_from_depth(depth, focal_px, centre=None):
    """Camera-space points H×W×3 from a depth map H×W (0 where unknown → P = 0 there).

    Args:
      depth: distance along the view axis, positive.
      focal_px: focal length in pixels, or (fx, fy) for an image stretched from its frame (non-square pixels).
      centre: principal point (cx, cy) in pixels; default the image centre.
    """
    depth = np.asarray(depth, np.float64)
    h, w = depth.shape
    cx, cy = centre if centre is not None else (w / 2.0, h / 2.0)
    fx, fy = _focal_xy(focal_px)
    rows, cols = np.mgrid[0:h, 0:w]
    x = (cols + 0.5 - cx) / fx * depth
    y = -(rows + 0.5 - cy) / fy * depth
    return np.stack([x, y, -depth], axis=-1).astype(np.float32)


def _focal_xy(focal_px):
    """(fx, fy) of a focal length in pixels given as one number (square pixels) or as the pair."""
    return np.broadcast_to(np.asarray(focal_px, np.float64), (2,))


def look_at(origin, target, up):
    """4×4 camera-to-world matrix (OpenGL axes) of a camera at `origin` looking at `target`.

    Its columns are the camera's +X (right), +Y (up) and +Z (backward, toward the viewer) axes in
    world space and its position, as Maya, Houdini and Blender store a camera's transform; `up` is
    a world vector the camera's +Y leans toward (roll), made orthogonal to the view direction.
    """
    origin = np.asarray(origin, np.float64)
    forward = np.asarray(target, np.float64) - origin
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, up)
    right /= np.linalg.norm(right)
    matrix = np.eye(4)
    matrix[:3, 0], matrix[:3, 1], matrix[:3, 2], matrix[:3, 3] = right, np.cross(right, forward), -forward, origin
    return matrix


def project(position, focal_px, width, height, centre=None):
    """Pixel coordinates (col, row) of camera-space points (..., 3): the inverse of position_from_depth.

    Pixel (row, col) has its centre at coordinates (col, row); a point behind the camera (P.z >= 0)
    gets NaN. Same arguments as position_from_depth.
    """
    p = np.asarray(position, np.float64)
    cx, cy = centre if centre is not None else (width / 2.0, height / 2.0)
    fx, fy = _focal_xy(focal_px)
    depth = -p[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        ahead = np.where(depth > 0, 1.0 / depth, np.nan)
    return np.stack([fx * p[..., 0] * ahead + cx - 0.5, -fy * p[..., 1] * ahead + cy - 0.5], axis=-1)


def normals_from_position(position, valid=None):
    """Camera-space unit normals of a P map from central differences, facing the camera; 0 where invalid.

    A pixel needs valid neighbours on both sides in x and y (a one-sided difference is used at
    borders and next to holes).
    """
    p = np.asarray(position, np.float64)
    valid = np.ones(p.shape[:2], bool) if valid is None else np.asarray(valid, bool)

    def difference(axis):
        ahead = np.roll(p, -1, axis)
        behind = np.roll(p, 1, axis)
        ok_ahead = np.roll(valid, -1, axis)
        ok_behind = np.roll(valid, 1, axis)
        edge_ahead = np.zeros_like(valid)
        edge_behind = np.zeros_like(valid)
        index = [slice(None)] * 2
        index[axis] = -1
        edge_ahead[tuple(index)] = True
        index[axis] = 0
        edge_behind[tuple(index)] = True
        ok_ahead &= ~edge_ahead
        ok_behind &= ~edge_behind
        both = (ahead - behind) / 2.0
        forward = ahead - p
        backward = p - behind
        d = np.where((ok_ahead & ok_behind)[..., None], both, np.where(ok_ahead[..., None], forward, backward))
        return d, ok_ahead | ok_behind

    dx, okx = difference(1)  # toward +col = +X in the image
    dy, oky = difference(0)  # toward +row = −Y in the image
    n = np.cross(dx, -dy)
    n = np.where(n[..., 2:3] < 0, -n, n)  # visible surfaces face the camera
    return normals.normalize(n) * (valid & okx & oky)[..., None]


def align_scale(pred, target, valid, shift=False):
    """pred scaled (and shifted) to target over valid pixels: median ratio, or least squares with shift."""
    p, t = pred[valid].astype(np.float64), target[valid].astype(np.float64)
    if shift:
        a = np.stack([p, np.ones_like(p)], axis=1)
        scale, offset = np.linalg.lstsq(a, t, rcond=None)[0]
        return (pred * scale + offset).astype(np.float32)
    return (pred * (np.median(t) / max(np.median(p), 1e-12))).astype(np.float32)


def depth_metrics(pred, target, valid):
    """Monocular-depth metrics over valid pixels: AbsRel and δ < 1.25 after median scaling, and after
    least-squares scale and shift; and the variance of the log-depth error (scale-free; what training's si_log
    depth term minimises)."""
    if not np.any(valid):
        raise ValueError("no valid depth pixels to measure")
    t = target[valid].astype(np.float64)
    result = {}
    for name, shift in (("median", False), ("lstsq", True)):
        p = np.maximum(align_scale(pred, target, valid, shift)[valid].astype(np.float64), 1e-6)
        result[f"absrel_{name}"] = float(np.mean(np.abs(p - t) / t))
        result[f"delta125_{name}"] = float(np.mean(np.maximum(p / t, t / p) < 1.25))
    result["si_log"] = float(np.var(np.log(np.maximum(pred[valid].astype(np.float64), 1e-6)) - np.log(t)))
    return result


def depth_contrast_metrics(pred, target, valid, contrasts=conventions.DEPTH_CONTRASTS):
    """{k: depth_metrics of pred ** k} for each contrast k: the predicted log depth stretched (k > 1) or flattened
    (k < 1), which is what `export --depth_contrast=k` makes of a model; so k can be fitted on renders."""
    pred = np.maximum(pred.astype(np.float64), 1e-12)
    return {f"{k:g}": depth_metrics(pred ** k, target, valid) for k in contrasts}


def albedo_si_mse(pred, target, valid):
    """Scale-invariant MSE of albedo over valid pixels, with one least-squares scale per channel."""
    if not np.any(valid):
        raise ValueError("no valid albedo pixels to measure")
    p, t = pred[valid].astype(np.float64), target[valid].astype(np.float64)
    scale = np.sum(p * t, axis=0) / np.maximum(np.sum(p * p, axis=0), 1e-12)
    return float(np.mean((p * scale - t) ** 2))


@dataclasses.dataclass(frozen=True)
class CameraSettings:
    """How relative depth (median 1) becomes depth and position in scene units, and the field of view.

    Args:
      hfov: horizontal field of view in degrees (0 = from focal_mm and sensor_width_mm).
      focal_mm, sensor_width_mm: lens and film back, when hfov is 0.
      depth_scale: multiplies the relative depth (median 1).
      reference_distance: when > 0, the plate's median depth in scene units (overrides depth_scale).
    """

    hfov: float = 0.0
    focal_mm: float = DEFAULT_FOCAL_MM
    sensor_width_mm: float = DEFAULT_SENSOR_WIDTH_MM
    depth_scale: float = 1.0
    reference_distance: float = 0.0

    def field_of_view(self):
        return self.hfov if self.hfov > 0 else hfov_from_focal(self.focal_mm, self.sensor_width_mm)

    def check(self):
        """Raise errors.UsageError naming the flag for settings that cannot work."""
        if not 0.0 <= self.hfov < 180.0:
            raise errors.UsageError(f"--hfov: must be in (0, 180) degrees (0 = from --focal_mm), got {self.hfov:g}")
        for name in ("focal_mm", "sensor_width_mm", "depth_scale"):
            if not getattr(self, name) > 0:
                raise errors.UsageError(f"--{name}: must be positive, got {getattr(self, name):g}")
        if self.reference_distance < 0:
            raise errors.UsageError("--reference_distance: must be 0 (off) or positive, "
                                    f"got {self.reference_distance:g}")

    def scale_depth(self, depth):
        """Relative depth (median 1) in scene units."""
        return depth * (self.reference_distance if self.reference_distance > 0 else self.depth_scale)


def define_flags(when=""):
    """The camera flags of the commands that turn depth into position (predict, relight); `when` prefixes
    their help (e.g. "With --depth: ")."""
    from absl import flags
    defaults = CameraSettings()
    flags.DEFINE_float("hfov", defaults.hfov, f"{when}horizontal field of view in degrees for the position pass "
                       "(0 = from --focal_mm and --sensor_width_mm).")
    flags.DEFINE_float("focal_mm", defaults.focal_mm, f"{when}lens focal length in mm (when --hfov is 0).")
    flags.DEFINE_float("sensor_width_mm", defaults.sensor_width_mm, f"{when}film back width in mm (36 = full frame).")
    flags.DEFINE_float("depth_scale", defaults.depth_scale, f"{when}multiplies the relative depth (median 1).")
    flags.DEFINE_float("reference_distance", defaults.reference_distance,
                       f"{when}when > 0, the median depth in scene units (overrides --depth_scale).")


def settings_from_flags(values):
    """The CameraSettings that define_flags()' flags describe."""
    return CameraSettings(values.hfov, values.focal_mm, values.sensor_width_mm, values.depth_scale,
                          values.reference_distance)
