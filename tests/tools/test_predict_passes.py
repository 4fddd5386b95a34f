"""predict with a multi-pass model: depth, position and albedo files and layers; depth across tiles."""

import os

import numpy as np
import pytest

from tfnormals.core import camera, image_io, srgb
from tfnormals.tools import prediction, tiling


def _plate(h, w):
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    return np.stack([x, y, 0.5 * (x + y)], -1).astype(np.float32) * 0.8 + 0.1


def test_every_pass_is_written_as_a_file_and_as_a_layer(tmp_path, tiny_multipass_model):
    plate_path = str(tmp_path / "shot.0101.png")
    image_io.write_png(plate_path, _plate(30, 50))
    settings = camera.CameraSettings(hfov=60.0, reference_distance=4.0)
    result = prediction.predict_files(tiny_multipass_model, [plate_path], str(tmp_path / "out"), combined=True,
                                   settings=settings)
    assert not result["failed"]
    out = tmp_path / "out"
    assert sorted(os.listdir(out)) == ["shot.albedo.0101.exr", "shot.albedo.0101.png", "shot.combined.0101.exr",
                                       "shot.depth.0101.exr", "shot.depth.0101.png", "shot.normals.0101.exr",
                                       "shot.normals.0101.png", "shot.position.0101.exr", "shot.position.0101.png"]
    depth = image_io.read_exr(str(out / "shot.depth.0101.exr"), ["Z"])[..., 0]
    assert np.median(depth) == pytest.approx(4.0, rel=1e-3) and np.all(depth > 0)
    p = image_io.read_exr(str(out / "shot.position.0101.exr"), ["P.X", "P.Y", "P.Z"])
    assert np.allclose(-p[..., 2], depth, rtol=1e-5)
    assert np.allclose(p, camera.position_from_depth(depth, camera.focal_pixels(50, 60.0)), atol=1e-5)
    albedo = image_io.read_exr(str(out / "shot.albedo.0101.exr"), ["R", "G", "B"])
    assert 0.0 <= albedo.min() and albedo.max() <= 1.0
    for kind in ("depth", "position", "albedo"):  # every pass has a PNG preview of its own, at the plate's size
        picture = image_io.read_image(str(out / f"shot.{kind}.0101.png"))
        assert picture.shape == (30, 50, 1 if kind == "depth" else 3) and picture.std() > 0.01, kind
    gray = image_io.read_image(str(out / "shot.depth.0101.png"))[..., 0]
    assert np.corrcoef(gray.ravel(), 1.0 / depth.ravel())[0, 1] > 0.9  # near is bright
    np.testing.assert_allclose(image_io.read_image(str(out / "shot.albedo.0101.png")), srgb.linear_to_srgb(albedo),
                               atol=0.6 / 255)
    layers = set(image_io.exr_channel_names(str(out / "shot.combined.0101.exr")))
    assert {"R", "G", "B", "N.X", "N.Y", "N.Z", "depth.Z", "P.X", "P.Y", "P.Z", "albedo.R", "albedo.G",
            "albedo.B"} <= layers
    again = prediction.predict_files(tiny_multipass_model, [plate_path], str(out), combined=True, settings=settings)
    assert again["skipped_existing"] == [plate_path]
    os.remove(out / "shot.albedo.0101.exr")
    assert prediction.predict_files(tiny_multipass_model, [plate_path], str(out), combined=True,
                                 settings=settings)["written"], "a missing pass file means the frame is redone"


@pytest.mark.parametrize("kwargs,flag", [(dict(hfov=200.0), "--hfov"), (dict(focal_mm=0.0), "--focal_mm"),
                                         (dict(depth_scale=-1.0), "--depth_scale"),
                                         (dict(reference_distance=-2.0), "--reference_distance")])
def test_bad_camera_settings_name_their_flag(tmp_path, kwargs, flag):
    from tfnormals.core import errors
    with pytest.raises(errors.UsageError, match=flag):
        prediction.check_request([], str(tmp_path / "o"), settings=camera.CameraSettings(**kwargs))


def test_tiles_at_different_depth_scales_are_aligned_without_seams():
    """A predictor that returns the true depth times a random scale per tile (what a relative-depth network
    may do) gives, after tiling, the true depth up to one global scale: no jumps at seams."""
    rng = np.random.default_rng(0)
    h, w = 150, 260
    rows, cols = np.mgrid[0:h, 0:w]
    truth = (2.0 + np.sin(cols / 30.0) + rows / 80.0).astype(np.float32)
    image = np.stack([cols / w, rows / h, np.zeros((h, w))], -1).astype(np.float32)

    def predict_passes(batch):
        r = np.clip(np.round(batch[..., 1] * h).astype(int), 0, h - 1)
        c = np.clip(np.round(batch[..., 0] * w).astype(int), 0, w - 1)
        depth = truth[r, c][..., None] * rng.uniform(0.2, 5.0, (len(batch), 1, 1, 1))
        n = np.zeros(batch.shape, np.float32)
        n[..., 2] = 1.0
        return {"normals": n, "depth": depth.astype(np.float32)}

    depth = tiling.predict_tiled(predict_passes, image, tile=64, overlap=16)["depth"][..., 0]
    ratio = depth / truth
    assert ratio.std() / ratio.mean() < 1e-4
    assert np.median(depth) == pytest.approx(1.0)
