"""Random scene descriptions: shapes, materials, lights and camera as a JSON-able dict.

A spec holds every random choice (and seeds for the textures and meshes built from it),
so `scene.json` documents a sample and rebuilding from it gives the same render.
"""

import numpy as np

from data_tools.scene import procedural

ORGANIC_SHAPES = ("blob", "sphere", "torus", "capsule", "rock")
HARD_SHAPES = ("box", "blocks", "wall", "stairs", "slab", "column")
HARD_DISPLACEMENTS = ("bricks", "cells", "insets", "noise", "none")
MAX_OBJECTS = 6
MAX_AREA_LIGHTS = 2
MAX_POINT_LIGHTS = 1


def _seed(rng):
    return int(rng.integers(0, 2**31 - 1))


def _colour(rng):
    """A random linear RGB reflectance: mostly muted, sometimes saturated."""
    hue = rng.random()
    saturation = rng.choice([rng.uniform(0.0, 0.25), rng.uniform(0.3, 0.9)], p=[0.6, 0.4])
    value = rng.uniform(0.08, 0.9)
    k = (np.array([5.0, 3.0, 1.0]) + hue * 6.0) % 6.0
    rgb = value - value * saturation * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)
    return [round(float(c) ** 2.2, 4) for c in rgb]  # perceptual → linear


def material(rng):
    """Random principled-BSDF parameters; textures are generated from the seeds at build time."""
    metal_mode = str(rng.choice(["none", "full", "pattern"], p=[0.6, 0.2, 0.2]))
    low = float(rng.uniform(0.02, 0.6))
    return {
        "seed": _seed(rng),
        "color_pattern": str(rng.choice(procedural.PATTERN_KINDS + ("plain",))),
        "colors": [_colour(rng), _colour(rng)],
        "metal_mode": metal_mode,
        "metal_pattern": str(rng.choice(procedural.PATTERN_KINDS)),
        "roughness_pattern": str(rng.choice(procedural.PATTERN_KINDS + ("plain",))),
        "roughness_range": [round(low, 3), round(float(min(1.0, low + rng.uniform(0.0, 0.5))), 3)],
        "specular": round(float(rng.uniform(0.2, 0.8)), 3),
        "uv_scale": round(float(np.exp(rng.uniform(np.log(0.3), np.log(3.0)))), 3),
    }


def _organic_displacement(rng, size):
    return {"kind": "noise3d", "seed": _seed(rng),
            "amplitude": round(float(size * rng.uniform(0.0, 0.25)), 4),
            "frequency": round(float(rng.uniform(0.8, 2.5) / size), 4),
            "fine_amplitude": round(float(size * rng.choice([0.0, rng.uniform(0.002, 0.02)])), 5),
            "fine_frequency": round(float(rng.uniform(8.0, 30.0) / size), 4)}


def _hard_displacement(rng, size):
    kind = str(rng.choice(HARD_DISPLACEMENTS, p=[0.25, 0.15, 0.25, 0.15, 0.2]))
    return {"kind": kind, "seed": _seed(rng),
            "amplitude": round(float(size * rng.uniform(0.01, 0.06)), 4),
            "windows": [int(rng.integers(1, 5)), int(rng.integers(1, 4))]}


def shape(rng, kind, position):
    """One object of `kind` placed on the ground at `position` (x, z)."""
    size = float(np.exp(rng.uniform(np.log(0.4), np.log(1.8))))
    obj = {"shape": kind, "size": round(size, 4), "seed": _seed(rng),
           "position": [round(float(position[0]), 4), 0.0, round(float(position[1]), 4)],
           "rotation_y": round(float(rng.uniform(0.0, 360.0)), 2),
           "tilt": [round(float(t), 2) for t in rng.normal(0.0, 12.0 if kind in ORGANIC_SHAPES else 2.0, 2)],
           "aspect": [round(float(a), 3) for a in rng.uniform(0.5, 1.6, 3)],
           "material": material(rng)}
    organic = kind in ORGANIC_SHAPES
    obj["displacement"] = _organic_displacement(rng, size) if organic else _hard_displacement(rng, size)
    if kind == "rock":
        obj["displacement"]["amplitude"] = round(float(size * rng.uniform(0.2, 0.45)), 4)
    obj["floating"] = bool(organic and rng.random() < 0.25)
    return obj


def _place(rng, count, spread):
    """Object ground positions on a disc, kept apart by simple rejection sampling."""
    points = []
    for _ in range(count * 20):
        if len(points) == count:
            break
        p = rng.uniform(-spread, spread, 2)
        if all(np.hypot(*(p - q)) > 0.9 for q in points):
            points.append(p)
    return points


def environment(rng):
    """Procedural sky or studio dome; lighting strength and colour all random."""
    kind = str(rng.choice(["sky", "studio"], p=[0.7, 0.3]))
    return {
        "kind": kind, "seed": _seed(rng),
        "rotation_deg": round(float(rng.uniform(0.0, 360.0)), 2),
        "zenith": _colour(rng) if kind == "studio" else [0.08, 0.16, 0.45],
        "horizon": _colour(rng) if kind == "studio" else [0.55, 0.6, 0.7],
        "ground": _colour(rng),
        "tint": [round(float(t), 3) for t in rng.uniform(0.7, 1.3, 3)],
        "clouds": round(float(rng.uniform(0.0, 1.0)) if kind == "sky" else 0.0, 3),
        "intensity": round(float(np.exp(rng.uniform(np.log(0.2), np.log(2.0)))), 4),
        "sun_elevation_deg": round(float(rng.uniform(5.0, 80.0)), 2),
        "sun_azimuth_deg": round(float(rng.uniform(0.0, 360.0)), 2),
        "sun_size_deg": round(float(rng.uniform(1.5, 8.0)), 2),
        # Sun irradiance relative to the sky's (0: overcast, no sun emitter).
        "sun_irradiance": round(float(rng.choice([0.0, np.exp(rng.uniform(np.log(0.5), np.log(12.0)))],
                                                 p=[0.25, 0.75])), 3),
    }


def lights(rng, target):
    """Up to MAX_AREA_LIGHTS soft area lights and MAX_POINT_LIGHTS hard point lights around the scene."""
    result = []
    counts = {"area": int(rng.choice(MAX_AREA_LIGHTS + 1, p=[0.4, 0.4, 0.2])),
              "point": int(rng.integers(0, MAX_POINT_LIGHTS + 1) if rng.random() < 0.25 else 0)}
    for kind, count in counts.items():
        for _ in range(count):
            azimuth = rng.uniform(0.0, 2.0 * np.pi)
            elevation = rng.uniform(0.15, 1.3)
            distance = rng.uniform(2.0, 7.0)
            pos = np.asarray(target) + distance * np.array([np.cos(elevation) * np.cos(azimuth),
                                                             np.sin(elevation),
                                                             np.cos(elevation) * np.sin(azimuth)])
            colour = np.array(_colour(rng)) * 0.3 + 0.7
            power = float(np.exp(rng.uniform(np.log(3.0), np.log(60.0)))) * distance ** 2
            light = {"kind": kind, "position": [round(float(p), 4) for p in pos],
                     "target": [round(float(t), 4) for t in target]}
            if kind == "area":
                side = float(rng.uniform(0.3, 2.0))
                light["size"] = [round(side, 3), round(side * float(rng.uniform(0.3, 1.0)), 3)]
                light["radiance"] = [round(float(c * power / (side * side * 4.0)), 4) for c in colour]
            else:
                light["intensity"] = [round(float(c * power / 4.0), 4) for c in colour]
            result.append(light)
    return result


def bounding_radius(obj):
    """A generous radius around an object's centre that its geometry stays within."""
    reach = {"wall": 1.4, "blocks": 1.6, "stairs": 1.6, "column": 1.1, "slab": 1.0, "box": 1.0}
    return obj["size"] * max(obj["aspect"]) * reach.get(obj["shape"], 0.9)


def object_centre(obj):
    return np.asarray(obj["position"]) + np.array([0.0, obj["size"] * (1.1 if obj["floating"] else 0.5), 0.0])


def camera(rng, target, spread, resolution, objects=()):
    """A camera looking at the scene from a random direction, height, fov and roll.

    The camera is pulled back along its view line until it is outside every object's
    bounding sphere (a close-up must not start inside a column).
    """
    fov = float(rng.uniform(25.0, 70.0))
    close_up = rng.random() < 0.35
    radius = (rng.uniform(0.4, 1.0) if close_up else 0.7 * spread + 0.6) / np.tan(np.radians(fov) / 2.0)
    elevation = np.radians(rng.uniform(3.0, 60.0))
    azimuth = rng.uniform(0.0, 2.0 * np.pi)
    direction = np.array([np.cos(elevation) * np.cos(azimuth), np.sin(elevation), np.cos(elevation) * np.sin(azimuth)])
    for _ in range(50):
        origin = np.asarray(target) + radius * direction
        origin[1] = max(origin[1], 0.15)
        if all(np.linalg.norm(origin - object_centre(o)) > bounding_radius(o) for o in objects):
            break
        radius *= 1.15
    roll = np.radians(rng.normal(0.0, 6.0))
    forward = np.asarray(target) - origin
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 1.0, 0.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    up = np.cos(roll) * up + np.sin(roll) * right
    return {"origin": [round(float(o), 4) for o in origin], "target": [round(float(t), 4) for t in target],
            "up": [round(float(u), 5) for u in up], "fov_deg": round(fov, 3), "resolution": int(resolution),
            "exposure_bias": round(float(rng.uniform(-0.7, 0.4)), 3)}


def sample_scene(seed, index, resolution):
    """The full random description of sample `index` of a generation seeded by `seed`."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, index]))
    count = int(rng.integers(1, MAX_OBJECTS + 1))
    spread = float(rng.uniform(0.6, 2.5))
    hard_share = rng.uniform(0.0, 1.0)
    objects = []
    for position in _place(rng, count, spread):
        family = HARD_SHAPES if rng.random() < hard_share else ORGANIC_SHAPES
        objects.append(shape(rng, str(rng.choice(family)), position))
    target = objects[int(rng.integers(len(objects)))]["position"] if rng.random() < 0.3 else [0.0, 0.0, 0.0]
    target = [target[0], round(float(rng.uniform(0.2, 0.8)), 3), target[2]]
    return {
        "seed": int(seed), "index": int(index),
        "ground": {"kind": str(rng.choice(["plane", "room"], p=[0.7, 0.3])), "material": material(rng),
                   "displacement": _hard_displacement(rng, 2.0), "seed": _seed(rng)},
        "objects": objects,
        "environment": environment(rng),
        "lights": lights(rng, target),
        "camera": camera(rng, target, spread, resolution, objects),
    }
