"""Procedural patterns for textures and displacement: noise, stripes, checkers, cells, bricks, photos.

Every 2-D pattern is a tileable float32 H×W array in [0, 1] made from a numpy Generator,
so a scene is reproducible from its seed.
"""

import numpy as np
from PIL import Image

from data_tools.scene import assets

PATTERN_KINDS = ("noise", "stripes", "checkers", "cells", "bricks", "photo")


def smoothstep(t):
    return t * t * (3.0 - 2.0 * t)


def _periodic_interp_axis(values, size, axis):
    """Upsample a periodic lattice along one axis to `size` samples with smoothstep blending."""
    cells = values.shape[axis]
    x = np.arange(size, dtype=np.float32) * cells / size
    i0 = np.floor(x).astype(np.int64)
    t = smoothstep(x - i0)
    a = np.take(values, i0 % cells, axis=axis)
    b = np.take(values, (i0 + 1) % cells, axis=axis)
    shape = [1] * values.ndim
    shape[axis] = size
    t = t.reshape(shape)
    return a + (b - a) * t


def value_noise(rng, size, cells):
    """Tileable smooth noise in [0, 1] with `cells` lattice cells across the image."""
    lattice = rng.random((cells, cells), dtype=np.float32)
    rows = _periodic_interp_axis(lattice, size, axis=0)
    return _periodic_interp_axis(rows, size, axis=1)


def fbm(rng, size, base_cells=4, octaves=5, gain=0.5):
    """Fractal sum of value-noise octaves, rescaled to [0, 1]."""
    total = np.zeros((size, size), np.float32)
    amplitude, cells = 1.0, base_cells
    for _ in range(octaves):
        total += amplitude * value_noise(rng, size, min(cells, size))
        amplitude *= gain
        cells *= 2
    return rescale(total)


def rescale(x):
    """Stretch an array to span [0, 1] (constant arrays become 0.5)."""
    lo, hi = float(np.min(x)), float(np.max(x))
    if hi - lo < 1e-8:
        return np.full_like(x, 0.5, dtype=np.float32)
    return ((x - lo) / (hi - lo)).astype(np.float32)


def _grid(size):
    v, u = np.meshgrid(np.arange(size, dtype=np.float32) / size,
                       np.arange(size, dtype=np.float32) / size, indexing="ij")
    return u, v


def stripes(rng, size):
    """Soft or hard stripes at a random angle, period dividing the tile so it stays tileable."""
    u, v = _grid(size)
    ku, kv = rng.integers(-6, 7, size=2)
    if ku == 0 and kv == 0:
        ku = 3
    wave = 0.5 + 0.5 * np.sin(2.0 * np.pi * (ku * u + kv * v))
    sharpness = rng.uniform(1.0, 12.0)
    return rescale(np.tanh(sharpness * (wave - 0.5)))


def checkers(rng, size):
    """Checkerboard with a random number of squares and slightly soft edges."""
    u, v = _grid(size)
    n = int(rng.integers(2, 12))
    board = (np.floor(u * n) + np.floor(v * n)) % 2
    return (0.1 + 0.8 * board + 0.1 * value_noise(rng, size, 8)).astype(np.float32)


def cells(rng, size, return_edges=False):
    """Worley cells: distance to the nearest random feature point (tileable).

    With return_edges, also return F2 - F1, which is small along cell borders (cracks).
    """
    count = int(rng.integers(6, 40))
    points = rng.random((count, 2), dtype=np.float32)
    u, v = _grid(size)
    du = np.abs(u[..., None] - points[:, 0])
    dv = np.abs(v[..., None] - points[:, 1])
    du = np.minimum(du, 1.0 - du)
    dv = np.minimum(dv, 1.0 - dv)
    dist = np.partition(du * du + dv * dv, 1, axis=-1)[..., :2]
    dist = np.sqrt(np.sort(dist, axis=-1))
    f1 = rescale(dist[..., 0])
    if return_edges:
        return f1, rescale(dist[..., 1] - dist[..., 0])
    return f1


def bricks(rng, size):
    """Running-bond bricks or square tiles: 1 on the faces, falling to 0 in the mortar grooves."""
    u, v = _grid(size)
    rows = int(rng.integers(3, 14))
    cols = int(rng.integers(1, 6)) * (1 if rng.random() < 0.3 else 2)
    offset = 0.5 if rng.random() < 0.7 else 0.0
    row = np.floor(v * rows)
    uu = u * cols + offset * (row % 2)
    fu = uu - np.floor(uu)
    fv = v * rows - row
    mortar = rng.uniform(0.03, 0.12)
    edge = np.minimum(np.minimum(fu, 1.0 - fu) * rows / max(cols, 1), np.minimum(fv, 1.0 - fv))
    face = np.clip(edge / mortar, 0.0, 1.0)
    return smoothstep(face).astype(np.float32)


def photo(rng, size, name=None):
    """A random crop of a shipped photographic texture (grayscale, CC0; `name` or a random one), size×size."""
    names = assets.photo_names()
    gray = assets.load_photo(name or names[int(rng.integers(len(names)))])
    side = int(rng.integers(min(gray.shape) // 4, min(gray.shape) + 1))
    y0 = int(rng.integers(0, gray.shape[0] - side + 1))
    x0 = int(rng.integers(0, gray.shape[1] - side + 1))
    crop = Image.fromarray(gray[y0:y0 + side, x0:x0 + side]).resize((size, size), Image.BILINEAR)
    return rescale(np.asarray(crop, dtype=np.float32))


def resize_tileable(tile, size):
    """A tileable H×W float pattern resampled to size×size (same image, other resolution)."""
    if tile.shape == (size, size):
        return np.asarray(tile, np.float32)
    return np.asarray(Image.fromarray(np.asarray(tile, np.float32)).resize((size, size), Image.BILINEAR), np.float32)


def pattern(rng, size, kind):
    """One named pattern kind from PATTERN_KINDS, or "photo:<name>" for one photo texture."""
    if kind.startswith("photo:"):
        return photo(rng, size, kind.partition(":")[2])
    if kind == "noise":
        return fbm(rng, size, base_cells=int(rng.integers(2, 9)), octaves=int(rng.integers(3, 7)))
    if kind == "cells":
        return cells(rng, size)
    return {"stripes": stripes, "checkers": checkers, "bricks": bricks, "photo": photo}[kind](rng, size)


def _hash3(ix, iy, iz, seed):
    """Integer lattice hash → float32 in [0, 1) (vectorized, wrap-around uint32 arithmetic)."""
    h = (ix.astype(np.uint32) * np.uint32(73856093)) ^ (iy.astype(np.uint32) * np.uint32(19349663))
    h ^= iz.astype(np.uint32) * np.uint32(83492791)
    h ^= np.uint32(seed & 0xFFFFFFFF)
    h ^= h >> np.uint32(13)
    h *= np.uint32(0x5BD1E995)
    h ^= h >> np.uint32(15)
    return (h & np.uint32(0xFFFFFF)).astype(np.float32) / float(0x1000000)


def value_noise_3d(points, seed, frequency=1.0):
    """Smooth 3-D value noise in [-1, 1] at (N, 3) points, for displacing meshes."""
    p = np.asarray(points, dtype=np.float32) * frequency + 1000.0
    i0 = np.floor(p).astype(np.int64)
    t = smoothstep(p - i0)
    result = np.zeros(len(p), np.float32)
    for corner in range(8):
        offset = np.array([(corner >> k) & 1 for k in range(3)])
        weight = np.prod(np.where(offset == 1, t, 1.0 - t), axis=-1)
        idx = i0 + offset
        result += weight * _hash3(idx[:, 0], idx[:, 1], idx[:, 2], seed)
    return 2.0 * result - 1.0


def fbm_3d(points, seed, frequency=1.0, octaves=4, gain=0.5):
    """Fractal 3-D noise, roughly in [-1, 1]."""
    total = np.zeros(len(points), np.float32)
    amplitude, norm = 1.0, 0.0
    for octave in range(octaves):
        total += amplitude * value_noise_3d(points, seed + 7919 * octave, frequency * 2 ** octave)
        norm += amplitude
        amplitude *= gain
    return total / norm
