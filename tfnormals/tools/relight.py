"""Relight a plate from its normals pass: the reason the pass exists.

Maths in linear light: relit = plate · (ambient + Σ intensity_i · colour_i · wrap_i(n · l_i)),
with wrapped Lambert wrap(x) = max(0, (x + w) / (1 + w)) (w = 0 is plain Lambert; larger w
softens the terminator). Light directions are camera space (+X right, +Y up, +Z toward the
camera) and point from the surface toward the light. Outside the mask the plate is kept.
EXR plates are linear; PNG/JPEG/TIFF plates are sRGB (decoded, relit, re-encoded).
"""

import dataclasses

import numpy as np

from tfnormals.core import colour, image_io, normals

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


def _numbers(text, count, what):
    try:
        values = tuple(float(v) for v in str(text).split(","))
    except ValueError:
        raise ValueError(f"{what}: expected {count} comma-separated numbers, got {text!r}") from None
    if len(values) != count:
        raise ValueError(f"{what}: expected {count} comma-separated numbers, got {text!r}")
    return values


def parse_lights(directions, colors=(), intensities=(), wraps=()):
    """Lights from per-light text values ('x,y,z' directions; colours, intensities, wraps once or per light).

    Raises ValueError naming the setting when a value is malformed or out of range.
    """
    if not directions:
        raise ValueError("light_dir: at least one light direction is needed")
    count = len(directions)

    def per_light(values, name, default):
        if not values:
            return [default] * count
        if len(values) not in (1, count):
            raise ValueError(f"{name}: give it once or once per light_dir ({count}), not {len(values)} times")
        return list(values) * count if len(values) == 1 else list(values)

    lights = []
    for d, c, i, w in zip(directions, per_light(colors, "light_color", "1,1,1"),
                          per_light(intensities, "light_intensity", "1"), per_light(wraps, "wrap", "0")):
        direction = _numbers(d, 3, "light_dir")
        if not np.any(direction):
            raise ValueError("light_dir: 0,0,0 has no direction")
        wrap = _numbers(w, 1, "wrap")[0]
        if not 0.0 <= wrap < 1.0:
            raise ValueError(f"wrap: must be in [0, 1), got {wrap:g}")
        lights.append(Light(direction, _numbers(c, 3, "light_color"), _numbers(i, 1, "light_intensity")[0], wrap))
    return lights


def read_normals(path):
    """Normals from a float EXR (as stored) or an 8/16-bit file (0.5·n + 0.5)."""
    n = image_io.to_rgb(image_io.read_image(path))
    return n if image_io.is_float_file(path) else normals.decode(n)


def read_mask(path):
    """A mask image's coverage: its alpha when it has one, else its first channel."""
    m = image_io.read_image(path)
    return m[..., -1] if m.shape[-1] in (2, 4) else m[..., 0]


def relight_file(plate_path, normals_path, output_path, lights, ambient=1.0, mask_path=""):
    """Read a plate and its normals, relight, and write the result (EXR linear, PNG/TIFF sRGB), keeping alpha."""
    if image_io.extension(output_path) not in OUTPUT_EXTENSIONS:
        raise ValueError(f"{output_path}: output must end in one of {', '.join(OUTPUT_EXTENSIONS)}")
    plate = image_io.read_image(plate_path)
    rgb = image_io.to_rgb(plate)
    linear = rgb if image_io.is_float_file(plate_path) else colour.srgb_to_linear(rgb)
    mask = read_mask(mask_path) if mask_path else None
    relit = relight(linear, read_normals(normals_path), lights, ambient, mask)
    alpha = plate[..., -1] if plate.shape[-1] in (2, 4) else None
    if image_io.is_float_file(output_path):
        image_io.write_rgb_exr(output_path, relit, alpha=alpha)
        return relit
    out = colour.linear_to_srgb(relit)
    out = out if alpha is None else np.concatenate([out, alpha[..., None]], -1)
    writer = image_io.write_tiff if image_io.extension(output_path) in image_io.TIFF_EXTENSIONS else image_io.write_png
    writer(output_path, out)
    return relit
