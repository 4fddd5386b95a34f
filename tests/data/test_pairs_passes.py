"""tfnormals.data.pairs.load_passes: optional depth and albedo next to beauty and normals."""

import numpy as np
import pytest

from tfnormals.core import image_io, layout
from tfnormals.data import pairs


def _sample(root, sample_id, side=8, depth=True, albedo=True):
    """A sample folder in our renderer's layout; albedo premultiplied by a half-covered column."""
    folder = root / sample_id
    folder.mkdir(parents=True)
    mask = np.ones((side, side), np.float32)
    mask[:, 0] = 0.5
    n = np.zeros((side, side, 3), np.float32)
    n[..., 2] = 1.0
    image_io.write_rgb_exr(str(folder / layout.BEAUTY_EXR), np.full((side, side, 3), 0.2, np.float32), alpha=mask)
    image_io.write_rgb_exr(str(folder / layout.NORMALS_EXR), n)
    image_io.write_png(str(folder / layout.MASK_PNG), mask)
    z = np.linspace(1.0, 9.0, side * side, dtype=np.float32).reshape(side, side)
    if depth:
        image_io.write_exr(str(folder / layout.DEPTH_EXR), {"Z": z})
    if albedo:
        albedo = np.full((side, side, 3), 0.6, np.float32) * mask[..., None]
        image_io.write_rgb_exr(str(folder / layout.ALBEDO_EXR), albedo)
    return z


def test_depth_and_albedo_load_and_albedo_is_unpremultiplied(tmp_path):
    z = _sample(tmp_path, "a")
    pair_format = pairs.PairFormat()
    _, _, mask, _ = pairs.load_sample(str(tmp_path), "a", pair_format)
    passes = pairs.load_passes(str(tmp_path), "a", pair_format, mask)
    assert np.allclose(passes["depth"], z)
    assert np.allclose(passes["albedo"], 0.6, atol=3e-3), "coverage (an 8-bit mask) divided back out"


def test_missing_pass_files_mean_no_pass(tmp_path):
    _sample(tmp_path, "b", depth=False, albedo=False)
    pair_format = pairs.PairFormat()
    _, _, mask, _ = pairs.load_sample(str(tmp_path), "b", pair_format)
    assert pairs.load_passes(str(tmp_path), "b", pair_format, mask) == {"depth": None, "albedo": None, "hfov": None,
                                                                       "family": None}


def test_passes_follow_the_beauty_downscale(tmp_path):
    z = _sample(tmp_path, "c", side=8)
    pair_format = pairs.PairFormat(max_sample_side=4)
    _, _, mask, _ = pairs.load_sample(str(tmp_path), "c", pair_format)
    passes = pairs.load_passes(str(tmp_path), "c", pair_format, mask)
    assert passes["depth"].shape == (4, 4) and passes["albedo"].shape == (4, 4, 3)
    assert passes["depth"][0, 0] == pytest.approx(z[:2, :2].mean(), rel=1e-5)


def test_a_pass_of_another_size_is_a_sample_error(tmp_path):
    _sample(tmp_path, "d", side=8, depth=False)
    image_io.write_exr(str(tmp_path / "d" / layout.DEPTH_EXR), {"Z": np.ones((5, 8), np.float32)})
    pair_format = pairs.PairFormat()
    _, _, mask, _ = pairs.load_sample(str(tmp_path), "d", pair_format)
    with pytest.raises(pairs.SampleError, match="does not match"):
        pairs.load_passes(str(tmp_path), "d", pair_format, mask)
