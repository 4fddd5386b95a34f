"""The set around the objects: ground, room, table, studio backdrop (cyc) or dark cloth backdrop.

A set spec is {"kind", "seed", "material", "material2", "displacement", "support_height", ...};
`set_pieces` turns it into named meshes (at most SET_SLOTS), each with the key of its material.
Objects stand at y = support_height (the table top, or the floor at 0). The set is centred on
the origin and its backdrop, if any, stands behind the objects on −Z; cameras of families with
a backdrop look at it from the +Z side.
"""

import numpy as np

from data_tools.scene import materials, meshes, procedural, shapes, transforms

KINDS = ("ground", "room", "table", "cyc", "cloth")
SET_SLOTS = 4
SKIRT_SIZE = 400.0


def _r(x, digits=4):
    return round(float(x), digits)


def sample_set(rng, kind):
    """Random set of `kind`; sizes in metres."""
    spec = {"kind": kind, "seed": int(rng.integers(0, 2**31 - 1)), "support_height": 0.0,
            "material": materials.material(rng, "rough" if kind == "ground" else None),
            "material2": materials.material(rng, str(rng.choice(["rough", "mixed", "plastic"]))),
            "displacement": shapes.hard_displacement(rng, 2.0)}
    if kind == "ground":
        spec.update(terrain=_r(rng.choice([0.0, rng.uniform(0.4, 1.8)], p=[0.25, 0.75])),
                    terrain_freq=_r(rng.uniform(0.2, 0.6)))
    elif kind == "room":
        spec.update(width=_r(rng.uniform(3.0, 6.0)), depth=_r(rng.uniform(3.0, 6.0)), height=_r(rng.uniform(2.4, 3.4)))
    elif kind == "table":
        spec.update(width=_r(rng.uniform(1.2, 2.4)), depth=_r(rng.uniform(0.8, 1.4)),
                    thickness=_r(rng.uniform(0.03, 0.08)),
                    support_height=_r(rng.uniform(0.7, 0.95)), back_wall=_r(rng.uniform(0.8, 3.0)),
                    bevel=_r(rng.choice([0.0, rng.uniform(0.1, 0.3)]), 3))
        spec["material"]["detail"] = materials.detail(rng, 0.8, 0.004)  # grain, stone, leather on the top
    else:  # cyc, cloth: a floor sweeping up into a wall
        spec.update(width=_r(rng.uniform(2.0, 5.0)), depth=_r(rng.uniform(1.2, 3.0)), radius=_r(rng.uniform(0.3, 1.2)),
                    height=_r(rng.uniform(1.5, 3.0)))
        # Backdrops are rarely perfectly smooth: canvas, crumpled paper, plaster.
        spec["material"]["detail"] = materials.detail(rng, 0.9, 0.012)
        if kind == "cloth":
            spec["material"] = materials.material(rng, "fabric")
            spec["material"]["colors"] = [[_r(c * 0.15) for c in col] for col in spec["material"]["colors"]]
            spec.update(folds=_r(rng.uniform(0.02, 0.08)), fold_count=int(rng.integers(4, 14)))
    return spec


def clearance(spec):
    """Height above the support that the set's own surface may reach near the objects (folds, relief).

    Cameras stay at least this high, so a low camera is never under a fold of a cloth backdrop.
    """
    relief = spec["material"]["detail"]["amplitude"] if spec["material"]["detail"]["height"] else 0.0
    folds = 2.0 * spec.get("folds", 0.0) if spec["kind"] == "cloth" else 0.0
    return folds + relief + 0.02


def backdrop_extent(spec):
    """(depth in front of the origin, wall height) a camera should see of a backdrop set, or None."""
    if spec["kind"] in ("cyc", "cloth"):
        return spec["depth"], spec["height"]
    return None


GROUND_SIZE = 14.0


def ground_height(spec, xz):
    """Terrain height of a ground set at (N, 2) x, z points (0 for flat ground and other sets).

    Near hills (inside the detailed GROUND_SIZE patch) plus far rolling hills that start beyond
    it, so a low camera sees no flat plane stretching to the horizon.
    """
    xz = np.atleast_2d(np.asarray(xz, np.float64))
    if spec["kind"] != "ground" or spec["terrain"] <= 0:
        return np.zeros(len(xz), np.float32)
    points = np.stack([xz[:, 0], np.zeros(len(xz)), xz[:, 1]], 1).astype(np.float32)
    edge = np.abs(xz).max(1)
    near = np.clip(1.0 - edge / (GROUND_SIZE / 2), 0.0, 1.0) ** 0.5
    far = np.clip((np.hypot(xz[:, 0], xz[:, 1]) - GROUND_SIZE) / (2 * GROUND_SIZE), 0.0, 1.0)
    return (spec["terrain"] * procedural.fbm_3d(points, spec["seed"], spec["terrain_freq"], octaves=3) * near
            + 8.0 * spec["terrain"] * procedural.fbm_3d(points, spec["seed"] + 1, spec["terrain_freq"] / 10, octaves=3)
            * far).astype(np.float32)


def _ground(spec, rng, detail):
    size = GROUND_SIZE
    n = int(160 * detail)
    inner = meshes.plane(size, size, n, n)
    heights = ground_height(spec, inner.vertices[:, [0, 2]])
    tile = shapes.face_height_fn(spec["displacement"], rng)
    if tile is not None and spec["displacement"]["kind"] != "insets":
        heights += tile(1, inner.uvs / size, (size, size), (size, size, 1.0)) * 0.5
    inner = meshes.displace(inner, heights)
    skirt = meshes.plane(SKIRT_SIZE, SKIRT_SIZE, 5, 5)
    if spec["terrain"] > 0:
        skirt = meshes.plane(SKIRT_SIZE, SKIRT_SIZE, 64, 64)
        skirt = meshes.displace(skirt, ground_height(spec, skirt.vertices[:, [0, 2]]))
    skirt = meshes.transform(skirt, transforms.translation([0, -0.01, 0]))
    return [("ground", inner, "material"), ("far ground", skirt, "material")]


def _room(spec, rng, detail):
    w, d, h = spec["width"], spec["depth"], spec["height"]
    n = int(120 * detail)
    floor = meshes.plane(w, d, n, n)
    tile = shapes.face_height_fn(spec["displacement"], rng)
    if tile is not None and spec["displacement"]["kind"] != "insets":
        floor = meshes.displace(floor, tile(1, floor.uvs / np.array([w, d]), (w, d), (w, d, 1.0)) * 0.3)
    thickness = 0.2
    walls = [([w + 2 * thickness, h, thickness], [0, h / 2, -d / 2 - thickness / 2]),
             ([thickness, h, d], [-w / 2 - thickness / 2, h / 2, 0]),
             ([thickness, h, d], [w / 2 + thickness / 2, h / 2, 0])]
    walls = meshes.merge([meshes.transform(shapes.box_mesh(dims, tile, detail), transforms.translation(centre))
                          for dims, centre in walls])
    ceiling = meshes.transform(meshes.plane(w + 0.4, d + 0.4, 8, 8), transforms.translation([0, h, 0])
                               @ transforms.scale([1.0, -1.0, 1.0]))
    return [("floor", floor, "material"), ("walls", walls, "material2"), ("ceiling", ceiling, "material2")]


def _table(spec, rng, detail):
    w, d, t, top = spec["width"], spec["depth"], spec["thickness"], spec["support_height"]
    if spec["bevel"] > 0:
        slab = meshes.fit_to_box(meshes.superquadric(spec["bevel"], spec["bevel"], int(32 * detail), int(96 * detail)),
                                 [w, t, d])
    else:  # a dense top face carrying the material's relief (wood grain, stone, leather)
        material = spec["material"]
        relief = (lambda axis, uvs, extent, size: np.zeros(len(uvs), np.float32) if axis != 1 else
                  materials.detail_heights(material, uvs * np.asarray(extent) * material["uv_scale"]))
        slab = meshes.box([w, t, d], cells_per_unit=96 * detail / w, max_cells=int(96 * detail),
                          face_height=relief if material["detail"]["height"] else None)
        slab = meshes.transform(slab, transforms.translation([0, t / 2, 0]))
    slab = meshes.transform(slab, transforms.translation([0, top - t, 0]))
    skirt = meshes.plane(SKIRT_SIZE, SKIRT_SIZE, 5, 5)
    back = shapes.box_mesh([SKIRT_SIZE / 20, 6.0, 0.2], None, detail * 0.25)
    back = meshes.transform(back, transforms.translation([0, 3.0, -d / 2 - spec["back_wall"]]))
    return [("table", slab, "material"), ("floor", skirt, "material2"), ("back wall", back, "material2")]


def cyc_profile(spec, rows):
    """(y, z) points of a backdrop's profile: floor from the front edge, a quarter circle, a wall."""
    depth, radius, height = spec["depth"], spec["radius"], spec["height"]
    floor_len, arc_len, wall_len = depth, np.pi / 2 * radius, height - radius
    s = np.linspace(0.0, floor_len + arc_len + wall_len, rows)
    angle = np.clip((s - floor_len) / max(radius, 1e-6), 0.0, np.pi / 2)
    y = np.where(s < floor_len, 0.0, np.where(s < floor_len + arc_len, radius * (1 - np.cos(angle)),
                                              radius + (s - floor_len - arc_len)))
    z = np.where(s < floor_len, depth - s, np.where(s < floor_len + arc_len, -radius * np.sin(angle), -radius))
    return y, z, s


def _cyc(spec, rng, detail):
    rows, cols = int(96 * detail), int(96 * detail)
    y, z, s = cyc_profile(spec, rows)
    x = np.linspace(-spec["width"] / 2, spec["width"] / 2, cols)
    pos = np.stack([np.broadcast_to(x, (rows, cols)), np.broadcast_to(y[:, None], (rows, cols)),
                    np.broadcast_to(z[:, None], (rows, cols))], -1).copy()
    uvs = np.stack(np.meshgrid(x - x.min(), s, indexing="xy"), -1)
    offset = np.zeros((rows, cols))
    if spec["kind"] == "cloth":  # folds hanging down the wall and crumpled on the floor
        u = (x - x.min()) / spec["width"]
        on_wall = np.clip((y - spec["radius"] * 0.5) / spec["height"], 0, 1)[:, None]
        phase = rng.uniform(0, 2 * np.pi, 3)
        folds = np.sin(2 * np.pi * spec["fold_count"] * u[None] + phase[0] + 3 * np.sin(2 * np.pi * u[None] + phase[1]))
        noise = procedural.fbm(rng, 64, base_cells=3, octaves=3)
        crumple = meshes.sample_pattern(noise, np.stack(np.meshgrid(u, s / spec["width"], indexing="xy"), -1)
                                        .reshape(-1, 2)).reshape(rows, cols) - 0.5
        offset += spec["folds"] * (folds * (0.3 + 0.7 * on_wall) + 2.0 * crumple)
    relief = materials.detail_heights(spec["material"], uvs.reshape(-1, 2) * spec["material"]["uv_scale"])
    if relief is not None:  # the backdrop material's own relief (canvas, weave, crumples)
        offset += relief.reshape(rows, cols)
    # Displace along the profile's normal: +Y on the floor, +Z up the wall.
    pos += offset[..., None] * np.where(y[:, None, None] > 1e-3, [0.0, 0.0, 1.0], [0.0, 1.0, 0.0])
    hint = np.tile(np.array([0.0, 1.0, 1.0]), (rows * cols, 1))
    sheet = meshes.thick_sheet(pos, uvs, hint, 0.02)
    skirt = meshes.transform(meshes.plane(SKIRT_SIZE, SKIRT_SIZE, 5, 5), transforms.translation([0, -0.005, 0]))
    return [("backdrop", sheet, "material"), ("floor", skirt, "material2")]


BUILDERS = {"ground": _ground, "room": _room, "table": _table, "cyc": _cyc, "cloth": _cyc}


def set_pieces(spec, resolution):
    """[(name, world Mesh, material key)] of a set spec (at most SET_SLOTS pieces)."""
    rng = np.random.default_rng(spec["seed"])
    pieces = BUILDERS[spec["kind"]](spec, rng, transforms.detail(resolution))
    assert len(pieces) <= SET_SLOTS
    return pieces
