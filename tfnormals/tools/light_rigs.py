"""Lights as a user describes them: --light_dir/--light_color/... flag values, or a JSON rig file.

Every value is checked; a mistake is an errors.UsageError naming the flag, or the rig file and the
light, on one line (the relight command's exit 2).
"""

import math

import numpy as np

from tfnormals.core import errors, json_files
from tfnormals.tools.relighting import DEFAULT_AMBIENT, LIGHT_KINDS, MODES, Light


def _numbers(text, count, flag):
    """`count` finite comma-separated numbers from a flag's text; errors.UsageError naming the flag otherwise."""
    try:
        values = tuple(float(v) for v in str(text).split(","))
    except ValueError:
        values = ()
    if len(values) != count or not all(math.isfinite(v) for v in values):
        what = "a number" if count == 1 else f"{count} comma-separated numbers"
        raise errors.UsageError(f"--{flag}: expected {what}, got {text!r}")
    return values


def parse_lights(directions, colors=(), intensities=(), wraps=()):
    """Lights from per-light text values ('x,y,z' directions; colours, intensities, wraps once or per light).

    Raises errors.UsageError naming the flag when a value is malformed or out of range.
    """
    if not directions:
        raise errors.UsageError("--light_dir: at least one light direction is needed")
    count = len(directions)

    def per_light(values, name, default):
        if not values:
            return [default] * count
        if len(values) not in (1, count):
            raise errors.UsageError(f"--{name}: give it once or once per --light_dir ({count}), "
                                    f"not {len(values)} times")
        return list(values) * count if len(values) == 1 else list(values)

    lights = []
    for d, c, i, w in zip(directions, per_light(colors, "light_color", "1,1,1"),
                          per_light(intensities, "light_intensity", "1"), per_light(wraps, "wrap", "0")):
        direction = _numbers(d, 3, "light_dir")
        if not np.any(direction):
            raise errors.UsageError("--light_dir: 0,0,0 has no direction; give the direction toward the light")
        values = {"color": _numbers(c, 3, "light_color"), "intensity": _numbers(i, 1, "light_intensity")[0],
                  "wrap": _numbers(w, 1, "wrap")[0]}
        problems = [f"--{FIELD_FLAGS[field]}: {out_of_range(field, v)}" for field, v in values.items()
                    if out_of_range(field, v)]
        if problems:
            raise errors.UsageError(problems[0])
        lights.append(Light(direction, **values))
    return lights


# [low, high) of each light field given as numbers, from flags and rig files alike (softness may be 1), and the
# flags that set them.
FIELD_RANGES = {"color": (0.0, math.inf), "intensity": (0.0, math.inf), "wrap": (0.0, 1.0), "radius": (1e-9, math.inf),
                "cone_deg": (1e-3, 90.0), "softness": (0.0, 1.0 + 1e-9)}
FIELD_FLAGS = {"color": "light_color", "intensity": "light_intensity", "wrap": "wrap"}


def out_of_range(field, value):
    """What is wrong with a light field's value (a number or numbers; FIELD_RANGES), or ''."""
    (low, high), values = FIELD_RANGES[field], value if isinstance(value, (list, tuple)) else (value,)
    return "" if all(low <= v < high for v in values) else \
        f"must be in [{low:g}, {high:g}), got {','.join(f'{v:g}' for v in values)}"


def load_rig(path):
    """Lights, ambient and mode from a JSON rig file; errors.UsageError naming the file and light otherwise.

    {"mode": "add" | "replace", "ambient": 0.2,
     "lights": [{"type": "directional", "direction": [-1, 0.5, 0.6], "color": [1, 0.9, 0.8], "intensity": 1.5},
                {"type": "point", "position": [0.5, 0.3, -2.0], "radius": 0.5, "intensity": 4},
                {"type": "spot", "position": [-1, 1, -1], "target": [0, 0, -3], "cone_deg": 25, "softness": 0.3}]}
    Every light also takes "color", "intensity" and "wrap"; missing fields take Light's defaults.
    """
    rig = json_files.load(path, "--lights")
    if not isinstance(rig, dict) or not isinstance(rig.get("lights"), list) or not rig["lights"]:
        raise errors.UsageError(f"--lights: {path}: expected an object with a non-empty \"lights\" list")
    lights = [_rig_light(entry, f"--lights: {path}: light {i}") for i, entry in enumerate(rig["lights"])]
    mode = rig.get("mode", "add")
    if mode not in MODES:
        raise errors.UsageError(f"--lights: {path}: mode must be one of {', '.join(MODES)}, not {mode!r}")
    ambient = rig.get("ambient", DEFAULT_AMBIENT[mode])
    if not isinstance(ambient, (int, float)) or not math.isfinite(ambient) or ambient < 0:
        raise errors.UsageError(f"--lights: {path}: ambient must be a number ≥ 0, got {ambient!r}")
    return lights, float(ambient), mode


def _rig_light(entry, where):
    """One Light from a rig entry, every field checked."""
    if not isinstance(entry, dict):
        raise errors.UsageError(f"{where}: expected an object, got {entry!r}")
    kind = entry.get("type", "directional")
    if kind not in LIGHT_KINDS:
        raise errors.UsageError(f"{where}: type must be one of {', '.join(LIGHT_KINDS)}, not {kind!r}")
    unknown = set(entry) - {"type", "direction", "color", "intensity", "wrap", "position", "radius", "target",
                            "cone_deg", "softness"}
    if unknown:
        raise errors.UsageError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")

    def vector(name, default):
        value = entry.get(name, default)
        if not (isinstance(value, (list, tuple)) and len(value) == 3
                and all(isinstance(v, (int, float)) and math.isfinite(v) for v in value)):
            raise errors.UsageError(f"{where}: {name} must be 3 numbers, got {value!r}")
        return tuple(float(v) for v in value)

    def ranged(name, value):
        problem = out_of_range(name, value)
        if problem:
            raise errors.UsageError(f"{where}: {name} {problem}")
        return value

    def number(name, default):
        value = entry.get(name, default)
        if not (isinstance(value, (int, float)) and math.isfinite(value)):
            raise errors.UsageError(f"{where}: {name} must be a number, got {value!r}")
        return ranged(name, float(value))

    defaults = Light()
    fields = dict(kind=kind, color=ranged("color", vector("color", defaults.color)),
                  intensity=number("intensity", defaults.intensity), wrap=number("wrap", defaults.wrap))
    if kind == "directional" or (kind == "spot" and "target" not in entry):
        fields["direction"] = vector("direction", None)
        if not any(fields["direction"]):
            raise errors.UsageError(f"{where}: direction 0,0,0 has no direction")
    if kind != "directional":
        fields.update(position=vector("position", None), radius=number("radius", defaults.radius))
    if kind == "spot":
        if "target" in entry:
            fields["target"] = vector("target", None)
        fields.update(cone_deg=number("cone_deg", defaults.cone_deg), softness=number("softness", defaults.softness))
    return Light(**fields)
