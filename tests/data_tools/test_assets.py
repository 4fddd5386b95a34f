"""The renderer's committed assets: each loads, stays within the size rules, and is credited with a free licence."""

import os

import numpy as np
import pytest

from data_tools.scene import assets, lighting, meshes

FREE_LICENCES = ("CC0", "CC-BY", "CC BY", "public domain", "MIT", "zlib")
MAX_TOTAL_MB = 60
MAX_FACES = 50_000
MAX_HDRI_WIDTH = 1024


def asset_files():
    """Every file under data_tools/assets/ except the credits and README files, relative to it."""
    found = []
    for root, _, files in os.walk(assets.ASSETS_DIR):
        for name in files:
            if name.endswith(".md") or "__pycache__" in root:
                continue
            found.append(os.path.relpath(os.path.join(root, name), assets.ASSETS_DIR))
    return sorted(found)


def test_every_kind_is_present():
    for kind in assets.KINDS:
        assert assets.names(kind), f"no {kind} assets"


@pytest.mark.parametrize("name", assets.hdri_names())
def test_hdris_load_as_hdr_environment_maps(name):
    image = assets.load_hdri(name)
    assert image.shape == lighting.ENV_SIZE + (3,) and image.shape[1] <= MAX_HDRI_WIDTH
    assert np.all(np.isfinite(image)) and image.min() >= 0.0
    assert image.max() > 1.0, "high dynamic range: some light brighter than white"


@pytest.mark.parametrize("name", assets.mesh_names())
def test_meshes_load_small_closed_and_outward(name):
    mesh = assets.load_mesh(name)
    assert len(mesh.faces) <= MAX_FACES and mesh.faces.max() < len(mesh.vertices)
    assert np.linalg.norm(mesh.vertices, axis=1).max() <= 1.0 + 1e-5
    np.testing.assert_allclose(np.linalg.norm(mesh.normals, axis=1), 1.0, atol=1e-4)
    v = mesh.vertices.astype(np.float64)
    face_n = np.cross(v[mesh.faces[:, 1]] - v[mesh.faces[:, 0]], v[mesh.faces[:, 2]] - v[mesh.faces[:, 0]])
    agree = np.sum(face_n * mesh.normals[mesh.faces].mean(1), -1) > 0
    assert agree.mean() > 0.97, "faces wind outward, as their vertex normals point"
    assert meshes.bounds(mesh)[1].max() > 0.5


@pytest.mark.parametrize("name", assets.height_names())
def test_height_maps_load_in_unit_range(name):
    heights = assets.load_height(name)
    assert heights.ndim == 2 and heights.min() >= 0.0 and heights.max() <= 1.0 and heights.std() > 0.01


@pytest.mark.parametrize("name", assets.photo_names())
def test_photo_textures_load(name):
    gray = assets.load_photo(name)
    assert gray.ndim == 2 and 0.0 <= gray.min() < gray.max() <= 1.0


def test_credits_list_every_asset_with_a_free_licence():
    """Each asset file has its own row in CREDITS.md naming a source and a free licence."""
    with open(assets.CREDITS) as f:
        rows = [line for line in f if line.startswith("| ")]
    for path in asset_files():
        row = [r for r in rows if f"| {path} |" in r]
        assert len(row) == 1, f"{path} is not credited (once) in CREDITS.md"
        cells = [c.strip() for c in row[0].strip().strip("|").split("|")]
        assert cells[2], f"{path}: no source"
        assert any(lic.lower() in cells[3].lower() for lic in FREE_LICENCES), f"{path}: licence {cells[3]!r}"


def test_assets_stay_small():
    total = sum(os.path.getsize(os.path.join(assets.ASSETS_DIR, p)) for p in asset_files())
    assert total < MAX_TOTAL_MB * 1e6
