"""A shot's reference frames as the fine-tune's step and evaluation take them: tensors at predict's scales, a loss
mask without the held-out blocks, and the held-out set at the model's working size."""

import math

import numpy as np
import tensorflow as tf

from tfnormals.core import conventions, errors
from tfnormals.data import augment


def heldout_blocks(known, share, blocks, rng):
    """bool H×W: square blocks (`blocks` along the longer side) held out, a `share` of those holding known pixels
    (at least one when two or more do), drawn with `rng`."""
    h, w = known.shape
    side = math.ceil(max(h, w) / blocks)
    rows, cols = math.ceil(h / side), math.ceil(w / side)
    padded = np.zeros((rows * side, cols * side), bool)
    padded[:h, :w] = known
    candidates = np.flatnonzero(padded.reshape(rows, side, cols, side).any(axis=(1, 3)))
    count = min(len(candidates) - 1, max(1, round(share * len(candidates)))) if share > 0 else 0
    chosen = np.zeros(rows * cols, bool)
    chosen[rng.choice(candidates, max(count, 0), replace=False)] = True
    return np.repeat(np.repeat(chosen.reshape(rows, cols), side, 0), side, 1)[:h, :w]


def _resized(images, height, width):
    """Images dict (beauty, normals, mask, depth, albedo: [N, H, W, C]) at height×width, antialiased (augment.resample:
    normals renormalized, depth and albedo weighted by where they exist)."""
    if images["beauty"].shape[1:3] == (height, width):
        return images
    return augment.resample(images, lambda x: tf.image.resize(x, [height, width], antialias=True))


def _scaled(shape, long_side):
    h, w = shape
    scale = long_side / max(h, w)
    return max(1, round(h * scale)), max(1, round(w * scale))


def prepare_frames(references, config, working_size):
    """(training frames: {key: [F, H, W, C] tensor} with the train mask, evaluation set at the working size:
    {beauty, normals, heldout and train masks}) from data.references.Reference frames of one size."""
    shapes = {r.plate.shape[:2] for r in references}
    if len(shapes) != 1:
        raise errors.UsageError(f"reference frames differ in size ({sorted(shapes)}); a shot's frames share one")
    shape = shapes.pop()
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, 20]))
    held = np.stack([heldout_blocks(r.known, config.heldout_share, config.heldout_blocks, rng) for r in references])
    known = np.stack([r.known for r in references])[..., None]
    zeros = np.zeros(shape + (1,), np.float32)
    images = {"beauty": np.stack([r.plate for r in references]), "normals": np.stack([r.normals for r in references]),
              "depth": np.stack([zeros if r.depth is None else r.depth[..., None] for r in references]),
              "albedo": np.stack([np.repeat(zeros, 3, -1) if r.albedo is None else r.albedo for r in references])}
    # Unknown pixels hold zeros whatever the references say there: resampling must not carry them into known ones.
    images = {k: tf.constant(v if k == "beauty" else np.where(known, v, 0.0), tf.float32) for k, v in images.items()}
    images["mask"] = tf.constant(known & ~held[..., None], tf.float32)
    known = known[..., 0]
    if max(shape) > config.max_pass:
        images = _resized(images, *_scaled(shape, config.max_pass))
    evaluation = _resized(images, *_scaled(shape, min(max(shape), working_size)))
    size = evaluation["beauty"].shape[1:3]
    masks = tf.image.resize(tf.constant(np.stack([known & held, known & ~held], -1), tf.float32), size,
                            antialias=True).numpy() >= conventions.MASK_THRESHOLD
    return images, {"beauty": evaluation["beauty"], "normals": evaluation["normals"].numpy(),
                    "heldout": masks[..., 0], "train": masks[..., 1]}
