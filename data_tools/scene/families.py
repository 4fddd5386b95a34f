"""Scene families: what kind of photograph a sample imitates, and how its scene is composed.

  object_study  one to three objects filling 30–90% of the frame (area of their bounding
                sphere's disc), framed from that sphere, on a table, a studio backdrop or dark cloth;
  tabletop      a still life of several objects at mid distance on a table;
  interior      a room at eye level: floor, walls filling much of the frame, furniture;
  outdoor       ground, sky or HDRI, larger objects (the generator's original scenes);
  overhead      flat lays and top-down views of objects on a floor or table;
  ground        a wide floor, street, lawn or table top seen from a low camera at a grazing angle,
                textured so that its perspective shows (tiles, planks, cobbles, grass, gravel),
                often with the horizon, or a room's floor, walls and ceiling at once.
Each returns the spec's set, objects, environment, lights and camera; every choice is recorded.
"""

import numpy as np

from data_tools.scene import assets, camera, furniture, lighting, materials, meshes, sets, shapes

FAMILIES = ("object_study", "tabletop", "interior", "outdoor", "overhead", "ground")
STUDY_KINDS = {"revolution": 0.19, "superquadric": 0.1, "blob": 0.14, "real": 0.08, "bust": 0.1, "cloth": 0.05,
               "torus": 0.04, "rock": 0.07, "rounded_box": 0.05, "box": 0.02, "sphere": 0.03, "capsule": 0.03,
               "column": 0.02, "chair": 0.03, "stool": 0.02, "cabinet": 0.01, "blocks": 0.01}
OUTDOOR_KINDS = {"blob": 0.1, "rock": 0.14, "sphere": 0.04, "torus": 0.04, "capsule": 0.04, "superquadric": 0.08,
                 "box": 0.1, "blocks": 0.1, "wall": 0.1, "stairs": 0.08, "slab": 0.06, "column": 0.06, "bust": 0.03,
                 "revolution": 0.03}
INTERIOR_KINDS = {"table": 0.25, "chair": 0.25, "shelf": 0.15, "cabinet": 0.15, "stool": 0.1, "revolution": 0.05,
                  "box": 0.05}
TIGHT_RADIUS = 0.45
PROPORTIONS = {"wall": (2.0, 1.2, 0.15), "slab": (1.5, 0.12, 1.0), "stairs": (1.0, 0.9, 1.5), "column": (0.5, 1.6, 0.5),
               "bust": (0.9, 1.2, 0.7), "cloth": (1.0, 0.35, 1.0), "blocks": (1.0, 1.4, 1.0)}


def _r(x, digits=4):
    return round(float(x), digits)


def _pick(rng, weights):
    names = list(weights)
    p = np.asarray([weights[n] for n in names], np.float64)
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def _dims(rng, params, size):
    """World dims of an object whose largest side is `size`, with random non-uniform scale."""
    kind = params["kind"]
    if kind in furniture.KINDS:
        return [_r(d * rng.uniform(0.85, 1.15)) for d in furniture.natural_dims(kind)]
    if kind == "revolution":
        ratio = {"cup": (0.8, 1.3), "bowl": (0.3, 0.6)}.get(params["profile"], (1.2, 3.0))
        base = (1.0, rng.uniform(*ratio), 1.0)
    elif kind == "real":
        lo, hi = meshes.bounds(assets.load_mesh(params["asset"]))
        base = tuple(hi - lo)
    elif kind == "torus":
        base = (1.0, 2 * params["minor"] / (1 + params["minor"]), 1.0)
    elif kind == "capsule":
        base = (1.0, 1.0 + 2 * params["half_length"], 1.0)
    else:
        base = PROPORTIONS.get(kind, (1.0, 1.0, 1.0))
    aspect = np.asarray(base) * rng.uniform(0.75, 1.33, 3)
    return [_r(d) for d in aspect * size / aspect.max()]


def make_object(rng, kind, size, support_height, wear=0.4, tilt_sigma=10.0, material_class=None):
    """One object spec (position filled in by `place`)."""
    params = shapes.shape_params(rng, kind)
    free = kind in ("blob", "rock", "real", "superquadric", "sphere", "torus", "capsule", "rounded_box")
    tilt = rng.normal(0.0, tilt_sigma, 2) if free else np.zeros(2)
    if free and rng.random() < 0.2:
        tilt = rng.uniform(-90.0, 90.0, 2)  # lying on its side or arbitrarily turned
    klass = material_class
    if klass is None and kind == "bust":
        klass = str(rng.choice(["ceramic", "rough", "skin", "metal"]))
    return {"shape": kind, "seed": int(rng.integers(0, 2**31 - 1)), "params": params, "dims": _dims(rng, params, size),
            "rotation": [_r(rng.uniform(0.0, 360.0), 2), _r(tilt[0], 2), _r(tilt[1], 2)],
            "position": [0.0, _r(support_height), 0.0], "lift": 0.0,
            "material": materials.material(rng, klass, wear_probability=wear)}


def bounding_sphere(obj, tight=False):
    """(centre, radius) of the sphere around an object's rotated dims box, standing on its support.

    With `tight`, the radius is TIGHT_RADIUS × the geometric mean of the sides: a disc of about
    the object's silhouette area, which is what framing by "fill" means (calibrated on renders:
    the object-pixel fraction measured from the ID pass then matches the fill on average). The
    full (diagonal) sphere is what a camera must stay outside of.
    """
    height, _ = shapes.rotated_extent(obj["dims"], obj["rotation"])
    x, y, z = obj["position"]
    dims = np.asarray(obj["dims"], np.float64)
    radius = float(TIGHT_RADIUS * np.prod(dims) ** (1 / 3) if tight else 0.5 * np.linalg.norm(dims))
    return np.array([x, y + obj.get("lift", 0.0) + height / 2.0, z]), radius


def obstacles(objects):
    return [bounding_sphere(o) for o in objects]


def group_sphere(objects):
    """A sphere enclosing every object's tight bounding sphere (the thing a camera frames)."""
    spheres = [bounding_sphere(o, tight=True) for o in objects]
    centre = np.mean([c for c, _ in spheres], axis=0)
    return centre, max(np.linalg.norm(c - centre) + r for c, r in spheres)


def place(rng, objects, centre_xz, spread, keep_out=()):
    """Set each object's x, z inside a disc around centre_xz, apart from the others (rejection sampling)."""
    placed = []
    for obj in objects:
        _, reach = shapes.rotated_extent(obj["dims"], obj["rotation"])
        for attempt in range(40):
            xz = np.asarray(centre_xz) + (rng.uniform(-spread, spread, 2) if placed or attempt else np.zeros(2))
            ok = all(np.hypot(*(xz - q)) > reach + r for q, r in placed + list(keep_out))
            if ok or attempt == 39:
                break
        obj["position"][0], obj["position"][2] = _r(xz[0]), _r(xz[1])
        placed.append((xz, reach))
    return objects


def _env_and_lights(rng, rig, target, scale):
    env_kind = {"key": "dark", "studio": str(rng.choice(["studio", "dark"])), "hdri": "hdri", "sky": "sky"}[rig]
    return lighting.environment(rng, env_kind), lighting.lights(rng, rig, target, scale)


def _object_study(rng, resolution):
    set_spec = sets.sample_set(rng, str(rng.choice(["table", "cyc", "cloth"], p=[0.2, 0.35, 0.45])))
    support = set_spec["support_height"]
    count = int(rng.choice([1, 2, 3], p=[0.45, 0.33, 0.22]))
    size = float(np.exp(rng.uniform(np.log(0.1), np.log(0.6))))
    objects = [make_object(rng, _pick(rng, STUDY_KINDS), size * rng.uniform(0.5, 1.0) if k else size, support)
               for k in range(count)]
    place(rng, objects, (0.0, 0.0), size * 0.6)
    if rng.random() < 0.25:  # a suspended product shot: undersides face the camera
        for obj in objects:
            obj["lift"] = _r(obj["dims"][1] * rng.uniform(0.3, 1.2))
    centre, radius = group_sphere(objects)
    rig = str(rng.choice(["key", "hdri", "studio"], p=[0.35, 0.35, 0.3]))
    env, lights = _env_and_lights(rng, rig, centre, max(radius * 4, 1.0))
    square_on = rng.random() < 0.6  # facing the backdrop squarely, as most product shots do
    azimuth = 90.0 + float(rng.uniform(-12.0, 12.0) if square_on else rng.uniform(-45.0, 45.0))
    elevation = float(rng.uniform(-15.0, 10.0) if square_on else rng.uniform(-15.0, 35.0))
    cam = camera.frame_sphere(rng, centre, radius, float(rng.uniform(0.4, 0.95)), camera.focal(rng, 35.0, 200.0),
                              elevation, azimuth, resolution,
                              min_height=support + sets.clearance(set_spec), obstacles=obstacles(objects))
    return set_spec, objects, env, lights, cam


def _still_life(rng, resolution, set_kinds, set_p, kinds, sizes, counts, size_spread, scatter, rigs, rig_p,
                fills, focals, elevations, azimuths, min_clearance, light_scale, tilt_sigma=10.0):
    """Several objects of one size class grouped on a set, framed from their group sphere.

    Tabletops and overheads differ only in these ranges (see the callers); azimuths is (offset,
    low, high). Random draws happen in a fixed order (set, size, objects, rig, camera).
    """
    set_spec = sets.sample_set(rng, str(rng.choice(set_kinds, p=set_p)))
    if set_spec["kind"] == "ground":
        set_spec["terrain"] = 0.0  # a still life stands on level ground
    support = set_spec["support_height"]
    size = float(np.exp(rng.uniform(np.log(sizes[0]), np.log(sizes[1]))))
    objects = [make_object(rng, _pick(rng, kinds), size * rng.uniform(*size_spread), support, tilt_sigma=tilt_sigma)
               for _ in range(int(rng.integers(*counts)))]
    place(rng, objects, (0.0, 0.0), size * scatter)
    centre, radius = group_sphere(objects)
    env, lights = _env_and_lights(rng, str(rng.choice(rigs, p=rig_p)), centre, max(radius * 4, light_scale))
    cam = camera.frame_sphere(rng, centre, radius, float(rng.uniform(*fills)), camera.focal(rng, *focals),
                              float(rng.uniform(*elevations)), azimuths[0] + float(rng.uniform(*azimuths[1:])),
                              resolution, min_height=support + max(min_clearance, sets.clearance(set_spec)),
                              obstacles=obstacles(objects))
    return set_spec, objects, env, lights, cam


def _tabletop(rng, resolution):
    return _still_life(rng, resolution, ["table", "room", "cyc", "cloth"], [0.25, 0.1, 0.2, 0.45],
                       dict(STUDY_KINDS, cloth=0.02), sizes=(0.08, 0.35), counts=(3, 7), size_spread=(0.4, 1.0),
                       scatter=0.5, rigs=["hdri", "studio", "key"], rig_p=[0.5, 0.3, 0.2], fills=(0.7, 1.0),
                       focals=(24.0, 85.0), elevations=(5.0, 50.0), azimuths=(90.0, -60.0, 60.0), min_clearance=0.05,
                       light_scale=1.5)


def _interior(rng, resolution):
    set_spec = sets.sample_set(rng, "room")
    w, d = set_spec["width"], set_spec["depth"]
    objects = [make_object(rng, _pick(rng, INTERIOR_KINDS), float(rng.uniform(0.3, 0.8)), 0.0)
               for _ in range(int(rng.integers(2, 7)))]
    for obj in objects:
        obj["rotation"][0] = _r(rng.choice([0.0, 90.0, 180.0, 270.0]) + rng.normal(0.0, 8.0), 2)
    place(rng, objects, (0.0, -d * 0.15), min(w, d) * 0.3)
    eye = np.array([rng.uniform(-w * 0.3, w * 0.3), rng.uniform(1.2, 1.7), d / 2 - rng.uniform(0.2, 0.8)])
    aim = np.array([rng.uniform(-w / 2, w / 2), rng.uniform(0.2, 2.0), -d / 2])
    view = str(rng.choice(["wall", "corner", "free"]))
    if view == "corner":
        aim[0] = float(rng.choice([-w / 2, w / 2])) * rng.uniform(0.6, 1.0)
    elif view == "wall":  # square on to the back wall
        aim[0] = eye[0] + rng.normal(0.0, 0.2)
    elevation = np.degrees(np.arctan2(aim[1] - eye[1], np.hypot(aim[0] - eye[0], aim[2] - eye[2])))
    elevation = float(np.clip(elevation, -15.0, 15.0))
    forward = (aim - eye) / np.linalg.norm(aim - eye)
    horizontal = np.hypot(forward[0], forward[2])
    forward = np.array([forward[0] / horizontal * np.cos(np.radians(elevation)), np.sin(np.radians(elevation)),
                        forward[2] / horizontal * np.cos(np.radians(elevation))])
    focal = camera.focal(rng, 18.0, 35.0)
    cam = camera.look_at(eye, eye + forward, camera.roll(rng), camera.fov_deg(focal), focal, resolution,
                         camera.exposure_bias(rng))
    rig = str(rng.choice(["hdri", "studio", "key"], p=[0.5, 0.35, 0.15]))
    env, lights = _env_and_lights(rng, rig, np.array([0.0, 1.0, 0.0]), max(w, d) * 0.5)
    return set_spec, objects, env, lights, cam


def _outdoor(rng, resolution):
    set_spec = sets.sample_set(rng, "ground")
    spread = float(rng.uniform(0.6, 2.5))
    objects = [make_object(rng, _pick(rng, OUTDOOR_KINDS), float(np.exp(rng.uniform(np.log(0.4), np.log(1.8)))), 0.0,
                           wear=0.5, tilt_sigma=8.0) for _ in range(int(rng.integers(1, 6)))]
    place(rng, objects, (0.0, 0.0), spread)
    for obj in objects:  # stand on the terrain, a little sunk in so nothing floats on a slope
        obj["position"][1] = _r(sets.ground_height(set_spec, [obj["position"][0], obj["position"][2]])[0]
                                - 0.1 * obj["dims"][1])
        if obj["shape"] in ("blob", "sphere", "torus", "capsule") and rng.random() < 0.2:
            obj["lift"] = _r(obj["dims"][1] * rng.uniform(0.2, 0.8))
    centre, radius = group_sphere(objects)
    env, lights = _env_and_lights(rng, str(rng.choice(["sky", "hdri"], p=[0.4, 0.6])), centre, max(radius * 3, 2.0))
    min_height = lambda xz: float(sets.ground_height(set_spec, xz)[0]) + 0.3  # above the hills where it stands
    cam = camera.frame_sphere(rng, centre, radius, float(rng.uniform(0.4, 0.9)), camera.focal(rng, 18.0, 120.0),
                              float(rng.uniform(-5.0, 45.0)), float(rng.uniform(0.0, 360.0)), resolution,
                              min_height=min_height, obstacles=obstacles(objects))
    return set_spec, objects, env, lights, cam


def _overhead(rng, resolution):
    return _still_life(rng, resolution, ["table", "ground", "cloth"], [0.5, 0.25, 0.25], STUDY_KINDS,
                       sizes=(0.06, 0.3), counts=(2, 8), size_spread=(0.5, 1.0), scatter=0.8,
                       rigs=["hdri", "studio", "key"], rig_p=[0.4, 0.3, 0.3], fills=(0.6, 1.0), focals=(24.0, 85.0),
                       elevations=(60.0, 80.0), azimuths=(0.0, 0.0, 360.0), min_clearance=0.1, light_scale=1.0,
                       tilt_sigma=30.0)


def _view(yaw_deg, pitch_deg):
    """Unit forward vector for a yaw about +Y (0° looks down −Z) and a pitch (negative looks down)."""
    yaw, pitch = np.radians([yaw_deg, pitch_deg])
    return np.array([np.sin(yaw) * np.cos(pitch), np.sin(pitch), -np.cos(yaw) * np.cos(pitch)])


def _street(rng, yaw_deg, fov_deg, per_side):
    """Building blocks lining both sides of the view from the origin: walls that recede to a vanishing point."""
    ahead, side = _view(yaw_deg, 0.0), _view(yaw_deg + 90.0, 0.0)
    half_street, blocks = rng.uniform(3.0, 7.0), []
    in_view = half_street / np.tan(np.radians(fov_deg) / 2)  # where the street's sides enter the frame
    for sign in (-1.0, 1.0):
        along = in_view * rng.uniform(0.3, 1.0)
        for _ in range(per_side):
            length, height, thickness = rng.uniform(4.0, 10.0), rng.uniform(3.0, 9.0), rng.uniform(2.0, 5.0)
            block = make_object(rng, "box", length, 0.0, wear=0.3, tilt_sigma=0.0)
            block["dims"] = [_r(length), _r(height), _r(thickness)]
            block["rotation"] = [_r(90.0 - yaw_deg + rng.normal(0.0, 2.0), 2), 0.0, 0.0]
            centre = ahead * (along + length / 2) + side * sign * (half_street + thickness / 2)
            block["position"] = [_r(centre[0]), 0.0, _r(centre[2])]
            blocks.append(block)
            along += length + rng.uniform(0.0, 3.0)
    return blocks


def _ground(rng, resolution):
    """A low camera over a textured plane: open ground to the horizon, a room, or a table top."""
    set_spec = sets.sample_set(rng, str(rng.choice(["ground", "room", "table"], p=[0.5, 0.3, 0.2])))
    set_spec["material"] = materials.paving(rng)
    kind, support = set_spec["kind"], set_spec["support_height"]
    if kind == "ground":
        set_spec["terrain"] = _r(rng.choice([0.0, rng.uniform(0.1, 0.5)]))
        yaw, pitch, focal = rng.uniform(0.0, 360.0), -rng.uniform(1.0, 30.0), camera.focal(rng, 18.0, 70.0)
        xz = np.zeros(2)
        eye = np.array([xz[0], sets.ground_height(set_spec, xz)[0] + np.exp(rng.uniform(np.log(0.2), np.log(2.0))),
                        xz[1]])
        ahead = _view(yaw, 0.0)[[0, 2]]
        objects = [make_object(rng, _pick(rng, OUTDOOR_KINDS), float(np.exp(rng.uniform(np.log(0.3), np.log(1.5)))),
                               0.0, wear=0.5, tilt_sigma=8.0) for _ in range(int(rng.integers(1, 5)))]
        place(rng, objects, xz + ahead * rng.uniform(3.0, 8.0), 3.0, keep_out=[(xz, 1.0)])
        if rng.random() < 0.4:
            objects += _street(rng, yaw, camera.fov_deg(focal), int(rng.integers(1, 3)))
        for obj in objects:
            obj["position"][1] = _r(sets.ground_height(set_spec, [obj["position"][0], obj["position"][2]])[0]
                                    - 0.1 * obj["dims"][1])
        rig, scale = str(rng.choice(["sky", "hdri"], p=[0.4, 0.6])), 4.0
    elif kind == "room":
        w, d = set_spec["width"], set_spec["depth"]
        yaw, pitch, focal = rng.uniform(-35.0, 35.0), rng.uniform(-20.0, 10.0), camera.focal(rng, 18.0, 28.0)
        eye = np.array([rng.uniform(-0.3, 0.3) * w, rng.uniform(0.3, 1.7), d / 2 - rng.uniform(0.2, 0.6)])
        objects = [make_object(rng, _pick(rng, INTERIOR_KINDS), float(rng.uniform(0.3, 0.8)), 0.0)
                   for _ in range(int(rng.integers(1, 5)))]
        place(rng, objects, (0.0, -d * 0.2), min(w, d) * 0.3, keep_out=[(eye[[0, 2]], 1.0)])
        rig, scale = str(rng.choice(["hdri", "studio", "key"], p=[0.5, 0.35, 0.15])), max(w, d) * 0.5
    else:  # a table top seen from just above it, towards its far edge and the room beyond
        w, d = set_spec["width"], set_spec["depth"]
        yaw, pitch, focal = rng.uniform(-30.0, 30.0), -rng.uniform(1.0, 25.0), camera.focal(rng, 24.0, 70.0)
        eye = np.array([rng.uniform(-0.3, 0.3) * w, support + rng.uniform(0.03, 0.35), d / 2 + rng.uniform(0.0, 0.3)])
        size = float(rng.uniform(0.04, 0.2))
        objects = [make_object(rng, _pick(rng, STUDY_KINDS), size * rng.uniform(0.5, 1.0), support)
                   for _ in range(int(rng.integers(1, 5)))]
        place(rng, objects, (0.0, -d * 0.1), min(w, d) * 0.3, keep_out=[(eye[[0, 2]], 0.3)])
        rig, scale = str(rng.choice(["hdri", "studio", "key"], p=[0.5, 0.3, 0.2])), 1.5
    env, lights = _env_and_lights(rng, rig, eye + 3.0 * _view(yaw, pitch), scale)
    cam = camera.look_at(eye, eye + _view(yaw, pitch), camera.roll(rng) * 0.5, camera.fov_deg(focal), focal,
                         resolution, camera.exposure_bias(rng), pitch_deg=_r(pitch, 2))
    return set_spec, objects, env, lights, cam


BUILDERS = {"object_study": _object_study, "tabletop": _tabletop, "interior": _interior, "outdoor": _outdoor,
            "overhead": _overhead, "ground": _ground}
assert tuple(BUILDERS) == FAMILIES


def compose(rng, family, resolution):
    """(set, objects, environment, lights, camera) of one scene of `family`."""
    return BUILDERS[family](rng, resolution)
