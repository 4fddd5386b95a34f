"""data_tools.import_assets on small files written here: OBJ, PLY and glTF readers, conversion to a committed mesh."""

import json
import struct

import numpy as np
import pytest

from data_tools import import_assets
from data_tools.scene import meshes

# A square pyramid, off-centre and wound outward; its base is one quad where the format has polygons.
PYRAMID = np.array([[-1, -1, 0], [1, -1, 0], [1, 1, 0], [-1, 1, 0], [0, 0, 2]], np.float64) + [3.0, 1.0, -2.0]
SIDES = [[0, 1, 4], [1, 2, 4], [2, 3, 4], [3, 0, 4]]
BASE_QUAD = [0, 3, 2, 1]
TRIANGLES = np.array(SIDES + [[0, 3, 2], [0, 2, 1]])  # the quad fanned from its first corner
MAX_FACES = 50_000  # tests/data_tools/test_assets.py's limit on committed meshes


def canonical(faces):
    """Faces as a sorted array of triangles, each rotated to start at its smallest index (winding kept)."""
    faces = np.asarray(faces)
    rolled = np.array([np.roll(f, -int(np.argmin(f))) for f in faces])
    return rolled[np.lexsort(rolled.T[::-1])]


def signed_volume(vertices, faces):
    v = vertices[faces]
    return np.einsum("ij,ij->i", v[:, 0], np.cross(v[:, 1], v[:, 2])).sum() / 6.0


def write_obj(path):
    lines = ["# pyramid", "o pyramid", "g body", "s off"] + [f"v {x} {y} {z}" for x, y, z in PYRAMID]
    lines += [f"vt {i / 5} 0.5" for i in range(5)] + ["vn 0 0 -1", "vn 0 0 1"]
    lines += [" ".join(["f"] + [f"{i + 1}/{i + 1}/2" for i in f]) for f in SIDES[:3]]
    lines += ["f -2//2 -5//2 -1//2",  # the last side, relative indices and no texture coordinate
              " ".join(["f"] + [f"{i + 1}/{i + 1}/1" for i in BASE_QUAD])]
    path.write_text("\n".join(lines) + "\n")


def write_ply(path, binary):
    """The pyramid as a PLY with extra vertex properties (normals, colours) the reader skips."""
    header = ["ply", f"format {'binary_little_endian' if binary else 'ascii'} 1.0", "comment test pyramid",
              "element vertex 5", "property float x", "property float y", "property float z",
              "property uchar red", "property double confidence",
              "element face 5", "property list uchar int vertex_indices", "end_header"]
    faces = SIDES + [BASE_QUAD]
    if binary:
        body = b"".join(struct.pack("<3fBd", *v, 200, 0.5) for v in PYRAMID)
        body += b"".join(struct.pack(f"<B{len(f)}i", len(f), *f) for f in faces)
    else:
        body = "".join(f"{x} {y} {z} 200 0.5\n" for x, y, z in PYRAMID).encode()
        body += "".join(f"{len(f)} {' '.join(map(str, f))}\n" for f in faces).encode()
    path.write_bytes(("\n".join(header) + "\n").encode() + body)


def glb(gltf, binary):
    """A binary glTF file's bytes: header, JSON chunk and BIN chunk, each padded to 4 bytes."""
    binary += b"\0" * (-len(binary) % 4)
    gltf["buffers"] = [{"byteLength": len(binary)}]
    text = json.dumps(gltf).encode()
    text += b" " * (-len(text) % 4)
    chunks = struct.pack("<II", len(text), 0x4E4F534A) + text + struct.pack("<II", len(binary), 0x004E4942) + binary
    return struct.pack("<III", 0x46546C67, 2, 12 + len(chunks)) + chunks


# Node 0: the pyramid turned 90° about Z, scaled ×2 and moved; node 2 moves its child node 1, mirrored in X.
TURN = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
PLACED = PYRAMID @ (TURN * 2.0).T + [10.0, 0.0, 0.0]
MIRRORED = PYRAMID * [-1.0, 1.0, 1.0] + [-10.0, 0.5, 0.0]


def write_glb(path):
    """The pyramid twice in one .glb: float32 positions shared by two meshes with uint16 and uint32 indices."""
    positions = PYRAMID.astype(np.float32).tobytes()
    short, wide = TRIANGLES.astype(np.uint16).tobytes(), TRIANGLES.astype(np.uint32).tobytes()
    gltf = {
        "asset": {"version": "2.0"}, "scene": 0, "scenes": [{"nodes": [0, 2]}],
        "nodes": [{"mesh": 0, "rotation": [0, 0, np.sqrt(0.5), np.sqrt(0.5)], "scale": [2, 2, 2],
                   "translation": [10, 0, 0]},
                  {"mesh": 1, "scale": [-1, 1, 1]},
                  {"translation": [-10, 0.5, 0], "children": [1]}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}, "indices": 1}]},
                   {"primitives": [{"attributes": {"POSITION": 0}, "indices": 2}]}],
        "bufferViews": [{"buffer": 0, "byteOffset": 0, "byteLength": len(positions)},
                        {"buffer": 0, "byteOffset": 60, "byteLength": len(short) + 4 + len(wide)}],
        "accessors": [{"bufferView": 0, "componentType": 5126, "count": 5, "type": "VEC3"},
                      {"bufferView": 1, "componentType": 5123, "count": 18, "type": "SCALAR"},
                      {"bufferView": 1, "byteOffset": len(short) + 4, "componentType": 5125, "count": 18,
                       "type": "SCALAR"}],
    }
    path.write_bytes(glb(gltf, positions + short + b"\0" * 4 + wide))


WRITERS = {"pyramid.obj": write_obj, "ascii.ply": lambda p: write_ply(p, False),
           "binary.ply": lambda p: write_ply(p, True), "pyramid.glb": write_glb}


@pytest.mark.parametrize("name", ["pyramid.obj", "ascii.ply", "binary.ply"])
def test_obj_and_ply_readers_give_the_vertices_and_fanned_faces(tmp_path, name):
    """OBJ (v/vt/vn corners, relative indices) and ASCII/binary PLY give the pyramid; its quad base is two triangles."""
    WRITERS[name](tmp_path / name)
    vertices, faces = import_assets.read_mesh(str(tmp_path / name))
    np.testing.assert_allclose(vertices, PYRAMID, atol=1e-6)
    np.testing.assert_array_equal(canonical(faces), canonical(TRIANGLES))


def test_glb_reader_places_nodes_and_rewinds_mirrored_ones(tmp_path):
    """A .glb's nodes are placed by translation·rotation·scale (through parents); a mirrored copy's faces are
    reversed."""
    write_glb(tmp_path / "pyramid.glb")
    vertices, faces = import_assets.read_mesh(str(tmp_path / "pyramid.glb"))
    np.testing.assert_allclose(vertices, np.concatenate([PLACED, MIRRORED]), atol=1e-5)
    np.testing.assert_array_equal(canonical(faces[:6]), canonical(TRIANGLES))
    np.testing.assert_array_equal(canonical(faces[6:]), canonical(TRIANGLES[:, ::-1] + 5))
    assert signed_volume(vertices, faces[:6]) > 0 and signed_volume(vertices, faces[6:]) > 0, "both parts outward"


def test_draco_glb_is_decoded_and_placed(tmp_path):
    """A Draco-compressed primitive (KHR_draco_mesh_compression) decodes through DracoPy and is placed by its node."""
    DracoPy = pytest.importorskip("DracoPy")
    data = DracoPy.encode(PYRAMID.astype(np.float32), TRIANGLES.astype(np.uint32))
    draco = {"bufferView": 0, "attributes": {"POSITION": 0}}
    gltf = {"asset": {"version": "2.0"}, "scenes": [{"nodes": [0]}], "nodes": [{"mesh": 0, "translation": [0, 5, 0]}],
            "meshes": [{"primitives": [{"attributes": {"POSITION": 0},
                                        "extensions": {"KHR_draco_mesh_compression": draco}}]}],
            "bufferViews": [{"buffer": 0, "byteLength": len(data)}],
            "accessors": [{"componentType": 5126, "count": 5, "type": "VEC3"}]}
    (tmp_path / "draco.glb").write_bytes(glb(gltf, bytes(data)))
    vertices, faces = import_assets.read_mesh(str(tmp_path / "draco.glb"))
    expected = PYRAMID + [0.0, 5.0, 0.0]
    np.testing.assert_allclose(vertices[np.lexsort(vertices.T)], expected[np.lexsort(expected.T)], atol=1e-2)
    assert len(faces) == 6 and np.isclose(signed_volume(vertices, faces), signed_volume(PYRAMID, TRIANGLES), rtol=0.02)


def check_committable(vertices, faces, max_faces=MAX_FACES):
    """What tests/data_tools/test_assets.py checks of a committed mesh, loaded as data_tools.scene.assets loads it."""
    assert vertices.dtype == np.float32 and faces.dtype == np.int32
    assert len(faces) <= max_faces and faces.min() >= 0 and faces.max() < len(vertices)
    radius = np.linalg.norm(vertices, axis=1)
    assert radius.max() <= 1.0 + 1e-5 and radius.max() > 0.99, "scaled to touch the unit sphere"
    np.testing.assert_allclose((vertices.min(0) + vertices.max(0)) / 2, 0.0, atol=1e-6)  # centred
    normals = meshes.vertex_normals(vertices, faces, weld=True)
    v = vertices.astype(np.float64)
    face_n = np.cross(v[faces[:, 1]] - v[faces[:, 0]], v[faces[:, 2]] - v[faces[:, 0]])
    assert np.mean(np.sum(face_n * normals[faces].mean(1), -1) > 0) > 0.97, "faces wind outward"
    assert signed_volume(v, faces) > 0


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_converted_files_are_committable_meshes(tmp_path, name):
    """read_mesh + convert_mesh (what write_mesh stores): a centred, unit-sphere, outward mesh that reloads from npz."""
    WRITERS[name](tmp_path / name)
    vertices, faces = import_assets.convert_mesh(*import_assets.read_mesh(str(tmp_path / name)))
    np.savez_compressed(tmp_path / "mesh.npz", vertices=vertices, faces=faces)
    with np.load(tmp_path / "mesh.npz") as data:
        check_committable(data["vertices"], data["faces"])
    assert len(faces) == (12 if name.endswith(".glb") else 6), "small meshes are not decimated"


def test_inside_out_input_is_flipped():
    """A mesh wound inward (every face reversed) comes out of convert_mesh wound outward again."""
    vertices, faces = import_assets.convert_mesh(PYRAMID, TRIANGLES[:, ::-1].copy())
    np.testing.assert_array_equal(canonical(faces), canonical(TRIANGLES))
    check_committable(vertices, faces)


def icosphere(subdivisions):
    """A unit icosphere, outward-wound: the icosahedron's faces split in four `subdivisions` times."""
    t = (1 + 5 ** 0.5) / 2
    v = np.array([[-1, t, 0], [1, t, 0], [-1, -t, 0], [1, -t, 0], [0, -1, t], [0, 1, t],
                  [0, -1, -t], [0, 1, -t], [t, 0, -1], [t, 0, 1], [-t, 0, -1], [-t, 0, 1]], np.float64)
    f = np.array([[0, 11, 5], [0, 5, 1], [0, 1, 7], [0, 7, 10], [0, 10, 11], [1, 5, 9], [5, 11, 4], [11, 10, 2],
                  [10, 7, 6], [7, 1, 8], [3, 9, 4], [3, 4, 2], [3, 2, 6], [3, 6, 8], [3, 8, 9], [4, 9, 5],
                  [2, 4, 11], [6, 2, 10], [8, 6, 7], [9, 8, 1]])
    for _ in range(subdivisions):
        edges = np.sort(np.stack([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]], 1).reshape(-1, 2), 1)
        unique, inverse = np.unique(edges, axis=0, return_inverse=True)
        mid = len(v) + inverse.reshape(-1, 3)  # midpoints of edges 01, 12, 20
        v = np.concatenate([v, (v[unique[:, 0]] + v[unique[:, 1]]) / 2])
        f = np.concatenate([np.stack([f[:, 0], mid[:, 0], mid[:, 2]], 1), np.stack([f[:, 1], mid[:, 1], mid[:, 0]], 1),
                            np.stack([f[:, 2], mid[:, 2], mid[:, 1]], 1), mid])
    return v / np.linalg.norm(v, axis=1, keepdims=True), f


def test_decimation_keeps_a_closed_outward_mesh_under_the_limit():
    """A 5120-face sphere given as a triangle soup (split at every edge) is welded and decimated to ≤ max_faces,
    still closed, round and outward."""
    pytest.importorskip("fast_simplification")
    v, f = icosphere(4)
    assert len(f) == 5120 and signed_volume(v, f) > 0
    vertices, faces = import_assets.convert_mesh(v[f].reshape(-1, 3) * 3.0 + 1.0, np.arange(f.size).reshape(-1, 3), 400)
    assert 200 <= len(faces) <= 400
    check_committable(vertices, faces, 400)
    _, counts = np.unique(np.sort(faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), 1), axis=0, return_counts=True)
    assert np.mean(counts == 2) > 0.98, "closed: nearly every edge is shared by exactly two faces"
    np.testing.assert_allclose(np.linalg.norm(vertices, axis=1), 1.0, atol=0.1)  # still round
