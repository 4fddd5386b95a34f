"""Tiled inference with overlap and feathered blending, so 2K/4K plates run in bounded memory.

Tiles share one size (edge tiles are shifted inward rather than shrunk), overlap by a margin,
and are blended with weights that ramp linearly across each overlap. Per pass:
- normals: blended, then renormalized;
- depth and albedo: known up to a scale (depth is relative, albedo up to the light's colour), so
  each tile may come at its own. Tiles are placed in raster order and each is rescaled (an offset
  in log space per channel: the median log ratio over the pixels it shares with the tiles already
  placed) before blending in log space, so they do not jump at seams. The plate's depth is then
  scaled to a median of 1 (whole-image inference too).
With overlap at least the receptive field's significant extent the result matches whole-image
inference to within a small tolerance and shows no seams.
"""

import numpy as np

from tfnormals.core import normals

SCALE_FREE = ("depth", "albedo")  # passes known up to a scale: aligned and blended as logs
LOG_FLOOR = 1e-6


def tile_starts(length, tile, overlap):
    """Start offsets along one axis: step tile - overlap, the last tile flush with the end."""
    if length <= tile:
        return [0]
    step = tile - overlap
    if step <= 0:
        raise ValueError(f"overlap ({overlap}) must be smaller than the tile ({tile})")
    starts = list(range(0, length - tile, step)) + [length - tile]
    return sorted(set(starts))


def _ramp(size, start, length, overlap):
    """1-D blend weights of a tile: ramps up over the overlap unless the tile touches the image edge."""
    w = np.ones(size, np.float32)
    if overlap > 0:
        ramp = (np.arange(size, dtype=np.float32) + 0.5) / overlap
        if start > 0:
            w = np.minimum(w, ramp)
        if start + size < length:
            w = np.minimum(w, ramp[::-1])
    return np.maximum(w, 1e-3)


def predict_tiled(predict, image, tile=512, overlap=64, batch=4):
    """Every pass of an H×W×3 image from `predict` ([N, h, w, 3] → {pass: [N, h, w, C]}) run on tiles.

    Args:
      predict: batch predictor of passes (e.g. tfnormals.tools.model_io.NormalsModel.predict_passes).
      image: float32 H×W×3 network input.
      tile: tile side; 0 or a tile covering the image means one whole-image call.
      overlap: pixels shared by neighbouring tiles, blended with linear ramps.
      batch: tiles per predictor call (memory bound).

    Returns {pass: H×W×C}; normals unit length, depth with a median of 1.
    """
    h, w = image.shape[:2]
    if tile <= 0 or (h <= tile and w <= tile):
        return finish_passes({name: value[0] for name, value in predict(image[None]).items()})
    th, tw = min(tile, h), min(tile, w)
    boxes = [(y, x) for y in tile_starts(h, th, overlap) for x in tile_starts(w, tw, overlap)]
    totals, weight_sum = {}, np.zeros((h, w, 1), np.float32)
    for i in range(0, len(boxes), batch):
        chunk = boxes[i:i + batch]
        out = predict(np.stack([image[y:y + th, x:x + tw] for y, x in chunk]))
        for k, (y, x) in enumerate(chunk):
            window = (slice(y, y + th), slice(x, x + tw))
            weight = np.outer(_ramp(th, y, h, overlap), _ramp(tw, x, w, overlap))[..., None]
            for name, value in out.items():
                pred = value[k]
                total = totals.setdefault(name, np.zeros((h, w, pred.shape[-1]), np.float32))
                if name in SCALE_FREE:
                    pred = _aligned_log(pred, total[window], weight_sum[window])
                total[window] += pred * weight
            weight_sum[window] += weight
    blended = {name: np.exp(total / weight_sum) if name in SCALE_FREE else total / weight_sum
               for name, total in totals.items()}
    return finish_passes(blended)


def _aligned_log(values, placed_total, placed_weight):
    """A tile's log values, offset per channel to agree (median log ratio) with what earlier tiles placed there."""
    log_values = np.log(np.maximum(values, LOG_FLOOR))
    shared = placed_weight[..., 0] > 0
    if not np.any(shared):
        return log_values
    placed = placed_total[shared] / placed_weight[shared]
    return log_values + np.median(placed - log_values[shared], axis=0)


def finish_passes(passes):
    """Renormalize normals and scale depth to a median of 1 (every prediction path ends here)."""
    passes = dict(passes, normals=normals.normalize(passes["normals"]))
    if "depth" in passes:
        passes["depth"] = (passes["depth"] / max(float(np.median(passes["depth"])), 1e-12)).astype(np.float32)
    return passes


def resize(image, height, width):
    """Resize an H×W×C float image: area averaging down (antialiased), bilinear up (OpenCV, ≤ 4 channels a call)."""
    import cv2
    if image.shape[:2] == (height, width):
        return np.asarray(image, np.float32)
    method = cv2.INTER_AREA if height * width < image.shape[0] * image.shape[1] else cv2.INTER_LINEAR
    image = np.asarray(image, np.float32)
    chunks = [cv2.resize(np.ascontiguousarray(image[..., c:c + 4]), (width, height), interpolation=method)
              for c in range(0, image.shape[-1], 4)]
    return np.concatenate([chunk.reshape(height, width, -1) for chunk in chunks], axis=-1)
