"""A matchmove camera in the temporal mode (predict --matchmove): the flow the camera's move gives still surfaces.

Image flow (DIS) falls short on smooth, barely textured surfaces: the plates cannot tell a short flow from the
true one (BUILD_NOTES "Flow candidates"). A matchmove, the recorded or solved camera of every frame (read by
tfnormals.core.camera_files: our JSON, a render_shots shot.json, a Nuke .chan), gives the camera's move exactly,
and with the frame's predicted depth every still pixel's flow: unproject, move, project (rigid_flow). The
predicted depth is relative, its scale free per frame, so one factor per frame and direction is fitted
(fit_depth_scale): the inverse depth's k whose rigid flow carries the other plate closest to this one in colour
(a capped squared difference, a log grid of k, then golden-section refinement; fitted to DIS instead it
inherits DIS's shortfall, BUILD_NOTES "Matchmove camera"); a camera that only turns needs no depth at all.
Moving objects and depth errors are left to temporal.motion, which takes per pixel the flow (rigid or image)
whose warped previous plate matches the plate better. On a smooth moving object both flows match its plate alike
and the camera's wins, which carries the object along the camera's move: mattes of what moves on its own (predict
--matchmove_mattes, the garbage mattes a camera solve is given) keep the image flow there.
"""

import dataclasses
import hashlib
import math
import os

import numpy as np

from tfnormals.core import camera, camera_files, errors, image_io
from tfnormals.core import frames as frame_numbers

FIT_POINTS = 4000       # the scale fit looks at a grid of about this many pixels of the flow's image
FIT_BLUR_PX = 1.0       # the plates are compared blurred this much (pixels of the flow's image)
FIT_CAP = 0.1           # a pixel's colour difference counts up to this share of the plates' range (moving objects)
FIT_GRID = 48           # log-spaced inverse-depth factors tried before refining
FIT_SPAN_PX = (0.01, 2.0)  # the grid spans translation flows from 0.01 px to 2 × the image's longer side (median)
FIT_REFINE_STEPS = 12   # golden-section steps between the best grid point's neighbours
MATTE_THRESHOLD = 0.5   # a matte pixel above this (alpha, else the first channel) is on a moving object


def _terms(move, inverse_depth, focal_from, pick=(slice(None), slice(None))):
    """A moved point per pixel is rays + k · offsets (k scales the inverse depth): (rays, offsets), each ×3, of the
    pixels `pick` slices out of the image (the rays: each pixel's point at distance 1, turned by the move)."""
    move = np.asarray(move, np.float64)
    rays = camera.position_from_depth(np.ones(inverse_depth.shape), focal_from)[pick] @ move[:3, :3].T.astype(
        np.float32)
    return rays, np.asarray(inverse_depth, np.float32)[pick][..., None] * move[:3, 3].astype(np.float32)


def rigid_flow(move, inverse_depth, focal_from, focal_to=None, k=1.0):
    """Where each pixel of a frame lands in another camera if the scene stands still: flow H×W×2 (x right, y down,
    pixels, as OpenCV's optical flow); NaN where the point falls behind that camera.

    Args:
      move: 4×4 taking this camera's space to the other's (inverse(other camera_to_world) @ this camera_to_world).
      inverse_depth: H×W, 1 / distance along the view axis (0 = infinitely far: only the rotation counts).
      focal_from, focal_to: (fx, fy) focal lengths in pixels of the two cameras at this image's size (principal
        point at the centre; fx ≠ fy for an image stretched from the plate); focal_to defaults to focal_from.
      k: factor on the inverse depth (fit_depth_scale).
    """
    h, w = inverse_depth.shape
    rays, offsets = _terms(move, inverse_depth, focal_from)
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float32)
    coords = camera.project(rays + k * offsets, focal_to or focal_from, w, h)
    return (coords - np.stack([cols, rows], -1)).astype(np.float32)


def fit_depth_scale(move, inverse_depth, focal_from, focal_to, source_rgb, target_rgb, span):
    """The factor k on `inverse_depth` whose rigid_flow carries `source_rgb` (the other frame's plate, H×W×3) closest
    to `target_rgb` (this frame's): the mean squared colour difference on a grid of ~FIT_POINTS pixels, each capped at
    (FIT_CAP × span)² (span: the plates' range) and the cap for points that leave the frame. 1.0 when the camera does
    not move (translation 0)."""
    import cv2
    h, w = inverse_depth.shape
    pick = (slice(None, None, max(1, round(math.sqrt(h * w / FIT_POINTS)))),) * 2
    rays, offsets = (term.reshape(-1, 3) for term in _terms(move, inverse_depth, focal_from, pick))
    reach = float(np.median(np.linalg.norm(offsets[:, :2], axis=1))) * max(focal_from)
    if reach <= 1e-12:
        return 1.0
    source = cv2.GaussianBlur(np.asarray(source_rgb, np.float32), (0, 0), FIT_BLUR_PX)
    target = cv2.GaussianBlur(np.asarray(target_rgb, np.float32), (0, 0), FIT_BLUR_PX)[pick].reshape(-1, 3)
    cap = (FIT_CAP * span) ** 2

    def cost(k):
        coords = camera.project(rays + k * offsets, focal_to, w, h).astype(np.float32)
        with np.errstate(invalid="ignore"):
            inside = (coords[:, 0] >= -0.5) & (coords[:, 0] <= w - 0.5) & (coords[:, 1] >= -0.5) & (
                coords[:, 1] <= h - 0.5)
        coords = np.nan_to_num(coords)
        carried = cv2.remap(source, coords[:, :1], coords[:, 1:], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        gap = np.minimum(np.sum((carried.reshape(-1, 3) - target) ** 2, axis=-1), cap)
        return float(np.mean(np.where(inside, gap, cap)))

    grid = np.geomspace(FIT_SPAN_PX[0], FIT_SPAN_PX[1] * max(h, w), FIT_GRID) / reach
    best = int(np.argmin([cost(k) for k in grid]))
    low, high = math.log(grid[max(best - 1, 0)]), math.log(grid[min(best + 1, FIT_GRID - 1)])
    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = high - ratio * (high - low), low + ratio * (high - low)
    cost_a, cost_b = cost(math.exp(a)), cost(math.exp(b))
    for _ in range(FIT_REFINE_STEPS):
        if cost_a <= cost_b:
            high, b, cost_b = b, a, cost_a
            a = high - ratio * (high - low)
            cost_a = cost(math.exp(a))
        else:
            low, a, cost_a = a, b, cost_b
            b = low + ratio * (high - low)
            cost_b = cost(math.exp(b))
    return math.exp((low + high) / 2.0)


@dataclasses.dataclass(frozen=True)
class CameraMove:
    """Two consecutive frames' cameras, what temporal.motion needs of a matchmove: the move from frame t's camera
    space to t − 1's (4×4), and each one's focal length in pixels at the plate's width."""

    back: np.ndarray
    focal_now: float
    focal_before: float

    @classmethod
    def between(cls, before, now, width):
        """The CameraMove from core.shots.FrameCamera `now` (frame t) to `before` (t − 1) for a plate `width` wide."""
        back = np.linalg.inv(np.asarray(before.camera_to_world, np.float64)) @ np.asarray(now.camera_to_world,
                                                                                          np.float64)
        return cls(back, camera.focal_pixels(width, now.fov_deg), camera.focal_pixels(width, before.fov_deg))


def depth_flows(move, depth_now, depth_before, scale, before_rgb, now_rgb, span):
    """The rigid flows both ways at the flow's size (back: t → t − 1, forth: t − 1 → t), each with its depth's
    scale fitted to the plates (fit_depth_scale).

    Args:
      move: CameraMove; depth_now, depth_before: H×W relative depth of frames t and t − 1 at the flow's size (None
        for a model without depth: a plane facing the camera, its distance fitted); scale: (sx, sy), the flow's
        size over the plate's; before_rgb, now_rgb: the plates at the flow's size; span: their range.
    """
    flows = []
    for matrix, depth, focal_from, focal_to, source, target in (
            (move.back, depth_now, move.focal_now, move.focal_before, before_rgb, now_rgb),
            (np.linalg.inv(move.back), depth_before, move.focal_before, move.focal_now, now_rgb, before_rgb)):
        inverse = (np.ones(target.shape[:2], np.float32) if depth is None
                   else 1.0 / np.maximum(np.asarray(depth, np.float32), 1e-6))
        from_px, to_px = (focal_from * scale[0], focal_from * scale[1]), (focal_to * scale[0], focal_to * scale[1])
        k = fit_depth_scale(matrix, inverse, from_px, to_px, source, target, span)
        flows.append(rigid_flow(matrix, inverse, from_px, to_px, k))
    return flows


@dataclasses.dataclass(frozen=True)
class Matchmove:
    """The cameras of a sequence's frames (predict --matchmove): `cameras` {frame: FrameCamera} read from `path`,
    found for a plate by its frame number in the frame pattern `pattern`; `mattes`, a frame pattern of mattes of what
    moves on its own (predict --matchmove_mattes), or ''."""

    path: str
    pattern: str
    cameras: dict
    mattes: str = ""

    def frame(self, plate):
        return frame_numbers.frame_number(self.pattern, plate)

    def check(self, plates):
        """errors.UsageError naming --matchmove (or --matchmove_mattes) and the first of `plates`' frames the file
        has no camera for (or that has no matte)."""
        for plate in plates:
            if self.frame(plate) not in self.cameras:
                known = sorted(self.cameras)
                raise errors.UsageError(f"--matchmove: {self.path}: no camera for frame {self.frame(plate)} "
                                        f"({os.path.basename(plate)}; the file has frames {known[0]}-{known[-1]})")
            if self.mattes and not os.path.isfile(self._matte_path(plate)):
                raise errors.MissingPathError(f"--matchmove_mattes: no matte for frame {self.frame(plate)} "
                                              f"({self._matte_path(plate)}: no such file)")

    def camera(self, plate):
        """The FrameCamera of a plate (check() first)."""
        return self.cameras[self.frame(plate)]

    def _matte_path(self, plate):
        return frame_numbers.frame_path(self.mattes, self.frame(plate))

    def matte(self, plate, shape):
        """Where the plate shows something that moves on its own: H×W bool at `shape` (h, w), from its matte (alpha,
        else the first channel, resized); None without mattes. image_io.ImageError naming the flag and the matte when
        it cannot be read (predict reports and skips that frame, as for a bad plate)."""
        if not self.mattes:
            return None
        import cv2
        path = self._matte_path(plate)
        try:
            image = image_io.read_image(path)
        except (OSError, ValueError) as e:
            reason = errors.one_line(e)
            raise image_io.ImageError(f"--matchmove_mattes: {reason if path in reason else f'{path}: {reason}'}") \
                from None
        channel = np.asarray(image[..., 3] if image.shape[-1] == 4 else image[..., 0], np.float32)  # H×W×C
        channel = cv2.resize(channel, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
        return channel > MATTE_THRESHOLD

    def stamp(self):
        """What predict stamps in its outputs for this matchmove: the file's name and a digest of its contents (and
        the mattes' pattern)."""
        with open(self.path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()[:16]
        return f"{os.path.basename(self.path)}:{digest}" + (f"+{os.path.basename(self.mattes)}" if self.mattes else "")


def read_matchmove(path, pattern, first_plate, settings=camera.CameraSettings(), mattes=""):
    """The Matchmove of camera file `path` for the plates of frame pattern `pattern` (`first_plate` gives their size
    for a .chan's vertical field of view; settings: camera.CameraSettings, predict's lens, for a file that names
    none; mattes: predict's --matchmove_mattes). errors.UsageError naming --matchmove or --matchmove_mattes."""
    if not frame_numbers.is_frame_pattern(pattern):
        raise errors.UsageError(f"--matchmove: needs a frame pattern --input (plate.####.exr), not {pattern!r}: a "
                                "plate's camera is found by its frame number")
    if mattes and not frame_numbers.is_frame_pattern(mattes):
        raise errors.UsageError(f"--matchmove_mattes: needs a frame pattern (roto.####.png), not {mattes!r}: a "
                                "plate's matte is found by its frame number")
    if not os.path.isfile(path):
        raise errors.MissingPathError(f"--matchmove: {path}: no such file")
    resolution = tuple(image_io.read_frame(first_plate).data_window[2:]) if first_plate else None  # no pixels read
    focal_mm = settings.sensor_width_mm / (2.0 * math.tan(math.radians(settings.hfov) / 2.0)) if settings.hfov \
        else settings.focal_mm
    try:
        cameras = camera_files.read_cameras(path, resolution, focal_mm, settings.sensor_width_mm)
    except (OSError, camera_files.CameraFileError) as e:
        raise errors.UsageError(f"--matchmove: {errors.one_line(e)}") from None
    return Matchmove(path, pattern, cameras, mattes)
