"""Plain numpy helpers shared by the data tests (no TensorFlow; Mitsuba itself is not imported)."""

import os
import shutil

import numpy as np

from data_tools import mitsuba_render
from tfnormals.core import image_io, layout, normals

# The session render (conftest.rendered_dir) and everything compared with it.
RESOLUTION = 32
SPP = 4
SEED = 7
NUM_SAMPLES = 5
SPLIT_FRACTIONS = (0.5, 0.25, 0.25)


def view_directions(camera, resolution, offset=(0.5, 0.5)):
    """Unit camera-space directions of the rays through each pixel of a square image.

    `fov_deg` is the horizontal field of view; row 0 is the top of the image; `offset` is the
    position inside the pixel ((0.5, 0.5) = its centre, (0, 0) = its top-left corner).
    """
    tan_half = np.tan(np.radians(camera["fov_deg"]) / 2.0)
    rows, cols = np.meshgrid(np.arange(resolution), np.arange(resolution), indexing="ij")
    x = ((cols + offset[0]) / resolution * 2.0 - 1.0) * tan_half
    y = (1.0 - (rows + offset[1]) / resolution * 2.0) * tan_half
    d = np.stack([x, y, -np.ones_like(x)], -1)
    return d / np.linalg.norm(d, axis=-1, keepdims=True)


def camera_basis(camera):
    """3×3 matrix whose rows are the camera's +X, +Y, +Z axes in world space."""
    return np.stack(mitsuba_render.camera_axes(camera))


def read_sample(sample_dir):
    """A rendered sample's files: beauty (linear RGB), alpha, normals and mask (float32)."""
    beauty = image_io.read_image(os.path.join(sample_dir, layout.BEAUTY_EXR))
    return {"beauty": beauty[..., :3], "alpha": beauty[..., 3],
            "normals": image_io.read_image(os.path.join(sample_dir, layout.NORMALS_EXR)),
            "mask": image_io.read_image(os.path.join(sample_dir, layout.MASK_PNG))[..., 0]}


def copy_sample(src_root, sample_id, dst_root, new_id=None):
    """Copy one sample folder into dst_root (optionally under a new id); returns the new folder."""
    dst = os.path.join(dst_root, new_id or sample_id)
    shutil.copytree(os.path.join(src_root, sample_id), dst)
    return dst


def mean_angle_deg(a, b, where):
    """Mean angle in degrees between two normal maps over the pixels selected by `where`."""
    return float(normals.angular_error_deg(a[where], b[where]).mean())


def camera_to_world_matrix(right, up, back, position=(0.0, 0.0, 0.0), scale=1.0):
    """4×4 camera transform as Maya/Houdini/Blender store it: columns are the camera axes in world space."""
    m = np.eye(4)
    m[:3, :3] = np.stack([right, up, back], axis=1) * scale
    m[:3, 3] = position
    return m


def sphere_normal_map(size):
    """Camera-space normals of a sphere filling a size×size frame (row 0 at the top) and its disc mask.

    Symmetric under mirrors and 90° turns, and zero outside the disc.
    """
    centres = (np.arange(size) + 0.5) / size * 2.0 - 1.0
    x, y = np.meshgrid(centres, -centres)
    inside = x * x + y * y < 1.0
    n = np.stack([x, y, np.sqrt(np.clip(1.0 - x * x - y * y, 0.0, 1.0))], -1) * inside[..., None]
    return n.astype(np.float32), inside.astype(np.float32)
