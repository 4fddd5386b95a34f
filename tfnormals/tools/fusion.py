"""Passes at plate resolution: a global pass at the model's working size, finer passes fused coarse-to-fine.

The network understands a scene at the scale it was trained at (its working size: the longer side
at which it sees a whole frame), and not as fragments of a 4K plate. So predict's default mode,
`fused`, runs a pyramid of passes over the whole plate — the working size, then twice that, and so
on up to the plate's size or `max_pass` — and fuses them coarse to fine (a Laplacian-pyramid blend):
the layout (low frequencies) comes from the global pass, brought up level by level with a guided
filter so its edges follow the plate's, and each finer pass adds part of its own detail. Where the
plate is larger than the finest pass, the result is upsampled the same edge-aware way.

Per pass: normals are fused as vectors and renormalized; depth and albedo are fused as logs, so a
finer pass's own scale (depth is relative, albedo is known up to the light's colour) never reaches
the result: only its detail does.

Modes:
  fused   the pyramid above (default);
  global  one pass at the working size, upsampled guided by the plate (fastest; soft detail);
  tiled   the network at the plate's own resolution in overlapping tiles (the behaviour before the
          pyramid: sharp, but a large plate's tiles see fragments at a scale the model never saw).
"""

import dataclasses

import numpy as np

from tfnormals.core import errors, normals, srgb
from tfnormals.tools import tiling
from tfnormals.tools.inference import DEFAULT_WORKING_SIZE

MODES = ("fused", "global", "tiled")
DEFAULT_MAX_PASS = 1024
DEFAULT_DETAIL = 0.5  # share of a finer pass's own detail kept (BUILD_NOTES "Passes at plate resolution")
GUIDE_RADIUS = 2  # pixels of the finest pass: the guided filter's window is 5 × 5 of them
GUIDE_EPS = 1e-2  # guided filter regularization (luminance in [0, 1]): edges with a local std above ~0.1 lead


def pyramid_sides(long_side, working_size, max_pass):
    """Longer sides of the passes, coarse to fine: the working size doubling up to min(plate, max_pass).

    A plate no larger than the working size gets one pass at its own size. A last doubling that
    would overshoot is replaced by the finest size itself (the passes never upsample the plate).
    """
    finest = min(long_side, max(max_pass, working_size))
    if long_side <= working_size:
        return [long_side]
    sides = [working_size]
    while sides[-1] * 2 < finest * 0.85:
        sides.append(sides[-1] * 2)
    if sides[-1] != finest:
        sides.append(finest)
    return sides


def _scaled(shape, long_side):
    h, w = shape
    scale = long_side / max(h, w)
    return max(1, round(h * scale)), max(1, round(w * scale))


def to_fusion_space(passes):
    """Passes as fusion and the temporal mode blend them: normals as vectors, depth and albedo as logs."""
    return {name: np.log(np.maximum(value, tiling.LOG_FLOOR)) if name in tiling.SCALE_FREE else value
            for name, value in passes.items()}


def _from_fusion_space(passes):
    out = {name: np.exp(value) if name in tiling.SCALE_FREE else value for name, value in passes.items()}
    if "albedo" in out:
        out["albedo"] = np.clip(out["albedo"], 0.0, 1.0)
    return tiling.finish_passes(out)


def _resize_passes(passes, height, width):
    return {name: tiling.resize(value, height, width) for name, value in passes.items()}


def fuse(coarse, fine, detail=DEFAULT_DETAIL, guide=None):
    """The fine passes' detail over the coarse passes' layout (both in fusion space): the coarse passes brought to
    the fine ones' size (guided by `guide`, the plate at that size, when given), plus `detail` × what the fine
    passes hold beyond the coarse passes' resolution."""
    h, w = next(iter(fine.values())).shape[:2]
    ch, cw = next(iter(coarse.values())).shape[:2]
    base = guided_upsample(coarse, guide) if guide is not None else _resize_passes(coarse, h, w)
    fused = {}
    for name, value in fine.items():
        low = tiling.resize(tiling.resize(value, ch, cw), h, w)
        fused[name] = base[name] + detail * (value - low)
        if name == "normals":
            fused[name] = normals.normalize(fused[name])
    return fused


def _box(image, radius):
    """Mean over a (2·radius + 1)² window, per channel (mirrored borders)."""
    import cv2
    size = (2 * radius + 1, 2 * radius + 1)
    chunks = [cv2.blur(np.ascontiguousarray(image[..., c:c + 4]), size, borderType=cv2.BORDER_REFLECT)
              for c in range(0, image.shape[-1], 4)]
    return np.concatenate([chunk.reshape(image.shape[:2] + (-1,)) for chunk in chunks], axis=-1)


def guided_upsample(passes, guide, radius=GUIDE_RADIUS, eps=GUIDE_EPS):
    """Passes (fusion space) brought to the guide's size with edges that follow the guide's (an H×W×3 plate).

    The fast guided filter (He & Sun 2015): at the passes' resolution every channel is fitted locally as
    a·luminance + b, and a, b are upsampled and applied to the full-resolution luminance, so a pass's
    edges land where the plate's are. `eps` keeps weak texture out of the passes.
    """
    h, w = guide.shape[:2]
    ph, pw = next(iter(passes.values())).shape[:2]
    if (ph, pw) == (h, w):
        return passes
    luma = srgb.luminance(np.clip(guide, 0.0, 1.0))
    small = tiling.resize(luma[..., None], ph, pw)
    names = list(passes)
    stacked = np.concatenate([passes[n] for n in names], axis=-1)
    mean_i, mean_p = _box(small, radius), _box(stacked, radius)
    variance = _box(small * small, radius) - mean_i * mean_i
    a = (_box(small * stacked, radius) - mean_i * mean_p) / (variance + eps)
    b = mean_p - a * mean_i
    a, b = (tiling.resize(_box(x, radius), h, w) for x in (a, b))
    out = a * luma[..., None] + b
    splits = np.cumsum([passes[n].shape[-1] for n in names])[:-1]
    return dict(zip(names, np.split(out, splits, axis=-1)))


def predict_plate(predict, image, mode="fused", working_size=DEFAULT_WORKING_SIZE, max_pass=DEFAULT_MAX_PASS,
                  tile=512, overlap=64, batch=4, detail=DEFAULT_DETAIL):
    """Every pass of an H×W×3 network input at its own size; see the module docstring for the modes.

    Args:
      predict: batch predictor ([N, h, w, 3] → {pass: [N, h, w, C]}), e.g. PassModel.predict_passes.
      image: float32 H×W×3 sRGB plate in [0, 1].
      mode: 'fused', 'global' or 'tiled'.
      working_size: longer side of the global pass.
      max_pass: longer side of the finest fused pass (larger plates are upsampled guided by the plate).
      tile, overlap, batch: tiling of the passes larger than `tile` (and of every pass in 'tiled' mode).
      detail: share of each finer pass's own detail added to the layout (fuse()).

    Returns {pass: H×W×C}: unit normals, depth with a median of 1, albedo in [0, 1].
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; expected one of {MODES}")
    if mode == "tiled":
        return tiling.predict_tiled(predict, image, tile, overlap, batch)
    h, w = image.shape[:2]
    sides = pyramid_sides(max(h, w), working_size, max_pass)[:1 if mode == "global" else None]
    fused = None
    for side in sides:
        size = _scaled((h, w), side)
        level = image if size == (h, w) else tiling.resize(image, *size)
        passes = to_fusion_space(tiling.predict_tiled(predict, level, tile, overlap, batch))
        fused = passes if fused is None else fuse(fused, passes, detail, guide=level)
    return _from_fusion_space(guided_upsample(fused, image))


def network_inputs(predict, image, working_size=DEFAULT_WORKING_SIZE):
    """Every image predict_plate's default mode feeds `predict` for one plate (whole at each pyramid side, tiles of
    the larger ones), recorded while it runs: what a shot model's fallback bank holds (model.shot_gate)."""
    fed = []

    def record(images):
        fed.extend(images)
        return predict(images)

    predict_plate(record, image, working_size=working_size)
    return fed


@dataclasses.dataclass(frozen=True)
class PassSettings:
    """How predict runs the network on a plate (the command's --mode, --working_size, --max_pass, --tile, --overlap).

    working_size 0 means the model's own (its metadata; inference.DEFAULT_WORKING_SIZE when it does not say).
    """

    in_order = False  # plates are independent: predict may put off one that another run is predicting

    mode: str = "fused"
    working_size: int = 0
    max_pass: int = DEFAULT_MAX_PASS
    tile: int = 512
    overlap: int = 64
    detail: float = DEFAULT_DETAIL

    def check(self):
        """Raise errors.UsageError naming the flag for a setting that cannot work."""
        if self.mode not in MODES:
            raise errors.UsageError(f"--mode: must be one of {', '.join(MODES)}, not {self.mode!r}")
        for name in ("working_size", "max_pass", "tile", "overlap"):
            if getattr(self, name) < 0:
                raise errors.UsageError(f"--{name}: must be 0 or more, got {getattr(self, name)}")
        if not 0.0 <= self.detail <= 1.0:
            raise errors.UsageError(f"--detail: must be in [0, 1], got {self.detail}")
        if self.tile and self.overlap >= self.tile:
            raise errors.UsageError(f"--overlap: must be smaller than --tile ({self.tile}), got {self.overlap}")

    def run_flags(self, model):
        """These settings by flag name (predict stamps them in its outputs), the working size the one used."""
        return dataclasses.asdict(dataclasses.replace(self, working_size=self.working_size or model.working_size))

    def follow(self, path, files):
        """predict skipped `path` (its outputs exist): nothing carries over from plate to plate here (it does in
        the temporal mode, tfnormals.tools.temporal.SequencePasses)."""

    def passes(self, model, image, plate=None):
        """Every pass of `model` (an inference.PassModel) for an H×W×3 network input, at its size (`plate`, the file
        it came from, matters only in the temporal mode: a matchmove finds the plate's camera by it)."""
        return predict_plate(model.predict_passes, image, self.mode, self.working_size or model.working_size,
                             self.max_pass or max(image.shape[:2]), self.tile, self.overlap, detail=self.detail)
