"""Where a model's normals error lies: on detail or on smooth surfaces, and how much of it is a tilt of the frame.

Detail pixels are those whose true normal turns by more than DETAIL_EDGE_DEG within DETAIL_RADIUS_PX (creases,
silhouettes, bumps); the rest are smooth surfaces, whose shape a model reads from shading. The rotated error is
what is left after the one rotation per image that best aligns the predicted normals with the truth (Kabsch):
error it removes is a tilt of the whole frame (the horizon, the camera's pitch), error it keeps is shape. Each
image contributes sums and pixel counts, so the figures are pixel-weighted means like the overall table's.
"""

import numpy as np

from tfnormals.core import normals

DETAIL_EDGE_DEG = 10.0
DETAIL_RADIUS_PX = 2


def detail_mask(truth, valid):
    """Valid pixels whose true normal differs by more than DETAIL_EDGE_DEG from a valid one within the radius."""
    r = DETAIL_RADIUS_PX
    h, w = truth.shape[:2]
    unit = normals.normalize(truth)
    padded = np.pad(unit, ((r, r), (r, r), (0, 0)), mode="edge")
    padded_valid = np.pad(valid, r, mode="constant")
    lowest_cos = np.ones((h, w), np.float32)
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            window = (slice(r + dy, r + dy + h), slice(r + dx, r + dx + w))
            cos = np.sum(padded[window] * unit, axis=-1)
            lowest_cos = np.minimum(lowest_cos, np.where(padded_valid[window], cos, 1.0))
    return valid & (lowest_cos < np.cos(np.radians(DETAIL_EDGE_DEG)))


def image_entry(pred, truth, valid):
    """Pixel counts and summed model error on detail and smooth pixels, and the summed error after the best
    rotation of the whole image."""
    error = normals.angular_error_deg(pred, truth)
    detail = detail_mask(truth, valid)
    smooth = valid & ~detail
    p, t = normals.normalize(pred)[valid], normals.normalize(truth)[valid]
    rotated = normals.angular_error_deg(p @ normals.best_rotation(p, t).T, t)
    return {"detail_pixels": int(detail.sum()), "detail_sum": float(error[detail].sum()),
            "smooth_pixels": int(smooth.sum()), "smooth_sum": float(error[smooth].sum()),
            "rotated_sum": float(rotated.sum())}


def summary(entries):
    """{'detail_share', 'detail_deg', 'smooth_deg', 'rotated_deg'} over image entries (None where a class has
    no pixels)."""
    total = {k: sum(e[k] for e in entries) for k in entries[0]}
    pixels = total["detail_pixels"] + total["smooth_pixels"]

    def mean(key, count):
        return total[key] / count if count else None
    return {"detail_share": mean("detail_pixels", pixels), "detail_deg": mean("detail_sum", total["detail_pixels"]),
            "smooth_deg": mean("smooth_sum", total["smooth_pixels"]), "rotated_deg": mean("rotated_sum", pixels)}


def format_line(anatomy):
    """One sentence for evaluate's table."""
    def deg(value):
        return "–" if value is None else f"{value:.2f}°"
    share = "–" if anatomy["detail_share"] is None else f"{100 * anatomy['detail_share']:.0f}%"
    return (f"Where the model's error lies: detail pixels ({share} of them) {deg(anatomy['detail_deg'])}, smooth "
            f"surfaces {deg(anatomy['smooth_deg'])}; after the best rotation of each image "
            f"{deg(anatomy['rotated_deg'])}")
