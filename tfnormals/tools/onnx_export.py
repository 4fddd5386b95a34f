"""Convert a SavedModel (tfnormals.model.serving) to ONNX with tf2onnx, keeping any-size inputs.

Converted as is, the generator's pad-to-stride does not survive: tf2onnx 1.17 turns the
`(-h) % stride` of PadToMultiple into a truncating remainder (negative for most sizes, so the
"pad" crops: a 77×131 plate came back 64×128), and SYMMETRIC mirror padding into ONNX's
`reflect` mode (which skips the edge row). The converted function therefore pads first, with a
non-negative remainder and Slice/Reverse/Concat (symmetric, as the SavedModel does), and crops
the outputs back; the generator's own padding then has nothing to do. Each output is reshaped to
[N, H, W, C] last: tf2onnx turns the NCHW→NHWC transpose of a one-channel pass (depth) into a
Reshape to [1, N, H, W, 1] and a Squeeze, and now and then its optimizer drops the Squeeze (a
5-D depth output; seen once in a clean-clone test run, not reproducible on demand). Outputs match
the SavedModel's within 1e-4 at any size (tests/vfx/test_onnx.py).

The model's tfnormals.json goes into the .onnx as metadata_props (tfnormals.tools.onnx_model).
"""

import json
import os
import tempfile

import tensorflow as tf

from tfnormals.core import layout, outputs
from tfnormals.model import serving
from tfnormals.tools import inference, onnx_model

OPSET = 17
FORMAT = "tfnormals-onnx-1"


def _padded_signature(signature, input_name, stride):
    """A tf.function over `signature` that pads H and W symmetrically to multiples of `stride` and crops back."""

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32, name=serving.INPUT_NAME)])
    def padded(images):
        h, w = tf.shape(images)[1], tf.shape(images)[2]
        pad_h, pad_w = (stride - h % stride) % stride, (stride - w % stride) % stride
        x = tf.concat([images, tf.reverse(images[:, h - pad_h:], [1])], axis=1)
        x = tf.concat([x, tf.reverse(x[:, :, w - pad_w:], [2])], axis=2)
        n = tf.shape(images)[0]
        return {name: tf.reshape(value[:, :h, :w], tf.stack([n, h, w, tf.shape(value)[-1]]))
                for name, value in signature(**{input_name: x}).items()}

    return padded


def savedmodel_to_onnx(savedmodel_dir, output_path):
    """Write the SavedModel in `savedmodel_dir` as an ONNX file at `output_path` (atomically).

    Returns the metadata stored in the file: the SavedModel's tfnormals.json with this format, the
    passes and the opset. Raises errors.UsageError when the SavedModel is not a tfnormals model
    (inference.serving_signature).
    """
    import tf2onnx

    loaded = tf.saved_model.load(savedmodel_dir)
    signature = inference.serving_signature(loaded.signatures, savedmodel_dir)
    input_name = next(iter(signature.structured_input_signature[1]))
    metadata_path = os.path.join(savedmodel_dir, layout.MODEL_METADATA)
    info = inference.read_metadata(metadata_path)
    stride = inference.metadata_size(info, "stride", inference.DEFAULT_STRIDE, metadata_path)
    function = _padded_signature(signature, input_name, stride)
    proto, _ = tf2onnx.convert.from_function(function, input_signature=function.input_signature, opset=OPSET)
    info = dict(info, format=FORMAT, stride=stride, opset=OPSET,
                passes=list(inference.passes_from_names(signature.structured_outputs)),
                source_format=info.get("format", "savedmodel"))
    entry = proto.metadata_props.add()
    entry.key, entry.value = onnx_model.METADATA_KEY, json.dumps(info)
    with outputs.atomic_output(output_path) as tmp:
        with open(tmp, "wb") as f:
            f.write(proto.SerializeToString())
    return info


def generator_to_onnx(generator, output_path, info):
    """Write a Keras generator as ONNX: a SavedModel in a temporary folder (serving.export_generator), converted."""
    folder = os.path.dirname(os.path.abspath(output_path))
    with tempfile.TemporaryDirectory(prefix=layout.TMP_PREFIX, dir=folder) as tmp:
        savedmodel = os.path.join(tmp, "savedmodel")
        serving.export_generator(generator, savedmodel, info)
        return savedmodel_to_onnx(savedmodel, output_path)
