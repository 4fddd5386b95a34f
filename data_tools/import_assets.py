"""Convert the renderer's third-party assets into the small files committed in data_tools/assets/.

Usage (once, by a maintainer; nothing here runs at render time and nothing is downloaded):
  npm pack @pmndrs/assets@1.7.0 && tar xzf pmndrs-assets-1.7.0.tgz
  pip install DracoPy   # only to decode the Draco-compressed glTF meshes
  python -m data_tools.import_assets --pmndrs_dir=package

@pmndrs/assets (npm, CC0-1.0) ships each asset as a JavaScript module holding a base64 data
URL. This tool takes out:
  hdri/*.exr        Poly Haven HDRIs, 512×256: the package's lossy (DWAB) EXRs decoded, their
                    compression ringing (negative values, down to −4000 beside a sun) clipped
                    to 0, and written as lossless ZIP half-float EXR;
  meshes/*.npz      glTF meshes decoded from Draco into float32 vertices + int32 faces,
                    centred and scaled into the unit sphere (the renderer places and sizes them);
  heights/*.png     material normal maps integrated into tileable 16-bit height maps
                    (Frankot–Chellappa), used as real displacement detail.
data_tools/assets/CREDITS.md names each file's source and licence.
"""

import argparse
import base64
import glob
import io
import json
import os
import re
import struct
import tempfile

import numpy as np
from PIL import Image

from tfnormals.core import image_io

ASSETS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "assets")
HEIGHT_SIZE = 256
# Meshes licensed for any use. bunny.glb (the Stanford bunny) is left out: Stanford's terms
# do not allow commercial use; pmndrs.glb is a logo.
MESHES = {"suzi": "suzanne"}


def data_url_bytes(js_path):
    """Bytes of the base64 data URL inside one @pmndrs/assets module."""
    with open(js_path) as f:
        match = re.search(r"base64,([A-Za-z0-9+/=]+)", f.read())
    return base64.b64decode(match.group(1))


def glb_mesh(data):
    """(vertices, faces) of the first primitive of a Draco-compressed binary glTF."""
    import DracoPy  # dev-time dependency of this tool only

    json_len = struct.unpack("<I", data[12:16])[0]
    gltf = json.loads(data[20:20 + json_len])
    bin_start = 20 + json_len + 8
    view = gltf["bufferViews"][gltf["meshes"][0]["primitives"][0]["extensions"]
                               ["KHR_draco_mesh_compression"]["bufferView"]]
    offset = bin_start + view.get("byteOffset", 0)
    mesh = DracoPy.decode(data[offset:offset + view["byteLength"]])
    return np.asarray(mesh.points, np.float64), np.asarray(mesh.faces, np.int64)


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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pmndrs_dir", required=True, help="Unpacked @pmndrs/assets npm package folder.")
    args = parser.parse_args(argv)
    for sub in ("hdri", "meshes", "heights"):
        os.makedirs(os.path.join(ASSETS, sub), exist_ok=True)
    for path in sorted(glob.glob(os.path.join(args.pmndrs_dir, "hdri", "*.exr.js"))):
        name = os.path.basename(path)[:-len(".js")]
        with tempfile.NamedTemporaryFile(suffix=".exr") as f:
            f.write(data_url_bytes(path))
            f.flush()
            rgb = image_io.read_exr(f.name)[..., :3]
        image_io.write_rgb_exr(os.path.join(ASSETS, "hdri", name), np.maximum(rgb, 0.0), half=True)
    for source, name in MESHES.items():
        vertices, faces = glb_mesh(data_url_bytes(os.path.join(args.pmndrs_dir, "models", f"{source}.glb.js")))
        np.savez_compressed(os.path.join(ASSETS, "meshes", f"{name}.npz"), vertices=normalize_mesh(vertices),
                            faces=faces.astype(np.int32))
    for path in sorted(glob.glob(os.path.join(args.pmndrs_dir, "normals", "*.webp.js"))):
        rgb = np.asarray(Image.open(io.BytesIO(data_url_bytes(path))).convert("RGB").resize(
            (HEIGHT_SIZE, HEIGHT_SIZE), Image.LANCZOS))
        name = os.path.basename(path).split(".")[0]
        write_png16(os.path.join(ASSETS, "heights", f"normal_{name}.png"), normal_map_heights(rgb))


if __name__ == "__main__":
    main()
