"""Convert the renderer's third-party assets into the small files committed in data_tools/assets/.

Usage (once, by a maintainer; nothing here runs at render time and nothing is downloaded):
  npm pack @pmndrs/assets@1.7.0 && tar xzf pmndrs-assets-1.7.0.tgz
  git clone https://github.com/odedstein/meshes && git -C meshes checkout 8352132   # as CREDITS.md names
  pip install DracoPy fast-simplification   # dev-time only: Draco glTF decoding, mesh decimation
  python -m data_tools.import_assets --pmndrs_dir=package --odedstein_dir=meshes
  python -m data_tools.import_assets --mesh=NAME=FILE   # any other OBJ, PLY or binary glTF mesh

@pmndrs/assets (npm, CC0-1.0) ships each asset as a JavaScript module holding a base64 data
URL. This tool takes out:
  hdri/*.exr        Poly Haven HDRIs, 512×256: the package's lossy (DWAB) EXRs decoded, their
                    compression ringing (negative values, down to −4000 beside a sun) clipped
                    to 0, and written as lossless ZIP half-float EXR;
  meshes/*.npz      glTF meshes decoded from Draco into float32 vertices + int32 faces,
                    centred and scaled into the unit sphere (the renderer places and sizes them);
  heights/*.png     material normal maps integrated into tileable 16-bit height maps
                    (Frankot–Chellappa), used as real displacement detail.
odedstein/meshes (GitHub, a licence per object in its objects/NAME/README.md) gives the
scanned and modelled meshes of ODEDSTEIN_MESHES; --mesh adds any other one. Every mesh file
(OBJ, PLY, or binary glTF with or without Draco, all its primitives merged) is decimated to at
most --max_faces faces, wound outward and stored like the glTF ones in meshes/*.npz.
data_tools/assets/CREDITS.md names each file's source and licence.
"""

import base64
import glob
import io
import json
import os
import re
import struct
import tempfile

import numpy as np
from absl import flags
from PIL import Image

from tfnormals.core import cli, errors, image_io

FLAGS = flags.FLAGS

ASSETS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "assets")
HEIGHT_SIZE = 256
# Meshes licensed for any use. bunny.glb (the Stanford bunny) is left out: Stanford's terms
# do not allow commercial use; pmndrs.glb is a logo.
MESHES = {"suzi": "suzanne"}
# Meshes of github.com/odedstein/meshes (objects/ folder) whose README there gives a free licence
# (public domain or CC BY), picked for varied real shapes: a bust, animals, a skull, a tool, a boot.
# Its Nefertiti is left out: the "released into the public domain" scan's provenance is disputed.
ODEDSTEIN_MESHES = {
    "demosthenes": "demosthenes/demosthenes-low-res.obj",
    "spot": "spot/spot.obj",
    "koala": "koala/koala.obj",
    "cat": "cat/cat-low-resolution.obj",
    "scorpion": "scorpion/scorpion.obj",
    "skull": "skull/skull.obj",
    "hammer": "hammer/hammer.obj",
    "boot": "boot/boot.obj",
}
MAX_FACES = 30_000
GLTF_COMPONENTS = {5120: np.int8, 5121: np.uint8, 5122: np.int16, 5123: np.uint16, 5125: np.uint32, 5126: np.float32}
GLTF_WIDTHS = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}
PLY_TYPES = {"char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1", "short": "i2", "int16": "i2",
             "ushort": "u2", "uint16": "u2", "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
             "float": "f4", "float32": "f4", "double": "f8", "float64": "f8"}


def data_url_bytes(js_path):
    """Bytes of the base64 data URL inside one @pmndrs/assets module."""
    with open(js_path) as f:
        match = re.search(r"base64,([A-Za-z0-9+/=]+)", f.read())
    return base64.b64decode(match.group(1))


def glb_parts(data):
    """The JSON and binary chunks of a binary glTF."""
    json_len = struct.unpack("<I", data[12:16])[0]
    bin_start = 20 + json_len + 8
    bin_len = struct.unpack("<I", data[bin_start - 8:bin_start - 4])[0] if len(data) > bin_start else 0
    return json.loads(data[20:20 + json_len]), data[bin_start:bin_start + bin_len]


def gltf_accessor(gltf, binary, index):
    """One glTF accessor as a float64 array (count × width), normalized integers left as stored."""
    accessor = gltf["accessors"][index]
    view = gltf["bufferViews"][accessor["bufferView"]]
    dtype = np.dtype(GLTF_COMPONENTS[accessor["componentType"]])
    width = GLTF_WIDTHS[accessor["type"]]
    stride = view.get("byteStride", dtype.itemsize * width)
    start = view.get("byteOffset", 0) + accessor.get("byteOffset", 0)
    rows = np.ndarray((accessor["count"], width), dtype, binary, start, (stride, dtype.itemsize))
    return rows.astype(np.float64)


def gltf_primitive(gltf, binary, primitive):
    """(vertices, faces) of one triangle primitive, Draco-compressed (through DracoPy) or plain."""
    draco = primitive.get("extensions", {}).get("KHR_draco_mesh_compression")
    if draco:
        import DracoPy  # dev-time dependency of this tool only

        view = gltf["bufferViews"][draco["bufferView"]]
        offset = view.get("byteOffset", 0)
        mesh = DracoPy.decode(binary[offset:offset + view["byteLength"]])
        return np.asarray(mesh.points, np.float64).reshape(-1, 3), np.asarray(mesh.faces, np.int64).reshape(-1, 3)
    vertices = gltf_accessor(gltf, binary, primitive["attributes"]["POSITION"])
    if "indices" in primitive:
        faces = gltf_accessor(gltf, binary, primitive["indices"]).astype(np.int64).reshape(-1, 3)
    else:
        faces = np.arange(len(vertices)).reshape(-1, 3)
    return vertices, faces


def gltf_node_matrix(node):
    """A glTF node's local 4×4 transform (its matrix, or translation · rotation · scale)."""
    if "matrix" in node:
        return np.asarray(node["matrix"], np.float64).reshape(4, 4).T  # stored column-major
    x, y, z, w = node.get("rotation", (0.0, 0.0, 0.0, 1.0))
    rotation = np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                         [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                         [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])
    matrix = np.eye(4)
    matrix[:3, :3] = rotation * np.asarray(node.get("scale", (1.0, 1.0, 1.0)))
    matrix[:3, 3] = node.get("translation", (0.0, 0.0, 0.0))
    return matrix


def glb_mesh(data):
    """(vertices, faces) of a binary glTF's default scene: every triangle primitive, placed by its nodes."""
    gltf, binary = glb_parts(data)
    parts = []

    def visit(index, parent):
        node = gltf["nodes"][index]
        matrix = parent @ gltf_node_matrix(node)
        primitives = gltf["meshes"][node["mesh"]]["primitives"] if "mesh" in node else []
        for primitive in primitives:
            if primitive.get("mode", 4) == 4:  # triangles
                vertices, faces = gltf_primitive(gltf, binary, primitive)
                mirrored = np.linalg.det(matrix[:3, :3]) < 0
                parts.append((vertices @ matrix[:3, :3].T + matrix[:3, 3], faces[:, ::-1] if mirrored else faces))
        for child in node.get("children", ()):
            visit(child, matrix)

    for root in gltf["scenes"][gltf.get("scene", 0)]["nodes"]:
        visit(root, np.eye(4))
    return merge_meshes(parts)


def merge_meshes(parts):
    """One (vertices, faces) mesh from several, faces re-indexed."""
    offsets = np.cumsum([0] + [len(v) for v, _ in parts])
    return (np.concatenate([v for v, _ in parts]),
            np.concatenate([f + offset for (_, f), offset in zip(parts, offsets)]))


def _obj_records(text):
    """(positions, normals, faces of (position, normal) index pairs) of a Wavefront OBJ (every object and group;
    polygons fanned into triangles; a corner without a normal has normal index -1)."""
    vertices, vertex_normals, faces = [], [], []
    for line in text.splitlines():
        fields = line.split()
        if not fields:
            continue
        if fields[0] in ("v", "vn"):
            (vertices if fields[0] == "v" else vertex_normals).append([float(c) for c in fields[1:4]])
        elif fields[0] == "f":
            corners = []
            for token in fields[1:]:
                parts = token.split("/")
                v = int(parts[0])
                n = int(parts[2]) if len(parts) > 2 and parts[2] else 0
                corners.append((v - 1 if v > 0 else len(vertices) + v,
                                n - 1 if n > 0 else (len(vertex_normals) + n if n < 0 else -1)))
            faces.extend([corners[0], corners[i], corners[i + 1]] for i in range(1, len(corners) - 1))
    return (np.asarray(vertices, np.float64), np.asarray(vertex_normals, np.float64).reshape(-1, 3),
            np.asarray(faces, np.int64).reshape(-1, 3, 2))


def obj_mesh(text):
    """(vertices, faces) of a Wavefront OBJ (every object and group; polygons fanned into triangles)."""
    vertices, _, faces = _obj_records(text)
    return vertices, faces[..., 0]


def obj_mesh_with_normals(text):
    """(vertices, faces, vertex normals or None) of an OBJ: with `vn` normals on every corner, a vertex per distinct
    (position, normal) pair, so creases and seams keep the file's normals."""
    vertices, vertex_normals, faces = _obj_records(text)
    if not len(faces) or (faces[..., 1] < 0).any():
        return vertices, faces[..., 0], None
    pairs, index = np.unique(faces.reshape(-1, 2), axis=0, return_inverse=True)
    return vertices[pairs[:, 0]], index.reshape(-1, 3), vertex_normals[pairs[:, 1]]


def ply_header(data):
    """(format, elements, body offset) of a PLY; elements as (name, count, [(property, type, list count type)])."""
    end = data.index(b"end_header") + len(b"end_header")
    end += 2 if data[end:end + 2] == b"\r\n" else 1
    fmt, elements = None, []
    for fields in (line.split() for line in data[:end].decode("ascii").splitlines()):
        if fields and fields[0] == "format":
            fmt = fields[1]
        elif fields and fields[0] == "element":
            elements.append((fields[1], int(fields[2]), []))
        elif fields and fields[0] == "property":
            count_type = PLY_TYPES[fields[2]] if fields[1] == "list" else None
            elements[-1][2].append((fields[-1], PLY_TYPES[fields[-2]], count_type))
    return fmt, elements, end


def ply_binary_element(data, offset, order, count, properties):
    """({property: values}, next offset) of one binary PLY element; list properties read row by row."""
    if not any(count_type for _, _, count_type in properties):
        table = np.frombuffer(data, np.dtype([(p, order + kind) for p, kind, _ in properties]), count, offset)
        return {p: table[p] for p, _, _ in properties}, offset + table.nbytes
    values = {p: [] for p, _, _ in properties}
    for _ in range(count):
        for p, kind, count_type in properties:
            length = 1
            if count_type:
                length = int(np.frombuffer(data, order + count_type, 1, offset)[0])
                offset += np.dtype(count_type).itemsize
            values[p].append(np.frombuffer(data, order + kind, length, offset))
            offset += np.dtype(kind).itemsize * length
    return values, offset


def ply_ascii_element(tokens, count, properties):
    """{property: values} of one ASCII PLY element, read from an iterator over the body's words."""
    values = {p: [] for p, _, _ in properties}
    for _ in range(count):
        for p, _, count_type in properties:
            length = int(next(tokens)) if count_type else 1
            values[p].append([float(next(tokens)) for _ in range(length)])
    return values


def _ply_values(data):
    """{element: {property: values}} of an ASCII or binary PLY."""
    fmt, elements, offset = ply_header(data)
    tokens = iter(data[offset:].split()) if fmt == "ascii" else None
    values = {}
    for name, count, properties in elements:
        if fmt == "ascii":
            values[name] = ply_ascii_element(tokens, count, properties)
        else:
            values[name], offset = ply_binary_element(data, offset, ">" if "big" in fmt else "<", count, properties)
    return values


def ply_mesh(data):
    """(vertices, faces) of an ASCII or binary PLY (vertex x, y, z; face vertex lists fanned into triangles)."""
    vertices, faces, _ = ply_mesh_with_normals(data)
    return vertices, faces


def ply_mesh_with_normals(data):
    """(vertices, faces, vertex normals or None) of a PLY; normals from the vertex properties nx, ny, nz."""
    values = _ply_values(data)
    vertex = values["vertex"]
    vertices = np.stack([np.ravel(vertex[axis]) for axis in "xyz"], 1).astype(np.float64)
    polygons = values["face"].get("vertex_indices", values["face"].get("vertex_index"))
    faces = [[p[0], p[i], p[i + 1]] for p in polygons for i in range(1, len(p) - 1)]
    normals = None
    if all(axis in vertex for axis in ("nx", "ny", "nz")):
        normals = np.stack([np.ravel(vertex[axis]) for axis in ("nx", "ny", "nz")], 1).astype(np.float64)
    return vertices, np.asarray(faces, np.int64).reshape(-1, 3), normals


def read_mesh(path, with_normals=False):
    """(vertices, faces) of an OBJ, PLY or binary glTF (.glb) file, by its extension; with_normals adds the file's
    vertex normals or None (OBJ `vn`, then a vertex per distinct position and normal; PLY nx/ny/nz; none from glTF)."""
    with open(path, "rb") as f:
        data = f.read()
    extension = os.path.splitext(path)[1].lower()
    if extension == ".obj":
        text = data.decode("utf-8", "replace")
        return obj_mesh_with_normals(text) if with_normals else obj_mesh(text)
    if extension == ".ply":
        return ply_mesh_with_normals(data) if with_normals else ply_mesh(data)
    if extension == ".glb":
        return (*glb_mesh(data), None) if with_normals else glb_mesh(data)
    raise ValueError(f"{path}: not an OBJ, PLY or binary glTF mesh")


def weld(vertices, faces):
    """Merge vertices at identical positions (split at UV or normal seams) and drop the faces that collapse."""
    vertices, inverse = np.unique(vertices, axis=0, return_inverse=True)
    faces = inverse.reshape(-1)[faces]
    keep = (faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 2] != faces[:, 0])
    return vertices, faces[keep]


def decimate(vertices, faces, max_faces):
    """The welded mesh quadric-decimated (fast-simplification) to at most max_faces faces."""
    import fast_simplification  # dev-time dependency of this tool only

    vertices, faces = weld(vertices, faces)
    vertices, faces = fast_simplification.simplify(vertices, faces.astype(np.int32), target_count=max_faces)
    return drop_double_faces(vertices, faces)


def drop_double_faces(vertices, faces):
    """Without the triangles present twice (decimation flattens thin parts into two-sided pairs) or unused vertices."""
    _, inverse, counts = np.unique(np.sort(faces, 1), axis=0, return_inverse=True, return_counts=True)
    faces = faces[counts[inverse.reshape(-1)] == 1]
    used = np.unique(faces)
    return vertices[used], np.searchsorted(used, faces)


def orient_outward(vertices, faces):
    """Faces wound counter-clockwise seen from outside: flipped when the enclosed signed volume is negative."""
    v = vertices[faces] - vertices.mean(0)
    volume = np.einsum("ij,ij->i", v[:, 0], np.cross(v[:, 1], v[:, 2])).sum()
    return faces if volume >= 0 else faces[:, ::-1]


def convert_mesh(vertices, faces, max_faces=MAX_FACES):
    """A mesh as committed: at most max_faces faces wound outward, float32 vertices in the unit sphere."""
    if len(faces) > max_faces:
        vertices, faces = decimate(vertices, faces, max_faces)
    return normalize_mesh(vertices), orient_outward(vertices, faces).astype(np.int32)


def write_mesh(name, vertices, faces, max_faces=MAX_FACES):
    """Store a mesh, converted, as meshes/NAME.npz."""
    vertices, faces = convert_mesh(vertices, faces, max_faces)
    np.savez_compressed(os.path.join(ASSETS, "meshes", f"{name}.npz"), vertices=vertices, faces=faces)


def normalize_mesh(vertices):
    """Centre a mesh on its bounding-box middle and scale it into the unit sphere."""
    centre = (vertices.min(0) + vertices.max(0)) / 2.0
    vertices = vertices - centre
    return (vertices / np.linalg.norm(vertices, axis=1).max()).astype(np.float32)


def normal_map_heights(rgb):
    """Tileable height map (0..1) whose gradients match a tangent-space normal map (Frankot–Chellappa)."""
    n = rgb.astype(np.float64) / 255.0 * 2.0 - 1.0
    nz = np.maximum(n[..., 2], 0.2)
    p, q = -n[..., 0] / nz, n[..., 1] / nz  # dz/dx and dz/dy (image rows run down, OpenGL green up)
    rows, cols = p.shape
    wx = np.fft.fftfreq(cols)[None, :] * 2.0 * np.pi
    wy = np.fft.fftfreq(rows)[:, None] * 2.0 * np.pi
    denom = wx ** 2 + wy ** 2
    denom[0, 0] = 1.0
    z = np.real(np.fft.ifft2((-1j * wx * np.fft.fft2(p) - 1j * wy * np.fft.fft2(q)) / denom))
    z -= z.min()
    return z / max(z.max(), 1e-9)


def write_png16(path, gray01):
    Image.fromarray(np.round(gray01 * 65535.0).astype(np.uint16)).save(path)


def define_flags():
    """Command-line flags (defined only when run as a program)."""
    flags.DEFINE_string("pmndrs_dir", "", "Unpacked @pmndrs/assets npm package folder.")
    flags.DEFINE_string("odedstein_dir", "", "A checkout of github.com/odedstein/meshes.")
    flags.DEFINE_multi_string("mesh", [], "NAME=FILE: also store this OBJ, PLY or binary glTF file as meshes/NAME.npz "
                              "(repeatable).")
    flags.DEFINE_integer("max_faces", MAX_FACES, "Larger meshes are decimated to this.")


def main(argv):
    del argv
    meshes = []
    for spec in FLAGS.mesh:
        name, _, path = spec.partition("=")
        if not name or not path:
            raise errors.UsageError(f"--mesh: expected NAME=FILE, got {spec!r}")
        if not os.path.isfile(path):
            raise errors.MissingPathError(f"--mesh: {path}: no such file")
        meshes.append((name, path))
    for flag in ("pmndrs_dir", "odedstein_dir"):
        if FLAGS[flag].value and not os.path.isdir(FLAGS[flag].value):
            raise errors.MissingPathError(f"--{flag}: {FLAGS[flag].value}: no such folder")
    if not (meshes or FLAGS.pmndrs_dir or FLAGS.odedstein_dir):
        raise errors.UsageError("nothing to import: give --pmndrs_dir, --odedstein_dir or --mesh (--help)")
    if FLAGS.max_faces < 4:
        raise errors.UsageError(f"--max_faces: must be at least 4, got {FLAGS.max_faces}")
    for sub in ("hdri", "meshes", "heights"):
        os.makedirs(os.path.join(ASSETS, sub), exist_ok=True)
    if FLAGS.pmndrs_dir:
        import_pmndrs(FLAGS.pmndrs_dir, FLAGS.max_faces)
    if FLAGS.odedstein_dir:
        folder = os.path.join(FLAGS.odedstein_dir, "objects")
        meshes += [(name, os.path.join(folder, path)) for name, path in ODEDSTEIN_MESHES.items()]
    for name, path in meshes:
        write_mesh(name, *read_mesh(path), FLAGS.max_faces)
    cli.emit({"meshes": [name for name, _ in meshes], "pmndrs": bool(FLAGS.pmndrs_dir)})


def import_pmndrs(pmndrs_dir, max_faces):
    """The HDRIs, meshes and height maps of the unpacked @pmndrs/assets package."""
    for path in sorted(glob.glob(os.path.join(pmndrs_dir, "hdri", "*.exr.js"))):
        name = os.path.basename(path)[:-len(".js")]
        with tempfile.NamedTemporaryFile(suffix=".exr") as f:
            f.write(data_url_bytes(path))
            f.flush()
            rgb = image_io.read_exr(f.name)[..., :3]
        image_io.write_rgb_exr(os.path.join(ASSETS, "hdri", name), np.maximum(rgb, 0.0), half=True)
    for source, name in MESHES.items():
        write_mesh(name, *glb_mesh(data_url_bytes(os.path.join(pmndrs_dir, "models", f"{source}.glb.js"))), max_faces)
    for path in sorted(glob.glob(os.path.join(pmndrs_dir, "normals", "*.webp.js"))):
        rgb = np.asarray(Image.open(io.BytesIO(data_url_bytes(path))).convert("RGB").resize(
            (HEIGHT_SIZE, HEIGHT_SIZE), Image.LANCZOS))
        name = os.path.basename(path).split(".")[0]
        write_png16(os.path.join(ASSETS, "heights", f"normal_{name}.png"), normal_map_heights(rgb))


if __name__ == "__main__":
    define_flags()
    cli.run(main, "data_tools.import_assets")
