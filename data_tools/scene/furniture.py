"""Furniture-like assemblies of boxes and cylinders: tables, chairs, stools, shelves, cabinets.

Each is built at unit scale in proportions drawn from its parameters; shapes.object_mesh then
fits it to the object's dims. Parts keep their own normals, so edges between parts stay sharp,
and boxes may carry bevels (rounded-box superquadrics) or panel insets.
"""

from data_tools.scene import meshes, transforms

KINDS = ("table", "chair", "stool", "shelf", "cabinet")


def params(rng):
    """Proportions shared by every furniture kind (each kind reads what it needs)."""
    return {"leg": round(float(rng.uniform(0.04, 0.09)), 3), "top": round(float(rng.uniform(0.03, 0.08)), 3),
            "round_legs": bool(rng.random() < 0.4), "bevel": round(float(rng.choice([0.0, rng.uniform(0.1, 0.3)])), 3),
            "shelves": int(rng.integers(2, 6)), "slats": int(rng.integers(0, 5)), "drawers": int(rng.integers(1, 5))}


def _block(dims, centre, bevel, detail):
    """A box part; a bevel > 0 rounds its edges (superquadric with that exponent)."""
    if bevel > 0:
        mesh = meshes.fit_to_box(meshes.superquadric(bevel, bevel, max(int(24 * detail), 8), max(int(48 * detail), 16)),
                                 dims)
        mesh = meshes.transform(mesh, transforms.translation([0.0, -dims[1] / 2.0, 0.0]))
    else:
        mesh = meshes.box(dims, cells_per_unit=24 * detail / max(max(dims), 1e-3), max_cells=int(32 * detail))
    return meshes.transform(mesh, transforms.translation(centre))


def _leg(p, x, z, height, detail):
    if p["round_legs"]:
        leg = meshes.cylinder(p["leg"] / 2, height, max(int(6 * detail), 4), max(int(32 * detail), 12))
        return meshes.transform(leg, transforms.translation([x, 0.0, z]))
    return _block([p["leg"], height, p["leg"]], [x, height / 2, z], 0.0, detail)


def _legs(p, width, depth, height, detail):
    inset = p["leg"]
    return [_leg(p, sx * (width / 2 - inset), sz * (depth / 2 - inset), height, detail)
            for sx in (-1, 1) for sz in (-1, 1)]


def _table(p, detail):
    width, depth, height = 1.4, 0.8, 0.75
    top = _block([width, p["top"], depth], [0, height - p["top"] / 2, 0], p["bevel"], detail)
    return [top] + _legs(p, width, depth, height - p["top"], detail)


def _chair(p, detail):
    seat_h, width, depth, back_h = 0.45, 0.45, 0.45, 0.45
    parts = [_block([width, p["top"], depth], [0, seat_h - p["top"] / 2, 0], p["bevel"], detail)]
    parts += _legs(p, width, depth, seat_h - p["top"], detail)
    for sx in (-1, 1):  # back posts
        parts.append(_block([p["leg"], back_h, p["leg"]], [sx * (width / 2 - p["leg"] / 2), seat_h + back_h / 2,
                                                           -depth / 2 + p["leg"] / 2], 0.0, detail))
    rails = max(p["slats"], 1)
    for k in range(rails):
        y = seat_h + back_h * (0.35 + 0.6 * (k + 1) / (rails + 1))
        parts.append(_block([width - p["leg"], 0.05, 0.025], [0, y, -depth / 2 + p["leg"] / 2], 0.0, detail))
    return parts


def _stool(p, detail):
    height, radius = 0.65, 0.2
    seat = meshes.cylinder(radius, p["top"], max(int(6 * detail), 4), max(int(48 * detail), 16))
    parts = [meshes.transform(seat, transforms.translation([0, height - p["top"], 0]))]
    return parts + _legs(p, radius * 1.4, radius * 1.4, height - p["top"], detail)


def _shelf(p, detail):
    width, depth, height, t = 0.9, 0.35, 1.6, 0.025
    parts = [_block([t, height, depth], [sx * (width / 2 - t / 2), height / 2, 0], 0.0, detail) for sx in (-1, 1)]
    parts.append(_block([width, height, t], [0, height / 2, -depth / 2 + t / 2], 0.0, detail))
    for k in range(p["shelves"] + 1):
        y = t / 2 + (height - t) * k / p["shelves"]
        parts.append(_block([width - 2 * t, t, depth - t], [0, y, t / 2], 0.0, detail))
    return parts


def _cabinet(p, detail):
    width, depth, height = 0.8, 0.45, 0.9
    body = _block([width, height, depth], [0, height / 2, 0], p["bevel"] * 0.3, detail)
    parts = [body]
    gap = 0.02
    front = depth / 2
    rows = p["drawers"]
    for k in range(rows):  # drawer fronts proud of the body, with a handle each
        h = (height - gap * (rows + 1)) / rows
        y = gap + k * (h + gap) + h / 2
        parts.append(_block([width - 2 * gap, h, 0.02], [0, y, front + 0.01], 0.0, detail))
        parts.append(_block([width * 0.25, 0.02, 0.025], [0, y + h * 0.25, front + 0.03], 0.0, detail))
    return parts


BUILDERS = {"table": _table, "chair": _chair, "stool": _stool, "shelf": _shelf, "cabinet": _cabinet}


def build(p, rng, detail):
    """Mesh of one furniture piece (kind in p['kind'])."""
    return meshes.merge(BUILDERS[p["kind"]](p, detail))


def natural_dims(kind):
    """Real-world (width, height, depth) in metres of each kind as built, before random variation."""
    return {"table": (1.4, 0.75, 0.8), "chair": (0.45, 0.9, 0.45), "stool": (0.56, 0.65, 0.56),
            "shelf": (0.9, 1.6, 0.35), "cabinet": (0.8, 0.9, 0.5)}[kind]

