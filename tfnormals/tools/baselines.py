"""Reference predictors that every evaluation reports beside the model, so each figure has a floor.

Normals:
- flat: every pixel faces the camera, (0, 0, 1).
- best constant: the mean normal of the training split, the best single direction in L2.
- luminance gradient: "bump from image", as texture tools like CrazyBump do: treat blurred
  luminance as height and take the normal of that height field.
Depth (relative, so only its shape matters): a constant, and a ground plane seen by a level
camera (depth ∝ 1 / rows below the horizon at mid-height; everything above it far away).
Albedo: the plate itself, decoded to linear light.
"""

import numpy as np

from tfnormals.core import conventions, normals, srgb

GRADIENT_STRENGTHS = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
GRADIENT_BLUR_SIGMA = 1.0


def flat(shape):
    """(0, 0, 1) everywhere, for an H×W×3 output."""
    out = np.zeros(shape, np.float32)
    out[..., 2] = 1.0
    return out


def constant(shape, direction):
    """One unit direction everywhere."""
    return np.broadcast_to(normals.normalize(np.asarray(direction, np.float32)), shape).astype(np.float32)


def mean_normal(normal_maps, masks):
    """Normalized mean of the masked normals of several maps (the best constant normal)."""
    total, count = np.zeros(3, np.float64), 0
    for n, m in zip(normal_maps, masks):
        valid = m >= conventions.MASK_THRESHOLD
        total += n[valid].sum(axis=0)
        count += int(valid.sum())
    if count == 0:
        raise ValueError("no masked pixels to average")
    return normals.normalize(total / count)


def _blur(image, sigma):
    radius = max(1, int(3 * sigma))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    padded = np.pad(image, radius, mode="edge")
    rows = sum(w * padded[:, i:i + image.shape[1]] for i, w in enumerate(taps))
    return sum(w * rows[i:i + image.shape[0]] for i, w in enumerate(taps)).astype(np.float32)


def luminance_gradient(plate, strength, blur_sigma=GRADIENT_BLUR_SIGMA):
    """Normals of the height field h = blurred luminance of an sRGB plate (brighter is higher).

    With x to the right and rows going down, n ∝ (-s ∂h/∂x, s ∂h/∂row, 1).
    """
    height = _blur(srgb.luminance(np.asarray(plate, np.float32)), blur_sigma)
    d_row, d_x = np.gradient(height)
    n = np.stack([-strength * d_x, strength * d_row, np.ones_like(height)], axis=-1)
    return normals.normalize(n)


def fit_gradient_strength(plates, normal_maps, masks, strengths=GRADIENT_STRENGTHS):
    """The strength with the lowest mean angular error on some training examples (a fair baseline)."""
    def score(s):
        errors = [normals.angular_error_deg(luminance_gradient(p, s), n)[m >= conventions.MASK_THRESHOLD]
                  for p, n, m in zip(plates, normal_maps, masks)]
        return float(np.mean(np.concatenate(errors)))
    return min(strengths, key=score)


GROUND_FAR = 50.0  # depth of the horizon and everything above it, in units of the nearest ground row's


def constant_depth(shape):
    """The same depth everywhere, H×W."""
    return np.ones(shape[:2], np.float32)


def ground_plane_depth(shape, horizon=0.5):
    """Depth of a flat ground under a level camera with the horizon at `horizon` × height.

    A ground row r pixels below the horizon is at depth ∝ 1 / r; rows at or above the horizon
    get the far value. Normalized so the bottom row has depth 1.
    """
    h, w = shape[:2]
    rows = np.arange(h, dtype=np.float32) + 0.5 - horizon * h
    bottom = rows[-1]
    depth = np.where(rows > 0, bottom / np.maximum(rows, 1e-6), GROUND_FAR)
    return np.broadcast_to(np.minimum(depth, GROUND_FAR)[:, None], (h, w)).astype(np.float32)


def plate_albedo(plate):
    """The plate as its own albedo: sRGB decoded to linear reflectance."""
    return srgb.srgb_to_linear(plate)
