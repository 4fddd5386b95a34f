"""Relight a plate from its normals pass: the reason the pass exists.

Usage:
  python -m tfnormals.relight --plate=F --normals=F --output=F --light_dir=x,y,z
  python -m tfnormals.relight --plate=p.exr --normals=p.normals.exr --output=relit.exr \
      --light_dir=-1,0.3,0.5 --light_color=1,0.8,0.6 --light_intensity=1.5 --wrap=0.3 \
      --light_dir=1,0,0.2 --light_color=0.3,0.4,1 --light_intensity=0.8 --ambient=0.6

Maths in linear light: relit = plate · (ambient + Σ intensity_i · colour_i · wrap_i(n · l_i)),
with wrapped Lambert wrap(x) = max(0, (x + w) / (1 + w)) (w = 0 is plain Lambert; larger w
softens the terminator). Light directions are camera space (+X right, +Y up, +Z toward the
camera) and point from the surface toward the light. Outside the mask the plate is kept.
EXR plates are linear; PNG/JPEG/TIFF plates are sRGB (decoded, relit, re-encoded).
"""

import dataclasses

import numpy as np
from absl import app, flags

from tfnormals import colour, image_io, normals

FLAGS = flags.FLAGS


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


def read_normals(path):
    """Normals from a float EXR (as stored) or an 8/16-bit file (0.5·n + 0.5)."""
    n = image_io.to_rgb(image_io.read_image(path))
    return n if image_io.is_float_file(path) else normals.decode(n)


def _vectors(values, name, count, default):
    if not values:
        return [default] * count
    if len(values) not in (1, count):
        raise app.UsageError(f"give --{name} once or once per --light_dir ({count})")
    parsed = [tuple(float(v) for v in value.split(",")) for value in values]
    return parsed * count if len(parsed) == 1 else parsed


def define_flags():
    """Command-line flags (only when run as a program)."""
    flags.DEFINE_string("plate", None, "Plate image (EXR linear, else sRGB).")
    flags.DEFINE_string("normals", None, "Normals pass (EXR floats or 8/16-bit 0.5n+0.5).")
    flags.DEFINE_string("mask", "", "Optional mask image (first channel, or alpha if RGBA).")
    flags.DEFINE_string("output", None, "Relit image: .exr (linear) or .png/.tif (sRGB).")
    flags.DEFINE_multi_string("light_dir", [], "Direction toward a light, x,y,z camera space (repeatable).")
    flags.DEFINE_multi_string("light_color", [], "Linear RGB r,g,b per light (or once for all).")
    flags.DEFINE_multi_string("light_intensity", [], "Intensity per light (or once for all).")
    flags.DEFINE_multi_string("wrap", [], "Wrap softness per light in [0, 1) (or once for all).")
    flags.DEFINE_float("ambient", 1.0, "Share of the plate's own lighting kept (1 = add the lights).")


def main(argv):
    del argv
    if not (FLAGS.plate and FLAGS.normals and FLAGS.output and FLAGS.light_dir):
        raise app.UsageError("--plate, --normals, --output and at least one --light_dir are required")
    if image_io.extension(FLAGS.output) not in (".exr", ".png") + image_io.TIFF_EXTENSIONS:
        raise app.UsageError(f"--output must end in .exr, .png, .tif or .tiff: {FLAGS.output}")
    count = len(FLAGS.light_dir)
    lights = [Light(direction=d, color=c, intensity=i[0], wrap=w[0]) for d, c, i, w in zip(
        _vectors(FLAGS.light_dir, "light_dir", count, None), _vectors(FLAGS.light_color, "light_color", count, (1.0,) * 3),
        _vectors(FLAGS.light_intensity, "light_intensity", count, (1.0,)), _vectors(FLAGS.wrap, "wrap", count, (0.0,)))]
    for light in lights:
        if len(light.direction) != 3 or len(light.color) != 3:
            raise app.UsageError(f"light directions and colours need three numbers: {light}")
    plate = image_io.read_image(FLAGS.plate)
    rgb = image_io.to_rgb(plate)
    linear = rgb if image_io.is_float_file(FLAGS.plate) else colour.srgb_to_linear(rgb)
    mask = None
    if FLAGS.mask:
        m = image_io.read_image(FLAGS.mask)
        mask = m[..., 3] if m.shape[-1] == 4 else m[..., 0]
    relit = relight(linear, read_normals(FLAGS.normals), lights, FLAGS.ambient, mask)
    alpha = plate[..., -1] if plate.shape[-1] in (2, 4) else None
    if image_io.is_float_file(FLAGS.output):
        image_io.write_rgb_exr(FLAGS.output, relit, alpha=alpha)
    else:
        out = colour.linear_to_srgb(relit)
        out = out if alpha is None else np.concatenate([out, alpha[..., None]], -1)
        (image_io.write_tiff if image_io.extension(FLAGS.output) in image_io.TIFF_EXTENSIONS else
         image_io.write_png)(FLAGS.output, out)
    print(f"wrote {FLAGS.output} with {count} light(s)")


if __name__ == "__main__":
    define_flags()
    app.run(main)
