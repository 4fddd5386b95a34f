"""A shot's reference frames for fine-tuning: the plate and what is known of its passes, maybe only in part.

A reference frame is a plate plus a camera-space normals file and, optionally, a mask, a depth and an
albedo file. The files are read in the studio's conventions as make_records reads them (a pairs.PairFormat:
EXR channels, world-space normals with a camera matrix, flipped axes, the plate's colour space). A
reference need not cover the frame: a pixel is known where the normals file's alpha (its 4th channel, when
it has one) and the mask (when given) are at least conventions.MASK_THRESHOLD, the normals are non-zero,
and every pass given is finite there. Unknown pixels hold zeros, so nothing of them reaches a loss.
"""

import dataclasses

import numpy as np

from tfnormals.core import colorspaces, conventions, image_io, normals
from tfnormals.data import pairs


@dataclasses.dataclass(frozen=True)
class ReferenceFiles:
    """The files of one reference frame (empty strings for the optional ones)."""

    frame: int
    plate: str
    normals: str
    mask: str = ""
    depth: str = ""
    albedo: str = ""
    camera: str = ""  # per-frame camera JSON for world-space normals (PairFormat.camera_pattern)


@dataclasses.dataclass(frozen=True)
class Reference:
    """One reference frame as the fine-tune uses it.

    plate: float32 H×W×3, the network's input (sRGB-encoded, as predict prepares a plate).
    normals: float32 H×W×3 camera-space unit normals where known, zero elsewhere.
    known: bool H×W.
    depth: float32 H×W (0 where unknown) or None; albedo: float32 H×W×3 linear (0 where unknown) or None.
    """

    frame: int
    plate: np.ndarray
    normals: np.ndarray
    known: np.ndarray
    depth: np.ndarray = None
    albedo: np.ndarray = None


def _read_files(files, pair_layout):
    """{role: array as stored} of a reference frame's files; pairs.SampleError when their sizes differ."""
    arrays = {"plate": image_io.fill_nonfinite(pairs.read_channels(files.plate, (), "plate"))[0],
              "normals": pairs.read_normals(files.normals, pair_layout)}
    if files.mask:
        mask = pairs.read_channels(files.mask, (), "mask")
        arrays["mask"] = mask[..., 3] if mask.shape[-1] == 4 else mask[..., 0]
    if files.depth:
        arrays["depth"] = pairs.read_channels(files.depth, pair_layout.depth_channels, "depth")[..., 0]
    if files.albedo:
        arrays["albedo"] = image_io.to_rgb(pairs.read_channels(files.albedo, pair_layout.albedo_channels, "albedo"))
    sizes = {getattr(files, role): array.shape[:2] for role, array in arrays.items()}
    if len(set(sizes.values())) != 1:
        raise pairs.SampleError(f"frame {files.frame}: size mismatch between files ("
                                + ", ".join(f"{p}: {w}x{h}" for p, (h, w) in sizes.items()) + ")")
    return arrays


def load_reference(files, pair_layout):
    """Read one reference frame (ReferenceFiles) in `pair_layout`'s conventions; pairs.SampleError naming the
    file when one cannot be read, sizes differ, or nothing of the frame is known."""
    arrays = _read_files(files, pair_layout)
    plate = colorspaces.to_network(image_io.to_rgb(arrays["plate"]), pair_layout.beauty_colorspace, files.plate)
    stored = arrays["normals"]
    coverage = [np.nan_to_num(a) for a in (stored[..., 3] if stored.shape[-1] >= 4 else None, arrays.get("mask"))
                if a is not None]
    known = np.all(np.isfinite(stored[..., :3]), axis=-1)
    for plane in coverage:
        known &= plane >= conventions.MASK_THRESHOLD
    for role in ("depth", "albedo"):
        if role in arrays:
            known &= np.all(np.isfinite(arrays[role].reshape(known.shape + (-1,))), axis=-1)
    normal_map = np.where(known[..., None], stored[..., :3], 0.0).astype(np.float32)
    normal_map = pairs.to_camera_space(normal_map, files.camera, pair_layout)
    known &= np.linalg.norm(normal_map, axis=-1) > 0.5
    if not known.any():
        raise pairs.SampleError(f"{files.normals}: no known pixel in frame {files.frame} (alpha, mask or values)")

    def keep(array):
        return np.where(known.reshape(known.shape + (1,) * (array.ndim - 2)), array, 0.0).astype(np.float32)

    depth = albedo = None
    if "depth" in arrays:
        depth = keep(np.maximum(np.nan_to_num(arrays["depth"]), 0.0))
    if "albedo" in arrays:
        albedo = np.nan_to_num(arrays["albedo"])
        if pair_layout.albedo_premultiplied and coverage:
            albedo = albedo / np.maximum(coverage[0], 1e-3)[..., None]
        albedo = keep(np.clip(albedo, 0.0, 1.0))
    return Reference(files.frame, plate.astype(np.float32), keep(normals.normalize(normal_map)), known, depth, albedo)

