"""The renderer's committed assets (data_tools/assets/): HDRIs, meshes, height maps, photo textures.

Every file is freely licensed and listed in data_tools/assets/CREDITS.md with its source;
data_tools/import_assets.py made them. Nothing is downloaded: the files ship with the package.
Loaded files are cached per process, so a long render job reads each once.
"""

import functools
import glob
import os

import numpy as np
from PIL import Image

from data_tools.scene import meshes
from tfnormals.core import image_io, resources

ASSETS_DIR = resources.package_file("data_tools", "assets")
CREDITS = os.path.join(ASSETS_DIR, "CREDITS.md")
KINDS = {"hdri": ".exr", "meshes": ".npz", "heights": ".png", "textures": ".png"}


def files(kind):
    """Sorted paths of every committed asset of `kind` (a key of KINDS)."""
    return sorted(glob.glob(os.path.join(ASSETS_DIR, kind, "*" + KINDS[kind])))


def names(kind):
    return tuple(os.path.basename(p)[:-len(KINDS[kind])] for p in files(kind))


def _path(kind, name):
    return os.path.join(ASSETS_DIR, kind, name + KINDS[kind])


def hdri_names():
    return names("hdri")


def mesh_names():
    return names("meshes")


def height_names():
    return names("heights")


def photo_names():
    return names("textures")


@functools.lru_cache(maxsize=None)
def load_hdri(name):
    """Lat-long HDR environment, float32 rows (zenith → nadir) × columns × RGB, read-only (≥ 0 everywhere)."""
    image = np.maximum(image_io.read_exr(_path("hdri", name))[..., :3].astype(np.float32), 0.0)
    image.setflags(write=False)
    return image


@functools.lru_cache(maxsize=None)
def load_mesh(name):
    """A committed mesh (unit sphere sized, centred) with smooth vertex normals and spherical UVs."""
    with np.load(_path("meshes", name)) as data:
        vertices, faces = data["vertices"].astype(np.float32), data["faces"].astype(np.int32)
    direction = vertices / np.maximum(np.linalg.norm(vertices, axis=1, keepdims=True), 1e-9)
    uvs = np.stack([np.arctan2(direction[:, 2], direction[:, 0]) / (2 * np.pi) + 0.5,
                    np.arccos(np.clip(direction[:, 1], -1, 1)) / np.pi], 1).astype(np.float32) * [3.0, 1.5]
    return meshes.Mesh(vertices, meshes.vertex_normals(vertices, faces, weld=True), uvs.astype(np.float32), faces, True)


@functools.lru_cache(maxsize=None)
def load_height(name):
    """A tileable height map in [0, 1] (float32, read-only), made from a material's normal map."""
    with Image.open(_path("heights", name)) as im:
        heights = np.asarray(im, dtype=np.float32) / 65535.0
    heights.setflags(write=False)
    return heights


@functools.lru_cache(maxsize=None)
def load_photo(name):
    """A grayscale photographic texture in [0, 1] (float32, read-only)."""
    with Image.open(_path("textures", name)) as im:
        gray = np.asarray(im.convert("L"), dtype=np.float32) / 255.0
    gray.setflags(write=False)
    return gray
