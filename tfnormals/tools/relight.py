"""Relight a plate from its passes: the reason the passes exist.

Maths in linear light, with shading S = ambient + Σ intensity_i · colour_i · falloff_i · wrap_i(n · l_i):
- mode "add" (default): relit = plate · S — the plate keeps its own light and gains the rig's;
- mode "replace": relit = albedo · S — the rig replaces the plate's light (needs the albedo pass).
Wrapped Lambert wrap(x) = max(0, (x + w) / (1 + w)) (w = 0 is plain Lambert; larger w softens
the terminator). Everything is camera space (+X right, +Y up, +Z toward the camera):
- directional lights: `direction` points from the surface toward the light; falloff 1;
- point lights at `position` (needs the position pass, P, or depth + the field of view):
  l = normalize(position − P), falloff = 1 / (1 + (d / radius)²) — inverse-square beyond
  `radius`, 1 at the light;
- spot lights: a point light aimed at `target` (or along `direction`), times a cone factor that
  goes from 1 inside `cone_deg` · (1 − softness) to 0 at `cone_deg` (half angles, smoothstep).
Outside the mask the plate is kept. The plate is converted from its colour space
(tfnormals.core.colorspaces: auto = EXR linear, PNG/JPEG/TIFF sRGB; or any OCIO colour space, such
as ACEScg) to scene-linear Rec.709, relit, and written back: an EXR in the plate's colour space
when that is scene-linear (ACEScg in, ACEScg out; else in Linear Rec.709 (sRGB)) with the plate's
windows and metadata, a PNG/TIFF sRGB-encoded. A rig can come from a JSON file (see load_rig).

Bad inputs never reach the output: NaN/inf plate pixels are replaced with image_io.NONFINITE_FILL,
pixels whose normal is NaN/inf keep the plate as it is (no surface to light), NaN/inf mask values
count as 0; each is named in a warning with its pixel count and listed in the summary.
"""

import dataclasses
import json
import math
import os

import numpy as np
from absl import logging

from tfnormals.core import camera, colorspaces, colour, errors, image_io, normals, outputs

OUTPUT_EXTENSIONS = (".exr", ".png") + image_io.TIFF_EXTENSIONS


LIGHT_KINDS = ("directional", "point", "spot")
MODES = ("add", "replace")


@dataclasses.dataclass(frozen=True)
class Light:
    """A light in camera space.

    Args:
      direction: directional lights: (x, y, z) toward the light; spot lights: the axis the spot
        points along (used when there is no target). Normalized on use.
      color: linear RGB.
      intensity: scale of the contribution.
      wrap: wrap-lighting softness in [0, 1).
      kind: 'directional', 'point' or 'spot'.
      position: point and spot lights: camera-space position (scene units of the position pass).
      radius: point and spot lights: distance at which the falloff halves.
      target: spot lights: a camera-space point the spot is aimed at.
      cone_deg: spot lights: half angle of the cone.
      softness: spot lights: fraction of the cone over which the edge fades.
    """

    direction: tuple = (0.0, 0.0, 1.0)
    color: tuple = (1.0, 1.0, 1.0)
    intensity: float = 1.0
    wrap: float = 0.0
    kind: str = "directional"
    position: tuple = (0.0, 0.0, 0.0)
    radius: float = 1.0
    target: tuple = ()
    cone_deg: float = 30.0
    softness: float = 0.2

    @property
    def needs_position(self):
        return self.kind != "directional"


def _wrapped(cosine, wrap):
    return np.maximum(0.0, (cosine + wrap) / (1.0 + wrap))


def shading(normal_map, light, position=None):
    """Per-pixel factor (H×W) of one light: wrapped Lambert × falloff × cone."""
    if not light.needs_position:
        l = normals.normalize(np.asarray(light.direction, np.float32))
        return _wrapped(np.tensordot(normal_map, l, axes=([-1], [0])), light.wrap).astype(np.float32)
    if position is None:
        raise errors.UsageError(f"a {light.kind} light needs the position pass (--position, or --depth with the "
                                "field of view)")
    to_light = np.asarray(light.position, np.float32) - position
    distance = np.linalg.norm(to_light, axis=-1)
    l = to_light / np.maximum(distance, 1e-9)[..., None]
    factor = _wrapped(np.sum(normal_map * l, axis=-1), light.wrap) / (1.0 + (distance / light.radius) ** 2)
    if light.kind == "spot":
        axis = (np.asarray(light.target, np.float32) - np.asarray(light.position, np.float32)
                if light.target else np.asarray(light.direction, np.float32))
        cos_angle = np.sum(-l * normals.normalize(axis), axis=-1)
        outer = math.cos(math.radians(light.cone_deg))
        inner = math.cos(math.radians(light.cone_deg * (1.0 - light.softness)))
        t = np.clip((cos_angle - outer) / max(inner - outer, 1e-6), 0.0, 1.0)
        factor = factor * t * t * (3.0 - 2.0 * t)
    return factor.astype(np.float32)


def relight(plate_linear, normal_map, lights, ambient=1.0, mask=None, position=None, albedo=None, mode="add"):
    """Relit linear RGB; the original plate where mask is 0.

    Args:
      plate_linear: H×W×3 linear RGB.
      normal_map: H×W×3 camera-space normals.
      lights: list of Light.
      ambient: add mode: share of the plate's own light kept (1 keeps it); replace mode: flat ambient light.
      mask: optional H×W coverage in [0, 1] blending relit over original.
      position: H×W×3 camera-space points, for point and spot lights.
      albedo: H×W×3 linear albedo, for replace mode.
      mode: 'add' (plate · shading) or 'replace' (albedo · shading).
    """
    for name, array in (("normals", normal_map), ("position", position), ("albedo", albedo)):
        if array is not None and plate_linear.shape[:2] != array.shape[:2]:
            raise ValueError(f"plate is {plate_linear.shape[1]}x{plate_linear.shape[0]} but {name} are "
                             f"{array.shape[1]}x{array.shape[0]}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    if mode == "replace" and albedo is None:
        raise errors.UsageError("--mode=replace needs the albedo pass (--albedo)")
    gain = np.full(plate_linear.shape[:2] + (3,), ambient, np.float32)
    for light in lights:
        colour_gain = light.intensity * np.asarray(light.color, np.float32)
        gain += shading(normal_map, light, position)[..., None] * colour_gain
    relit = (plate_linear if mode == "add" else albedo) * gain
    if mask is not None:
        relit = plate_linear + (relit - plate_linear) * mask[..., None]
    return relit.astype(np.float32)


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


# EXR channels each pass is read from, in order of preference: a combined EXR's layer, then a standalone file's.
PASS_CHANNEL_CHOICES = {
    "normals": (("N.X", "N.Y", "N.Z"), ("R", "G", "B")),
    "position": (("P.X", "P.Y", "P.Z"), ("R", "G", "B")),
    "depth": (("depth.Z",), ("Z",), ("R",), ("Y",)),
    "albedo": (("albedo.R", "albedo.G", "albedo.B"), ("R", "G", "B")),
}


def read_pass(path, kind):
    """A pass from an EXR (its layer in a combined file, or a standalone file's channels); normals and albedo
    may also be 8/16-bit files (0.5·n + 0.5; sRGB albedo). Returns H×W×C float32, NaN/inf as read."""
    if image_io.is_float_file(path):
        names = set(image_io.exr_channel_names(path))
        for channels in PASS_CHANNEL_CHOICES[kind]:
            if set(channels) <= names:
                return image_io.read_exr(path, list(channels))
        raise errors.Failure(f"{path}: no {kind} channels (looked for "
                             f"{' or '.join('/'.join(c) for c in PASS_CHANNEL_CHOICES[kind])}; has {sorted(names)})")
    if kind in ("position", "depth"):
        raise errors.Failure(f"{path}: a {kind} pass must be an EXR (float values)")
    image = image_io.read_image(path)
    if image.shape[-1] < 3:
        raise errors.Failure(f"{path}: a {kind} pass needs 3 channels; the file has {image.shape[-1]}")
    image = image[..., :3]
    return normals.decode(image) if kind == "normals" else colour.srgb_to_linear(image)


def read_normals(path):
    """Normals from a float EXR (as stored) or an 8/16-bit file (0.5·n + 0.5); NaN/inf stay as read."""
    return read_pass(path, "normals")


def read_mask(path):
    """A mask image's coverage: its alpha when it has one, else its first channel."""
    m = image_io.read_image(path)
    return m[..., -1] if m.shape[-1] in (2, 4) else m[..., 0]


def load_rig(path):
    """Lights, ambient and mode from a JSON rig file; errors.UsageError naming the file and light otherwise.

    {"mode": "add" | "replace", "ambient": 0.2,
     "lights": [{"type": "directional", "direction": [-1, 0.5, 0.6], "color": [1, 0.9, 0.8], "intensity": 1.5},
                {"type": "point", "position": [0.5, 0.3, -2.0], "radius": 0.5, "intensity": 4},
                {"type": "spot", "position": [-1, 1, -1], "target": [0, 0, -3], "cone_deg": 25, "softness": 0.3}]}
    Every light also takes "color", "intensity" and "wrap"; missing fields take Light's defaults.
    """
    try:
        with open(path) as f:
            rig = json.load(f)
    except OSError as e:
        raise errors.MissingPathError(f"--lights: {path}: {e.strerror or e}") from e
    except ValueError as e:
        raise errors.UsageError(f"--lights: {path}: not valid JSON ({e})") from e
    if not isinstance(rig, dict) or not isinstance(rig.get("lights"), list) or not rig["lights"]:
        raise errors.UsageError(f"--lights: {path}: expected an object with a non-empty \"lights\" list")
    lights = [_rig_light(entry, f"--lights: {path}: light {i}") for i, entry in enumerate(rig["lights"])]
    mode = rig.get("mode", "add")
    if mode not in MODES:
        raise errors.UsageError(f"--lights: {path}: mode must be one of {', '.join(MODES)}, not {mode!r}")
    ambient = rig.get("ambient", 1.0 if mode == "add" else 0.0)
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


def check_request(plate_path, normals_path, output_path, ambient=1.0, mask_path="", position_path="", depth_path="",
                  albedo_path="", lights=(), mode="add", settings=camera.CameraSettings(), colorspace="auto"):
    """Raise errors.UsageError, naming the flag, for anything wrong with a relight before it starts."""
    colorspaces.check(colorspace)
    for flag, path in (("plate", plate_path), ("normals", normals_path), ("mask", mask_path),
                       ("position", position_path), ("depth", depth_path), ("albedo", albedo_path)):
        if path and not os.path.isfile(path):
            kind = "a folder, not a file" if os.path.isdir(path) else "no such file"
            raise errors.MissingPathError(f"--{flag}: {path}: {kind}")
    if image_io.extension(output_path) not in OUTPUT_EXTENSIONS:
        raise errors.UsageError(f"--output: {output_path} must end in one of {', '.join(OUTPUT_EXTENSIONS)}")
    outputs.check_not_input(output_path, {"--plate": plate_path, "--normals": normals_path, "--mask": mask_path,
                                          "--position": position_path, "--depth": depth_path,
                                          "--albedo": albedo_path}, "--output")
    outputs.check_writable_file(output_path, "--output")
    if not (math.isfinite(ambient) and ambient >= 0):
        raise errors.UsageError(f"--ambient: must be 0 or more, got {ambient:g}")
    if mode not in MODES:
        raise errors.UsageError(f"--mode: must be one of {', '.join(MODES)}, not {mode!r}")
    if mode == "replace" and not albedo_path:
        raise errors.UsageError("--mode=replace needs --albedo (the albedo pass)")
    if position_path and depth_path:
        raise errors.UsageError("--position and --depth: give one (position is computed from depth otherwise)")
    if any(light.needs_position for light in lights) and not (position_path or depth_path):
        raise errors.UsageError("point and spot lights need --position (P) or --depth with the field of view")
    settings.check()


def _finite(array, path, what, nonfinite):
    """Replace NaN/inf (image_io.fill_nonfinite), warn naming the file and count them in `nonfinite`."""
    array, count = image_io.fill_nonfinite(array)
    if count:
        logging.warning("%s: %d pixel(s) with NaN/inf values %s", path, count, what)
        nonfinite[path] = count
    return array


def output_space(plate_space, output_path):
    """The resolved colour space relight writes to `output_path`: an EXR keeps a scene-linear plate's space, else
    WORKING_SPACE; PNG/TIFF are sRGB-encoded."""
    if not image_io.is_float_file(output_path):
        return colorspaces.resolve("srgb")
    return plate_space if colorspaces.encoding(plate_space) == "scene-linear" else colorspaces.resolve("linear")


def relight_file(plate_path, normals_path, output_path, lights, ambient=1.0, mask_path="", position_path="",
                 depth_path="", albedo_path="", mode="add", settings=camera.CameraSettings(), colorspace="auto"):
    """Read a plate and its passes, relight, and write the result (see output_space), keeping alpha.

    Position comes from `position_path` (P) or from `depth_path` and `settings` (field of view, depth scale);
    `colorspace` is the plate's (tfnormals.core.colorspaces).
    Returns the summary the command prints: {'output', 'lights', 'mode', 'width', 'height',
    'nonfinite': {file: pixels}}.
    """
    check_request(plate_path, normals_path, output_path, ambient, mask_path, position_path, depth_path, albedo_path,
                  lights, mode, settings, colorspace)
    plate, normal_map = image_io.read_image(plate_path), read_pass(normals_path, "normals")
    extra = {}
    if position_path:
        extra[position_path] = read_pass(position_path, "position")
    if depth_path:
        extra[depth_path] = read_pass(depth_path, "depth")
    if albedo_path:
        extra[albedo_path] = read_pass(albedo_path, "albedo")
    mask_image = read_mask(mask_path) if mask_path else None
    sizes = {plate_path: plate.shape[:2], normals_path: normal_map.shape[:2]}
    sizes.update({path: array.shape[:2] for path, array in extra.items()})
    if mask_image is not None:
        sizes[mask_path] = mask_image.shape[:2]
    if len(set(sizes.values())) != 1:
        raise errors.Failure("size mismatch: " + ", ".join(f"{p} is {w}x{h}" for p, (h, w) in sizes.items()))
    nonfinite = {}
    plate = _finite(plate, plate_path, f"replaced ({image_io.NONFINITE_FILL_TEXT})", nonfinite)
    mask = np.all(np.isfinite(normal_map), axis=-1).astype(np.float32)
    normal_map = _finite(normal_map, normals_path, "left unlit (the plate is kept there)", nonfinite)
    for path in extra:
        mask *= np.all(np.isfinite(extra[path]), axis=-1)
        extra[path] = _finite(extra[path], path, "left unlit (the plate is kept there)", nonfinite)
    if mask_image is not None:
        mask = mask * _finite(mask_image, mask_path, f"replaced ({image_io.NONFINITE_FILL_TEXT})", nonfinite)
    position = extra.get(position_path)
    if depth_path:
        depth = settings.scale_depth(extra[depth_path][..., 0])
        position = camera.position_from_depth(depth, camera.focal_pixels(depth.shape[1], settings.field_of_view()))
    plate_space = colorspaces.resolve(colorspace, plate_path)
    linear = colorspaces.convert(image_io.to_rgb(plate), plate_space, colorspaces.resolve("linear"))
    relit = relight(linear, normal_map, lights, ambient, mask, position, extra.get(albedo_path), mode)
    relit = colorspaces.convert(relit, colorspaces.resolve("linear"), output_space(plate_space, output_path))
    alpha = plate[..., -1] if plate.shape[-1] in (2, 4) else None
    with outputs.created_dirs_removed_if_empty(os.path.dirname(os.path.abspath(output_path))):
        if image_io.is_float_file(output_path):
            image_io.write_rgb_exr(output_path, relit, alpha=alpha, frame=image_io.read_frame(plate_path))
        else:
            out = np.clip(relit, 0.0, 1.0)
            out = out if alpha is None else np.concatenate([out, alpha[..., None]], -1)
            tiff = image_io.extension(output_path) in image_io.TIFF_EXTENSIONS
            (image_io.write_tiff if tiff else image_io.write_png)(output_path, out)
    return {"output": output_path, "lights": len(lights), "mode": mode, "width": int(plate.shape[1]),
            "height": int(plate.shape[0]), "nonfinite": nonfinite}
