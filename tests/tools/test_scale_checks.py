"""tfnormals.tools.scale_checks: the edge band, and `evaluate --scale_checks` end to end on tiny inputs."""

import json
import subprocess
import sys

import numpy as np
import pytest
from helpers import REPO, subprocess_env, write_synthetic_samples

from tfnormals.core import image_io, normals
from tfnormals.tools import scale_checks


def test_edge_band_covers_silhouettes_and_creases_only():
    """A square surface whose left and right halves face different ways: the band is its border and the crease,
    EDGE_BAND_PX wide, and nothing in the flat middle of either half."""
    truth = np.zeros((40, 40, 3), np.float32)
    valid = np.zeros((40, 40), bool)
    valid[5:35, 5:35] = True
    truth[valid] = [0.0, 0.0, 1.0]
    truth[5:35, 20:35] = normals.normalize(np.array([0.8, 0.0, 0.6], np.float32))  # a 53° crease at x = 20
    band = scale_checks.edge_band(truth, valid)
    assert not (band & ~valid).any()
    assert band[20, 5] and band[5, 12] and band[20, 19] and band[20, 20]  # silhouette, crease
    assert not band[20, 12] and not band[20, 27]  # flat middles
    assert band[20, 5 + scale_checks.EDGE_BAND_PX] and not band[20, 6 + scale_checks.EDGE_BAND_PX]


def test_upscale_is_bicubic_and_keeps_the_range():
    plate = np.random.default_rng(0).random((10, 12, 3)).astype(np.float32)
    big = scale_checks.upscale(plate, 3)
    assert big.shape == (30, 36, 3) and big.min() >= 0 and big.max() <= 1
    assert scale_checks.upscale(plate, 1) is plate


@pytest.mark.slow
def test_the_scale_check_command_runs_on_tiny_inputs(tiny_model, tmp_path):
    """`python -m tfnormals.evaluate --scale_checks` with a tiny model, the motorcycle at ×1 and ×2 and the same
    synthetic scenes at 32² and 64²: a mean and an edge error for every scale and mode, and the comparison at 32²."""
    small, large = tmp_path / "r32", tmp_path / "r64"
    write_synthetic_samples(str(small), 2, size=32)
    write_synthetic_samples(str(large), 2, size=64)
    report_path, gallery = tmp_path / "scale.json", tmp_path / "gallery.png"
    plate = large / "0000000" / "beauty.png"
    proc = subprocess.run([sys.executable, "-m", "tfnormals.evaluate", "--scale_checks", f"--model={tiny_model.path}",
                           f"--output_json={report_path}", "--scale_factors=1,2", f"--scale_renders={small},{large}",
                           f"--scale_gallery={gallery}", f"--scale_gallery_plate={plate}"],
                          cwd=REPO, env=subprocess_env(), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(report_path.read_text())
    assert set(report["motorcycle"]) == {"x1", "x2"}
    for row in report["motorcycle"].values():
        assert set(row) == {"fused", "global", "tiled"}
        assert all(0 < row[m]["mean"] < 180 and 0 < row[m]["edge"] < 180 for m in row)
    assert [r["resolution"] for r in report["renders"].values()] == [32, 64]
    assert all(0 < report["renders"][str(large)][m]["mean_at_32"] < 180 for m in ("fused", "global", "tiled"))
    assert "motorcycle x2" in proc.stdout and "renders 64²" in proc.stdout
    # The gallery: plate and normals at 64 px high (square plate), then three 64² crops (the plate is 64² itself).
    assert image_io.read_image(str(gallery)).shape == (64, 5 * 64, 3)
