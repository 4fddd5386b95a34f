"""Write a generator as a SavedModel with a `serving_default` signature any TensorFlow program can call.

The signature takes `images`: float32 [N, H, W, 3], sRGB-encoded in [0, 1], any H and W (the
model mirror-pads to its stride and crops back), and returns `normals`: float32 [N, H, W, 3],
unit camera-space normals (+X right, +Y up, +Z toward the camera), plus, when the model was
trained for them, `depth` [N, H, W, 1] (relative: positive, arbitrary scale per image) and
`albedo` [N, H, W, 3] (linear reflectance in [0, 1]). Callers that read only `normals` work
with every model.
"""

import contextlib
import json
import os
import shutil

import tensorflow as tf

from tfnormals.core import layout

INPUT_NAME = "images"
OUTPUT_NAME = "normals"
FORMAT = "tfnormals-savedmodel-1"


class _Serving(tf.Module):
    """The generator behind one traced signature (a plain tf.Module stores each weight once;
    Keras' ExportArchive saved every variable twice)."""

    def __init__(self, generator):
        super().__init__()
        self.generator = generator

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32, name=INPUT_NAME)])
    def serve(self, images):
        return {name: tf.cast(value, tf.float32) for name, value in self.generator(images, training=False).items()}


def export_generator(generator, output_dir, info):
    """Write `generator` as a SavedModel plus `info` as its metadata JSON, atomically (temp dir + rename)."""
    serving = _Serving(generator)
    output_dir = os.path.abspath(output_dir)
    tmp = output_dir.rstrip("/") + ".tmp-export"
    shutil.rmtree(tmp, ignore_errors=True)
    tf.saved_model.save(serving, tmp, signatures={"serving_default": serving.serve})
    with contextlib.suppress(OSError):  # the empty assets/ folder TensorFlow makes (the model has no assets)
        os.rmdir(os.path.join(tmp, "assets"))
    with open(os.path.join(tmp, layout.MODEL_METADATA), "w") as f:
        json.dump(info, f, indent=1)
    if os.path.isdir(output_dir):
        shutil.rmtree(output_dir)
    os.rename(tmp, output_dir)
