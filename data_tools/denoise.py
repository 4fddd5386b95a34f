"""Denoise a low-spp beauty render with Intel Open Image Denoise (PyPI `pyoidn`).

OIDN's RT filter is guided by the albedo and normal buffers of the same render, so edges and
textures stay sharp while Monte Carlo noise goes; that lets the renderer use a few samples
per pixel (BUILD_NOTES.md has the PSNR-vs-spp table the default came from). Only the beauty
is denoised: the normals, depth, mask and ID passes are ground truth and never pass through here.
"""

import numpy as np

QUALITIES = ("high", "balanced", "fast")
DEFAULT_QUALITY = "high"


def available():
    """True when the pyoidn binding imports (the `render` extra installs it)."""
    try:
        import pyoidn  # noqa: F401
    except ImportError:
        return False
    return True


def denoise(color, albedo, normals, quality=DEFAULT_QUALITY):
    """Denoised copy of a linear HDR H×W×3 `color`, guided by albedo (H×W×3) and normals (H×W×3).

    Inputs are not modified. Pixels without a surface should have zero albedo and normals.
    """
    import pyoidn

    def prepared(image, lo, hi):
        return np.ascontiguousarray(np.clip(np.nan_to_num(image, nan=0.0), lo, hi), dtype=np.float32)

    return pyoidn.denoise(prepared(color, 0.0, np.inf), prepared(albedo, 0.0, 1.0), prepared(normals, -1.0, 1.0),
                          hdr=True, quality=quality)
