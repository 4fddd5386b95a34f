"""Where a model's depth error lies: at depth edges or on surfaces, in each image's depth range, or in a few images.

AbsRel after median scaling is a mean over images of per-pixel relative errors. Four readings of it tell what
kind of error it is:
- edges: the share of it on pixels within DEPTH_EDGE_RADIUS_PX of a step in the true log depth larger than
  DEPTH_EDGE_LOG (silhouettes against what lies behind); a blurred boundary puts its error there;
- per-image contrast: the AbsRel if each image had its own best depth contrast k of the grid (depth ** k,
  camera.depth_contrast_metrics): what is left is the layout, what it removes is how far each image's depths
  spread — a range a single model contrast (`export --depth_contrast`) cannot fix;
- per-lens contrast: the AbsRel with a contrast that follows each image's lens, k = a + b·log(hfov / 40°), a and b
  the best on the evaluated images themselves (an upper bound on what knowing the lens could do for the range);
- the tail: the mean without the worst TAIL_SHARE of images, those images, and the median image's AbsRel.
"""

import numpy as np

from tfnormals.core import camera

DEPTH_EDGE_LOG = 0.05  # a neighbour more than ~5% nearer or farther is across an edge
DEPTH_EDGE_RADIUS_PX = 2
TAIL_SHARE = 0.05
WORST_SHOWN = 3
LENS_REFERENCE_DEG = 40.0
LENS_FIT_OFFSETS = np.arange(0.5, 1.501, 0.05)  # the grid a and b of the per-lens contrast are searched on
LENS_FIT_SLOPES = np.arange(-0.6, 0.601, 0.05)


def edge_mask(depth, valid):
    """Valid pixels within DEPTH_EDGE_RADIUS_PX of a pair of valid neighbours whose log depths differ by more than
    DEPTH_EDGE_LOG."""
    import cv2
    log_depth = np.log(np.maximum(depth, 1e-6))
    step = np.zeros(depth.shape, bool)
    across = (np.abs(log_depth[1:] - log_depth[:-1]) > DEPTH_EDGE_LOG) & valid[1:] & valid[:-1]
    step[1:] |= across
    step[:-1] |= across
    along = (np.abs(log_depth[:, 1:] - log_depth[:, :-1]) > DEPTH_EDGE_LOG) & valid[:, 1:] & valid[:, :-1]
    step[:, 1:] |= along
    step[:, :-1] |= along
    window = np.ones((2 * DEPTH_EDGE_RADIUS_PX + 1,) * 2, np.uint8)
    return (cv2.dilate(step.astype(np.uint8), window) > 0) & valid


def relative_error(pred, truth, valid):
    """(pred median-scaled to the truth over valid pixels, |scaled − truth| / truth per pixel): the AbsRel's terms."""
    aligned = camera.align_scale(pred, truth, valid)
    return aligned, np.abs(aligned - truth) / np.maximum(truth, 1e-6)


def image_entry(pred, truth, valid):
    """The share of one image's AbsRel on its edge pixels, and their share of its valid pixels."""
    _, relative = relative_error(pred, truth, valid)
    edges = edge_mask(truth, valid)
    total = float(relative[valid].sum())
    return {"edge_error_share": float(relative[edges].sum()) / total if total else 0.0,
            "edge_pixel_share": float(edges.sum() / valid.sum())}


def lens_contrast(depth_entries):
    """Mean AbsRel with the contrast k = a + b·log(hfov / LENS_REFERENCE_DEG) of each image's lens (the nearest k of
    the grid), a and b the best on these images; None unless every image knows its lens and there are two."""
    fovs = [d.get("hfov") for d in depth_entries]
    if None in fovs or len(set(fovs)) < 2:
        return None
    grid = np.array([float(k) for k in depth_entries[0]["contrast"]])
    table = np.array([[c["absrel_median"] for c in d["contrast"].values()] for d in depth_entries])
    log_fov = np.log(np.array(fovs) / LENS_REFERENCE_DEG)
    rows = np.arange(len(depth_entries))
    return float(min(table[rows, np.abs(grid[None] - (a + b * log_fov)[:, None]).argmin(axis=1)].mean()
                     for a in LENS_FIT_OFFSETS for b in LENS_FIT_SLOPES))


def summary(ids, depth_entries):
    """{'absrel', 'edge_error_share', 'edge_pixel_share', 'per_image_contrast', 'per_lens_contrast', 'without_tail',
    'median_image', 'worst'} over the depth entries of evaluate's images (their 'model', 'contrast', 'anatomy' and
    'hfov'), ids naming the images."""
    absrel = np.array([d["model"]["absrel_median"] for d in depth_entries])
    best = [min(c["absrel_median"] for c in d["contrast"].values()) for d in depth_entries]
    weights = absrel / absrel.sum() if absrel.sum() else np.full(len(absrel), 1 / len(absrel))
    order = np.argsort(-absrel)
    kept = order[int(np.floor(TAIL_SHARE * len(absrel))):]
    edge_shares = np.array([d["anatomy"]["edge_error_share"] for d in depth_entries])
    return {"absrel": float(absrel.mean()),
            "edge_error_share": float(np.sum(weights * edge_shares)),
            "edge_pixel_share": float(np.mean([d["anatomy"]["edge_pixel_share"] for d in depth_entries])),
            "per_image_contrast": float(np.mean(best)),
            "per_lens_contrast": lens_contrast(depth_entries),
            "without_tail": float(absrel[kept].mean()),
            "median_image": float(np.median(absrel)),
            "worst": [[ids[i], float(absrel[i])] for i in order[:WORST_SHOWN]]}


def format_line(anatomy):
    """One sentence for evaluate's table."""
    worst = ", ".join(f"{name} {value:.2f}" for name, value in anatomy["worst"])
    lens = anatomy["per_lens_contrast"]
    return (f"Where the depth error lies: {100 * anatomy['edge_error_share']:.0f}% of it within "
            f"{DEPTH_EDGE_RADIUS_PX} px of depth edges ({100 * anatomy['edge_pixel_share']:.0f}% of the pixels); "
            f"AbsRel {anatomy['absrel']:.3f}, with each image's own best contrast {anatomy['per_image_contrast']:.3f}"
            + ("" if lens is None else f", with a contrast per lens {lens:.3f}")
            + f", without the worst {100 * TAIL_SHARE:.0f}% of images {anatomy['without_tail']:.3f} (worst: {worst}); "
            f"the median image {anatomy['median_image']:.3f}")
