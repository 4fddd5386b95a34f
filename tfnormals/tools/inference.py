"""What every loaded model offers the tools, whatever runs it (TensorFlow or onnxruntime): numpy in,
passes out, any plate size. No TensorFlow here, so the ONNX path can use it without importing it.
"""

import glob
import hashlib
import json
import os

import numpy as np
from absl import logging

from tfnormals.core import conventions, errors, layout, resume

OUTPUT_NAME = "normals"  # the pass every model has (tfnormals.model.serving.OUTPUT_NAME)
SIGNATURE = "serving_default"  # the SavedModel signature the tools call
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
        passes = {name: np.asarray(value[:, :h, :w], np.float32) for name, value in self._run(images).items()}
        problem = wrong_channels({name: value.shape[-1] for name, value in passes.items()})
        if problem:
            raise errors.Failure(f"{self.path}: {problem}")
        return passes


def wrong_channels(channels):
    """What is wrong with a model's outputs given {name: channel count, or None when unknown}: a known pass
    (conventions.PASS_CHANNELS) with another channel count ('' when nothing is)."""
    for name, count in channels.items():
        expected = conventions.PASS_CHANNELS.get(name)
        if expected is not None and count is not None and count != expected:
            return f"the model's '{name}' output has {count} channel(s), not {expected}"
    return ""


def check_outputs(channels, where):
    """Raise errors.UsageError unless outputs {name: channel count or None} are a tfnormals model's: a
    'normals' output, and each pass it knows with that pass's channels."""
    if OUTPUT_NAME not in channels:
        raise errors.UsageError(f"{where}: not a tfnormals model: no '{OUTPUT_NAME}' output (it has "
                                f"{sorted(channels)})")
    problem = wrong_channels(channels)
    if problem:
        raise errors.UsageError(f"{where}: not a tfnormals model: {problem}")


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


def serving_signature(signatures, where):
    """The `serving_default` signature of a loaded SavedModel's `signatures`, its outputs checked (check_outputs);
    errors.UsageError naming `where` when it has none or they are not a tfnormals model's."""
    if SIGNATURE not in signatures:
        raise errors.UsageError(f"{where}: not a tfnormals model: no '{SIGNATURE}' signature (it has "
                                f"{sorted(signatures)})")
    signature = signatures[SIGNATURE]
    check_outputs({name: spec.shape[-1] if spec.shape.rank else None
                   for name, spec in signature.structured_outputs.items()}, where)
    inputs = signature.structured_input_signature[1]
    shapes = [spec.shape for spec in inputs.values()]
    if len(shapes) != 1 or shapes[0].rank != 4 or shapes[0][-1] not in (3, None):
        raise errors.UsageError(f"{where}: not a tfnormals model: its input must be one [N, H, W, 3] batch "
                                f"(it has {dict(zip(inputs, [str(s) for s in shapes]))})")
    return signature


def fingerprint(path):
    """A short digest of the model at `path` that changes when the model does: a SavedModel's fingerprint.pb
    (TensorFlow's hash of its graph and weights) or an .onnx file's content; for a training run (or a checkpoint
    prefix), the names, sizes and times of its config and checkpoint files; '' for a model without a path."""
    if not path:
        return ""
    digest = hashlib.sha256()
    savedmodel_fingerprint = os.path.join(path, "fingerprint.pb")
    if os.path.isfile(savedmodel_fingerprint) or os.path.isfile(path):
        with open(savedmodel_fingerprint if os.path.isdir(path) else path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()[:16]
    if os.path.isdir(path):
        files = [os.path.join(path, layout.RUN_CONFIG)] + glob.glob(os.path.join(glob.escape(path), layout.RUN_CKPT_DIR,
                                                                                 "*"))
    else:
        files = glob.glob(glob.escape(path) + "*")
    for file in sorted(f for f in files if os.path.isfile(f)):
        digest.update(f"{os.path.basename(file)}:{resume.file_state(file)};".encode())
    return digest.hexdigest()[:16]
