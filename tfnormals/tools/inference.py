"""What every loaded model offers the tools, whatever runs it (TensorFlow or onnxruntime): numpy in,
passes out, any plate size. No TensorFlow here, so the ONNX path can use it without importing it.
"""

import json

import numpy as np
from absl import logging

OUTPUT_NAME = "normals"  # the pass every model has (tfnormals.model.serving.OUTPUT_NAME)
# Total stride of a model whose metadata does not say (the shipped model's: 2 ** depth 6).
DEFAULT_STRIDE = 64
# Longer side of predict's global pass for a model whose metadata does not say: the size at which the multi-pass
# model exported before the metadata said scored best on the real motorcycle (BUILD_NOTES "Passes at plate resolution").
DEFAULT_WORKING_SIZE = 256


class PassModel:
    """Callable plate batch [N, H, W, 3] (float32 sRGB in [0, 1]) → unit normals [N, H, W, 3];
    `predict_passes` returns every pass the model has ({'normals', ['depth'], ['albedo']}).

    Any H, W ≥ 1 works: a side shorter than the model's stride is mirror-padded here before
    inference and cropped back (the network's own padding needs each side to be at least half its
    stride). Subclasses set `passes` (normals first), `stride` and `path`, and implement `_run`.
    """

    passes = (OUTPUT_NAME,)
    stride = DEFAULT_STRIDE
    path = ""

    def _run(self, images):
        """{pass name: float32 [N, h, w, C] numpy array} for a batch whose sides are ≥ the stride."""
        raise NotImplementedError

    def __call__(self, images):
        return self.predict_passes(images)[OUTPUT_NAME]

    def predict_passes(self, images):
        """{pass name: float32 [N, H, W, C]} for a plate batch; see tfnormals.model.serving for the passes."""
        images = np.asarray(images, np.float32)
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"expected a [N, H, W, 3] batch, got shape {images.shape}")
        h, w = images.shape[1:3]
        pad_h, pad_w = max(0, self.stride - h), max(0, self.stride - w)
        if pad_h or pad_w:
            images = np.pad(images, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="symmetric")
        return {name: np.asarray(value[:, :h, :w], np.float32) for name, value in self._run(images).items()}


def passes_from_names(names):
    """The passes of a model whose outputs are `names`: normals first, the others sorted."""
    return tuple([OUTPUT_NAME] + sorted(n for n in names if n != OUTPUT_NAME))


def metadata_size(metadata, key, default, where):
    """A positive integer setting of the model ('stride', 'working_size') from its metadata dict, `default` when it
    does not say or says something unusable (with a warning)."""
    try:
        value = int(metadata.get(key, default))
        if value <= 0:
            raise ValueError(f"{key} must be positive, got {value}")
        return value
    except (ValueError, TypeError, AttributeError) as e:
        logging.warning("%s: unreadable %s (%s); assuming %d", where, key, e, default)
        return default


def configure_from_metadata(model, metadata, where):
    """Set a PassModel's stride and working size from its metadata dict."""
    model.stride = metadata_size(metadata, "stride", DEFAULT_STRIDE, where)
    model.working_size = metadata_size(metadata, "working_size", DEFAULT_WORKING_SIZE, where)


def read_metadata(path):
    """A model's metadata JSON file as a dict ({} when absent; a warning when unreadable)."""
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        logging.warning("%s: unreadable (%s)", path, e)
        return {}
