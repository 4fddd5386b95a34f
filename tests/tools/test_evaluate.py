"""Baselines (tfnormals.tools.baselines), the evaluation report (tfnormals.tools.evaluate) and its command line."""

import json
import os

import numpy as np
import pytest
from helpers import sphere_normal_map

from tfnormals.core import image_io, normals
from tfnormals.tools import baselines, evaluate

METRIC_KEYS = {"mean", "median", "within_11_25", "within_22_5", "within_30"}


# ---------------------------------------------------------------- baselines on synthetic images

def _gray(height_map):
    """A gray sRGB plate whose luminance is `height_map` (Rec. 709 weights sum to 1)."""
    return np.repeat(height_map[..., None], 3, axis=-1).astype(np.float32)


def test_flat_and_constant():
    np.testing.assert_array_equal(baselines.flat((4, 5, 3))[..., :], np.broadcast_to([0, 0, 1], (4, 5, 3)))
    c = baselines.constant((2, 3, 3), [0.0, 3.0, 4.0])
    assert c.shape == (2, 3, 3) and c.dtype == np.float32
    np.testing.assert_allclose(c, np.broadcast_to([0.0, 0.6, 0.8], (2, 3, 3)), atol=1e-7)


def test_mean_normal_averages_masked_pixels_of_all_maps():
    a = np.broadcast_to(np.float32([1.0, 0.0, 0.0]), (2, 2, 3)).copy()
    b = np.broadcast_to(np.float32([0.0, 0.0, 1.0]), (2, 2, 3)).copy()
    mask_a = np.array([[1.0, 1.0], [0.0, 0.0]], np.float32)       # 2 pixels facing +X
    mask_b = np.array([[1.0, 1.0], [0.4, 0.0]], np.float32)       # 2 pixels facing +Z (0.4 is below threshold)
    b[1, 0] = [0.0, -1.0, 0.0]                                     # excluded by its mask
    np.testing.assert_allclose(baselines.mean_normal([a, b], [mask_a, mask_b]),
                               [np.sqrt(0.5), 0.0, np.sqrt(0.5)], atol=1e-6)
    with pytest.raises(ValueError, match="no masked pixels"):
        baselines.mean_normal([a], [np.zeros((2, 2), np.float32)])


def test_luminance_gradient_sign_convention_on_ramps():
    """n ∝ (-s ∂h/∂x, s ∂h/∂row, 1): brighter to the right → faces left (-X); brighter downwards → faces up (+Y)."""
    cols = np.tile(np.arange(24, dtype=np.float32), (24, 1))
    strength, slope = 4.0, 0.02
    inner = (slice(6, -6), slice(6, -6))  # away from the blur's edge padding

    right = baselines.luminance_gradient(_gray(0.2 + slope * cols), strength)
    expected = normals.normalize(np.float32([-strength * slope, 0.0, 1.0]))
    np.testing.assert_allclose(right[inner], np.broadcast_to(expected, right[inner].shape), atol=1e-5)
    assert expected[0] < 0  # a slope rising to the right faces left

    down = baselines.luminance_gradient(_gray(0.2 + slope * cols.T), strength)
    expected = normals.normalize(np.float32([0.0, strength * slope, 1.0]))
    np.testing.assert_allclose(down[inner], np.broadcast_to(expected, down[inner].shape), atol=1e-5)
    assert expected[1] > 0  # rising towards the bottom of the frame faces up (+Y is up)

    np.testing.assert_allclose(np.linalg.norm(right, axis=-1), 1.0, atol=1e-6)
    flat_plate = baselines.luminance_gradient(_gray(np.full((16, 16), 0.5, np.float32)), strength)
    np.testing.assert_allclose(flat_plate, baselines.flat((16, 16, 3)), atol=1e-6)


def test_luminance_gradient_of_a_bright_bump_points_outwards_like_a_dome():
    """A bright blob reads as a dome: right of the centre faces +X, above the centre faces +Y (up)."""
    size, centre = 33, 16
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float32)
    bump = 0.2 + 0.6 * np.exp(-((rows - centre) ** 2 + (cols - centre) ** 2) / (2 * 5.0 ** 2))
    n = baselines.luminance_gradient(_gray(bump), 8.0)
    assert n[centre, centre + 5, 0] > 0.1 and n[centre, centre - 5, 0] < -0.1   # right faces right
    assert n[centre - 5, centre, 1] > 0.1 and n[centre + 5, centre, 1] < -0.1   # top faces up
    assert abs(n[centre, centre + 5, 1]) < 1e-4 and abs(n[centre - 5, centre, 0]) < 1e-4
    np.testing.assert_allclose(n[centre, centre], [0.0, 0.0, 1.0], atol=1e-4)   # the summit faces the camera


def test_fit_gradient_strength_recovers_the_strength_that_made_the_normals():
    rng = np.random.default_rng(0)
    plates = [np.clip(baselines._blur(rng.random((24, 24)).astype(np.float32), 2.0)[..., None].repeat(3, -1), 0, 1)
              for _ in range(3)]
    masks = [np.ones((24, 24), np.float32)] * 3
    for strength in (2.0, 8.0):
        maps = [baselines.luminance_gradient(p, strength) for p in plates]
        assert baselines.fit_gradient_strength(plates, maps, masks) == strength


# ---------------------------------------------------------------- evaluate() on synthetic examples

def _examples():
    sphere, disc = sphere_normal_map(20)
    plate = np.float32(0.5) + 0.4 * sphere[..., :1].repeat(3, -1) * 0.5
    empty = ("empty", plate, sphere, np.zeros((20, 20), np.float32))
    return [("sphere_a", plate, sphere, disc), empty, ("sphere_b", plate[:, ::-1], sphere * [-1, 1, 1], disc)]


class _Oracle:
    """A 'model' that knows the answers (a plain function of the plate: mirror or not)."""

    def __init__(self, examples):
        self.answers = [(p, n) for _, p, n, _ in examples]

    def __call__(self, batch):
        for plate, target in self.answers:
            if np.array_equal(batch[0], plate):
                return target[None]
        raise AssertionError("unknown plate")


def test_evaluate_report_of_a_perfect_model_and_the_baselines(tmp_path):
    examples = _examples()
    fitted = {"best_constant": [0.0, 0.0, 1.0], "gradient_strength": 1.0}
    report = evaluate.evaluate(_Oracle(examples), examples, fitted, triptych_dir=str(tmp_path / "t"))
    sphere, disc = sphere_normal_map(20)
    valid = disc >= 0.5
    flat_errors = np.degrees(np.arccos(np.clip(sphere[valid][:, 2], -1, 1)))

    assert report["count"] == 2 and report["pixels"] == 2 * int(valid.sum())  # the empty-mask image is skipped
    assert set(report["model"]) == METRIC_KEYS
    assert report["model"]["mean"] < 0.05 and report["model"]["within_11_25"] == 100.0
    assert report["flat"]["mean"] == pytest.approx(flat_errors.mean(), abs=1e-3)
    assert report["flat"]["median"] == pytest.approx(np.median(flat_errors), abs=1e-3)
    assert report["flat"]["within_30"] == pytest.approx(100.0 * np.mean(flat_errors < 30.0), abs=1e-6)
    assert report["best_constant"] == report["flat"]  # the fitted constant here is (0, 0, 1)
    assert [image["id"] for image in report["images"]] == ["sphere_a", "sphere_b"]
    assert report["fitted_baselines"] == fitted
    assert sorted(os.listdir(tmp_path / "t")) == ["sphere_a.png", "sphere_b.png"]
    assert image_io.read_image(str(tmp_path / "t" / "sphere_a.png")).shape == (20, 60, 3)
    table = evaluate.format_table(report)
    assert all(f"| {method} |" in table for method in evaluate.METHODS)


def test_evaluate_refuses_when_nothing_is_masked():
    examples = [e for e in _examples() if e[0] == "empty"]
    with pytest.raises(ValueError, match="no images"):
        evaluate.evaluate(_Oracle(examples), examples, {"best_constant": [0, 0, 1], "gradient_strength": 1.0})


# ---------------------------------------------------------------- the evaluate command on real renders (acceptance 5)

@pytest.mark.slow
def test_evaluate_command_writes_the_report(smoke_eval, smoke_records):
    """Acceptance: the evaluate CLI's JSON has every metric for every method, per-image results and triptychs."""
    report, triptych_dir = smoke_eval
    for method in ("model", "flat", "best_constant", "luminance_gradient"):
        assert set(report[method]) == METRIC_KEYS, method
        assert 0.0 <= report[method]["mean"] <= 180.0
        for key in METRIC_KEYS - {"mean", "median"}:
            assert 0.0 <= report[method][key] <= 100.0
    with open(os.path.join(smoke_records, "index.json")) as f:
        val_count = json.load(f)["splits"]["val"]["count"]
    assert report["count"] == val_count == len(report["images"])
    for image in report["images"]:
        assert image["pixels"] > 0 and set(image["model"]) == METRIC_KEYS
    assert report["pixels"] == sum(image["pixels"] for image in report["images"])
    assert report["settings"]["split"] == "val"
    assert "train split" in report["fitted_baselines"]["fitted_on"]
    assert len(report["fitted_baselines"]["best_constant"]) == 3
    assert report["fitted_baselines"]["gradient_strength"] in baselines.GRADIENT_STRENGTHS
    pngs = sorted(os.listdir(triptych_dir))
    assert pngs == sorted(image["id"] + ".png" for image in report["images"])
    sheet = image_io.read_image(os.path.join(triptych_dir, pngs[0]))
    assert sheet.shape[1] == 3 * sheet.shape[0]  # input | ground truth | prediction of a square render
