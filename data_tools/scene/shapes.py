"""Object shapes: each kind's random parameters and its mesh, and placing an object in the world.

A kind is a pair (params(rng) → JSON-able dict, build(params, rng, detail) → local Mesh). The
local mesh's size and position do not matter: `object_mesh` fits it into the object's `dims`
(random non-uniform scale), rotates it and stands it on its support, so the spec alone says
where an object is and how big (the camera frames objects from that, before any mesh exists).
`detail` scales mesh density with the render resolution (about one vertex per pixel).
"""

import numpy as np

from data_tools.scene import assets, furniture, meshes, procedural, transforms

ORGANIC_KINDS = ("blob", "sphere", "torus", "capsule", "rock", "superquadric", "revolution", "bust", "cloth",
                 "real")
HARD_KINDS = ("box", "rounded_box", "blocks", "wall", "stairs", "slab", "column") + furniture.KINDS
HARD_DISPLACEMENTS = ("bricks", "cells", "insets", "noise", "none")
SCULPTED_KINDS = ("blob", "rock", "bust")  # strong displacement may fold a few faces
BOX_KINDS = ("box", "wall", "slab")  # built at their dims (others are fitted to them)
PROFILES = ("vase", "bottle", "cup", "baluster", "bowl")


def _r(x, digits=4):
    return round(float(x), digits)


# --- displacement shared by hard-surface kinds and the set -------------------------------------

def hard_displacement(rng, size):
    """Random face relief for boxes, walls and floors: bricks, cells, window insets, noise or none."""
    kind = str(rng.choice(HARD_DISPLACEMENTS, p=[0.25, 0.15, 0.25, 0.15, 0.2]))
    return {"kind": kind, "seed": int(rng.integers(0, 2**31 - 1)), "amplitude": _r(size * rng.uniform(0.01, 0.06)),
            "windows": [int(rng.integers(1, 5)), int(rng.integers(1, 4))]}


def _insets(uvs, windows, depth):
    """Window-like rectangular recesses in a grid over a face."""
    fu, fv = (uvs[:, 0] * windows[0]) % 1.0, (uvs[:, 1] * windows[1]) % 1.0
    margin, soft = 0.18, 0.03
    inside_u = np.clip((np.minimum(fu, 1 - fu) - margin) / soft, 0, 1)
    inside_v = np.clip((np.minimum(fv, 1 - fv) - margin) / soft, 0, 1)
    return -depth * procedural.smoothstep(inside_u * inside_v)


def face_height_fn(displacement, rng, tile_size=256):
    """Height function f(normal_axis, uv, extent, box_size) for meshes.box faces, or None.

    Window insets go only on the two largest faces (normal along the box's thinnest axis), so
    recesses on neighbouring faces cannot cut into each other.
    """
    kind, amplitude = displacement["kind"], displacement["amplitude"]
    if kind == "none":
        return None
    if kind == "insets":
        windows = displacement["windows"]
        return lambda axis, uvs, extent, size: (_insets(uvs, windows, amplitude * 3.0)
                                                if axis == int(np.argmin(size)) else np.zeros(len(uvs), np.float32))
    if kind == "bricks":
        tile = procedural.bricks(rng, tile_size) - 1.0
    elif kind == "cells":
        tile = -(1.0 - procedural.cells(rng, tile_size, return_edges=True)[1]) ** 8
    else:
        tile = procedural.fbm(rng, tile_size, base_cells=6) - 0.5
    return lambda axis, uvs, extent, size: amplitude * meshes.sample_pattern(tile, uvs * np.asarray(extent, np.float32))


def box_mesh(dims, heights, detail):
    return meshes.box(dims, cells_per_unit=48 * detail / max(max(dims), 1e-3), face_height=heights,
                      max_cells=int(64 * detail))


# --- organic kinds ------------------------------------------------------------------------------

def _sculpt_params(rng, strength):
    """Multi-frequency displacement: broad lumps, mid bumps, ridged creases and fine grain."""
    return {"seed": int(rng.integers(0, 2**31 - 1)), "low": _r(strength * rng.uniform(0.05, 0.3)),
            "low_freq": _r(rng.uniform(0.8, 2.0)), "mid": _r(strength * rng.uniform(0.0, 0.08)),
            "mid_freq": _r(rng.uniform(3.0, 6.0)), "crease": _r(strength * rng.choice([0.0, rng.uniform(0.02, 0.08)])),
            "crease_freq": _r(rng.uniform(2.0, 5.0)), "fine": _r(rng.choice([0.0, rng.uniform(0.002, 0.012)])),
            "fine_freq": _r(rng.uniform(15.0, 40.0))}


def sculpt(mesh, p):
    """Displace a unit-sized welded mesh by several noise frequencies; ridged noise cuts sharp creases."""
    v, seed = mesh.vertices, p["seed"]
    heights = (p["low"] * procedural.fbm_3d(v, seed, p["low_freq"], octaves=2)
               + p["mid"] * procedural.fbm_3d(v, seed + 1, p["mid_freq"], octaves=2)
               + p["fine"] * procedural.value_noise_3d(v, seed + 3, p["fine_freq"]))
    if p["crease"] > 0:
        heights -= p["crease"] * (1.0 - np.abs(procedural.value_noise_3d(v, seed + 2, p["crease_freq"]))) ** 4
    return meshes.displace(mesh, heights)


def _grid(detail, rows=48, cols=96):
    return max(int(rows * detail), 8), max(int(cols * detail), 16)


def _blob_params(rng):
    return {"sculpt": _sculpt_params(rng, 1.0), "base": [_r(rng.uniform(0.4, 1.3)), _r(rng.uniform(0.4, 1.3))]}


def _blob(p, rng, detail):
    e1, e2 = p["base"]
    return sculpt(meshes.superquadric(e1, e2, *_grid(detail)), p["sculpt"])


def _rock_params(rng):
    return {"sculpt": dict(_sculpt_params(rng, 1.6), low=_r(rng.uniform(0.25, 0.45)))}


def _rock(p, rng, detail):
    return sculpt(meshes.sphere(*_grid(detail)), p["sculpt"])


def _superquadric_params(rng):
    e = lambda: _r(np.exp(rng.uniform(np.log(0.12), np.log(2.5))), 3)
    return {"e1": e(), "e2": e()}


def _superquadric(p, rng, detail):
    return meshes.superquadric(p["e1"], p["e2"], *_grid(detail, 64, 128))


def _torus(p, rng, detail):
    return meshes.torus(1.0, p["minor"], *_grid(detail, 48, 128))


def _capsule(p, rng, detail):
    rows, cols = _grid(detail, 72, 96)
    return meshes.capsule(0.5, p["half_length"], rows, cols)


def _revolution_params(rng):
    grooves = int(rng.choice([0, 0, 1, 2, 3, 5]))
    return {"profile": str(rng.choice(PROFILES)), "seed": int(rng.integers(0, 2**31 - 1)),
            "grooves": grooves, "groove_depth": _r(rng.uniform(0.005, 0.02)),
            "groove_width": _r(rng.uniform(0.004, 0.015))}


def revolution_profile(p, rows):
    """(radii, heights) of a vase, bottle, cup, baluster or bowl profile, closed at both ends."""
    rng = np.random.default_rng(p["seed"])
    t = np.linspace(0.0, 1.0, rows)
    kind = p["profile"]
    if kind == "bottle":
        body, neck = rng.uniform(0.25, 0.45), rng.uniform(0.06, 0.12)
        shoulder = rng.uniform(0.5, 0.75)
        r = np.where(t < shoulder, body, neck + (body - neck) * procedural.smoothstep(
            np.clip((shoulder + 0.15 - t) / 0.15, 0.0, 1.0)))
    elif kind == "cup":
        r = rng.uniform(0.3, 0.45) * (0.8 + 0.2 * t)
    elif kind == "bowl":
        r = rng.uniform(0.45, 0.5) * np.sqrt(np.clip(np.sin(np.pi / 2 * (0.25 + 0.75 * t)), 0, 1))
    else:  # vase, baluster: a few random bulges
        knots = rng.uniform(0.12, 0.45, int(rng.integers(3, 7)))
        r = np.interp(t, np.linspace(0.0, 1.0, len(knots)), knots)
        r = np.convolve(np.pad(r, 6, mode="edge"), np.ones(13) / 13.0, mode="valid")
        if kind == "baluster":
            r = r * (0.7 + 0.3 * np.cos(6.0 * np.pi * t) ** 2)
    height = 1.0
    for k in range(p["grooves"]):  # engraved rings: narrow, sharp-edged grooves
        centre = (k + 1.0) / (p["grooves"] + 1.0) * 0.8 + 0.1
        r = r - p["groove_depth"] * (np.abs(t - centre) < p["groove_width"] / height)
    # Close the solid: flat foot and top (a short bevel ring keeps the rims from being knife-edged).
    radii = np.concatenate([[0.0, r[0] * 0.97], r, [r[-1] * 0.97, 0.0]])
    heights = np.concatenate([[0.0, 0.0], t * height, [height, height]])
    return radii, heights


def _revolution(p, rng, detail):
    rows, cols = _grid(detail, 96, 128)
    return meshes.revolution(*revolution_profile(p, rows), cols=cols)


def _bust_params(rng):
    return {"sculpt": _sculpt_params(rng, 0.4), "pedestal": str(rng.choice(["box", "round", "none"])),
            "head": [_r(rng.uniform(0.8, 1.0)), _r(rng.uniform(1.0, 1.3)), _r(rng.uniform(0.9, 1.1))],
            "shoulders": _r(rng.uniform(1.6, 2.4)), "neck": _r(rng.uniform(0.35, 0.5))}


def _bust(p, rng, detail):
    """A figurine-like composition: pedestal, shoulders, neck and a sculpted head with a nose and brow."""
    rows, cols = _grid(detail, 48, 96)
    parts = []
    y = 0.0
    if p["pedestal"] != "none":
        ped = (box_mesh([1.6, 0.5, 1.2], None, detail) if p["pedestal"] == "box"
               else meshes.cylinder(0.75, 0.5, rows // 2, cols))
        parts.append(meshes.transform(ped, transforms.translation([0, 0.25 if p["pedestal"] == "box" else 0.0, 0])))
        y = 0.5
    shoulders = meshes.transform(meshes.superquadric(0.6, 1.0, rows, cols),
                                 transforms.translation([0, y + 0.45, 0])
                                 @ transforms.scale([p["shoulders"] / 2, 0.45, 0.6]))
    neck = meshes.transform(meshes.cylinder(p["neck"] / 2, 0.6, rows // 2, cols),
                            transforms.translation([0, y + 0.7, 0]))
    head = meshes.sphere(rows, cols)
    v = head.vertices
    # Nose, brow and chin as smooth bumps on the front (+Z) of the head.
    bump = lambda centre, width, height: height * np.exp(-np.sum((v - centre) ** 2, 1) / width ** 2)
    heights = (bump([0, 0.0, 1.0], 0.18, 0.25) + bump([0, 0.3, 0.95], 0.3, 0.08) + bump([0, -0.55, 0.8], 0.3, 0.1)
               - bump([0.35, 0.2, 0.9], 0.15, 0.06) - bump([-0.35, 0.2, 0.9], 0.15, 0.06))
    head = sculpt(meshes.displace(head, heights), p["sculpt"])
    head = meshes.transform(head, transforms.translation([0, y + 1.7, 0.05])
                            @ transforms.scale(np.asarray(p["head"]) * 0.55))
    return meshes.merge(parts + [shoulders, neck, head])


def _cloth_params(rng):
    return {"seed": int(rng.integers(0, 2**31 - 1)), "supports": int(rng.integers(1, 4)),
            "folds": _r(rng.uniform(0.02, 0.08)), "fold_freq": _r(rng.uniform(4.0, 12.0)),
            "sag": _r(rng.uniform(0.3, 0.9))}


def cloth_heights(p, rows, cols):
    """Height field of a sheet draped over a few hidden supports, with radiating folds."""
    rng = np.random.default_rng(p["seed"])
    z, x = np.meshgrid(np.linspace(-1.0, 1.0, rows), np.linspace(-1.0, 1.0, cols), indexing="ij")
    h = np.zeros_like(x)
    for _ in range(p["supports"]):
        cx, cz = rng.uniform(-0.5, 0.5, 2)
        top, radius = rng.uniform(0.4, 1.0), rng.uniform(0.15, 0.4)
        d = np.hypot(x - cx, z - cz)
        drape = top * np.exp(-np.maximum(d - radius, 0.0) / (0.15 + 0.5 * p["sag"]))
        angle = np.arctan2(z - cz, x - cx)
        folds = p["folds"] * np.sin(angle * int(rng.integers(5, 11)) + rng.uniform(0, 6.3)) * np.clip(d - radius, 0, 1)
        h = np.maximum(h, drape + folds * (drape > 0.02))
    wrinkles = procedural.fbm(rng, 64, base_cells=4, octaves=3)
    h += p["folds"] * 0.5 * (meshes.sample_pattern(wrinkles, np.stack([x.ravel(), z.ravel()], 1) * 0.5)
                             .reshape(h.shape) - 0.5) * p["fold_freq"] / 8.0
    return h


def _cloth(p, rng, detail):
    rows, cols = _grid(detail, 96, 96)
    return meshes.heightfield_slab(cloth_heights(p, rows, cols), 2.0, 2.0, 0.01)


def _real_params(rng):
    return {"asset": str(rng.choice(assets.mesh_names()))}


def _real(p, rng, detail):
    return assets.load_mesh(p["asset"])


# --- hard-surface kinds ----------------------------------------------------------------------------

def _box_params(rng):
    return {"displacement": hard_displacement(rng, 1.0)}


def _box(p, rng, detail, dims=(1.0, 1.0, 1.0)):
    """A box built at its real proportions, so face relief (window insets on the largest faces) fits.

    The relief amplitude is relative to a unit-sized box, so it is scaled by the box's size.
    """
    relief = dict(p["displacement"], amplitude=p["displacement"]["amplitude"] * float(max(dims)))
    return box_mesh(dims, face_height_fn(relief, rng), detail)


def _rounded_box_params(rng):
    return {"e1": _r(rng.uniform(0.08, 0.35), 3), "e2": _r(rng.uniform(0.08, 0.35), 3)}


def _blocks(p, rng, detail):
    parts, y = [], 0.0
    heights = face_height_fn(p["displacement"], rng)
    for _ in range(int(rng.integers(2, 5))):
        dims = rng.uniform(0.4, 0.8, 3)
        offset = rng.uniform(-0.15, 0.15, 2)
        parts.append(meshes.transform(box_mesh(dims, heights, detail),
                                      transforms.translation([offset[0], y + dims[1] / 2, offset[1]])))
        y += dims[1]
    return meshes.merge(parts)


def _stairs(p, rng, detail):
    steps, parts = int(rng.integers(3, 7)), []
    heights = face_height_fn(p["displacement"], rng)
    for i in range(steps):
        dims = np.array([1.0, 0.15 * (i + 1), 0.25])
        parts.append(meshes.transform(box_mesh(dims, heights, detail),
                                      transforms.translation([0.0, dims[1] / 2, i * 0.25])))
    return meshes.merge(parts)


def _column_params(rng):
    return {"flutes": int(rng.choice([0, 8, 12, 16]))}


def _column(p, rng, detail):
    rows, cols = _grid(detail, 48, 128)
    shaft = meshes.cylinder(0.18, 1.5, rows, cols, flutes=p["flutes"], flute_depth=0.08 if p["flutes"] else 0.0)
    base = box_mesh([0.5, 0.1, 0.5], None, detail)
    return meshes.merge([meshes.transform(shaft, transforms.translation([0, 0.1, 0])),
                         meshes.transform(base, transforms.translation([0, 0.05, 0]))])


def _nothing(rng):
    return {}


KINDS = {
    "blob": (_blob_params, _blob),
    "sphere": (_nothing, lambda p, rng, detail: meshes.sphere(*_grid(detail, 64, 128))),
    "torus": (lambda rng: {"minor": _r(rng.uniform(0.15, 0.45))}, _torus),
    "capsule": (lambda rng: {"half_length": _r(rng.uniform(0.1, 0.8))}, _capsule),
    "rock": (_rock_params, _rock),
    "superquadric": (_superquadric_params, _superquadric),
    "revolution": (_revolution_params, _revolution),
    "bust": (_bust_params, _bust),
    "cloth": (_cloth_params, _cloth),
    "real": (_real_params, _real),
    "box": (_box_params, _box),
    "rounded_box": (_rounded_box_params,
                    lambda p, rng, detail: meshes.superquadric(p["e1"], p["e2"], *_grid(detail, 64, 128))),
    "blocks": (_box_params, _blocks),
    "wall": (_box_params, _box),
    "stairs": (_box_params, _stairs),
    "slab": (_box_params, _box),
    "column": (_column_params, _column),
}
KINDS.update({kind: (furniture.params, furniture.build) for kind in furniture.KINDS})
assert set(KINDS) == set(ORGANIC_KINDS + HARD_KINDS)


def shape_params(rng, kind):
    """The random parameters of one object of `kind` (with the kind recorded)."""
    return dict(KINDS[kind][0](rng), kind=kind)


def local_mesh(obj, detail):
    """The object's mesh before placement, fitted to its dims with the base at y = 0."""
    params = obj["params"]
    rng = np.random.default_rng(obj["seed"])
    if params["kind"] in BOX_KINDS:
        mesh = _box(params, rng, detail, obj["dims"])
    else:
        mesh = KINDS[params["kind"]][1](params, rng, detail)
    return meshes.fit_to_box(mesh, obj["dims"])


def rotated_extent(dims, rotation):
    """Height and horizontal half-extent of the dims box after `rotation` (yaw, tilt_x, tilt_z degrees)."""
    corners = (np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)]) * np.asarray(dims) / 2.0)
    turned = corners @ transforms.rotation(*rotation)[:3, :3].T
    return float(np.ptp(turned[:, 1])), float(np.hypot(turned[:, 0], turned[:, 2]).max())


def object_mesh(obj, resolution):
    """World-space mesh of one spec object: fitted to dims, rotated about its centre, base on its support."""
    mesh = local_mesh(obj, transforms.detail(resolution))
    h = obj["dims"][1]
    centred = transforms.rotation(*obj["rotation"]) @ transforms.translation([0.0, -h / 2.0, 0.0])
    mesh = meshes.transform(mesh, centred)
    lowest = float(mesh.vertices[:, 1].min())
    x, y, z = obj["position"]
    return meshes.transform(mesh, transforms.translation([x, y - lowest + obj.get("lift", 0.0), z]))
