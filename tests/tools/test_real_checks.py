"""tfnormals.tools.real_checks: motorcycle ground truth, label-free checks, gallery."""

import numpy as np
import pytest

from tfnormals.core import normals
from tfnormals.tools import baselines, real_checks

pytest.importorskip("skimage")


def test_motorcycle_truth_is_a_floor_seen_from_above_and_a_wall_behind():
    truth = real_checks.motorcycle_truth()
    mask, n = truth["mask"], truth["normals"]
    assert 0.3 < mask.mean() < 0.8
    assert np.allclose(np.linalg.norm(n[mask], axis=-1), 1.0, atol=1e-4)
    floor = n[-40:, :][mask[-40:, :]]       # bottom rows: the garage floor
    assert np.median(floor[:, 1]) > 0.7, "floor normals point up (+Y)"
    top = n[:60, 350:700][mask[:60, 350:700]]  # top right: shelves and wall facing the camera
    assert np.median(top[:, 2]) > 0.7
    assert np.all(truth["depth"][mask] > 1000.0), "the scene is metres away (depth in mm)"


def test_a_mirror_symmetric_predictor_has_zero_flip_error_and_scale_error():
    plates = [real_checks.photo("coffee")[:64, :96]]
    flat = lambda plate: baselines.flat(plate.shape)
    assert real_checks.flip_equivariance(flat, plates) == pytest.approx(0.0, abs=1e-4)
    assert real_checks.scale_consistency(flat, plates) == pytest.approx(0.0, abs=1e-3)
    skewed = lambda plate: baselines.constant(plate.shape, (0.5, 0.0, 1.0))
    assert real_checks.flip_equivariance(skewed, plates) == pytest.approx(53.13, abs=0.01)


def test_motorcycle_report_scores_the_truth_perfectly_and_the_baselines_worse():
    truth = real_checks.motorcycle_truth()
    report = real_checks.motorcycle_report(lambda plate: {"normals": truth["normals"],
                                                          "depth": truth["depth"][..., None] * 3.0}, truth)
    assert report["model"]["mean"] < 1e-3
    assert report["depth"]["absrel_median"] < 1e-6
    assert min(report[m]["mean"] for m in ("flat", "best_constant", "luminance_gradient")) > 20.0


def test_gallery_has_a_row_per_photo_of_photo_normals_relit():
    plates = [real_checks.photo(name) for name in ("coffee", "camera")]
    facing = lambda plate: baselines.flat(plate.shape)
    image = real_checks.gallery(facing, plates, side=32)
    assert image.shape == (21 + 32, 96, 3)  # coffee 400×600 → 21×32, camera 512² → 32², no letterbox bars
    assert np.allclose(image[:21, 32:64], normals.encode(np.array([0.0, 0.0, 1.0])), atol=1e-6)
    assert np.allclose(image[21:, 32:64], normals.encode(np.array([0.0, 0.0, 1.0])), atol=1e-6)
    # Relit: normals turned to the warm key come out brighter and warmer than the photo, normals turned away
    # darker (they keep only the ambient share of the photo's light).
    key = np.float32(real_checks.GALLERY_LIGHT.direction) / np.linalg.norm(real_checks.GALLERY_LIGHT.direction)
    warmth = lambda rgb: (rgb[..., 0] - rgb[..., 2]).mean()
    for direction, lit in ((key, True), (-key, False)):
        row = real_checks.gallery(lambda plate: np.broadcast_to(direction, plate.shape), plates[1:], side=32)
        photo, relit = row[:, :32], row[:, 64:]
        assert (relit.mean() > photo.mean()) == lit
        assert (warmth(relit) > warmth(photo) + 0.05) == lit  # the camera photo is grey: only the key tints it
