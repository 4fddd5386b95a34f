"""Export a trained generator as a SavedModel that any TensorFlow program can load, or as ONNX.

Usage:
  python -m tfnormals.export --checkpoint=checkpoints/RUN --output=SAVEDMODEL_DIR
  python -m tfnormals.export --format=onnx --checkpoint=RUN_OR_SAVEDMODEL --output=model.onnx
  python -m tfnormals.export --checkpoint=RUN/ckpt/ckpt-A,RUN/ckpt/ckpt-B [--average_weights=1,1] --output=DIR
  python -m tfnormals.export --checkpoint=... --depth_contrast=0.8 --output=DIR

The SavedModel's `serving_default` signature takes `images`: float32 [N, H, W, 3], sRGB-encoded
in [0, 1], any H and W, and returns `normals`: float32 [N, H, W, 3], unit camera-space normals
(+X right, +Y up, +Z toward the camera). Loading it needs only TensorFlow:

  fn = tf.saved_model.load(DIR).signatures["serving_default"]
  normals = fn(images=tf.constant(batch))["normals"]

`tfnormals.json` beside `saved_model.pb` records the conventions and the training config.

--format=onnx converts a run or an existing SavedModel (e.g. tfnormals/assets/model) with tf2onnx
(tfnormals.tools.onnx_export): the same input and outputs, any H×W, the metadata inside the file;
`predict --model=model.onnx` runs it with onnxruntime, without TensorFlow (needs the `onnx` extra).
Several checkpoints (comma-separated: run folders, checkpoint prefixes, or SavedModels this command exported,
such as the shipped model) export the weighted mean of their weights (checkpoint averaging; one architecture;
the metadata lists them with their steps and weights, the config is the first's).
--depth_contrast=k exports depth ** k (the depth head's log depth times k; recorded in the metadata): fit k on
renders the model trained on with `evaluate`, which reports the depth AbsRel at each contrast.
stdout is one JSON line describing the export. Exit code 2 for a usage mistake (a missing
checkpoint, an output that is not a SavedModel folder), 1 when the checkpoint cannot be restored.
"""

import dataclasses
import os

from absl import flags

from tfnormals.core import cli, errors, layout, outputs
from tfnormals.tools import model_io

FORMATS = ("savedmodel", "onnx")

FLAGS = flags.FLAGS


def define_flags():
    """Command-line flags (defined only when run as a program, so importing defines none)."""
    flags.DEFINE_string("checkpoint", None, "Run folder (with config.json and ckpt/), a checkpoint prefix, or "
                        "an exported SavedModel folder; several, comma-separated, export the mean of their weights "
                        "(a SavedModel among them: the model it was exported from).")
    flags.DEFINE_list("average_weights", [], "Weights of the comma-separated --checkpoint list in the mean "
                      "(default: equal).")
    flags.DEFINE_string("output", None, "SavedModel folder, or .onnx file, to write.")
    flags.DEFINE_enum("format", "savedmodel", list(FORMATS), "savedmodel: a TensorFlow SavedModel folder; "
                      "onnx: one .onnx file (tf2onnx; run by predict with onnxruntime).")
    flags.DEFINE_float("depth_contrast", 1.0, "Export depth ** k: the depth head's log depth times k (k < 1 "
                       "flattens, k > 1 stretches); fit it with evaluate on renders the model trained on.")
    flags.DEFINE_integer("working_size", 0, "Longer side of predict's global pass written into the model (0 = the "
                         "run's --working_size; choose it with evaluate --working_size: it does not change training).")


def check_request(checkpoint, output, fmt="savedmodel", working_size=0, average_weights=(), depth_contrast=1.0):
    """Raise errors.UsageError, naming the flag, for a missing checkpoint, a negative working size, a depth contrast
    that is not positive, averaging weights that do not fit the checkpoints or an output that must not be
    replaced."""
    if working_size < 0:
        raise errors.UsageError(f"--working_size: must be 0 (the run's) or more, got {working_size}")
    if not depth_contrast > 0:
        raise errors.UsageError(f"--depth_contrast: must be above 0, got {depth_contrast}")
    checkpoints = checkpoint_list(checkpoint)
    for path in checkpoints:
        if not (os.path.exists(path) or os.path.isfile(path + ".index")):
            raise errors.MissingPathError(f"--checkpoint: {path}: no such run folder or checkpoint prefix")
    averaging_weights(average_weights, len(checkpoints))
    if fmt not in FORMATS:
        raise errors.UsageError(f"--format: must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if fmt == "onnx":
        if not output.lower().endswith(".onnx"):
            raise errors.UsageError(f"--output: {output} must end in .onnx with --format=onnx")
        outputs.check_writable_file(output, "--output")
        return
    model_io.check_savedmodel_output(output, "--output")


def checkpoint_list(checkpoint):
    """The run folders or checkpoint prefixes of a --checkpoint value (comma-separated)."""
    return [path.strip() for path in checkpoint.split(",") if path.strip()]


def averaging_weights(values, count):
    """Each checkpoint's share of the mean (summing to 1; equal without --average_weights); errors.UsageError unless
    there is one non-negative number per checkpoint, with a positive sum."""
    if not values:
        return [1.0 / count] * count
    try:
        weights = [float(v) for v in values]
    except ValueError:
        raise errors.UsageError(f"--average_weights: {','.join(values)}: not a list of numbers") from None
    if len(weights) != count or min(weights) < 0 or sum(weights) <= 0:
        raise errors.UsageError(f"--average_weights: needs one non-negative weight per --checkpoint ({count}) with "
                                f"a positive sum, got {','.join(values)}")
    return [weight / sum(weights) for weight in weights]


def _restore(checkpoint, working_size=0, average_weights=(), depth_contrast=1.0):
    """(generator, config, metadata) of a run folder, checkpoint prefix or SavedModel, or the weighted mean of
    several (one checkpoint is the mean with a share of 1), the config's working size replaced when `working_size`
    is given, its depth raised to `depth_contrast`; errors name --checkpoint or --depth_contrast."""
    import tensorflow as tf

    from tfnormals.training import runs
    checkpoints = checkpoint_list(checkpoint)
    shares = averaging_weights(average_weights, len(checkpoints))
    try:
        generator, config, steps = runs.averaged_generator(checkpoints, shares)
    except runs.RunError as e:
        raise errors.UsageError(f"--checkpoint: {e}") from None
    except tf.errors.OpError as e:
        raise errors.Failure(f"--checkpoint: {checkpoint}: cannot restore ({errors.one_line(e.message)[:300]})")
    config = dataclasses.replace(config, working_size=working_size or config.working_size)
    info = runs.metadata(config, max(steps))  # an average is as far along as its latest checkpoint
    if len(checkpoints) > 1:
        info["averaged_checkpoints"] = [{"checkpoint": path, "step": step, "weight": share}
                                        for path, step, share in zip(checkpoints, steps, shares)]
    if depth_contrast != 1.0:
        if "depth" not in config.generator_kwargs()["passes"]:
            raise errors.UsageError(f"--depth_contrast: {checkpoint} predicts no depth")
        from tfnormals.model import unet
        unet.scale_depth_contrast(generator, depth_contrast)
        info["depth_contrast"] = depth_contrast
    return generator, config, info


def export_onnx(checkpoint, output, working_size=0, average_weights=(), depth_contrast=1.0):
    """Write a run's generator or a SavedModel as ONNX; returns the metadata stored in the file."""
    try:
        import tf2onnx  # noqa: F401  (checked here, before a run is restored)

        from tfnormals.tools import onnx_export
    except ImportError as e:
        raise errors.UsageError(f"--format=onnx needs tf2onnx and onnx ({e}; pip install 'tfnormals[onnx]')") from None
    if layout.is_savedmodel(checkpoint):
        for flag, value, default in (("working_size", working_size, 0), ("depth_contrast", depth_contrast, 1.0)):
            if value != default:
                raise errors.UsageError(f"--{flag}: only for a run's checkpoint; a SavedModel converts as it is")
        try:
            return onnx_export.savedmodel_to_onnx(checkpoint, output)
        except errors.UsageError as e:
            raise errors.UsageError(f"--checkpoint: {e}") from None
    generator, _, info = _restore(checkpoint, working_size, average_weights, depth_contrast)
    return onnx_export.generator_to_onnx(generator, output, info)


def main(argv):
    del argv
    if not FLAGS.checkpoint or not FLAGS.output:
        raise errors.UsageError("--checkpoint and --output are required")
    check_request(FLAGS.checkpoint, FLAGS.output, FLAGS.format, FLAGS.working_size, FLAGS.average_weights,
                  FLAGS.depth_contrast)
    if FLAGS.format == "onnx":
        info = export_onnx(FLAGS.checkpoint, FLAGS.output, FLAGS.working_size, FLAGS.average_weights,
                           FLAGS.depth_contrast)
        cli.emit({"output": FLAGS.output, "format": "onnx", "step": info.get("step"), "stride": info["stride"],
                  "passes": info["passes"], "opset": info["opset"]})
        return
    from tfnormals.model import serving
    generator, config, info = _restore(FLAGS.checkpoint, FLAGS.working_size, FLAGS.average_weights,
                                       FLAGS.depth_contrast)
    serving.export_generator(generator, FLAGS.output, info)
    cli.emit({"output": FLAGS.output, "step": info["step"], "stride": 2 ** config.levels,
              "params": generator.count_params(), "working_size": config.global_pass_size,
              "signature": "serving_default",
              "input": serving.INPUT_NAME, "output_key": serving.OUTPUT_NAME})


if __name__ == "__main__":
    define_flags()
    cli.run(main, "tfnormals.export")
