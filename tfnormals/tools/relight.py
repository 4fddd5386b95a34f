"""Relight a plate from its normals pass: the reason the pass exists.

Maths in linear light: relit = plate · (ambient + Σ intensity_i · colour_i · wrap_i(n · l_i)),
with wrapped Lambert wrap(x) = max(0, (x + w) / (1 + w)) (w = 0 is plain Lambert; larger w
softens the terminator). Light directions are camera space (+X right, +Y up, +Z toward the
camera) and point from the surface toward the light. Outside the mask the plate is kept.
EXR plates are linear; PNG/JPEG/TIFF plates are sRGB (decoded, relit, re-encoded).

Bad inputs never reach the output: NaN/inf plate pixels are replaced with image_io.NONFINITE_FILL,
pixels whose normal is NaN/inf keep the plate as it is (no surface to light), NaN/inf mask values
count as 0; each is named in a warning with its pixel count and listed in the summary.
"""

import dataclasses
import math
import os

import numpy as np
from absl import logging

from tfnormals.core import colour, errors, image_io, normals, outputs

OUTPUT_EXTENSIONS = (".exr", ".png") + image_io.TIFF_EXTENSIONS


@dataclasses.dataclass(frozen=True)
class Light:
    """A directional light in camera space.

    Args:
      direction: (x, y, z) toward the light; normalized on use.
      color: linear RGB.
      intensity: scale of the contribution.
      wrap: wrap-lighting softness in [0, 1).
    """

    direction: tuple
    color: tuple = (1.0, 1.0, 1.0)
    intensity: float = 1.0
    wrap: float = 0.0


def shading(normal_map, light):
    """Per-pixel wrapped-Lambert factor (H×W) of one light."""
    l = normals.normalize(np.asarray(light.direction, np.float32))
    cosine = np.tensordot(normal_map, l, axes=([-1], [0]))
    return np.maximum(0.0, (cosine + light.wrap) / (1.0 + light.wrap)).astype(np.float32)


def relight(plate_linear, normal_map, lights, ambient=1.0, mask=None):
    """Relit linear RGB: plate · (ambient + Σ lights); the original plate where mask is 0.

    Args:
      plate_linear: H×W×3 linear RGB.
      normal_map: H×W×3 camera-space normals.
      lights: list of Light.
      ambient: light kept from the plate's own shading (1 keeps it, 0 replaces it).
      mask: optional H×W coverage in [0, 1] blending relit over original.
    """
    if plate_linear.shape[:2] != normal_map.shape[:2]:
        raise ValueError(f"plate is {plate_linear.shape[1]}x{plate_linear.shape[0]} but normals are "
                         f"{normal_map.shape[1]}x{normal_map.shape[0]}")
    gain = np.full(plate_linear.shape[:2] + (3,), ambient, np.float32)
    for light in lights:
        gain += shading(normal_map, light)[..., None] * (light.intensity * np.asarray(light.color, np.float32))
    relit = plate_linear * gain
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
            raise errors.UsageError(f"--{name}: give it once or once per --light_dir ({count}), not {len(values)} times")
        return list(values) * count if len(values) == 1 else list(values)

    lights = []
    for d, c, i, w in zip(directions, per_light(colors, "light_color", "1,1,1"),
                          per_light(intensities, "light_intensity", "1"), per_light(wraps, "wrap", "0")):
        direction = _numbers(d, 3, "light_dir")
        if not np.any(direction):
            raise errors.UsageError("--light_dir: 0,0,0 has no direction; give the direction toward the light")
        wrap = _numbers(w, 1, "wrap")[0]
        if not 0.0 <= wrap < 1.0:
            raise errors.UsageError(f"--wrap: must be in [0, 1), got {wrap:g}")
        color = _numbers(c, 3, "light_color")
        if min(color) < 0:
            raise errors.UsageError(f"--light_color: must not be negative, got {c!r}")
        lights.append(Light(direction, color, _numbers(i, 1, "light_intensity")[0], wrap))
    return lights


def read_normals(path):
    """Normals from a float EXR (as stored) or an 8/16-bit file (0.5·n + 0.5); NaN/inf stay as read."""
    n = image_io.read_image(path)
    if n.shape[-1] < 3:
        raise errors.Failure(f"{path}: a normals pass needs 3 channels (X, Y, Z); the file has {n.shape[-1]}")
    n = n[..., :3]
    return n if image_io.is_float_file(path) else normals.decode(n)


def read_mask(path):
    """A mask image's coverage: its alpha when it has one, else its first channel."""
    m = image_io.read_image(path)
    return m[..., -1] if m.shape[-1] in (2, 4) else m[..., 0]


def check_request(plate_path, normals_path, output_path, ambient=1.0, mask_path=""):
    """Raise errors.UsageError, naming the flag, for anything wrong with a relight before it starts."""
    for flag, path in (("plate", plate_path), ("normals", normals_path), ("mask", mask_path)):
        if path and not os.path.isfile(path):
            kind = "a folder, not a file" if os.path.isdir(path) else "no such file"
            raise errors.MissingPathError(f"--{flag}: {path}: {kind}")
    if image_io.extension(output_path) not in OUTPUT_EXTENSIONS:
        raise errors.UsageError(f"--output: {output_path} must end in one of {', '.join(OUTPUT_EXTENSIONS)}")
    outputs.check_writable_file(output_path, "--output")
    if not (math.isfinite(ambient) and ambient >= 0):
        raise errors.UsageError(f"--ambient: must be 0 or more, got {ambient:g}")


def _finite(array, path, what, nonfinite):
    """Replace NaN/inf (image_io.fill_nonfinite), warn naming the file and count them in `nonfinite`."""
    array, count = image_io.fill_nonfinite(array)
    if count:
        logging.warning("%s: %d pixel(s) with NaN/inf values %s", path, count, what)
        nonfinite[path] = count
    return array


def relight_file(plate_path, normals_path, output_path, lights, ambient=1.0, mask_path=""):
    """Read a plate and its normals, relight, and write the result (EXR linear, PNG/TIFF sRGB), keeping alpha.

    Returns the summary the command prints: {'output', 'lights', 'width', 'height', 'nonfinite': {file: pixels}}.
    """
    check_request(plate_path, normals_path, output_path, ambient, mask_path)
    plate, normal_map = image_io.read_image(plate_path), read_normals(normals_path)
    mask_image = read_mask(mask_path) if mask_path else None
    sizes = {plate_path: plate.shape[:2], normals_path: normal_map.shape[:2]}
    if mask_image is not None:
        sizes[mask_path] = mask_image.shape[:2]
    if len(set(sizes.values())) != 1:
        raise errors.Failure("size mismatch: " + ", ".join(f"{p} is {w}x{h}" for p, (h, w) in sizes.items()))
    nonfinite = {}
    plate = _finite(plate, plate_path, f"replaced ({image_io.NONFINITE_FILL_TEXT})", nonfinite)
    mask = np.all(np.isfinite(normal_map), axis=-1).astype(np.float32)
    normal_map = _finite(normal_map, normals_path, "left unlit (the plate is kept there)", nonfinite)
    if mask_image is not None:
        mask = mask * _finite(mask_image, mask_path, f"replaced ({image_io.NONFINITE_FILL_TEXT})", nonfinite)
    rgb = image_io.to_rgb(plate)
    linear = rgb if image_io.is_float_file(plate_path) else colour.srgb_to_linear(rgb)
    relit = relight(linear, normal_map, lights, ambient, mask)
    alpha = plate[..., -1] if plate.shape[-1] in (2, 4) else None
    with outputs.created_dirs_removed_if_empty(os.path.dirname(os.path.abspath(output_path))):
        if image_io.is_float_file(output_path):
            image_io.write_rgb_exr(output_path, relit, alpha=alpha)
        else:
            out = colour.linear_to_srgb(relit)
            out = out if alpha is None else np.concatenate([out, alpha[..., None]], -1)
            tiff = image_io.extension(output_path) in image_io.TIFF_EXTENSIONS
            (image_io.write_tiff if tiff else image_io.write_png)(output_path, out)
    return {"output": output_path, "lights": len(lights), "width": int(plate.shape[1]), "height": int(plate.shape[0]),
            "nonfinite": nonfinite}
