"""Run an exported ONNX model (tfnormals.export --format=onnx) with onnxruntime, without TensorFlow.

The .onnx file holds everything needed: the graph (input `images` [N, H, W, 3] float32 sRGB in
[0, 1], any H and W of at least half the stride; outputs `normals` and, for multi-pass models,
`depth` and `albedo`, at the input's size) and, in its metadata_props under METADATA_KEY, the
model's tfnormals.json (stride, passes, conventions, training config).
"""

import json
import os

from tfnormals.core import errors
from tfnormals.tools import inference

METADATA_KEY = "tfnormals"  # metadata_props entry: the model's tfnormals.json, as JSON text


class OnnxModel(inference.PassModel):
    """An ONNX model behind the inference.PassModel interface (`passes`, `stride`, `predict_passes`,
    `__call__` → normals), run by onnxruntime on its best available provider.

    Raises:
      errors.MissingPathError: no such file.
      errors.UsageError: onnxruntime is not installed, or the model's outputs are not a tfnormals model's
        (inference.check_outputs).
      errors.Failure: the file is not a loadable ONNX model.
    """

    def __init__(self, path):
        self.path = path
        if not os.path.isfile(path):
            raise errors.MissingPathError(f"{path}: no such ONNX model file")
        try:
            import onnxruntime
        except ImportError:
            raise errors.UsageError(f"{path}: running an ONNX model needs onnxruntime "
                                    "(pip install 'tfnormals[onnx]')") from None
        try:
            self._session = onnxruntime.InferenceSession(path, providers=onnxruntime.get_available_providers())
        except Exception as e:  # onnxruntime raises its own types for bad files
            raise errors.Failure(f"{path}: cannot load the ONNX model ({errors.one_line(e)[:300]})") from e
        self._input = self._session.get_inputs()[0].name
        self._outputs = [o.name for o in self._session.get_outputs()]
        inference.check_outputs({o.name: o.shape[-1] if o.shape and isinstance(o.shape[-1], int) else None
                                 for o in self._session.get_outputs()}, path)
        self.passes = inference.passes_from_names(self._outputs)
        self.metadata = read_metadata(self._session, path)
        inference.configure_from_metadata(self, self.metadata, path)

    def _run(self, images):
        return dict(zip(self._outputs, self._session.run(self._outputs, {self._input: images})))


def read_metadata(session, path):
    """The tfnormals.json an ONNX session's model carries ({} when it has none)."""
    text = session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
    if not text:
        return {}
    try:
        return json.loads(text)
    except ValueError:
        raise errors.Failure(f"{path}: its '{METADATA_KEY}' metadata is not JSON") from None
