"""Load a model for inference: an exported SavedModel, a training run folder, a checkpoint prefix, or an
ONNX file (tfnormals.tools.onnx_model, which runs with onnxruntime and never loads TensorFlow).

A model predicts normals and, when it was trained for them, depth and albedo (its `passes`).
TensorFlow is imported only when a SavedModel or a run is loaded, so `load_model("m.onnx")` works
in an environment without it.
"""

import os

from tfnormals.core import errors, layout, outputs
from tfnormals.tools import inference

ONNX_EXTENSION = ".onnx"


def load_model(path):
    """The model at `path`: an OnnxModel for a .onnx file, else a NormalsModel (TensorFlow)."""
    if str(path).lower().endswith(ONNX_EXTENSION):
        from tfnormals.tools.onnx_model import OnnxModel
        return OnnxModel(path)
    return NormalsModel(path)


def check_savedmodel_output(path, flag):
    """Raise errors.UsageError naming `flag` unless `path` can take a SavedModel: writable, and absent, empty or a
    SavedModel (which is replaced)."""
    outputs.check_writable_dir(path, flag)
    if os.path.isdir(path) and os.listdir(path) and not layout.is_savedmodel(path):
        raise errors.UsageError(f"{flag}: {path} is a folder that holds something other than a SavedModel; "
                                "refusing to replace it")


class NormalsModel(inference.PassModel):
    """A TensorFlow model behind the inference.PassModel interface (`passes`, `stride`, `predict_passes`,
    `__call__` → normals).

    Args:
      path: a SavedModel folder (saved_model.pb), a training run folder (config.json + ckpt/) or a
        checkpoint prefix (run/ckpt/ckpt-N).

    Raises:
      errors.MissingPathError: `path` does not exist.
      errors.UsageError: `path` is not a model of any of those kinds.
      errors.Failure: the model is there but cannot be loaded (corrupt or incomplete files).
    """

    def __init__(self, path):
        self.path = path
        is_prefix = os.path.isfile(path + ".index")
        if not (os.path.exists(path) or is_prefix):
            raise errors.MissingPathError(f"{path}: no such model (expected a SavedModel folder, a training run "
                                          "folder or an .onnx file)")
        if layout.is_savedmodel(path):
            self._load_savedmodel(path)
        elif is_prefix or os.path.isfile(os.path.join(path, layout.RUN_CONFIG)):
            self._load_run(path)
        else:
            raise errors.UsageError(f"{path}: not a model: no {layout.SAVEDMODEL_PB} (SavedModel) and no "
                                    f"{layout.RUN_CONFIG} (training run folder)")

    def _load_savedmodel(self, path):
        import tensorflow as tf
        try:
            loaded = tf.saved_model.load(path)
        except Exception as e:  # protobuf, TF and OS errors for corrupt or partial files
            raise errors.Failure(f"{path}: cannot load the SavedModel ({errors.one_line(e)[:300]})") from e
        signature = inference.serving_signature(loaded.signatures, path)
        self._input = next(iter(signature.structured_input_signature[1]))
        self.passes = inference.passes_from_names(signature.structured_outputs)  # normals[, depth, albedo]
        self._keep = loaded  # the signature needs its object alive
        self._fn = lambda x: signature(**{self._input: x})
        metadata_path = os.path.join(path, layout.MODEL_METADATA)
        inference.configure_from_metadata(self, inference.read_metadata(metadata_path), metadata_path)

    def _load_run(self, path):
        import tensorflow as tf

        from tfnormals.training import runs
        try:
            generator, config, _ = runs.generator_from_run(path)
        except runs.RunError as e:
            raise errors.UsageError(str(e)) from e
        except Exception as e:  # TF and OS errors for corrupt or partial checkpoints
            raise errors.Failure(f"{path}: cannot restore the run's generator ({errors.one_line(e)[:300]})") from e
        self._fn = tf.function(lambda x: generator(x, training=False),
                               input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
        self.passes = config.generator_kwargs()["passes"]
        self.stride, self.working_size = 2 ** config.levels, config.global_pass_size

    def _run(self, images):
        import tensorflow as tf
        return {name: value.numpy() for name, value in self._fn(tf.constant(images)).items()}
