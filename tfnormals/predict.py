"""Predict passes (normals; depth, position, albedo when the model has them) for plates: single
files, folders, globs and frame sequences (the work: tfnormals.tools.prediction).

Usage:
  python -m tfnormals.predict --input=PATH_OR_PATTERN --output=DIR [--model=SAVEDMODEL_DIR]
  python -m tfnormals.predict --input="shot/plate.####.exr" --frames=1001-1100 --output=out --combined
  python -m tfnormals.predict --input=plate.####.dpx --input_colorspace="ARRI LogC4" --model=model.onnx
  python -m tfnormals.predict --list_colorspaces

For each plate it writes, atomically, `<name>.normals.exr` (float R,G,B = camera-space X,Y,Z,
plus A from the plate's alpha if it has one) and `<name>.normals.png` (0.5·n + 0.5 preview), and
for a model with them `<name>.depth.exr`, `.position.exr`, `.albedo.exr`, each with a PNG preview;
with --combined also `<name>.combined.exr` holding the plate (R,G,B[,A]) and the normals as a
Nuke-style layer N.X, N.Y, N.Z. Frame names keep the frame number last
(plate.1001.exr → plate.normals.1001.exr). Frames whose outputs exist, read in full and were made
from the same plate with the same settings (model, mode and the mode's settings, --temporal, ...) are skipped
(resume); outputs of another plate or other settings are kept and the frame fails, unless
--overwrite. Unreadable frames are reported and skipped. --mode picks how the network sees a plate:
fused (default: a pass at the model's working size for the layout, finer passes for detail, up to
--max_pass, then upsampled guided by the plate), global (one pass at the working size: fastest,
soft), tiled (native resolution in tiles: sharp, but without the frame's context on large plates).
EXR outputs keep the plate's data/display windows and metadata. An .onnx model runs with
onnxruntime, without TensorFlow. A frame pattern is predicted as a sequence (--temporal=auto; on, off): each
plate's passes blended with the flow-warped passes of the frames before it (tfnormals.tools.temporal); a resumed
run continues from the last frame written, and a --frames chunk first warms up on --temporal_warmup plates. With
--matchmove=CAMERAS (the shot's camera per frame) still surfaces follow the camera's move with the predicted depth
(tfnormals.tools.matchmove); a frame the file has no camera for is a usage error before any work, and so is one
without a matte when --matchmove_mattes=roto.####.png marks what moves on its own (the image flow is kept there).

stdout is one JSON line: counts ("written", "skipped_existing", "failed", "missing", "nonfinite")
and the frames behind them ("failed_frames": {plate: reason}, "missing_frames": [...],
"nonfinite_frames": {plate: pixels filled}). Exit code 1 when any frame failed or is missing,
2 for a usage mistake (tfnormals.core.cli).
"""

import os

from absl import flags

from tfnormals.core import camera, cli, colorspaces, errors, resources
from tfnormals.tools import fusion, prediction, temporal
from tfnormals.tools.plates import expand_inputs

FLAGS = flags.FLAGS


def define_flags():
    """Command-line flags (only when run as a program)."""
    flags.DEFINE_string("input", resources.EXAMPLE_PLATE, "Plate file, folder, glob or frame pattern (####).")
    flags.DEFINE_string("frames", "", "Frame range for a frame pattern, e.g. 1001-1100 (default: all found).")
    flags.DEFINE_string("output", "outputs", "Output folder.")
    flags.DEFINE_string("model", resources.DEFAULT_MODEL_DIR, "SavedModel folder, training run folder or .onnx file "
                        "(tfnormals.export --format=onnx; runs without TensorFlow).")
    colorspaces.define_flags("plates")
    flags.DEFINE_enum("mode", "fused", fusion.MODES, "fused: the layout from a pass at the model's working size, "
                      "detail from finer passes; global: one pass at the working size; tiled: native resolution in "
                      "tiles (no whole-frame context on large plates).")
    flags.DEFINE_integer("working_size", 0, "Longer side of the global pass (0 = the model's, from its metadata).")
    flags.DEFINE_integer("max_pass", fusion.DEFAULT_MAX_PASS, "fused: longer side of the finest pass; larger plates "
                         "are upsampled from it guided by the plate (0 = the plate's size).")
    flags.DEFINE_float("detail", fusion.DEFAULT_DETAIL, "fused: share of each finer pass's own detail kept (0 = the "
                       "layout only, brought up guided by the plate).")
    flags.DEFINE_integer("tile", 512, "Tile side for passes larger than it (0 = whole image).")
    flags.DEFINE_integer("overlap", 64, "Tile overlap in pixels.")
    flags.DEFINE_boolean("combined", False, "Also write the plate and every pass as layers of one EXR "
                         "(N.X/N.Y/N.Z, depth.Z, P.X/P.Y/P.Z, albedo.R/G/B).")
    camera.define_flags()
    flags.DEFINE_boolean("overwrite", False, "Redo plates whose outputs exist.")
    flags.DEFINE_enum("temporal", "auto", temporal.MODES, "Predict a sequence as a sequence: each plate's passes "
                      "blended with the flow-warped passes before it (auto: on for a frame pattern; off: per frame).")
    flags.DEFINE_integer("temporal_warmup", temporal.DEFAULT_WARMUP, "With --frames: plates before the first frame "
                         "predicted (not written) to fill the temporal history, so farm tasks join up.")
    flags.DEFINE_string("matchmove", "", "Temporal mode: the plates' cameras, by frame number (a camera JSON, a "
                        "render_shots shot.json or a Nuke .chan in ZXY order; tfnormals.core.camera_files): still "
                        "surfaces follow the camera's move, not only the image flow (lenses the file does not give: "
                        "--hfov or --focal_mm).")
    flags.DEFINE_string("matchmove_mattes", "", "With --matchmove: mattes of what moves on its own, by frame number (a "
                        "frame pattern, e.g. roto.####.png; white, or alpha, = a moving object): there the temporal "
                        "mode follows the image, not the camera's move.")


def main(argv):
    del argv
    if FLAGS.list_colorspaces:
        cli.emit(colorspaces.listing())
        return
    plates = expand_inputs(FLAGS.input, FLAGS.frames)
    if not plates.paths and not plates.missing:
        what = "folder" if os.path.isdir(FLAGS.input) else "pattern"
        raise errors.UsageError(f"--input: no plates in {what} {FLAGS.input!r} (our own *.normals.* and *.combined.* "
                                "outputs are not plates)")
    settings = camera.settings_from_flags(FLAGS)
    inference = fusion.PassSettings(mode=FLAGS.mode, working_size=FLAGS.working_size, max_pass=FLAGS.max_pass,
                                    tile=FLAGS.tile, overlap=FLAGS.overlap, detail=FLAGS.detail)
    inference = temporal.pass_settings(FLAGS.temporal, inference, FLAGS.input, frames=FLAGS.frames,
                                       colorspace=FLAGS.input_colorspace, camera=settings, warmup=FLAGS.temporal_warmup,
                                       matchmove_file=FLAGS.matchmove, matchmove_mattes=FLAGS.matchmove_mattes,
                                       plate_paths=plates.paths)
    options = dict(colorspace=FLAGS.input_colorspace, inference=inference, settings=settings)
    prediction.check_request(plates.paths, FLAGS.output, combined=FLAGS.combined, **options)
    from tfnormals.tools import model_io  # TensorFlow (not for .onnx): only once the request is known to be sound
    model = model_io.load_model(FLAGS.model)
    result = prediction.predict_files(model, plates.paths, FLAGS.output, combined=FLAGS.combined,
                                      overwrite=FLAGS.overwrite, missing=plates.missing, **options)
    cli.emit(prediction.summary(result))
    if result["failed"] or result["missing"]:
        raise errors.Failure(f"{len(result['failed'])} of {len(plates.paths)} frame(s) failed and "
                             f"{len(result['missing'])} missing (failed_frames, missing_frames in the summary)")


if __name__ == "__main__":
    define_flags()
    cli.run(main, "tfnormals.predict")
