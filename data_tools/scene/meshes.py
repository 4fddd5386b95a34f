"""Triangle meshes built in numpy: parametric grids, displacement and smooth vertex normals.

Fine surface detail is real displacement of a dense grid, so the beauty render and the
normals pass agree on it exactly (Mitsuba's normals AOV ignores bump-mapped BSDFs).
"""

import dataclasses

import numpy as np


@dataclasses.dataclass
class Mesh:
    """Arrays of one triangle mesh: float32 vertices/normals (N, 3), uvs (N, 2), int32 faces (M, 3).

    `welded` marks closed surfaces whose coincident seam vertices must share normals.
    `grids` lists the parts that are row-major vertex grids as (first vertex, rows, cols): a grid
    part has a natural unique parametrization, which the texture baker (scene.bake) uses.
    """

    vertices: np.ndarray
    normals: np.ndarray
    uvs: np.ndarray
    faces: np.ndarray
    welded: bool = False
    grids: tuple = ()


def grid_faces(rows, cols):
    """Two triangles per grid cell of a rows×cols vertex grid (row-major vertex order)."""
    r, c = np.meshgrid(np.arange(rows - 1), np.arange(cols - 1), indexing="ij")
    v00 = (r * cols + c).ravel()
    v01, v10, v11 = v00 + 1, v00 + cols, v00 + cols + 1
    return np.concatenate([np.stack([v00, v10, v01], 1), np.stack([v01, v10, v11], 1)]).astype(np.int32)


def _weld_groups(vertices, decimals):
    """Index of the welded vertex each vertex belongs to (vertices equal after rounding share one)."""
    q = np.round(vertices * 10.0**decimals).astype(np.int64)
    q -= q.min(axis=0)
    dims = q.max(axis=0) + 1
    if np.prod(dims.astype(np.float64)) < 2**62:
        keys = np.ravel_multi_index(q.T, dims)
        return np.unique(keys, return_inverse=True)[1].ravel()
    return np.unique(q, axis=0, return_inverse=True)[1].ravel()


def vertex_normals(vertices, faces, weld=False, weld_decimals=5):
    """Area-weighted vertex normals.

    With weld, vertices at the same position (uv seams, poles) share one normal.
    """
    group = _weld_groups(vertices, weld_decimals) if weld else np.arange(len(vertices))
    v = np.asarray(vertices, np.float32)
    v0 = v[faces[:, 0]]
    face_n = np.cross(v[faces[:, 1]] - v0, v[faces[:, 2]] - v0)  # length = 2 × area, so the sum is area weighted
    count = int(group.max()) + 1
    acc = np.zeros((count, 3))
    for corner in range(3):
        index = group[faces[:, corner]]
        for axis in range(3):
            acc[:, axis] += np.bincount(index, weights=face_n[:, axis], minlength=count)
    n = acc[group]
    length = np.linalg.norm(n, axis=1, keepdims=True)
    return (n / np.maximum(length, 1e-12)).astype(np.float32)


def grid_mesh(positions, uvs, outward_hint, weld=False):
    """Mesh from an R×C×3 grid of positions, oriented so normals agree with outward_hint.

    Args:
      positions: R×C×3 vertex positions.
      uvs: R×C×2 texture coordinates.
      outward_hint: (N, 3) array or a 3-vector: the side the surface should face.
      weld: share normals between coincident vertices (closed surfaces with seams or poles).
    """
    rows, cols = positions.shape[:2]
    vertices = positions.reshape(-1, 3).astype(np.float32)
    faces = grid_faces(rows, cols)
    normals = vertex_normals(vertices, faces, weld)
    if np.mean(np.sum(normals * np.broadcast_to(outward_hint, vertices.shape), axis=1)) < 0:
        faces = faces[:, ::-1].copy()
        normals = -normals
    return Mesh(vertices, normals, uvs.reshape(-1, 2).astype(np.float32), faces, weld, ((0, rows, cols),))


def merge(meshes):
    """Concatenate meshes into one (normals are kept per part, so creases stay sharp)."""
    offsets = np.cumsum([0] + [len(m.vertices) for m in meshes[:-1]])
    grids = tuple((int(start + o), rows, cols) for m, o in zip(meshes, offsets) for start, rows, cols in m.grids)
    return Mesh(np.concatenate([m.vertices for m in meshes]),
                np.concatenate([m.normals for m in meshes]),
                np.concatenate([m.uvs for m in meshes]),
                np.concatenate([m.faces + o for m, o in zip(meshes, offsets)]).astype(np.int32), False, grids)


def transform(mesh, matrix):
    """Apply a 4×4 affine transform (normals by the inverse transpose)."""
    matrix = np.asarray(matrix, np.float64)
    linear = matrix[:3, :3]
    vertices = mesh.vertices @ linear.T + matrix[:3, 3]
    normals = mesh.normals @ np.linalg.inv(linear)  # == (inv(L).T @ n.T).T
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    faces = mesh.faces if np.linalg.det(linear) > 0 else mesh.faces[:, ::-1].copy()
    return dataclasses.replace(mesh, vertices=vertices.astype(np.float32), normals=normals.astype(np.float32),
                               faces=faces)


def displace(mesh, heights):
    """Move vertices along their normals by per-vertex heights and recompute normals."""
    vertices = mesh.vertices + mesh.normals * np.asarray(heights, np.float32)[:, None]
    return dataclasses.replace(mesh, vertices=vertices, normals=vertex_normals(vertices, mesh.faces, mesh.welded))


def sample_pattern(pattern, uvs):
    """Bilinear lookup of a tileable H×W (or H×W×C) pattern at (N, 2) uv coordinates (wrapping).

    Returns (N,) or (N, C) float32; v = 0 is the bottom row, as Mitsuba samples bitmaps.
    """
    h, w = pattern.shape[:2]
    x = (uvs[:, 0] % 1.0) * w - 0.5
    y = (1.0 - uvs[:, 1] % 1.0) * h - 0.5
    x0, y0 = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
    tx, ty = (x - x0).astype(np.float32), (y - y0).astype(np.float32)
    x0, y0 = x0 % w, y0 % h
    x1, row1 = (x0 + 1) % w, ((y0 + 1) % h) * w
    row0 = y0 * w
    flat = pattern.reshape(h * w, -1) if pattern.ndim == 3 else pattern.reshape(h * w)
    if pattern.ndim == 3:
        tx, ty = tx[:, None], ty[:, None]
    top = flat[row0 + x0] * (1 - tx) + flat[row0 + x1] * tx
    bottom = flat[row1 + x0] * (1 - tx) + flat[row1 + x1] * tx
    return (top * (1 - ty) + bottom * ty).astype(np.float32)


def _uv_grid(rows, cols):
    v, u = np.meshgrid(np.linspace(0.0, 1.0, rows), np.linspace(0.0, 1.0, cols), indexing="ij")
    return u, v


def sphere(rows=64, cols=128):
    """Unit UV sphere centered at the origin."""
    u, v = _uv_grid(rows, cols)
    theta, phi = np.pi * v, 2.0 * np.pi * u
    pos = np.stack([np.sin(theta) * np.cos(phi), -np.cos(theta), np.sin(theta) * np.sin(phi)], -1)
    return grid_mesh(pos, np.stack([u * 2.0, v], -1), pos.reshape(-1, 3), weld=True)


def torus(major=1.0, minor=0.35, rows=48, cols=128):
    """Torus around the Y axis."""
    u, v = _uv_grid(rows, cols)
    phi, theta = 2.0 * np.pi * u, 2.0 * np.pi * v
    ring = np.stack([np.cos(phi), np.zeros_like(phi), np.sin(phi)], -1)
    tube = np.cos(theta)[..., None] * ring + np.sin(theta)[..., None] * np.array([0.0, 1.0, 0.0])
    pos = major * ring + minor * tube
    return grid_mesh(pos, np.stack([u * 3.0, v], -1), tube.reshape(-1, 3), weld=True)


def capsule(radius=0.5, half_length=0.5, rows=72, cols=96):
    """Capsule along Y: a cylinder of radius `radius` capped by hemispheres."""
    u, v = _uv_grid(rows, cols)
    theta, phi = np.pi * v, 2.0 * np.pi * u
    unit = np.stack([np.sin(theta) * np.cos(phi), -np.cos(theta), np.sin(theta) * np.sin(phi)], -1)
    offset = np.where(v < 0.5, -half_length, half_length)[..., None] * np.array([0.0, 1.0, 0.0])
    pos = radius * unit + offset
    return grid_mesh(pos, np.stack([u * 2.0, v * 2.0], -1), unit.reshape(-1, 3), weld=True)


def _disk(radius, y, facing, rows, cols):
    u, v = _uv_grid(rows, cols)
    r, phi = radius * v, 2.0 * np.pi * u
    pos = np.stack([r * np.cos(phi), np.full_like(r, y), r * np.sin(phi)], -1)
    return grid_mesh(pos, np.stack([0.5 + 0.5 * v * np.cos(phi), 0.5 + 0.5 * v * np.sin(phi)], -1),
                     np.array([0.0, facing, 0.0]), weld=True)


def cylinder(radius=0.5, height=1.0, rows=48, cols=128, flutes=0, flute_depth=0.0):
    """Closed cylinder along Y from 0 to height; optional vertical flutes like a column."""
    u, v = _uv_grid(rows, cols)
    phi = 2.0 * np.pi * u
    r = radius * (1.0 - flute_depth * 0.5 * (1.0 - np.cos(flutes * phi))) if flutes else np.full_like(u, radius)
    side = np.stack([r * np.cos(phi), height * v, r * np.sin(phi)], -1)
    hint = np.stack([np.cos(phi), np.zeros_like(phi), np.sin(phi)], -1).reshape(-1, 3)
    wall = grid_mesh(side, np.stack([u * 3.0, v * height], -1), hint, weld=True)
    return merge([wall, _disk(radius * (1.0 - flute_depth), 0.0, -1.0, 8, cols),
                  _disk(radius * (1.0 - flute_depth), height, 1.0, 8, cols)])


def plane(size_x, size_z, rows, cols, uv_scale=1.0):
    """Horizontal rectangle in XZ at y = 0 facing +Y, centered at the origin."""
    u, v = _uv_grid(rows, cols)
    pos = np.stack([(u - 0.5) * size_x, np.zeros_like(u), (v - 0.5) * size_z], -1)
    return grid_mesh(pos, np.stack([u * size_x, v * size_z], -1) * uv_scale, np.array([0.0, 1.0, 0.0]))


def edge_taper(uvs, width=0.04):
    """1 inside a face, falling to 0 within `width` of its uv border (keeps box edges closed)."""
    d = np.minimum(np.minimum(uvs[:, 0], 1.0 - uvs[:, 0]), np.minimum(uvs[:, 1], 1.0 - uvs[:, 1]))
    return np.clip(d / width, 0.0, 1.0).astype(np.float32)


def box(size, cells_per_unit=40, face_height=None, max_cells=96):
    """Axis-aligned box centered at the origin, one grid per face (sharp edges).

    Args:
      size: (sx, sy, sz) edge lengths.
      cells_per_unit: grid density, capped at max_cells per face side.
      face_height: optional f(normal_axis, uv (N, 2), face_extent (w, h), box_size (3,)) → heights
        along the face normal, tapered to 0 at the face border so faces stay joined.
    """
    size = np.asarray(size, np.float64)
    half = size / 2.0
    parts = []
    for axis, sign in [(a, s) for a in range(3) for s in (1.0, -1.0)]:
        a1, a2 = [k for k in range(3) if k != axis]
        rows = int(np.clip(size[a2] * cells_per_unit, 4, max_cells)) + 1
        cols = int(np.clip(size[a1] * cells_per_unit, 4, max_cells)) + 1
        u, v = _uv_grid(rows, cols)
        pos = np.zeros(u.shape + (3,))
        pos[..., axis] = sign * half[axis]
        pos[..., a1] = (u - 0.5) * size[a1]
        pos[..., a2] = (v - 0.5) * size[a2]
        normal = np.zeros(3)
        normal[axis] = sign
        uvs = np.stack([u, v], -1).reshape(-1, 2)
        if face_height is not None:
            heights = face_height(axis, uvs, (size[a1], size[a2]), size) * edge_taper(uvs)
            heights = np.maximum(heights, -0.45 * size[axis])  # opposite faces never cross
            pos = pos + (heights[:, None] * normal).reshape(pos.shape)
        face = grid_mesh(pos, uvs.reshape(rows, cols, 2), normal)
        face.uvs = face.uvs * np.array([size[a1], size[a2]], np.float32)
        parts.append(face)
    return merge(parts)


def revolution(radii, heights, cols=128, uv_turns=3.0):
    """Closed surface of revolution about +Y from a profile (radii[i] at heights[i], bottom to top).

    A profile that starts and ends at radius 0 gives a closed solid (vase, bottle, baluster).
    UV: u around the axis (uv_turns repeats), v the profile's arc length.
    """
    radii, heights = np.asarray(radii, np.float64), np.asarray(heights, np.float64)
    phi = 2.0 * np.pi * np.linspace(0.0, 1.0, cols)
    ring = np.stack([np.cos(phi), np.zeros_like(phi), np.sin(phi)], -1)
    pos = radii[:, None, None] * ring[None] + heights[:, None, None] * np.array([0.0, 1.0, 0.0])
    arc = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(radii), np.diff(heights)))])
    u, v = np.meshgrid(np.linspace(0.0, uv_turns, cols), arc, indexing="xy")
    centre = np.array([0.0, 1.0, 0.0]) * (heights.min() + heights.max()) / 2.0
    return grid_mesh(pos, np.stack([u, v], -1), (pos - centre).reshape(-1, 3), weld=True)


def _signed_power(x, e):
    return np.sign(x) * np.abs(x) ** e


def superquadric(e1, e2, rows=48, cols=96):
    """Unit superquadric (|x|^(2/e2) + |z|^(2/e2))^(e2/e1) + |y|^(2/e1) = 1, Y up.

    Exponents below 1 give rounded boxes and cylinders with bevel-like edges, 1 an ellipsoid,
    above 1 pinched, star-like solids.
    """
    u, v = _uv_grid(rows, cols)
    eta, omega = np.pi * (v - 0.5), np.pi * (2.0 * u - 1.0)
    ce, se = _signed_power(np.cos(eta), e1), _signed_power(np.sin(eta), e1)
    pos = np.stack([ce * _signed_power(np.cos(omega), e2), se, ce * _signed_power(np.sin(omega), e2)], -1)
    return grid_mesh(pos, np.stack([u * 2.0, v], -1), pos.reshape(-1, 3), weld=True)


def thick_sheet(positions, uvs, outward_hint, thickness):
    """A closed sheet from an R×C×3 grid surface: the surface, a copy `thickness` behind it, and the rims.

    Closed, so whichever side a camera sees, its normals face the camera (cloth, backdrops).
    """
    front = grid_mesh(positions, uvs, outward_hint)
    rows, cols = positions.shape[:2]
    back_positions = (front.vertices - thickness * front.normals).reshape(rows, cols, 3)
    back = grid_mesh(back_positions, uvs, -front.normals)
    parts = [front, back]
    for edge, back_edge in ((positions[0], back_positions[0]), (positions[-1], back_positions[-1]),
                            (positions[:, 0], back_positions[:, 0]), (positions[:, -1], back_positions[:, -1])):
        centre = positions.reshape(-1, 3).mean(0)
        strip_uv = np.stack(np.meshgrid(np.linspace(0.0, 1.0, len(edge)), [0.0, thickness], indexing="xy"), -1)
        parts.append(grid_mesh(np.stack([edge, back_edge], 0), strip_uv, np.tile(edge - centre, (2, 1))))
    return merge(parts)


def heightfield_slab(heights, size_x, size_z, thickness):
    """A closed sheet whose top is y = heights (R×C over size_x × size_z, centred), e.g. draped cloth."""
    u, v = _uv_grid(*heights.shape)
    top = np.stack([(u - 0.5) * size_x, heights, (v - 0.5) * size_z], -1)
    return thick_sheet(top, np.stack([u * size_x, v * size_z], -1), np.array([0.0, 1.0, 0.0]), thickness)


def bounds(mesh):
    """(min corner, max corner) of a mesh's vertices."""
    return mesh.vertices.min(0).astype(np.float64), mesh.vertices.max(0).astype(np.float64)


def fit_to_box(mesh, dims):
    """Scale and move a mesh so its bounding box is `dims` (x, y, z), centred on X/Z, base at y = 0."""
    lo, hi = bounds(mesh)
    scale = np.asarray(dims, np.float64) / np.maximum(hi - lo, 1e-9)
    matrix = np.diag(list(scale) + [1.0])
    matrix[:3, 3] = -scale * np.array([(lo[0] + hi[0]) / 2.0, lo[1], (lo[2] + hi[2]) / 2.0])
    return transform(mesh, matrix)
