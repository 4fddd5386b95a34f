"""Export a trained generator as a SavedModel that any TensorFlow program can load.

Usage:
  python -m tfnormals.export --checkpoint=checkpoints/RUN --output=SAVEDMODEL_DIR

The SavedModel's `serving_default` signature takes `images`: float32 [N, H, W, 3], sRGB-encoded
in [0, 1], any H and W, and returns `normals`: float32 [N, H, W, 3], unit camera-space normals
(+X right, +Y up, +Z toward the camera). Loading it needs only TensorFlow:

  fn = tf.saved_model.load(DIR).signatures["serving_default"]
  normals = fn(images=tf.constant(batch))["normals"]

`tfnormals.json` beside `saved_model.pb` records the conventions and the training config.
"""

import json

from absl import app, flags

from tfnormals.model import serving
from tfnormals.training import runs

FLAGS = flags.FLAGS


def define_flags():
    """Command-line flags (defined only when run as a program, so importing defines none)."""
    flags.DEFINE_string("checkpoint", None, "Run folder (with config.json and ckpt/) or a checkpoint prefix.")
    flags.DEFINE_string("output", None, "SavedModel folder to write.")


def main(argv):
    del argv
    if not FLAGS.checkpoint or not FLAGS.output:
        raise app.UsageError("--checkpoint and --output are required")
    generator, config, step = runs.generator_from_run(FLAGS.checkpoint)
    serving.export_generator(generator, FLAGS.output, runs.metadata(config, step))
    print(json.dumps({"output": FLAGS.output, "step": step, "stride": 2 ** config.depth,
                      "params": generator.count_params(), "signature": "serving_default",
                      "input": serving.INPUT_NAME, "output_key": serving.OUTPUT_NAME}))


if __name__ == "__main__":
    define_flags()
    app.run(main)
