"""Errors per scene family and per surface class, so a change of the data mix is judged on the family it targets.

Surface classes follow the true camera-space normal (thresholds in tfnormals.core.conventions): "floor"
pixels face up (n.y > FLOOR_MIN_Y: floors, lawns, table tops), "wall" pixels are vertical (|n.y| <
WALL_MAX_Y: walls, backdrops, the sides of things). Each image contributes sums and pixel counts, so
the family figures are pixel-weighted means over the family's images, like the overall table.
"""

import numpy as np

from tfnormals.core import conventions, normals

METHODS = ("model", "flat", "best_constant")
REGIONS = ("all", "floor", "wall")
DEPTH_COLUMNS = ("model", "constant")  # the family table's depth: the model and a constant depth beside it
DEPTH_METRIC = "absrel_median"


def surface_classes(truth, valid):
    """{'all', 'floor', 'wall'}: boolean masks of valid pixels by the true normal's Y."""
    y = truth[..., 1]
    return {"all": valid, "floor": valid & (y > conventions.FLOOR_MIN_Y),
            "wall": valid & (np.abs(y) < conventions.WALL_MAX_Y)}


def image_entry(predictions, truth, valid):
    """Per region: pixel count, each method's summed angular error, and the model's summed predicted n.y."""
    entry = {}
    for region, where in surface_classes(truth, valid).items():
        sums = {m: float(normals.angular_error_deg(predictions[m], truth)[where].sum()) for m in METHODS}
        entry[region] = dict(pixels=int(where.sum()), predicted_y=float(predictions["model"][..., 1][where].sum()),
                             **sums)
    return entry


def summary(images):
    """{family: {'images', per region: pixels, mean error of each method, mean predicted n.y; and 'depth' (None
    without it): images, mean AbsRel of the model and of a constant}} over entries that carry 'family' and
    'regions' (from image_entry), and 'depth' (evaluation.depth_entry) where depth was evaluated."""
    by_family = {}
    for image in images:
        by_family.setdefault(image["family"], []).append(image)
    return {name: _family(members) for name, members in sorted(by_family.items())}


def _family(images):
    """One family's row of summary() from its images' entries."""
    family = {"images": len(images)}
    for region in REGIONS:
        sums = {k: sum(i["regions"][region][k] for i in images) for k in images[0]["regions"][region]}
        pixels = sums["pixels"]
        family[region] = {"pixels": int(pixels), **{k: (sums[k] / pixels if pixels else None)
                                                     for k in (*METHODS, "predicted_y")}}
    depth = [i["depth"] for i in images if i.get("depth")]
    family["depth"] = {"images": len(depth), **{m: float(np.mean([d[m][DEPTH_METRIC] for d in depth]))
                                                for m in DEPTH_COLUMNS}} if depth else None
    return family


def format_table(families):
    """Markdown: one row per family — mean, floor and wall error of the model (flat and best constant beside)."""
    def cell(region, method):
        value = region[method]
        return "–" if value is None else f"{value:.1f}"
    def depth_cell(depth):
        return "–" if depth is None else f"{depth['model']:.3f} ({depth['constant']:.3f})"
    lines = ["| family | images | mean ° (flat, best const.) | floor px ° (flat) | floor predicted n.y "
             "| wall px ° (flat) | depth AbsRel (const.) |", "|---|---|---|---|---|---|---|"]
    for name, family in families.items():
        a, f, w = family["all"], family["floor"], family["wall"]
        lines.append(f"| {name} | {family['images']} | {cell(a, 'model')} ({cell(a, 'flat')}, "
                     f"{cell(a, 'best_constant')}) | {cell(f, 'model')} ({cell(f, 'flat')}) | "
                     f"{'–' if f['predicted_y'] is None else format(f['predicted_y'], '.2f')} | "
                     f"{cell(w, 'model')} ({cell(w, 'flat')}) | {depth_cell(family['depth'])} |")
    return "\n".join(lines)
