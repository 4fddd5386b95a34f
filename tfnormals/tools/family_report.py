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
    """{family: {'images', and per region: pixels, mean error of each method, mean predicted n.y}} over entries
    that carry 'family' and 'regions' (from image_entry)."""
    families = {}
    for image in images:
        family = families.setdefault(image["family"], {"images": 0, **{r: None for r in REGIONS}})
        family["images"] += 1
        for region in REGIONS:
            add = image["regions"][region]
            total = family[region] or dict.fromkeys(add, 0.0)
            family[region] = {k: total[k] + add[k] for k in add}
    for family in families.values():
        for region in REGIONS:
            sums = family[region]
            pixels = sums["pixels"]
            family[region] = {"pixels": int(pixels), **{k: (sums[k] / pixels if pixels else None)
                                                         for k in (*METHODS, "predicted_y")}}
    return dict(sorted(families.items()))


def format_table(families):
    """Markdown: one row per family — mean, floor and wall error of the model (flat and best constant beside)."""
    def cell(region, method):
        value = region[method]
        return "–" if value is None else f"{value:.1f}"
    lines = ["| family | images | mean ° (flat, best const.) | floor px ° (flat) | floor predicted n.y "
             "| wall px ° (flat) |", "|---|---|---|---|---|---|"]
    for name, family in families.items():
        a, f, w = family["all"], family["floor"], family["wall"]
        lines.append(f"| {name} | {family['images']} | {cell(a, 'model')} ({cell(a, 'flat')}, "
                     f"{cell(a, 'best_constant')}) | {cell(f, 'model')} ({cell(f, 'flat')}) | "
                     f"{'–' if f['predicted_y'] is None else format(f['predicted_y'], '.2f')} | "
                     f"{cell(w, 'model')} ({cell(w, 'flat')}) |")
    return "\n".join(lines)
