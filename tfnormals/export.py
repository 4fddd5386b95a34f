"""Export a trained generator as a SavedModel that any TensorFlow program can load.

Usage:
  python -m tfnormals.export --checkpoint=checkpoints/RUN --output=SAVEDMODEL_DIR

The SavedModel's `serving_default` signature takes `images`: float32 [N, H, W, 3], sRGB-encoded
in [0, 1], any H and W, and returns `normals`: float32 [N, H, W, 3], unit camera-space normals
(+X right, +Y up, +Z toward the camera). Loading it needs only TensorFlow:

  fn = tf.saved_model.load(DIR).signatures["serving_default"]
  normals = fn(images=tf.constant(batch))["normals"]

`tfnormals.json` beside `saved_model.pb` records the conventions and the training config.
stdout is one JSON line describing the export. Exit code 2 for a usage mistake (a missing
checkpoint, an output that is not a SavedModel folder), 1 when the checkpoint cannot be restored.
"""

import os

from absl import flags

from tfnormals.core import cli, errors, layout, outputs

FLAGS = flags.FLAGS


def define_flags():
    """Command-line flags (defined only when run as a program, so importing defines none)."""
    flags.DEFINE_string("checkpoint", None, "Run folder (with config.json and ckpt/) or a checkpoint prefix.")
    flags.DEFINE_string("output", None, "SavedModel folder to write.")


def check_request(checkpoint, output):
    """Raise errors.UsageError, naming the flag, for a missing checkpoint or an output that must not be replaced."""
    if not (os.path.exists(checkpoint) or os.path.isfile(checkpoint + ".index")):
        raise errors.MissingPathError(f"--checkpoint: {checkpoint}: no such run folder or checkpoint prefix")
    outputs.check_writable_dir(output, "--output")
    if os.path.isdir(output) and os.listdir(output) and not os.path.isfile(os.path.join(output, layout.SAVEDMODEL_PB)):
        raise errors.UsageError(f"--output: {output} is a folder that holds something other than a SavedModel; "
                                "refusing to replace it")


def main(argv):
    del argv
    if not FLAGS.checkpoint or not FLAGS.output:
        raise errors.UsageError("--checkpoint and --output are required")
    check_request(FLAGS.checkpoint, FLAGS.output)
    import tensorflow as tf

    from tfnormals.model import serving
    from tfnormals.training import runs
    try:
        generator, config, step = runs.generator_from_run(FLAGS.checkpoint)
    except runs.RunError as e:
        raise errors.UsageError(f"--checkpoint: {e}") from None
    except tf.errors.OpError as e:
        raise errors.Failure(f"--checkpoint: {FLAGS.checkpoint}: cannot restore ({errors.one_line(e.message)[:300]})")
    serving.export_generator(generator, FLAGS.output, runs.metadata(config, step))
    cli.emit({"output": FLAGS.output, "step": step, "stride": 2 ** config.depth,
              "params": generator.count_params(), "signature": "serving_default",
              "input": serving.INPUT_NAME, "output_key": serving.OUTPUT_NAME})


if __name__ == "__main__":
    define_flags()
    cli.run(main, "tfnormals.export")
