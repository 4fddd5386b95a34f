"""Errors per scene family and per surface class, so a change of the data mix is judged on the family it targets.

Surface classes follow the true camera-space normal (thresholds in tfnormals.core.conventions): "floor"
pixels face up (n.y > FLOOR_MIN_Y: floors, lawns, table tops), "wall" pixels are vertical (|n.y| <
WALL_MAX_Y: walls, backdrops, the sides of things). Where an ID pass is known (our renders' ids.png), floor
pixels are split further by what they belong to: set pieces ("floor_set": the floor, ground, table) or objects
("floor_object": the tops of things), because the two are different readings — of the scene's layout and of an
object's shape. Each image contributes sums and pixel counts, so the family figures are pixel-weighted means over
the family's images, like the overall table.
"""

import numpy as np

from tfnormals.core import conventions, layout, normals

METHODS = ("model", "flat", "best_constant")
REGIONS = ("all", "floor", "wall")
FLOOR_PARTS = ("floor_set", "floor_object")  # regions of the images that have an ID pass
DEPTH_COLUMNS = ("model", "constant")  # the family table's depth: the model and a constant depth beside it
DEPTH_METRIC = "absrel_median"


def surface_classes(truth, valid, ids=None):
    """{'all', 'floor', 'wall'}: boolean masks of valid pixels by the true normal's Y; with an ID pass (H×W,
    tfnormals.core.layout's numbering) also 'floor_set' and 'floor_object', the floor pixels of set pieces and of
    objects."""
    y = truth[..., 1]
    floor = valid & (y > conventions.FLOOR_MIN_Y)
    classes = {"all": valid, "floor": floor, "wall": valid & (np.abs(y) < conventions.WALL_MAX_Y)}
    if ids is not None:
        classes.update(floor_set=floor & (ids >= layout.ID_FIRST_SET) & (ids < layout.ID_LIGHTS),
                       floor_object=floor & (ids >= layout.ID_FIRST_OBJECT))
    return classes


def image_entry(predictions, truth, valid, ids=None):
    """Per region: pixel count, each method's summed angular error, and the summed n.y of the model's and of the true
    normals (how far up a floor is read, and how far up it faces)."""
    entry = {}
    for region, where in surface_classes(truth, valid, ids).items():
        sums = {m: float(normals.angular_error_deg(predictions[m], truth)[where].sum()) for m in METHODS}
        entry[region] = dict(pixels=int(where.sum()), predicted_y=float(predictions["model"][..., 1][where].sum()),
                             true_y=float(truth[..., 1][where].sum()), **sums)
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
    for region in REGIONS + FLOOR_PARTS:
        having = [i["regions"][region] for i in images if region in i["regions"]]
        if not having:  # the floor parts, when no image had an ID pass
            continue
        sums = {k: sum(r[k] for r in having) for k in having[0]}
        pixels = sums["pixels"]
        family[region] = {"pixels": int(pixels), **{k: (sums[k] / pixels if pixels else None)
                                                     for k in (*METHODS, "predicted_y", "true_y")}}
    depth = [i["depth"] for i in images if i.get("depth")]
    family["depth"] = {"images": len(depth), **{m: float(np.mean([d[m][DEPTH_METRIC] for d in depth]))
                                                for m in DEPTH_COLUMNS}} if depth else None
    return family


def format_table(families):
    """Markdown: one row per family — mean, floor and wall error of the model (flat and best constant beside), and
    where an ID pass told them apart (our renders), the floor error on set pieces and on objects."""
    def cell(region, method):
        value = None if region is None else region[method]
        return "–" if value is None else f"{value:.1f}"
    def depth_cell(depth):
        return "–" if depth is None else f"{depth['model']:.3f} ({depth['constant']:.3f})"
    parts = any(FLOOR_PARTS[0] in family for family in families.values())
    header = ["family", "images", "mean ° (flat, best const.)", "floor px ° (flat)", "floor n.y predicted (true)",
              *(["floor px °: set, objects"] if parts else []), "wall px ° (flat)", "depth AbsRel (const.)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, family in families.items():
        a, f, w = family["all"], family["floor"], family["wall"]
        row = [name, str(family["images"]), f"{cell(a, 'model')} ({cell(a, 'flat')}, {cell(a, 'best_constant')})",
               f"{cell(f, 'model')} ({cell(f, 'flat')})",
               "–" if f["predicted_y"] is None else f"{f['predicted_y']:.2f} ({f['true_y']:.2f})",
               *([", ".join(cell(family.get(p), "model") for p in FLOOR_PARTS)] if parts else []),
               f"{cell(w, 'model')} ({cell(w, 'flat')})", depth_cell(family["depth"])]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)
