"""Bake an object's textures into a per-object atlas: patterns plus wear and dirt that follow its shape.

A renderer slot has one bitmap per BSDF channel. Tiled UVs repeat a pattern but cannot know
where an object's edges and cavities are, and per-vertex colours cost more render time than
the whole path tracer budget allows (measured: +0.13 s per sample for three vertex
attributes on six slots). So every grid part of an object (meshes.Mesh.grids) gets its own
tile of the atlas, sized by its surface extent; each texel samples the material's tileable
patterns at the part's original UVs and is then worn on convex edges (lighter, rougher, bare
metal) and dirtied in cavities (dark, rough), from a curvature estimate on the welded mesh.
"""

import dataclasses

import numpy as np

from data_tools.scene import meshes, procedural

WELD_DECIMALS = 4


def sharpness(mesh):
    """Per-vertex signed sharpness: the umbrella Laplacian along the normal over the edge length.

    Negative on convex edges and bumps, positive in creases and cavities; about ±0.3 at a 90°
    edge, near 0 on smooth surfaces at any mesh density. Coincident vertices (box edges, seams)
    are welded first, so an edge between two separate faces is seen.
    """
    group = meshes._weld_groups(mesh.vertices, WELD_DECIMALS)
    count = int(group.max()) + 1
    first = np.zeros(count, np.int64)
    first[group[::-1]] = np.arange(len(group))[::-1]
    p = mesh.vertices[first].astype(np.float64)
    normal = np.stack([np.bincount(group, weights=mesh.normals[:, k], minlength=count) for k in range(3)], 1)
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-9)
    faces = group[mesh.faces]
    total, degree, reach = np.zeros((count, 3)), np.zeros(count), np.zeros(count)
    for a, b in ((0, 1), (1, 2), (2, 0), (1, 0), (2, 1), (0, 2)):
        i, j = faces[:, a], faces[:, b]
        for axis in range(3):
            total[:, axis] += np.bincount(i, weights=p[j, axis], minlength=count)
        degree += np.bincount(i, minlength=count)
        reach += np.bincount(i, weights=np.linalg.norm(p[j] - p[i], axis=1), minlength=count)
    degree = np.maximum(degree, 1)
    laplacian = total / degree[:, None] - p
    edge = np.maximum(reach / degree, 1e-9)
    return (np.sum(laplacian * normal, axis=1) / edge)[group].astype(np.float32)


def _part_extent(vertices, rows, cols):
    grid = vertices.reshape(rows, cols, 3)
    along_u = np.linalg.norm(np.diff(grid, axis=1), axis=-1).sum(1).mean() if cols > 1 else 0.0
    along_v = np.linalg.norm(np.diff(grid, axis=0), axis=-1).sum(0).mean() if rows > 1 else 0.0
    return max(along_u, 1e-6), max(along_v, 1e-6)


def _shelf_pack(sizes, side):
    """Place (w, h) rectangles on shelves in a side×side square; positions or None if they do not fit."""
    order = sorted(range(len(sizes)), key=lambda k: -sizes[k][1])
    x = y = shelf = 0
    places = [None] * len(sizes)
    for k in order:
        w, h = sizes[k]
        if x + w > side:
            x, y, shelf = 0, y + shelf, 0
        if y + h > side or w > side:
            return None
        places[k] = (x, y)
        x, shelf = x + w, max(shelf, h)
    return places


def atlas_layout(mesh, side):
    """(x, y, w, h) texel rectangles, one per grid part, with texel density as even as fits."""
    extents = [_part_extent(mesh.vertices[s:s + r * c], r, c) for s, r, c in mesh.grids]
    area = sum(u * v for u, v in extents)
    scale = side / np.sqrt(area)  # texels per unit length if the parts tiled the square exactly
    while True:
        sizes = [(int(np.clip(u * scale, 2, side)), int(np.clip(v * scale, 2, side))) for u, v in extents]
        places = _shelf_pack(sizes, side)
        if places is not None:
            return [(x, y, w, h) for (x, y), (w, h) in zip(places, sizes)]
        scale *= 0.92


def _resample(grid, h, w):
    """Bilinear resample of a rows×cols×C grid onto h×w texels (corner to corner)."""
    rows, cols = grid.shape[:2]
    r = np.linspace(0.0, rows - 1.0, h)
    c = np.linspace(0.0, cols - 1.0, w)
    r0 = np.minimum(r.astype(int), max(rows - 2, 0))
    c0 = np.minimum(c.astype(int), max(cols - 2, 0))
    tr, tc = (r - r0)[:, None, None], (c - c0)[None, :, None]
    r1, c1 = np.minimum(r0 + 1, rows - 1), np.minimum(c0 + 1, cols - 1)
    top = grid[r0][:, c0] * (1 - tc) + grid[r0][:, c1] * tc
    bottom = grid[r1][:, c0] * (1 - tc) + grid[r1][:, c1] * tc
    return top * (1 - tr) + bottom * tr


def _blur(image, radius):
    """Separable box blur (edge-clamped) of an H×W array."""
    if radius < 1:
        return image
    k = np.ones(2 * radius + 1) / (2 * radius + 1)
    padded = np.pad(image, radius, mode="edge")
    rows = np.apply_along_axis(lambda a: np.convolve(a, k, mode="valid"), 1, padded)
    return np.apply_along_axis(lambda a: np.convolve(a, k, mode="valid"), 0, rows)


def bake(mesh, material, tiles, side):
    """Atlas UVs for `mesh` and its baked textures, or (mesh, tiles) unchanged for non-grid meshes.

    Args:
      mesh: an object's world-space Mesh with grid parts.
      material: its spec material (uv_scale, wear).
      tiles: the material's tileable textures (materials.textures).
      side: atlas size in texels.
    """
    if not mesh.grids or sum(r * c for _, r, c in mesh.grids) != len(mesh.vertices):
        return dataclasses.replace(mesh, uvs=mesh.uvs * material["uv_scale"]), tiles
    wear = material["wear"]
    worn = wear["edge"] > 0 or wear["dirt"] > 0
    edge_sharp = sharpness(mesh) if worn else np.zeros(len(mesh.vertices), np.float32)
    layout = atlas_layout(mesh, side)
    pattern_uv = np.zeros((side, side, 2), np.float32)
    sharp = np.zeros((side, side), np.float32)
    covered = np.zeros((side, side), bool)
    atlas_uvs = np.zeros((len(mesh.vertices), 2), np.float32)
    for (start, rows, cols), (x, y, w, h) in zip(mesh.grids, layout):
        span = slice(start, start + rows * cols)
        values = np.concatenate([mesh.uvs[span] * material["uv_scale"], edge_sharp[span, None]], 1)
        texels = _resample(values.reshape(rows, cols, 3), h, w)
        pattern_uv[y:y + h, x:x + w] = texels[..., :2]
        sharp[y:y + h, x:x + w] = texels[..., 2]
        covered[y:y + h, x:x + w] = True
        rr, cc = np.meshgrid(np.arange(rows) / max(rows - 1, 1), np.arange(cols) / max(cols - 1, 1), indexing="ij")
        atlas_uvs[span, 0] = ((x + cc * (w - 1) + 0.5) / side).ravel()
        atlas_uvs[span, 1] = (1.0 - (y + rr * (h - 1) + 0.5) / side).ravel()
    flat_uv = pattern_uv.reshape(-1, 2)
    baked = {key: meshes.sample_pattern(tile, flat_uv).reshape(side, side, -1) for key, tile in tiles.items()}
    if worn:
        rng = np.random.default_rng(wear["seed"])
        chips = procedural.fbm(rng, side, base_cells=8, octaves=4)
        edge = wear["edge"] * procedural.smoothstep(np.clip((-sharp - 0.04) / 0.15, 0, 1)) * (chips > 0.35)
        dirt = wear["dirt"] * procedural.smoothstep(np.clip(_blur(sharp, max(side // 128, 1)) / 0.08, 0, 1))
        dirt = np.maximum(dirt, wear["dirt"] * 0.35 * (chips > 0.75))  # grime patches on open surfaces
        edge, dirt = (m[..., None] * covered[..., None] for m in (edge, dirt))
        baked["base_color"] = (baked["base_color"] * (1 - edge) + np.asarray(wear["edge_color"], np.float32) * edge)
        baked["base_color"] = baked["base_color"] * (1 - dirt) + np.asarray(wear["dirt_color"], np.float32) * dirt
        baked["roughness"] = np.clip(baked["roughness"] + 0.4 * edge + 0.5 * dirt, 0.0, 1.0)
        baked["metallic"] = baked["metallic"] * (1 - dirt)
    baked = {k: v.astype(np.float32) for k, v in baked.items()}
    return dataclasses.replace(mesh, uvs=atlas_uvs), baked
