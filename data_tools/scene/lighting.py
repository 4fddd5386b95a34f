"""Lighting: environment (HDRI, procedural sky, studio dome, dark), sun, key, area and point lights.

Rigs (chosen per family in scene.families):
  hdri      a committed HDR photograph of a place, randomly rotated and exposed (its sun, if it
            has one, is in the map and casts hard shadows);
  sky       the procedural sky with a sun emitter;
  studio    a soft studio dome plus one to three soft boxes, sometimes strongly coloured;
  key       a single small, hard key light and a dark ambient (still-life look, hard shadows).
Environment maps are lat-long, rows from zenith to nadir, ENV_SIZE, so the renderer's template
keeps one size; the procedural ones are built at half size and upsampled.
"""

import numpy as np

from data_tools.scene import assets, materials, meshes, procedural, transforms

ENV_SIZE = (256, 512)
ENV_KINDS = ("hdri", "sky", "studio", "dark")
SUN_DISTANCE = 500.0
SUN_COLOUR = (1.0, 0.95, 0.85)
MAX_AREA_LIGHTS = 3


def _r(x, digits=4):
    return round(float(x), digits)


def _direction(elevation_deg, azimuth_deg):
    e, a = np.radians([elevation_deg, azimuth_deg])
    return np.array([np.cos(e) * np.cos(a), np.sin(e), np.cos(e) * np.sin(a)])


def environment(rng, kind):
    """Random environment of `kind` (see ENV_KINDS); every field is recorded in scene.json."""
    env = {"kind": kind, "seed": int(rng.integers(0, 2**31 - 1)), "rotation_deg": _r(rng.uniform(0.0, 360.0), 2),
           "tint": [_r(t, 3) for t in rng.uniform(0.85, 1.15, 3)],
           "intensity": _r(np.exp(rng.uniform(np.log(0.3), np.log(3.0)))),
           "hdri": None, "zenith": [0.08, 0.16, 0.45], "horizon": [0.55, 0.6, 0.7], "ground": materials.colour(rng),
           "clouds": 0.0, "sun_elevation_deg": _r(rng.uniform(5.0, 80.0), 2),
           "sun_azimuth_deg": _r(rng.uniform(0.0, 360.0), 2), "sun_size_deg": _r(rng.uniform(1.0, 5.0), 2),
           "sun_irradiance": 0.0}
    if kind == "hdri":
        env["hdri"] = str(rng.choice(assets.hdri_names()))
    elif kind == "sky":
        env["clouds"] = _r(rng.uniform(0.0, 1.0), 3)
        env["sun_irradiance"] = _r(rng.choice([0.0, np.exp(rng.uniform(np.log(0.5), np.log(12.0)))], p=[0.2, 0.8]), 3)
    else:
        env["zenith"], env["horizon"] = materials.colour(rng), materials.colour(rng)
        if kind == "dark":
            env["intensity"] = _r(env["intensity"] * rng.uniform(0.01, 0.06), 5)
    return env


def _quad_light(rng, target, distance, elevation, size, power, colour):
    azimuth = rng.uniform(0.0, 360.0)
    pos = np.asarray(target) + distance * _direction(elevation, azimuth)
    side = float(size)
    aspect = float(rng.uniform(0.3, 1.0))
    radiance = np.asarray(colour) * power * distance ** 2 / (side * side * aspect * 4.0)
    return {"kind": "area", "position": [_r(p) for p in pos], "target": [_r(t) for t in target],
            "size": [_r(side, 3), _r(side * aspect, 3)], "radiance": [_r(c) for c in radiance]}


def lights(rng, rig, target, scale):
    """Lights of a rig around `target`; `scale` is the scene's size (light distances follow it)."""
    result = []
    if rig == "key":  # one small hard source: mostly a point light (a tiny, very bright quad makes fireflies)
        if rng.random() < 0.7:
            distance = scale * rng.uniform(2.0, 5.0)
            pos = np.asarray(target) + distance * _direction(rng.uniform(15, 70), rng.uniform(0, 360))
            power = float(np.exp(rng.uniform(np.log(5.0), np.log(40.0)))) * float(np.sum((pos - target) ** 2))
            tint = np.array(materials.colour(rng, saturated=False)) * 0.2 + 0.8
            result.append({"kind": "point", "position": [_r(p) for p in pos],
                           "intensity": [_r(c * power) for c in tint]})
        else:
            result.append(_quad_light(rng, target, scale * rng.uniform(2.0, 5.0), rng.uniform(15, 70),
                                      scale * rng.uniform(0.1, 0.25), np.exp(rng.uniform(np.log(5.0), np.log(40.0))),
                                      np.array(materials.colour(rng, saturated=False)) * 0.2 + 0.8))
    elif rig == "studio":
        coloured = rng.random() < 0.35
        for _ in range(int(rng.integers(1, MAX_AREA_LIGHTS + 1))):
            tint = (materials.colour(rng, saturated=True) if coloured
                    else list(np.array(materials.colour(rng)) * 0.3 + 0.7))
            tint = np.asarray(tint) / max(max(tint), 1e-3)
            result.append(_quad_light(rng, target, scale * rng.uniform(1.5, 4.0), rng.uniform(0, 75),
                                      scale * rng.uniform(0.4, 1.5), np.exp(rng.uniform(np.log(3.0), np.log(30.0))),
                                      tint))
    elif rig in ("sky", "hdri") and rng.random() < 0.2:  # sometimes a fill light in a real place
        result.append(_quad_light(rng, target, scale * rng.uniform(2.0, 5.0), rng.uniform(10, 60),
                                  scale * rng.uniform(0.3, 1.0), np.exp(rng.uniform(np.log(1.0), np.log(10.0))),
                                  np.array(materials.colour(rng)) * 0.3 + 0.7))
    return result


def environment_map(env, size=ENV_SIZE):
    """HDR lat-long map of an environment spec (float32 rows × cols × 3)."""
    if env["kind"] == "hdri":
        image = assets.load_hdri(env["hdri"])
        if image.shape[:2] != tuple(size):
            image = np.stack([procedural.resize_tileable(image[..., c], size[1])[:: size[1] // size[0]]
                              for c in range(3)], -1)
        return (image * np.asarray(env["tint"], np.float32) * env["intensity"]).astype(np.float32)
    half = sky_map(env, (size[0] // 2, size[1] // 2))
    return np.repeat(np.repeat(half, 2, axis=0), 2, axis=1)


def sky_map(env, size):
    """Procedural sky or studio gradient (rows zenith → nadir) with optional clouds; the sun is separate."""
    rows, cols = size
    rng = np.random.default_rng(env["seed"])
    elevation = np.radians(90.0 - 180.0 * (np.arange(rows) + 0.5) / rows)[:, None]
    up = np.clip(np.sin(elevation), 0.0, 1.0)[..., None]
    zenith, horizon, ground = (np.asarray(env[k], np.float32) for k in ("zenith", "horizon", "ground"))
    sky = horizon + (zenith - horizon) * np.sqrt(up)
    if env["clouds"] > 0:
        cloud = procedural.fbm(rng, cols, base_cells=4)[:rows][..., None]
        cover = np.clip((cloud - (1.0 - env["clouds"])) * 3.0, 0.0, 1.0) * (up > 0)
        sky = sky * (1 - cover) + cover * horizon.mean() * 1.2
    image = np.where(np.sin(elevation)[..., None] > 0, sky, ground * 0.5) * np.ones((1, cols, 1), np.float32)
    return (image * np.asarray(env["tint"]) * env["intensity"]).astype(np.float32)


def sun_emitter(env):
    """The sun as a far emissive square facing the scene, and its radiance (None, None without a sun)."""
    if env["sun_irradiance"] <= 0:
        return None, None
    direction = _direction(env["sun_elevation_deg"], env["sun_azimuth_deg"])
    radius = SUN_DISTANCE * np.tan(np.radians(env["sun_size_deg"]) / 2.0)
    quad = meshes.transform(meshes.plane(2.0 * radius, 2.0 * radius, 2, 2),
                            transforms.facing(SUN_DISTANCE * direction, np.zeros(3)))
    solid_angle = 2.0 * np.pi * (1.0 - np.cos(np.radians(env["sun_size_deg"]) / 2.0))
    radiance = (env["sun_irradiance"] * env["intensity"] / solid_angle) * np.asarray(env["tint"]) \
        * np.asarray(SUN_COLOUR)
    return quad, [float(r) for r in radiance]


def area_light_quad(light):
    """A rectangle facing the light's target, sized by the spec."""
    w, h = light["size"]
    return meshes.transform(meshes.plane(w, h, 2, 2), transforms.facing(light["position"], light["target"]))
