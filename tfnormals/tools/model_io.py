"""Load a model for inference: an exported SavedModel, a training run folder or a checkpoint prefix.

A model predicts normals and, when it was trained for them, depth and albedo (its `passes`).
"""

import json
import os

import numpy as np
import tensorflow as tf
from absl import logging

from tfnormals.core import errors, layout
from tfnormals.model import serving
from tfnormals.training import runs

# Total stride of a model whose metadata does not say (the shipped model's: 2 ** depth 6).
DEFAULT_STRIDE = 64


class NormalsModel:
    """Callable plate batch [N, H, W, 3] (float32 sRGB in [0, 1]) → unit normals [N, H, W, 3];
    `predict_passes` returns every pass the model has ({'normals', ['depth'], ['albedo']}).

    Any H, W ≥ 1 works: a side shorter than the model's stride is mirror-padded here before
    inference and cropped back (the network's own padding needs each side to be at least half its
    stride).

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
            raise errors.MissingPathError(f"{path}: no such model (expected a SavedModel folder or a training run "
                                          "folder)")
        if os.path.isfile(os.path.join(path, layout.SAVEDMODEL_PB)):
            self._load_savedmodel(path)
        elif is_prefix or os.path.isfile(os.path.join(path, layout.RUN_CONFIG)):
            self._load_run(path)
        else:
            raise errors.UsageError(f"{path}: not a model: no {layout.SAVEDMODEL_PB} (SavedModel) and no "
                                    f"{layout.RUN_CONFIG} (training run folder)")

    def _load_savedmodel(self, path):
        try:
            loaded = tf.saved_model.load(path)
            signature = loaded.signatures["serving_default"]
        except Exception as e:  # protobuf, TF and OS errors for corrupt or partial files
            raise errors.Failure(f"{path}: cannot load the SavedModel ({errors.one_line(e)[:300]})") from e
        self._input = next(iter(signature.structured_input_signature[1]))
        names = list(signature.structured_outputs)  # multi-pass models also return depth, albedo
        if serving.OUTPUT_NAME not in names:
            raise errors.UsageError(f"{path}: the SavedModel has no '{serving.OUTPUT_NAME}' output (it has {names})")
        self.passes = tuple([serving.OUTPUT_NAME] + sorted(n for n in names if n != serving.OUTPUT_NAME))
        self._keep = loaded  # the signature needs its object alive
        self._fn = lambda x: signature(**{self._input: x})
        self.stride = _metadata_stride(os.path.join(path, layout.MODEL_METADATA))

    def _load_run(self, path):
        try:
            generator, config, _ = runs.generator_from_run(path)
        except runs.RunError as e:
            raise errors.UsageError(str(e)) from e
        except Exception as e:  # TF and OS errors for corrupt or partial checkpoints
            raise errors.Failure(f"{path}: cannot restore the run's generator ({errors.one_line(e)[:300]})") from e
        self._fn = tf.function(lambda x: generator(x, training=False),
                               input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
        self.passes = config.generator_kwargs()["passes"]
        self.stride = 2 ** config.depth

    def __call__(self, images):
        return self.predict_passes(images)[serving.OUTPUT_NAME]

    def predict_passes(self, images):
        """{pass name: float32 [N, H, W, C]} for a plate batch; see tfnormals.model.serving for the passes."""
        images = np.asarray(images, np.float32)
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"expected a [N, H, W, 3] batch, got shape {images.shape}")
        h, w = images.shape[1:3]
        pad_h, pad_w = max(0, self.stride - h), max(0, self.stride - w)
        if pad_h or pad_w:
            images = np.pad(images, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="symmetric")
        return {name: value.numpy()[:, :h, :w] for name, value in self._fn(tf.constant(images)).items()}


def _metadata_stride(path):
    """The model's total stride from its tfnormals.json (DEFAULT_STRIDE when absent or unreadable)."""
    try:
        with open(path) as f:
            return int(json.load(f).get("stride", DEFAULT_STRIDE))
    except FileNotFoundError:
        return DEFAULT_STRIDE
    except (OSError, ValueError, TypeError, AttributeError) as e:
        logging.warning("%s: unreadable (%s); assuming the model's stride is %d", path, e, DEFAULT_STRIDE)
        return DEFAULT_STRIDE
