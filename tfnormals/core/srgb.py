"""sRGB transfer functions (IEC 61966-2-1) and luminance, written once for numpy and TensorFlow.

Each function takes an array module `xp`: numpy by default, `tf.experimental.numpy` inside
TensorFlow graphs (the augmentation), so both paths compute, and clip, the same way.
"""

import numpy as np

SRGB_LINEAR_KNEE = 0.0031308
SRGB_ENCODED_KNEE = 0.04045
REC709_LUMA = (0.2126, 0.7152, 0.0722)


def srgb_to_linear(x, xp=np):
    """Decode sRGB-encoded values to linear light; inputs are clipped to [0, 1] first."""
    x = xp.clip(xp.asarray(x, dtype=xp.float32), 0.0, 1.0)
    curve = xp.power((xp.maximum(x, SRGB_ENCODED_KNEE) + 0.055) / 1.055, 2.4)
    return xp.where(x <= SRGB_ENCODED_KNEE, x / 12.92, curve)


def linear_to_srgb(x, xp=np):
    """Encode linear light as sRGB, clipping to [0, 1] (display-referred)."""
    x = xp.clip(xp.asarray(x, dtype=xp.float32), 0.0, 1.0)
    curve = 1.055 * xp.power(xp.maximum(x, SRGB_LINEAR_KNEE), 1.0 / 2.4) - 0.055
    return xp.where(x <= SRGB_LINEAR_KNEE, 12.92 * x, curve)


def luminance(rgb, xp=np):
    """Rec. 709 luminance of an (..., 3) array."""
    rgb = xp.asarray(rgb, dtype=xp.float32)
    return REC709_LUMA[0] * rgb[..., 0] + REC709_LUMA[1] * rgb[..., 1] + REC709_LUMA[2] * rgb[..., 2]
