"""Load a normals model for inference: an exported SavedModel or a training run's checkpoint."""

import os

import numpy as np
import tensorflow as tf

from tfnormals.core import layout
from tfnormals.training import runs


class NormalsModel:
    """Callable plate batch [N, H, W, 3] (float32 sRGB in [0, 1]) → unit normals [N, H, W, 3].

    Args:
      path: a SavedModel folder (saved_model.pb) or a training run folder (config.json + ckpt/).
    """

    def __init__(self, path):
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path}: no such model (expected a SavedModel or a run folder)")
        self.path = path
        if os.path.isfile(os.path.join(path, layout.SAVEDMODEL_PB)):
            loaded = tf.saved_model.load(path)
            signature = loaded.signatures["serving_default"]
            self._input = next(iter(signature.structured_input_signature[1]))
            self._output = next(iter(signature.structured_outputs))
            self._keep = loaded  # the signature needs its object alive
            self._fn = lambda x: signature(**{self._input: x})[self._output]
        else:
            generator, _, _ = runs.generator_from_run(path)
            self._fn = tf.function(lambda x: generator(x, training=False),
                                   input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])

    def __call__(self, images):
        images = np.asarray(images, np.float32)
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"expected a [N, H, W, 3] batch, got shape {images.shape}")
        return self._fn(tf.constant(images)).numpy()
