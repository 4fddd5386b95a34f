"""Relight a plate from its normals pass (the maths: tfnormals.tools.relight).

Usage:
  python -m tfnormals.relight --plate=F --normals=F --output=F --light_dir=x,y,z
  python -m tfnormals.relight --plate=p.exr --normals=p.normals.exr --output=relit.exr \
      --light_dir=-1,0.3,0.5 --light_color=1,0.8,0.6 --light_intensity=1.5 --wrap=0.3 \
      --light_dir=1,0,0.2 --light_color=0.3,0.4,1 --light_intensity=0.8 --ambient=0.6

stdout is one JSON line: {"output", "lights", "width", "height", "nonfinite": {file: pixels}}.
Exit code 2 for a usage mistake, 1 when an input cannot be read or the sizes differ.
"""

from absl import flags

from tfnormals.core import cli, errors

from tfnormals.tools import relight

FLAGS = flags.FLAGS


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
        missing = [f"--{name}" for name in ("plate", "normals", "output", "light_dir") if not FLAGS[name].value]
        raise errors.UsageError(f"{', '.join(missing)} required (--help lists the flags)")
    lights = relight.parse_lights(FLAGS.light_dir, FLAGS.light_color, FLAGS.light_intensity, FLAGS.wrap)
    cli.emit(relight.relight_file(FLAGS.plate, FLAGS.normals, FLAGS.output, lights, FLAGS.ambient, FLAGS.mask))


if __name__ == "__main__":
    define_flags()
    cli.run(main, "tfnormals.relight")
