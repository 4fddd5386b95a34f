"""tfnormals.data.pairs: loading a studio's files (world-space multi-layer EXR) and 8/16-bit pairs."""

import dataclasses
import json
import os

import numpy as np
import pytest
from helpers import camera_to_world_matrix, sphere_normal_map

from data_tools import mitsuba_render
from tfnormals.core import errors, image_io, normals, srgb
from tfnormals.data import pairs

SIZE = 32
# A tilted, rolled studio camera somewhere in the world.
CAMERA = {"origin": [4.0, 2.5, -3.0], "target": [0.0, 0.5, 0.0], "up": [0.2, 1.0, 0.0]}


def studio_camera_to_world():
    return camera_to_world_matrix(*mitsuba_render.camera_axes(CAMERA), position=CAMERA["origin"])


def sphere_sample(seed=0):
    """Camera-space sphere normals, a soft-edged alpha and a linear beauty that is not symmetric."""
    n, inside = sphere_normal_map(SIZE)
    alpha = inside.copy()
    alpha[inside > 0] = np.where(np.linalg.norm(n[inside > 0][:, :2], axis=-1) > 0.93, 0.6, 1.0)  # soft rim
    rng = np.random.default_rng(seed)
    beauty = (rng.random((SIZE, SIZE, 3)) * 2.0).astype(np.float32)  # linear, some values above 1
    return n, alpha, beauty


def write_studio_exr(path, camera_n, alpha, beauty, matrix):
    """One multi-layer EXR as a Maya/Houdini export: RGBA plus world-space normals in N.X/N.Y/N.Z."""
    world_n = camera_n @ matrix[:3, :3].T
    layers = {c: beauty[..., i] for i, c in enumerate("RGB")}
    layers["A"] = alpha
    layers.update({c: world_n[..., i] for i, c in enumerate(["N.X", "N.Y", "N.Z"])})
    image_io.write_exr(path, layers)


STUDIO = dict(beauty_pattern="{id}.beauty.exr", normals_pattern="{id}.beauty.exr",
              normals_channels=("N.X", "N.Y", "N.Z"), mask_pattern="", normals_space="world")


@pytest.mark.parametrize("camera_source", ["flag", "json"])
def test_studio_multilayer_exr_in_world_space(tmp_path, camera_source):
    """World-space normals in a flat folder of RGBA+N EXRs come out in camera space, mask from alpha.

    The camera is given once for all samples (camera_to_world) or per sample (a JSON file).
    """
    matrix = studio_camera_to_world()
    n, alpha, beauty = sphere_sample()
    for sample_id in ("shot010_0001", "shot010_0002"):
        write_studio_exr(tmp_path / f"{sample_id}.beauty.exr", n, alpha, beauty, matrix)
        (tmp_path / f"{sample_id}.cam.json").write_text(json.dumps({"camera_to_world": matrix.tolist()}))
    (tmp_path / "shot010_0001.depth.exr").write_bytes(b"not a sample")
    if camera_source == "flag":
        layout = pairs.PairFormat(camera_to_world=tuple(matrix.ravel()), **STUDIO)
    else:
        layout = pairs.PairFormat(camera_pattern="{id}.cam.json", **STUDIO)

    assert pairs.find_samples(str(tmp_path), layout) == ["shot010_0001", "shot010_0002"]
    out_beauty, out_n, mask, source = pairs.load_sample(str(tmp_path), "shot010_0002", layout)
    assert source == str(tmp_path / "shot010_0002.beauty.exr")
    np.testing.assert_array_equal(mask, alpha)
    np.testing.assert_allclose(out_n, n, atol=1e-5)  # camera space again; zero outside the sphere
    np.testing.assert_allclose(out_beauty, srgb.linear_to_srgb(beauty), atol=1e-6)
    assert out_beauty.max() == pytest.approx(1.0)  # display-referred: highlights clip


def test_world_space_needs_the_right_camera(tmp_path):
    """The same file read with an unrotated camera gives different normals (the matrix is applied)."""
    matrix = studio_camera_to_world()
    n, alpha, beauty = sphere_sample()
    write_studio_exr(tmp_path / "a.beauty.exr", n, alpha, beauty, matrix)
    layout = pairs.PairFormat(camera_to_world=tuple(np.eye(4).ravel()), **STUDIO)
    wrong = pairs.load_sample(str(tmp_path), "a", layout)[1]
    assert np.abs(wrong - n).max() > 0.5


def test_non_unit_world_space_normals_are_rejected(tmp_path):
    """Half-length world-space normals fail validation, although rotating them renormalizes."""
    matrix = studio_camera_to_world()
    n, alpha, beauty = sphere_sample()
    write_studio_exr(tmp_path / "a.beauty.exr", 0.5 * n, alpha, beauty, matrix)
    layout = pairs.PairFormat(camera_to_world=tuple(matrix.ravel()), **STUDIO)
    with pytest.raises(pairs.SampleError, match="non-unit"):
        pairs.load_sample(str(tmp_path), "a", layout)


def write_integer_sample(folder, n, mask, beauty_srgb, extension):
    """Our folder layout with 16-bit normals (0.5 n + 0.5), an 8-bit sRGB beauty and an 8-bit mask."""
    os.makedirs(folder)
    writer = image_io.write_png if extension == ".png" else image_io.write_tiff
    writer(os.path.join(folder, f"normals{extension}"), normals.encode(n), bits=16)
    writer(os.path.join(folder, f"beauty{extension}"), beauty_srgb, bits=8)
    image_io.write_png(os.path.join(folder, "mask.png"), mask)


@pytest.mark.parametrize("extension", [".png", ".tif"])
def test_sixteen_bit_normals_decode(tmp_path, extension):
    """16-bit PNG/TIFF normals stored as 0.5 n + 0.5 decode to the original unit normals; sRGB beauty is kept."""
    n, mask, _ = sphere_sample()
    beauty = image_io.quantize(np.random.default_rng(1).random((SIZE, SIZE, 3)), 8) / 255.0
    write_integer_sample(tmp_path / "s1", n, mask, beauty, extension)
    layout = pairs.PairFormat(beauty_pattern=f"{{id}}/beauty{extension}", normals_pattern=f"{{id}}/normals{extension}")
    out_beauty, out_n, out_mask, _ = pairs.load_sample(str(tmp_path), "s1", layout)
    np.testing.assert_allclose(out_n, n, atol=1e-4)
    np.testing.assert_allclose(out_beauty, beauty, atol=1e-5)  # sRGB → linear → sRGB
    np.testing.assert_allclose(out_mask, mask, atol=0.5 / 255)


@pytest.fixture
def exr_sample(tmp_path):
    """Our renderer's layout: linear beauty EXR with alpha, camera-space normals EXR, 8-bit mask."""
    n, alpha, beauty = sphere_sample()
    folder = tmp_path / "s"
    image_io.write_rgb_exr(folder / "beauty.exr", beauty * 0.4, alpha=alpha)
    image_io.write_rgb_exr(folder / "normals.exr", n)
    image_io.write_png(folder / "mask.png", alpha)
    return tmp_path, n, alpha, beauty * 0.4


@pytest.mark.parametrize("axes", ["y", "xz"])
def test_flip_axes(exr_sample, axes):
    """flip_axes negates exactly the named normal axes (e.g. y for DirectX-style maps)."""
    root, n, _, _ = exr_sample
    out = pairs.load_sample(str(root), "s", pairs.PairFormat(flip_axes=axes))[1]
    sign = np.array([-1.0 if a in axes else 1.0 for a in "xyz"])
    np.testing.assert_allclose(out, n * sign, atol=1e-6)


def test_max_side_box_downscales(exr_sample):
    """max_side averages pixel blocks: linear beauty and coverage are means, normals renormalized means."""
    root, n, alpha, beauty = exr_sample
    out_beauty, out_n, out_mask, _ = pairs.load_sample(str(root), "s", pairs.PairFormat(max_sample_side=10))
    assert out_mask.shape == (8, 8)  # ceil(32 / 10) = 4 → 8×8
    block = lambda a: a.reshape(8, 4, 8, 4, -1).mean(axis=(1, 3))
    np.testing.assert_allclose(out_beauty, srgb.linear_to_srgb(block(beauty)), atol=1e-5)
    mask8 = np.round(alpha * 255) / 255  # the mask comes from the 8-bit mask.png
    np.testing.assert_allclose(out_mask, block(mask8[..., None])[..., 0], atol=1e-6)
    expected_n = normals.normalize(block(n)) * (out_mask[..., None] > 0)
    np.testing.assert_allclose(out_n, expected_n, atol=1e-5)


def test_mask_falls_back_to_nonzero_normals(tmp_path):
    """Without a mask file or an alpha channel, the surface is where the normals are non-zero."""
    n, inside, beauty = sphere_sample()
    image_io.write_rgb_exr(tmp_path / "s" / "beauty.exr", beauty)
    image_io.write_rgb_exr(tmp_path / "s" / "normals.exr", n)
    mask = pairs.load_sample(str(tmp_path), "s", pairs.PairFormat(mask_pattern=""))[2]
    np.testing.assert_array_equal(mask, inside > 0)


@pytest.mark.parametrize("kwargs", [dict(beauty_pattern="beauty.exr"), dict(beauty_colorspace="rec709"),
                                    dict(normals_space="world"), dict(camera_to_world=(1.0, 0.0)),
                                    dict(flip_axes="w")])
def test_invalid_layouts_are_rejected(kwargs):
    with pytest.raises(ValueError):
        pairs.PairFormat(**kwargs)


def test_stored_settings_keep_the_names_records_were_made_with():
    """make_records stores the format in index.json and the shard sidecars and compares it on every re-run and
    merge: the stored names stay those of the first release, so records made before a rename still resume."""
    first_release = ["beauty_pattern", "normals_pattern", "mask_pattern", "normals_channels", "beauty_colorspace",
                     "normals_space", "camera_to_world", "camera_pattern", "flip_axes", "max_side",
                     "max_nonunit_fraction", "depth_pattern", "depth_channels", "albedo_pattern", "albedo_channels",
                     "albedo_premultiplied", "scene_pattern"]
    stored = pairs.PairFormat(max_sample_side=64, depth_channels=("Z",)).stored_settings()
    assert list(stored) == first_release
    assert stored["max_side"] == 64 and stored["depth_channels"] == ["Z"]


def test_every_pair_format_field_is_a_flag_and_reads_back():
    """The pair format's flags are generated from its fields (tuples as comma-separated lists): each field has one,
    the defaults give PairFormat(), and given values come back typed (old names parse through their aliases)."""
    from absl import flags
    values = flags.FlagValues()
    pairs.define_pair_format_flags(values)
    values(["make_records"])
    assert pairs.pair_format_from_flags(values) == pairs.PairFormat()
    names = {f.metadata.get("flag", f.name) for f in dataclasses.fields(pairs.PairFormat)}
    assert names <= set(values) and {"max_nonunit_fraction", "scene_pattern"} <= names
    values(["make_records", "--normals_channels=N.X,N.Y,N.Z", "--beauty_colorspace=linear", "--max_side=64",
            "--normals_space=world", "--camera_to_world=" + ",".join(["1", "0", "0", "0"] * 4),
            "--max_nonunit_fraction=0.05", "--scene_pattern="])
    pair_format = pairs.pair_format_from_flags(values)
    assert pair_format.normals_channels == ("N.X", "N.Y", "N.Z") and pair_format.beauty_colorspace == "linear"
    assert pair_format.max_sample_side == 64 and pair_format.camera_to_world == (1.0, 0.0, 0.0, 0.0) * 4
    assert pair_format.max_nonunit_fraction == 0.05 and pair_format.scene_pattern == ""
    values(["make_records", "--camera_to_world=1,0,x"])
    with pytest.raises(errors.UsageError, match="--camera_to_world"):
        pairs.pair_format_from_flags(values)
