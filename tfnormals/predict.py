"""Predict passes (normals; depth, position, albedo when the model has them) for plates: single
files, folders, globs and frame sequences (the work: tfnormals.tools.predict).

Usage:
  python -m tfnormals.predict --input=PATH_OR_PATTERN --output=DIR [--model=SAVEDMODEL_DIR]
  python -m tfnormals.predict --input="shot/plate.####.exr" --frames=1001-1100 --output=out --combined
  python -m tfnormals.predict --input=plate.####.dpx --input_colorspace="ARRI LogC4" --model=model.onnx
  python -m tfnormals.predict --list_colorspaces

For each plate it writes, atomically, `<name>.normals.exr` (float R,G,B = camera-space X,Y,Z,
plus A from the plate's alpha if it has one) and `<name>.normals.png` (0.5·n + 0.5 preview);
with --combined also `<name>.combined.exr` holding the plate (R,G,B[,A]) and the normals as a
Nuke-style layer N.X, N.Y, N.Z. Frame names keep the frame number last
(plate.1001.exr → plate.normals.1001.exr). Frames whose outputs exist, read in full and were made
from the same plate with the same settings are skipped (resume); outputs of another plate or other
settings are kept and the frame fails, unless --overwrite. Unreadable frames are reported and skipped. Large plates are predicted in overlapping tiles.
EXR outputs keep the plate's data/display windows and metadata. An .onnx model runs with
onnxruntime, without TensorFlow.

stdout is one JSON line: counts ("written", "skipped_existing", "failed", "missing", "nonfinite")
and the frames behind them ("failed_frames": {plate: reason}, "missing_frames": [...],
"nonfinite_frames": {plate: pixels filled}). Exit code 1 when any frame failed or is missing,
2 for a usage mistake (tfnormals.core.cli).
"""

import os

from absl import flags

from tfnormals.core import camera, cli, colorspaces, errors, resources
from tfnormals.tools import predict
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
    flags.DEFINE_integer("tile", 512, "Tile side for large plates (0 = whole image).")
    flags.DEFINE_integer("overlap", 64, "Tile overlap in pixels.")
    flags.DEFINE_integer("max_side", 0, "Run the network with the plate's longer side scaled to this and "
                         "upsample the normals (0 = native resolution).")
    flags.DEFINE_boolean("combined", False, "Also write the plate and every pass as layers of one EXR "
                         "(N.X/N.Y/N.Z, depth.Z, P.X/P.Y/P.Z, albedo.R/G/B).")
    camera.define_flags()
    flags.DEFINE_boolean("overwrite", False, "Redo plates whose outputs exist.")


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
    predict.check_request(plates.paths, FLAGS.output, FLAGS.combined, FLAGS.input_colorspace, FLAGS.tile,
                          FLAGS.overlap, FLAGS.max_side, settings)
    from tfnormals.tools import model_io  # TensorFlow (not for .onnx): only once the request is known to be sound
    model = model_io.load_model(FLAGS.model)
    result = predict.predict_files(model, plates.paths, FLAGS.output, FLAGS.input_colorspace, FLAGS.tile,
                                   FLAGS.overlap, FLAGS.combined, FLAGS.overwrite, FLAGS.max_side, plates.missing,
                                   settings)
    cli.emit(predict.summary(result))
    if result["failed"] or result["missing"]:
        raise errors.Failure(f"{len(result['failed'])} of {len(plates.paths)} frame(s) failed and "
                             f"{len(result['missing'])} missing (failed_frames, missing_frames in the summary)")


if __name__ == "__main__":
    define_flags()
    cli.run(main, "tfnormals.predict")
