"""tfnormals.tools.fusion: the pyramid of passes, its fusion, edge-aware upsampling and the modes."""

import numpy as np
import pytest

from tfnormals.core import normals
from tfnormals.tools import fusion, tiling


def scene(h, w):
    """An H×W plate that encodes its own true passes: a bumpy surface's normals (as 0.5·n + 0.5 colour), with
    depth and albedo that follow from them; returns (plate, {pass: truth})."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    gx = 0.4 * np.sin(x / w * 6.0) + 0.2 * np.cos(y / h * 9.0)
    gy = 0.3 * np.cos(x / w * 4.0 + y / h * 5.0)
    n = normals.normalize(np.stack([gx, gy, np.ones_like(gx)], -1))
    depth = (2.0 + 0.5 * n[..., :1]).astype(np.float32)
    albedo = np.clip(0.2 + 0.5 * (n * 0.5 + 0.5), 0, 1).astype(np.float32)
    return (n * 0.5 + 0.5).astype(np.float32), {"normals": n, "depth": depth, "albedo": albedo}


class ReadsItsInput:
    """A predictor that reads the passes off the plate (as `scene` encodes them) and returns depth and albedo
    at a random scale per call: a pass's own scale must never reach the fused result. Records call sizes."""

    def __init__(self, seed=0):
        self.rng = np.random.default_rng(seed)
        self.calls = []

    def __call__(self, images):
        self.calls.append(images.shape[1:3])
        n = normals.normalize(images * 2.0 - 1.0)
        scales = self.rng.uniform(0.2, 5.0, (2, len(images), 1, 1, 1)).astype(np.float32)
        return {"normals": n, "depth": (2.0 + 0.5 * n[..., :1]) * scales[0],
                "albedo": np.clip(0.2 + 0.5 * images, 0, 1) * np.minimum(scales[1], 1.0)}


def test_pyramid_sides_double_from_the_working_size_to_the_finest_pass():
    assert fusion.pyramid_sides(741, 256, 1024) == [256, 512, 741]
    assert fusion.pyramid_sides(2964, 256, 1024) == [256, 512, 1024]
    assert fusion.pyramid_sides(4096, 256, 4096) == [256, 512, 1024, 2048, 4096]
    assert fusion.pyramid_sides(300, 256, 1024) == [256, 300]
    assert fusion.pyramid_sides(180, 256, 1024) == [180]  # smaller than the working size: one pass, native


def _steepest_step(normal_map):
    """Largest angle between neighbouring pixels (a seam shows as a step steeper than the surface has)."""
    return max(normals.angular_error_deg(normal_map[1:], normal_map[:-1]).max(),
               normals.angular_error_deg(normal_map[:, 1:], normal_map[:, :-1]).max())


@pytest.mark.parametrize("mode", fusion.MODES)
def test_every_mode_recovers_passes_the_network_gets_right_at_every_scale(mode):
    """With a predictor that is right at every scale (but gives each call its own depth and albedo scale), and
    all of the finer passes' detail kept, every mode returns unit normals, depth and albedo matching the truth up
    to one scale, with no seams: no step between neighbouring pixels steeper than the surface's own. (The guided
    filter that brings each level up smooths a little where the plate is flat: hence the looser bounds.)"""
    plate, truth = scene(300, 700)
    out = fusion.predict_plate(ReadsItsInput(), plate, mode, working_size=96, max_pass=700, tile=256, overlap=48,
                               detail=1.0)
    assert {k: v.shape for k, v in out.items()} == {k: v.shape for k, v in truth.items()}
    np.testing.assert_allclose(np.linalg.norm(out["normals"], axis=-1), 1.0, atol=1e-5)
    error = normals.angular_error_deg(out["normals"], truth["normals"])
    assert error.mean() < (0.1 if mode == "tiled" else 1.5) and np.percentile(error, 99) < (0.5 if mode == "tiled"
                                                                                          else 6.0)
    assert _steepest_step(out["normals"]) <= 1.2 * _steepest_step(truth["normals"])
    log_ratio = np.log(out["depth"] / truth["depth"])
    assert np.percentile(np.abs(log_ratio - np.median(log_ratio)), 99) < (0.01 if mode == "tiled" else 0.06)
    assert abs(float(np.median(out["depth"])) - 1.0) < 1e-4
    albedo_ratio = np.log(np.maximum(out["albedo"], 1e-6) / truth["albedo"])
    assert np.percentile(np.abs(albedo_ratio - np.median(albedo_ratio)), 99) < (0.02 if mode == "tiled" else 0.12)


def test_fused_passes_run_from_the_working_size_up_and_never_upsample_the_plate():
    predictor = ReadsItsInput()
    fusion.predict_plate(predictor, scene(300, 700)[0], "fused", working_size=96, max_pass=400, tile=0)
    assert predictor.calls == [(41, 96), (82, 192), (171, 400)]
    predictor = ReadsItsInput()
    fusion.predict_plate(predictor, scene(50, 70)[0], "fused", working_size=96, max_pass=400, tile=0)
    assert predictor.calls == [(50, 70)]  # smaller than the working size: one native pass


def test_fusion_keeps_the_coarse_layout_and_the_fine_detail():
    """The global pass decides low frequencies (a fine pass's tilt is dropped), the fine pass adds detail."""
    h, w = 128, 128
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    layout = normals.normalize(np.stack([np.full((h, w), 0.3), np.zeros((h, w)), np.ones((h, w))], -1))
    detail = 0.2 * np.sin(x * np.pi / 2.0)  # 4-px period: beyond what a 32-px pass can hold
    fine = normals.normalize(np.stack([-0.5 + detail, np.zeros((h, w)), np.ones((h, w))], -1))  # wrong tilt
    coarse = tiling.resize(layout, 32, 32)
    fused = fusion.fuse({"normals": coarse}, {"normals": fine}, detail=1.0)["normals"]
    tilt = np.degrees(np.arctan2(fused[..., 0], fused[..., 2]))
    assert abs(tilt.mean() - np.degrees(np.arctan(0.3))) < 1.0  # the layout's tilt
    assert np.ptp(tilt[64, 20:40]) > 10.0  # the detail's ripple


def test_guided_upsampling_puts_edges_where_the_plate_has_them():
    """A step that a 32-px pass can only place coarsely lands on the plate's edge at full size, sharper than
    bilinear upsampling leaves it."""
    h, w, edge = 128, 128, 70  # the edge falls between coarse pixels
    plate = np.zeros((h, w, 3), np.float32)
    plate[:, edge:] = 0.8
    step = np.zeros((h, w, 1), np.float32)
    step[:, edge:] = 1.0
    small = tiling.resize(step, 32, 32)
    guided = fusion.guided_upsample({"depth": small}, plate)["depth"][..., 0]
    bilinear = tiling.resize(small, h, w)[..., 0]
    band = slice(edge - 6, edge + 6)
    assert np.abs(guided[:, band] - step[:, band, 0]).mean() < 0.5 * np.abs(bilinear[:, band] - step[:, band, 0]).mean()


def test_modes_on_a_real_network_give_unit_passes_of_the_plate_size(tiny_model):
    """A random-weight SavedModel through every mode: plate-sized, finite, unit normals, positive depth."""
    plate = np.random.default_rng(1).random((90, 230, 3)).astype(np.float32)
    for mode in fusion.MODES:
        out = fusion.PassSettings(mode=mode, working_size=64, max_pass=160, tile=96, overlap=32).passes(tiny_model,
                                                                                                      plate)
        assert out["normals"].shape == plate.shape and np.isfinite(out["normals"]).all()
        np.testing.assert_allclose(np.linalg.norm(out["normals"], axis=-1), 1.0, atol=1e-4)


def test_a_model_declares_its_working_size_and_the_settings_may_override_it(tiny_model):
    assert tiny_model.working_size == 2 * 128  # the config's crop_size (128) × 2: metadata written at export
    calls = []
    predictor = type(tiny_model).predict_passes
    tiny_model.predict_passes = lambda images: calls.append(images.shape[1:3]) or predictor(tiny_model, images)
    try:
        plate = np.random.default_rng(2).random((300, 600, 3)).astype(np.float32)
        fusion.PassSettings(mode="global").passes(tiny_model, plate)
        fusion.PassSettings(mode="global", working_size=100).passes(tiny_model, plate)
    finally:
        del tiny_model.predict_passes
    assert calls == [(128, 256), (50, 100)]


def test_network_inputs_are_the_images_predict_feeds_the_network():
    """Whole passes up to the tile size, then tiles: exactly the calls predict_plate makes, pixels included."""
    plate, _ = scene(400, 600)
    predictor = ReadsItsInput()
    fed = fusion.network_inputs(predictor, plate, working_size=128)
    assert fusion.pyramid_sides(600, 128, fusion.DEFAULT_MAX_PASS) == [128, 256, 600]
    assert [image.shape[:2] for image in fed] == [(85, 128), (171, 256), (400, 512), (400, 512)]  # 600: two tiles
    np.testing.assert_array_equal(fed[2], plate[:, :512])
    np.testing.assert_array_equal(fed[3], plate[:, -512:])
    assert [tuple(s) for s in predictor.calls] == [(85, 128), (171, 256), (400, 512)]  # the tiles in one batch
