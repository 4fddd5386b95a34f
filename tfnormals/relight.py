r"""Relight a plate from its passes (the maths: tfnormals.tools.relighting).

Usage:
  python -m tfnormals.relight --plate=F --normals=F --output=F --light_dir=x,y,z
  python -m tfnormals.relight --plate=p.exr --normals=p.normals.exr --output=relit.exr \
      --light_dir=-1,0.3,0.5 --light_color=1,0.8,0.6 --light_intensity=1.5 --wrap=0.3 \
      --light_dir=1,0,0.2 --light_color=0.3,0.4,1 --light_intensity=0.8 --ambient=0.6
  # a rig with point and spot lights, replacing the plate's light with albedo × new shading:
  python -m tfnormals.relight --plate=p.exr --normals=p.normals.exr --position=p.position.exr \
      --albedo=p.albedo.exr --lights=rig.json --mode=replace --output=relit.exr
  # an ACEScg plate: relit in linear light, written back in ACEScg
  python -m tfnormals.relight --plate=p.exr --input_colorspace=ACEScg --normals=p.normals.exr \
      --output=relit.exr --light_dir=-1,0.3,0.5
  # a sequence: frame patterns (####) for the plate, the passes and the output
  python -m tfnormals.relight --plate=shot/p.####.exr --normals=out/p.normals.####.exr \
      --position=out/p.position.####.exr --lights=rig.json --output=relit/p.####.exr --frames=1001-1100

stdout is one JSON line: {"output", "lights", "mode", "width", "height", "nonfinite": {file: pixels}}; for a
sequence {"written": [outputs], "failed": {plate: reason}, "missing": [plates], "lights", "mode", "nonfinite"}
(tfnormals.tools.relight_sequence). Exit code 2 for a usage mistake, 1 when an input cannot be read or the sizes
differ (for a sequence: when any frame failed or is missing).
"""

from absl import flags

from tfnormals.core import camera, cli, colorspaces, errors, frames
from tfnormals.tools import light_rigs, relight_sequence, relighting

FLAGS = flags.FLAGS


def define_flags():
    """Command-line flags (only when run as a program)."""
    flags.DEFINE_string("plate", None, "Plate image (colour space: --input_colorspace), or a frame pattern "
                        "(plate.####.exr: then the passes and --output are patterns too).")
    flags.DEFINE_string("frames", "", "Frame range of a --plate pattern, e.g. 1001-1100 (default: all found).")
    colorspaces.define_flags("plate")
    flags.DEFINE_string("normals", None, "Normals pass (EXR floats — N.X/N.Y/N.Z of a combined EXR or R,G,B — "
                        "or 8/16-bit 0.5n+0.5).")
    flags.DEFINE_string("position", "", "Position pass (EXR: P.X/P.Y/P.Z, or R,G,B), for point and spot lights.")
    flags.DEFINE_string("depth", "", "Depth pass (EXR: depth.Z or Z) instead of --position, with the field of view.")
    flags.DEFINE_string("albedo", "", "Albedo pass (EXR: albedo.R/G/B or R,G,B; or sRGB 8/16-bit), for --mode=replace.")
    flags.DEFINE_string("mask", "", "Optional mask image (first channel, or alpha if RGBA).")
    flags.DEFINE_string("output", None, "Relit image: .exr (the plate's colour space if scene-linear, else "
                        "Linear Rec.709) or .png/.tif (sRGB).")
    flags.DEFINE_string("lights", "", "JSON light rig (directional, point, spot lights; mode; ambient). "
                        "See tfnormals.tools.light_rigs.load_rig.")
    flags.DEFINE_multi_string("light_dir", [], "Direction toward a directional light, x,y,z camera space (repeatable).")
    flags.DEFINE_multi_string("light_color", [], "Linear RGB r,g,b per --light_dir (or once for all).")
    flags.DEFINE_multi_string("light_intensity", [], "Intensity per --light_dir (or once for all).")
    flags.DEFINE_multi_string("wrap", [], "Wrap softness per --light_dir in [0, 1) (or once for all).")
    flags.DEFINE_float("ambient", None, "add mode: share of the plate's own lighting kept (1 = only add the "
                       f"lights; default {relighting.DEFAULT_AMBIENT['add']}); replace mode: flat ambient light "
                       f"(default {relighting.DEFAULT_AMBIENT['replace']}). Overrides the rig's.")
    flags.DEFINE_enum("mode", "add", list(relighting.MODES), "add: plate × shading; replace: albedo × shading "
                      "(needs --albedo). Overrides the rig's.")
    camera.define_flags("With --depth: ")


def main(argv):
    del argv
    if FLAGS.list_colorspaces:
        cli.emit(colorspaces.listing())
        return
    missing = [f"--{name}" for name in ("plate", "normals", "output") if not FLAGS[name].value]
    if not (FLAGS.light_dir or FLAGS.lights):
        missing.append("--light_dir or --lights")
    if missing:
        raise errors.UsageError(f"{', '.join(missing)} required (--help lists the flags)")
    lights, rig_ambient, mode = [], None, FLAGS.mode
    if FLAGS.lights:
        lights, rig_ambient, rig_mode = light_rigs.load_rig(FLAGS.lights)
        mode = FLAGS.mode if FLAGS["mode"].present else rig_mode
    ambient = next(a for a in (FLAGS.ambient, rig_ambient, relighting.DEFAULT_AMBIENT[mode]) if a is not None)
    if FLAGS.light_dir:
        lights += light_rigs.parse_lights(FLAGS.light_dir, FLAGS.light_color, FLAGS.light_intensity, FLAGS.wrap)
    request = relighting.RelightRequest(
        plate=FLAGS.plate, normals=FLAGS.normals, output=FLAGS.output, lights=tuple(lights), ambient=ambient, mode=mode,
        mask=FLAGS.mask, position=FLAGS.position, depth=FLAGS.depth, albedo=FLAGS.albedo,
        camera_settings=camera.settings_from_flags(FLAGS), colorspace=FLAGS.input_colorspace)
    if frames.is_frame_pattern(FLAGS.plate) or FLAGS.frames:
        result = relight_sequence.relight_sequence(request, frames=FLAGS.frames)
        cli.emit(result)
        if result["failed"] or result["missing"]:
            raise errors.Failure(f"{len(result['failed'])} frame(s) failed and {len(result['missing'])} missing "
                                 "(failed, missing in the summary)")
        return
    cli.emit(relighting.relight_file(request))


if __name__ == "__main__":
    define_flags()
    cli.run(main, "tfnormals.relight")
