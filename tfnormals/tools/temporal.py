"""Temporal mode: a sequence's passes predicted as a sequence, so they do not flicker.

Each frame is predicted on its own (fusion.PassSettings.passes), then blended with the history: the
previous frame's output, carried to this frame by optical flow. Per frame t:

1. Flow between the plates of t and t − 1 in both directions (OpenCV's DIS flow on luminance, at most
   `flow_side` pixels on the longer side), upsampled to the plate.
2. Confidence per pixel: the backward flow must come back with the forward flow (forward-backward check:
   occlusions and disocclusions fail it), the previous plate carried along must match this one in colour
   (moving shadows, flow errors, what a moving object uncovers) and the point must come from inside the
   previous frame. When few pixels are trusted the two frames are unrelated (a cut): the history is reset.
3. The previous output is warped to t (bilinear). Normals are camera space, so a camera that turns turns
   them: the rotation that best carries the warped normals onto the new prediction (weighted Kabsch) is
   applied, less a dead band (`rotation_deadband_deg`) that keeps noise from turning a still shot; what
   the dead band leaves is caught up by the blend. Depth is relative: the history's is carried to t by the
   flow's expansion (a surface that grows in the frame came closer) and the new frame's log depth is
   aligned to it (median offset), so the shot keeps one scale; albedo's log is aligned per channel.
4. Blend: history weight (1 − alpha) × confidence. Normals are renormalized; depth and albedo blend as logs.

With a matchmove (predict --matchmove: the cameras of the frames), step 1 takes per pixel the camera's rigid flow
(tfnormals.tools.matchmove: the predicted depth moved by the cameras' move) or DIS's, whichever carries the other
plate closer to this one's colours; step 2 checks the colour of the camera's pixels more loosely
(`camera_photo_tolerance`: still surfaces whose flow is geometric); step 3 turns the normals by the cameras' own
rotation. Mattes of what moves on its own (predict --matchmove_mattes) keep DIS's flow on their pixels.

The state is exactly the last output and its plate, so a resumed run that reads back the last frame it
wrote continues as if never stopped (SequencePasses.follow). A farm task that starts inside a shot warms up
on up to DEFAULT_WARMUP plates before its first frame (predicted, not written): its frames are an
uninterrupted run's when the warm-up reaches the shot's start; otherwise the history forgets where it
started by a factor (1 − alpha) × confidence ≤ 0.93 per frame.
"""

import dataclasses

import numpy as np
from absl import logging

from tfnormals.core import conventions, errors, image_io, normals, srgb
from tfnormals.core.frames import is_frame_pattern, parse_frames
from tfnormals.tools import fusion, plates, prediction, tiling

MODES = ("auto", "on", "off")  # predict --temporal: auto = on for a frame pattern (plate.####.exr)
DEFAULT_WARMUP = 16  # plates before a farm task's first frame that fill its history
PHOTO_BLUR_PX = 1.0      # the colour check compares the plates blurred this much (flow pixels), so grain passes
MIN_FLOW_SIDE = 48       # each side of the flow's images at least (DIS needs twice its patch)
DIS_PATCH = (24, 6)     # DIS patch size and stride (pixels of the flow's resolution)
DIS_FINEST_SIDE = 120   # DIS stops at its coarsest halving of the flow whose longer side is still this long
DIS_SMOOTHNESS = 300.0  # DIS variational refinement's smoothness weight (OpenCV's default: 20)
DIS_REFINEMENT = 30     # its iterations (default 5)
CHOICE_BLUR_PX = 4.0    # with a matchmove: the colour gaps that choose camera or image flow are blurred this much
CHOICE_MARGIN = 0.1     # and the camera's flow is kept unless the image flow's gap is smaller by this (share of range)


@dataclasses.dataclass(frozen=True)
class Blending:
    """How the history is carried and blended (module docstring); the defaults are measured (BUILD_NOTES
    "Temporal mode")."""

    alpha: float = 0.07                 # the new frame's share where the history is fully trusted
    flow_side: int = 480                # longer side at which the flow is computed
    fb_tolerance_px: float = 3.0        # forward-backward mismatch (flow pixels) at which confidence is 1/e
    photo_tolerance: float = 0.2        # colour difference (share of the plates' range) at which it is 1/e
    camera_photo_tolerance: float = 0.3  # the same where a matchmove's flow is taken: a flow of still surfaces
    cut_share: float = 0.15             # below this mean confidence the frames are unrelated: reset
    rotation_deadband_deg: float = 0.6  # a frame-to-frame rotation of the normals below this is noise


def _small(images, size):
    """Network inputs (sRGB in [0, 1]) at size (h, w), their luminance as 8-bit images for the flow, and the
    range those 8 bits span: the luminances' 1st to 99th percentiles (dark, low-contrast plates keep texture)."""
    small = [tiling.resize(np.clip(image, 0.0, 1.0), *size) for image in images]
    lumas = [srgb.luminance(s) for s in small]
    low, high = np.percentile(np.stack(lumas), [1.0, 99.0])
    span = max(high - low, 1e-3)
    return small, [np.clip((luma - low) * 255.0 / span + 0.5, 0, 255).astype(np.uint8) for luma in lumas], span


def _remap(image, map_x, map_y):
    """image (H×W×C) sampled at (map_x, map_y) bilinearly, edges clamped; ≤ 4 channels per OpenCV call."""
    import cv2
    chunks = [cv2.remap(np.ascontiguousarray(image[..., c:c + 4]), map_x, map_y, cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_REPLICATE) for c in range(0, image.shape[-1], 4)]
    return np.concatenate([chunk.reshape(map_x.shape + (-1,)) for chunk in chunks], axis=-1)


def _grid(h, w):
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float32)
    return cols, rows


@dataclasses.dataclass(frozen=True)
class Motion:
    """Where each pixel of frame t was in frame t − 1, at the plate's size, and how much to trust it.

    flow: H×W×2 (x, y) offsets from t to t − 1 in pixels; confidence: H×W in [0, 1]; trusted: mean
    confidence; expansion: log of how much depth shrank from t − 1 to t (median over the frame).
    """

    flow: np.ndarray
    confidence: np.ndarray
    trusted: float
    expansion: float
    rigid_share: float = 0.0  # with a matchmove: the share of pixels whose flow is the camera's


def _confidence(back, forth, before_rgb, now_rgb, span, blending, photo_tolerance=None):
    """Per pixel of frame t, how far to trust flow `back` (t → t − 1) given `forth` (t − 1 → t) and the two plates:
    the forward-backward check, the colour of the previous plate carried along (photo_tolerance: per pixel, else
    the blending's), and the point inside that frame."""
    import cv2
    h, w = back.shape[:2]
    cols, rows = _grid(h, w)
    map_x, map_y = cols + back[..., 0], rows + back[..., 1]
    returned = _remap(forth, map_x, map_y)
    mismatch = np.sum((back + returned) ** 2, axis=-1)
    tolerance = blending.fb_tolerance_px ** 2 + 0.01 * np.sum(back ** 2, axis=-1)
    difference = cv2.GaussianBlur(_remap(before_rgb, map_x, map_y) - now_rgb, (0, 0), PHOTO_BLUR_PX)
    tolerance_rgb = blending.photo_tolerance if photo_tolerance is None else photo_tolerance
    photo = np.sum(difference ** 2, axis=-1) / (tolerance_rgb * span) ** 2
    inside = (map_x >= -0.5) & (map_x <= w - 0.5) & (map_y >= -0.5) & (map_y <= h - 0.5)
    return np.exp(-mismatch / tolerance - photo) * inside


def _colour_gap(flow, source_rgb, target_rgb):
    """Per pixel of the target, the colour difference (squared, blurred) of the source plate carried by `flow`."""
    import cv2
    cols, rows = _grid(*flow.shape[:2])
    carried = _remap(source_rgb, cols + np.nan_to_num(flow[..., 0], nan=-1e4), rows + np.nan_to_num(flow[..., 1]))
    return cv2.GaussianBlur(np.sum((carried - target_rgb) ** 2, axis=-1), (0, 0), CHOICE_BLUR_PX)


def _camera_flows(back, forth, before_rgb, now_rgb, span, blending, camera_move, depths, scale, mattes=(None, None)):
    """The flows both ways with a matchmove: per pixel the camera's rigid flow (matchmove.depth_flows, its depth
    scale fitted to the plates) or DIS's, whichever carries the other plate closer to this one's
    colours; ties go to the camera; DIS's wherever `mattes` (t's, t − 1's: H×W bool at the flow's size, or None)
    mark something that moves on its own. Returns (back, forth, where back took the camera's flow)."""
    from tfnormals.tools import matchmove
    rigid = matchmove.depth_flows(camera_move, *depths, scale, before_rgb, now_rgb, span)
    margin = (CHOICE_MARGIN * span) ** 2
    chosen = []
    for image_flow, camera_flow, source, target, matte in ((back, rigid[0], before_rgb, now_rgb, mattes[0]),
                                                           (forth, rigid[1], now_rgb, before_rgb, mattes[1])):
        take = np.isfinite(camera_flow[..., 0]) & (
            _colour_gap(camera_flow, source, target) <= _colour_gap(image_flow, source, target) + margin)
        if matte is not None:
            take &= ~matte
        chosen.append((np.where(take[..., None], camera_flow, image_flow).astype(np.float32), take))
    return chosen[0][0], chosen[1][0], chosen[0][1]


def motion(previous, current, blending=Blending(), camera_move=None, depths=(None, None), mattes=(None, None)):
    """The Motion from network input `current` (frame t) back to `previous` (t − 1), both H×W×3.

    camera_move: matchmove.CameraMove of the two frames (predict --matchmove), with `depths` (t's, t − 1's: H×W
    relative depth at the plates' size, or None): the camera's rigid flow where it fits the plates better than DIS,
    except where `mattes` (t's, t − 1's: H×W bool at the plates' size, or None) mark something moving on its own.
    """
    import cv2
    h, w = current.shape[:2]
    scale = min(1.0, blending.flow_side / max(h, w))
    size = (max(MIN_FLOW_SIDE, round(h * scale)), max(MIN_FLOW_SIDE, round(w * scale)))  # a tiny side is stretched
    sy, sx = size[0] / h, size[1] / w
    (now_rgb, before_rgb), (now, before), span = _small([current, previous], size)
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    dis.setPatchSize(DIS_PATCH[0])
    dis.setPatchStride(DIS_PATCH[1])
    dis.setFinestScale(max(0, int(np.log2(max(size) / DIS_FINEST_SIDE))))
    dis.setVariationalRefinementAlpha(DIS_SMOOTHNESS)
    dis.setVariationalRefinementIterations(DIS_REFINEMENT)
    back = dis.calc(now, before, None)
    forth = dis.calc(before, now, None)
    rigid_share, photo_tolerance = 0.0, None
    if camera_move is not None:
        small = [None if d is None else tiling.resize(np.asarray(d, np.float32).reshape(h, w, 1), *size)[..., 0]
                 for d in depths]
        small_mattes = [None if m is None else tiling.resize(m.astype(np.float32)[..., None], *size)[..., 0] > 0.5
                         for m in mattes]
        back, forth, rigid = _camera_flows(back, forth, before_rgb, now_rgb, span, blending, camera_move, small,
                                           (sx, sy), small_mattes)
        rigid_share = float(rigid.mean())
        photo_tolerance = np.where(rigid, blending.camera_photo_tolerance, blending.photo_tolerance)
    confidence = _confidence(back, forth, before_rgb, now_rgb, span, blending, photo_tolerance)
    jacobian = [np.gradient(back[..., k], axis=a) for k in (0, 1) for a in (1, 0)]
    area = (1.0 + jacobian[0]) * (1.0 + jacobian[3]) - jacobian[1] * jacobian[2]
    sure = (confidence > 0.5) & (area > 0.1)
    expansion = 0.5 * float(np.median(np.log(area[sure]))) if np.any(sure) else 0.0
    flow = tiling.resize(back, h, w) / np.array([sx, sy], np.float32)
    return Motion(flow, np.clip(tiling.resize(confidence[..., None], h, w)[..., 0], 0.0, 1.0),
                  float(confidence.mean()), expansion, rigid_share)


def warp(passes, flow):
    """Passes of frame t − 1 (fusion space: normals, log depth, log albedo) carried to frame t by `flow`."""
    h, w = flow.shape[:2]
    cols, rows = _grid(h, w)
    map_x, map_y = cols + flow[..., 0], rows + flow[..., 1]
    names = list(passes)
    stacked = _remap(np.concatenate([passes[n] for n in names], axis=-1), map_x, map_y)
    splits = np.cumsum([passes[n].shape[-1] for n in names])[:-1]
    return dict(zip(names, np.split(stacked, splits, axis=-1)))


def rotation_onto(source, target, weight, deadband_deg=0.0):
    """The rotation R (3×3) that best carries unit vectors `source` onto `target` (N×3, weighted Kabsch),
    its angle shrunk by `deadband_deg` (a smaller one is the identity)."""
    import cv2
    rotation = normals.best_rotation(source, target, weight)
    vector = cv2.Rodrigues(rotation)[0][:, 0]
    angle = np.degrees(np.linalg.norm(vector))
    if angle <= deadband_deg:
        return np.eye(3)
    return cv2.Rodrigues(vector * (angle - deadband_deg) / angle)[0]


def _from_log(passes):
    out = {name: np.exp(value).astype(np.float32) if name in tiling.SCALE_FREE else value
           for name, value in passes.items()}
    out["normals"] = normals.normalize(out["normals"])
    if "albedo" in out:
        out["albedo"] = np.clip(out["albedo"], 0.0, 1.0)
    return out


def blend(history, history_image, image, passes, blending=Blending(), camera_move=None, mattes=(None, None)):
    """One frame's passes blended with the history (the previous output and its network input); camera_move: the
    two frames' matchmove.CameraMove, when a matchmove gives them, and their mattes (motion).

    Returns (passes, info): the output passes (normals unit length, depth in the history's scale, albedo in
    [0, 1]) and {'cut': bool, 'trusted': mean confidence, 'rotation_deg': the rotation applied}.
    """
    depths = tuple(p["depth"][..., 0] if "depth" in p else None for p in (passes, history))
    found = motion(history_image, image, blending, camera_move, depths, mattes)
    if found.trusted < blending.cut_share:
        return passes, {"cut": True, "trusted": found.trusted, "rotation_deg": 0.0}
    old, new = warp(fusion.to_fusion_space(history), found.flow), fusion.to_fusion_space(passes)
    h, w = image.shape[:2]
    step = max(1, round(max(h, w) / blending.flow_side))
    sure = found.confidence[::step, ::step] > 0.5
    if not np.any(sure):
        return passes, {"cut": True, "trusted": found.trusted, "rotation_deg": 0.0}
    sub = lambda a: a[::step, ::step][sure]
    if camera_move is not None:
        rotation = camera_move.back[:3, :3].T  # normals in t − 1's camera space into t's: the camera's turn
    else:
        rotation = rotation_onto(sub(normals.normalize(old["normals"])), sub(new["normals"]),
                                 sub(found.confidence), blending.rotation_deadband_deg)
    old["normals"] = old["normals"] @ rotation.T.astype(np.float32)
    if "depth" in old:
        old["depth"] = old["depth"] + found.expansion
    for name in tiling.SCALE_FREE:
        if name in new:
            new[name] = new[name] + np.median(sub(old[name]) - sub(new[name]), axis=0)
    weight = ((1.0 - blending.alpha) * found.confidence)[..., None]
    out = {name: weight * old[name] + (1.0 - weight) * new[name] for name in new}
    angle = float(np.degrees(np.arccos(np.clip((np.trace(rotation) - 1.0) / 2.0, -1.0, 1.0))))
    return _from_log(out), {"cut": False, "trusted": found.trusted, "rotation_deg": angle}


class History:
    """A sequence's state: the last output, the network input it came from and, with a matchmove, its camera and
    matte (`update` a frame at a time)."""

    def __init__(self, blending=Blending()):
        self.blending = blending
        self.image = self.passes = self.camera = self.matte = None

    def update(self, image, passes, camera=None, matte=None):
        """The output for the next frame from its own passes (camera: its core.shots.FrameCamera when a matchmove
        gives it; matte: H×W bool, what moves on its own, or None); it becomes the history. Returns (passes, info)."""
        info = {"cut": self.passes is None, "trusted": 0.0, "rotation_deg": 0.0}
        if self.passes is not None and set(self.passes) == set(passes) and self.image.shape == image.shape:
            move = None
            if camera is not None and self.camera is not None:
                from tfnormals.tools.matchmove import CameraMove
                move = CameraMove.between(self.camera, camera, image.shape[1])
            passes, info = blend(self.passes, self.image, image, passes, self.blending, move, (matte, self.matte))
        self.image, self.passes, self.camera, self.matte = image, passes, camera, matte
        return passes, info


def read_outputs(path, files, colorspace, settings):
    """The network input of plate `path` and the passes predict wrote for it (`files`: prediction.plate_outputs),
    as predict had them before writing: depth back in the relative scale (settings: camera.CameraSettings)."""
    plate, _ = image_io.fill_nonfinite(image_io.read_image(path))
    passes = {"normals": image_io.read_exr(files["normals"], list(conventions.NORMALS_EXR_CHANNELS))}
    if "depth" in files:
        passes["depth"] = image_io.read_exr(files["depth"], list(prediction.PASS_CHANNELS["depth"])) / np.float32(
            settings.scale_depth(1.0))
    if "albedo" in files:
        passes["albedo"] = image_io.read_exr(files["albedo"], list(prediction.PASS_CHANNELS["albedo"]))
    return prediction.network_input(plate, path, colorspace), passes


class SequencePasses:
    """predict's passes for a sequence (what predict calls: check, passes, follow, run_flags): each plate's own
    passes by fusion.PassSettings, blended with the history (module docstring).

    Args:
      settings: fusion.PassSettings, how each plate is predicted.
      colorspace, camera: predict's --input_colorspace and camera.CameraSettings (to read written frames back).
      warmup: predict's --temporal_warmup (stamped in the outputs: it decides a farm task's first frames).
      warmup_plates: plates before the first one (a farm task's chunk), predicted to fill the history, not written.
      blending: Blending.
      matchmove: matchmove.Matchmove, the plates' cameras (predict --matchmove), or None.
    """

    in_order = True  # a plate's passes depend on the plates before it: predict waits for a frame another run holds

    def __init__(self, settings, *, colorspace="auto", camera=None, warmup=DEFAULT_WARMUP, warmup_plates=(),
                 blending=Blending(), matchmove=None):
        from tfnormals.core.camera import CameraSettings
        self.settings, self.colorspace, self.camera = settings, colorspace, camera or CameraSettings()
        self.warmup, self.warmup_plates, self.history = warmup, list(warmup_plates), History(blending)
        self.matchmove, self._written = matchmove, None

    def check(self):
        self.settings.check()

    def run_flags(self, model):
        """The per-plate settings' run_flags and the temporal ones, by flag name (predict stamps them)."""
        flags = {**self.settings.run_flags(model), "temporal": "on", "temporal_warmup": self.warmup}
        if self.matchmove:
            flags["matchmove"] = self.matchmove.stamp()
        return flags

    def follow(self, path, files):
        """predict skipped `path`, whose outputs exist: the next plate continues from what they hold (resume)."""
        self._written, self.warmup_plates = (path, files), []

    def _camera(self, plate):
        return self.matchmove.camera(plate) if self.matchmove and plate else None

    def _matte(self, plate, image):
        return self.matchmove.matte(plate, image.shape[:2]) if self.matchmove and plate else None

    def passes(self, model, image, plate=None):
        """The next plate's passes (network input `image` of file `plate`), blended with the frames before it."""
        if self._written:
            self.history.image, self.history.passes = read_outputs(*self._written, self.colorspace, self.camera)
            self.history.camera = self._camera(self._written[0])
            self.history.matte = self._matte(self._written[0], self.history.image)
            self._written = None
        for path in self.warmup_plates:
            warmup_plate, _ = image_io.fill_nonfinite(image_io.read_image(path))
            self._update(model, prediction.network_input(warmup_plate, path, self.colorspace), path)
        self.warmup_plates = []
        return self._update(model, image, plate)

    def _update(self, model, image, plate):
        restart = self.history.passes is not None
        passes, info = self.history.update(image, self.settings.passes(model, image), self._camera(plate),
                                           self._matte(plate, image))
        if info["cut"] and restart:
            logging.info("temporal: the plate does not follow the one before it (%.0f%% of its pixels trusted): "
                         "history reset", 100.0 * info["trusted"])
        return passes


def warmup_paths(spec, frames, count=DEFAULT_WARMUP):
    """Up to `count` plates on disk just before the first frame of `frames` ('1011-1020', a farm task's
    chunk of a frame pattern): none when there is no range."""
    if not (frames and count > 0 and is_frame_pattern(spec)):
        return []
    first, _ = parse_frames(frames)
    if first == 0:
        return []
    return plates.expand_inputs(spec, f"{max(0, first - count)}-{first - 1}").paths


def pass_settings(mode, settings, spec, *, frames="", colorspace="auto", camera=None, warmup=DEFAULT_WARMUP,
                  matchmove_file="", matchmove_mattes="", plate_paths=()):
    """What predict runs plates through for --temporal=`mode` ('auto': on for a frame pattern): `settings`
    (fusion.PassSettings) itself, or a SequencePasses around it; with `matchmove_file` (predict --matchmove) the
    cameras of `plate_paths` and of the warm-up plates read from it, and their mattes from `matchmove_mattes`
    (errors.UsageError naming --matchmove or --matchmove_mattes when they cannot give every one of them)."""
    if matchmove_mattes and not matchmove_file:
        raise errors.UsageError("--matchmove_mattes: the mattes tell the matchmove where not to use the camera's "
                                "flow; give --matchmove too")
    if mode not in MODES:
        raise errors.UsageError(f"--temporal: must be one of {', '.join(MODES)}, not {mode!r}")
    if warmup < 0:
        raise errors.UsageError(f"--temporal_warmup: must be 0 or more, got {warmup}")
    if mode == "off" or (mode == "auto" and not is_frame_pattern(spec)):
        if matchmove_file:
            raise errors.UsageError("--matchmove: the cameras feed the temporal mode, which is off here "
                                    f"(--temporal={mode}{'' if mode == 'off' else ' and --input is no frame pattern'})")
        return settings
    warmup_plates = warmup_paths(spec, frames, warmup)
    cameras = None
    if matchmove_file:
        from tfnormals.core.camera import CameraSettings
        from tfnormals.tools.matchmove import read_matchmove
        every = list(warmup_plates) + list(plate_paths)
        cameras = read_matchmove(matchmove_file, spec, every[0] if every else None, camera or CameraSettings(),
                                 matchmove_mattes)
        cameras.check(every)
    return SequencePasses(settings, colorspace=colorspace, camera=camera, warmup=warmup, warmup_plates=warmup_plates,
                          matchmove=cameras)
