"""Materials: random principled-BSDF parameters by class, and the tileable textures built from them.

Classes are what photographs show most: glossy ceramic and plastic, metal, rough fabric,
skin-like, stone/wood/plaster (`rough`), and the older all-random `mixed`. A material may carry
real displacement detail from a height map (scene/assets) and, on objects, wear on convex
edges and dirt in cavities, baked into the object's texture atlas by scene.bake.
"""

import numpy as np

from data_tools.scene import assets, meshes, procedural

CLASSES = ("ceramic", "plastic", "metal", "fabric", "skin", "rough", "mixed")
TEXTURE_SIZE = 256
METAL_COLOURS = ((0.95, 0.64, 0.54), (1.0, 0.78, 0.34), (0.91, 0.92, 0.92), (0.56, 0.57, 0.58), (0.97, 0.96, 0.91))
SKIN_TONES = ((0.85, 0.62, 0.5), (0.7, 0.5, 0.38), (0.55, 0.38, 0.27), (0.36, 0.24, 0.17), (0.9, 0.72, 0.62))
PATTERN_CHOICES = procedural.PATTERN_KINDS + ("plain", "height")


def _r(x, digits=4):
    return round(float(x), digits)


def colour(rng, saturated=None):
    """A random linear RGB reflectance: mostly muted, sometimes saturated."""
    hue = rng.random()
    if saturated is None:
        saturated = rng.random() < 0.4
    saturation = rng.uniform(0.3, 0.9) if saturated else rng.uniform(0.0, 0.25)
    value = rng.uniform(0.08, 0.9)
    k = (np.array([5.0, 3.0, 1.0]) + hue * 6.0) % 6.0
    rgb = value - value * saturation * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)
    return [_r(c ** 2.2) for c in rgb]  # perceptual → linear


def _jitter(rng, rgb, amount=0.15):
    return [_r(np.clip(c * rng.uniform(1 - amount, 1 + amount), 0.0, 1.0)) for c in rgb]


def detail(rng, probability, amplitude):
    """Real displacement detail from a committed height map (or none)."""
    if rng.random() >= probability or not assets.height_names():
        return {"height": None, "amplitude": 0.0, "scale": 1.0}
    return {"height": str(rng.choice(assets.height_names())), "amplitude": _r(amplitude * rng.uniform(0.3, 1.0), 5),
            "scale": _r(np.exp(rng.uniform(np.log(1.0), np.log(6.0))), 3)}


def _wear(rng, probability):
    edge = rng.random() < probability
    dirt = rng.random() < probability
    return {"edge": _r(rng.uniform(0.4, 1.0) if edge else 0.0, 3),
            "dirt": _r(rng.uniform(0.4, 1.0) if dirt else 0.0, 3),
            "edge_color": colour(rng, saturated=False), "dirt_color": [_r(c * 0.25) for c in colour(rng, False)],
            "seed": int(rng.integers(0, 2**31 - 1))}


def material(rng, klass=None, wear_probability=0.0):
    """Random material of `klass` (random class if None); `wear_probability` enables baked wear/dirt."""
    klass = klass or str(rng.choice(CLASSES, p=[0.17, 0.17, 0.13, 0.15, 0.08, 0.15, 0.15]))
    low, span, specular = 0.02, 0.5, rng.uniform(0.2, 0.8)
    pattern = lambda: str(rng.choice(PATTERN_CHOICES))
    colors = [colour(rng), colour(rng)]
    metal_mode, color_pattern, rough_pattern = "none", pattern(), pattern()
    relief = detail(rng, 0.4, 0.004)
    if klass == "ceramic":
        low, span, specular = rng.uniform(0.02, 0.15), rng.uniform(0.0, 0.1), rng.uniform(0.5, 0.8)
        color_pattern = str(rng.choice(["plain", "plain", "stripes", "noise", "checkers"]))
        colors[1] = _jitter(rng, colors[0]) if rng.random() < 0.6 else colors[1]
    elif klass == "plastic":
        low, span, specular = rng.uniform(0.05, 0.4), rng.uniform(0.0, 0.2), rng.uniform(0.4, 0.6)
        colors = [colour(rng, saturated=True)] * 2
        color_pattern = "plain"
    elif klass == "metal":
        metal_mode = "full"
        base = METAL_COLOURS[int(rng.integers(len(METAL_COLOURS)))]
        colors = [_jitter(rng, base, 0.08), _jitter(rng, base, 0.2)]
        low, span = rng.uniform(0.03, 0.4), rng.uniform(0.0, 0.3)
        color_pattern = str(rng.choice(["noise", "plain", "cells"]))
    elif klass == "fabric":
        low, span, specular = rng.uniform(0.7, 0.9), rng.uniform(0.0, 0.1), rng.uniform(0.1, 0.4)
        color_pattern = str(rng.choice(["stripes", "checkers", "noise", "plain", "photo", "height"]))
        relief = detail(rng, 0.8, 0.006)
    elif klass == "skin":
        tone = SKIN_TONES[int(rng.integers(len(SKIN_TONES)))]
        colors = [_jitter(rng, [t ** 2.2 for t in tone], 0.1), _jitter(rng, [t ** 2.2 * 0.8 for t in tone], 0.1)]
        low, span, specular = rng.uniform(0.35, 0.5), rng.uniform(0.05, 0.2), 0.5
        color_pattern, rough_pattern = "noise", "noise"
        relief = detail(rng, 0.5, 0.002)
    elif klass == "rough":
        low, span = rng.uniform(0.5, 0.85), rng.uniform(0.0, 0.15)
        color_pattern = str(rng.choice(["photo", "bricks", "cells", "noise", "height"]))
        relief = detail(rng, 0.6, 0.008)
    elif rng.random() < 0.2:  # mixed: the old generator's anything-goes material, sometimes metal
        metal_mode = str(rng.choice(["full", "pattern"]))
    return {
        "class": klass, "seed": int(rng.integers(0, 2**31 - 1)), "color_pattern": color_pattern, "colors": colors,
        "metal_mode": metal_mode, "metal_pattern": str(rng.choice(procedural.PATTERN_KINDS)),
        "roughness_pattern": rough_pattern,
        "roughness_range": [_r(low, 3), _r(min(1.0, low + span), 3)], "specular": _r(specular, 3),
        "uv_scale": _r(np.exp(rng.uniform(np.log(0.3), np.log(3.0))), 3),
        "detail": relief, "wear": _wear(rng, wear_probability),
    }


def _channel(rng, material, kind, size):
    if kind == "plain":
        return np.full((size, size), 0.5, np.float32)
    if kind == "height":
        name = material["detail"]["height"] or assets.height_names()[int(rng.integers(len(assets.height_names())))]
        return procedural.resize_tileable(assets.load_height(name), size)
    return procedural.pattern(rng, size, kind)


def textures(material, size=TEXTURE_SIZE):
    """Tileable base colour (H×W×3 linear), metallic and roughness (H×W×1) of a spec material."""
    rng = np.random.default_rng(material["seed"])
    mix = _channel(rng, material, material["color_pattern"], size)[..., None]
    c0, c1 = (np.asarray(c, np.float32) for c in material["colors"])
    base = c0 * (1.0 - mix) + c1 * mix
    if material["metal_mode"] == "pattern":
        metal = (_channel(rng, material, material["metal_pattern"], size) > 0.5).astype(np.float32)
    else:
        metal = np.full((size, size), 1.0 if material["metal_mode"] == "full" else 0.0, np.float32)
    lo, hi = material["roughness_range"]
    rough = lo + (hi - lo) * _channel(rng, material, material["roughness_pattern"], size)
    return {"base_color": base.astype(np.float32), "metallic": metal[..., None],
            "roughness": rough[..., None].astype(np.float32)}


def detail_heights(material, uvs):
    """Per-vertex displacement (metres) from the material's height map at the vertices' uvs, or None."""
    detail = material["detail"]
    if not detail["height"] or detail["amplitude"] <= 0:
        return None
    tile = assets.load_height(detail["height"])
    return detail["amplitude"] * (meshes.sample_pattern(tile, uvs * detail["scale"]) - 0.5)


# Surfaces whose texture shrinks and compresses with distance (the perspective cue of a ground plane):
# pattern kind and the two linear colours it mixes between (None: a random colour pair).
PAVINGS = {"tiles": ("checkers", None), "grout tiles": ("bricks", None),
           "planks": ("bricks", ((0.3, 0.16, 0.07), (0.12, 0.06, 0.02))),
           "cobbles": ("cells", ((0.22, 0.21, 0.2), (0.05, 0.05, 0.05))), "concrete": ("noise", None),
           "grass": ("photo:grass", ((0.16, 0.26, 0.04), (0.02, 0.05, 0.01))),
           "gravel": ("photo:gravel", ((0.3, 0.27, 0.22), (0.06, 0.05, 0.04))),
           "brick paving": ("photo:brick", ((0.35, 0.12, 0.07), (0.1, 0.04, 0.03)))}


def paving(rng):
    """A floor, street or lawn material with a regular or granular texture at 0.2–1.5 repeats per metre."""
    spec = material(rng, "rough")
    kind = str(rng.choice(list(PAVINGS)))
    pattern, colours = PAVINGS[kind]
    if colours is None:
        colours = (colour(rng), colour(rng) if rng.random() < 0.5 else _jitter(rng, colour(rng), 0.5))
    spec.update(paving=kind, color_pattern=pattern, colors=[_jitter(rng, c, 0.2) for c in colours],
                roughness_pattern=str(rng.choice(["plain", "noise", pattern])),
                uv_scale=_r(np.exp(rng.uniform(np.log(0.2), np.log(1.5))), 3))
    return spec
