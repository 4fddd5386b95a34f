"""Export a trained generator as a SavedModel that any TensorFlow program can load.

Usage:
  python -m tfnormals.export --checkpoint=checkpoints/RUN --output=SAVEDMODEL_DIR

The SavedModel's `serving_default` signature takes `images`: float32 [N, H, W, 3], sRGB-encoded
in [0, 1], any H and W (the model mirror-pads to its stride and crops back), and returns
`normals`: float32 [N, H, W, 3], unit camera-space normals (+X right, +Y up, +Z toward the
camera). Loading it needs only TensorFlow:

  fn = tf.saved_model.load(DIR).signatures["serving_default"]
  normals = fn(images=tf.constant(batch))["normals"]

`tfnormals.json` beside `saved_model.pb` records the conventions and the training config.
"""

import json
import os
import shutil

import tensorflow as tf
from absl import app, flags

from tfnormals import config as config_lib
from tfnormals.unet import build_generator

INPUT_NAME = "images"
OUTPUT_NAME = "normals"
METADATA_FILE = "tfnormals.json"

FLAGS = flags.FLAGS


def metadata(config, step):
    """What a loader needs to know besides the signature."""
    return {"format": "tfnormals-savedmodel-1", "step": int(step),
            "input": {"name": INPUT_NAME, "dtype": "float32", "shape": [None, None, None, 3],
                      "range": [0.0, 1.0], "encoding": "sRGB"},
            "output": {"name": OUTPUT_NAME, "dtype": "float32", "shape": [None, None, None, 3],
                       "convention": "camera space, +X right, +Y up, +Z toward the camera, unit length"},
            "stride": 2 ** config.depth, "config": config.__dict__}


class _Serving(tf.Module):
    """The generator behind one traced signature (a plain tf.Module stores each weight once;
    Keras' ExportArchive saved every variable twice)."""

    def __init__(self, generator):
        super().__init__()
        self.generator = generator

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32, name=INPUT_NAME)])
    def serve(self, images):
        return {OUTPUT_NAME: self.generator(images, training=False)}


def export_generator(generator, output_dir, info):
    """Write `generator` as a SavedModel with a serving_default signature (atomically: temp dir + rename)."""
    serving = _Serving(generator)
    output_dir = os.path.abspath(output_dir)
    tmp = output_dir.rstrip("/") + ".tmp-export"
    shutil.rmtree(tmp, ignore_errors=True)
    tf.saved_model.save(serving, tmp, signatures={"serving_default": serving.serve})
    with open(os.path.join(tmp, METADATA_FILE), "w") as f:
        json.dump(info, f, indent=1)
    if os.path.isdir(output_dir):
        shutil.rmtree(output_dir)
    os.rename(tmp, output_dir)


def generator_from_run(run_or_checkpoint):
    """Rebuild a run's generator from its config.json and restore the latest (or given) checkpoint.

    Returns (generator, config, step).
    """
    if os.path.isdir(run_or_checkpoint):
        run_dir = run_or_checkpoint
        checkpoint = tf.train.latest_checkpoint(os.path.join(run_dir, "ckpt"))
        if checkpoint is None:
            raise FileNotFoundError(f"{run_dir}: no checkpoints in {run_dir}/ckpt")
    else:
        checkpoint = run_or_checkpoint
        run_dir = os.path.dirname(os.path.dirname(checkpoint))
    config = config_lib.TrainConfig.from_json(os.path.join(run_dir, "config.json"))
    generator = build_generator(**config.generator_kwargs())
    tf.train.Checkpoint(generator=generator).restore(checkpoint).expect_partial()
    step = int(checkpoint.rsplit("-", 1)[-1])
    return generator, config, step


def define_flags():
    """Command-line flags (defined only when run as a program, so importing defines none)."""
    flags.DEFINE_string("checkpoint", None, "Run folder (with config.json and ckpt/) or a checkpoint prefix.")
    flags.DEFINE_string("output", None, "SavedModel folder to write.")


def main(argv):
    del argv
    if not FLAGS.checkpoint or not FLAGS.output:
        raise app.UsageError("--checkpoint and --output are required")
    generator, config, step = generator_from_run(FLAGS.checkpoint)
    export_generator(generator, FLAGS.output, metadata(config, step))
    print(json.dumps({"output": FLAGS.output, "step": step, "stride": 2 ** config.depth,
                      "params": generator.count_params(), "signature": "serving_default",
                      "input": INPUT_NAME, "output_key": OUTPUT_NAME}))


if __name__ == "__main__":
    define_flags()
    app.run(main)
