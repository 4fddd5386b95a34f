"""sRGB transfer functions (IEC 61966-2-1) on numpy arrays."""

import numpy as np

SRGB_LINEAR_KNEE = 0.0031308
SRGB_ENCODED_KNEE = 0.04045


def srgb_to_linear(x):
    """Decode sRGB-encoded values in [0, 1] to linear light."""
    x = np.asarray(x, dtype=np.float32)
    return np.where(x <= SRGB_ENCODED_KNEE, x / 12.92,
                    ((np.maximum(x, SRGB_ENCODED_KNEE) + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(x):
    """Encode linear light as sRGB, clipping to [0, 1] (display-referred)."""
    x = np.clip(np.asarray(x, dtype=np.float32), 0.0, 1.0)
    return np.where(x <= SRGB_LINEAR_KNEE, 12.92 * x,
                    1.055 * np.maximum(x, SRGB_LINEAR_KNEE) ** (1.0 / 2.4) - 0.055).astype(np.float32)


def luminance(rgb):
    """Rec. 709 luminance of an (..., 3) array."""
    return (0.2126 * rgb[..., 0] + 0.7152 * rgb[..., 1] + 0.0722 * rgb[..., 2]).astype(np.float32)
