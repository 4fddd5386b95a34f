"""Depth and albedo metrics in tfnormals.tools.evaluation, and the real-photo checks command."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from helpers import REPO, ray_traced_sphere, shipped_metadata, subprocess_env

from tfnormals.core import camera
from tfnormals.tools import evaluation

SIDE = 40
HFOV = 50.0


def _sphere_example():
    """A ray-traced sphere in front of a wall: depth, normals from it, albedo, a plate."""
    depth, _, _, _ = ray_traced_sphere(SIDE, HFOV, (0.0, 0.0, -3.0), background_depth=6.0)
    n = camera.normals_from_position(camera.position_from_depth(depth, camera.focal_pixels(SIDE, HFOV)))
    cols = np.arange(SIDE)[None, :].repeat(SIDE, 0)
    albedo = np.where((cols < SIDE // 2)[..., None], [0.8, 0.2, 0.1], [0.1, 0.5, 0.9]).astype(np.float32)
    plate = (0.2 + 0.6 * albedo * np.clip(n[..., 2:3], 0, 1)).astype(np.float32)
    return evaluation.Example("s", plate, n, np.ones((SIDE, SIDE), np.float32), depth, albedo, HFOV)


class _Exact:
    """Answers every pass exactly, depth at another scale and albedo tinted (both allowed ambiguities)."""

    def __init__(self, example):
        self.example = example

    def predict_passes(self, batch):
        e = self.example
        return {"normals": e.normals[None], "depth": 3.0 * e.depth[None, ..., None],
                "albedo": (e.albedo * np.array([0.5, 1.0, 1.5], np.float32))[None]}


def test_a_model_exact_up_to_scale_scores_zero_and_the_baselines_do_not():
    example = _sphere_example()
    report = evaluation.evaluate(_Exact(example), [example], {"best_constant": [0, 0, 1], "gradient_strength": 1.0})
    depth = report["depth"]
    assert depth["count"] == 1
    assert depth["model"]["absrel_median"] < 1e-5 and depth["model"]["delta125_median"] == 1.0
    assert depth["constant"]["absrel_median"] > 0.1 and depth["ground_plane"]["absrel_median"] > 0.1
    assert report["p_normals_agreement_deg"] < 1.0, "normals from the predicted P agree with the predicted normals"
    assert report["albedo"]["model"] < 1e-8 < report["albedo"]["plate"]
    contrast = depth["contrast"]
    assert contrast["1"]["absrel_median"] == depth["model"]["absrel_median"]
    assert contrast["0.5"]["absrel_median"] > 0.01 and contrast["1.5"]["absrel_median"] > 0.01
    family = report["families"]["unknown"]["depth"]
    assert family["images"] == 1 and family["model"] < 1e-5 and family["constant"] == depth["constant"]["absrel_median"]
    table = evaluation.format_table(report)
    assert "| ground_plane |" in table and "| plate |" in table and "best k 1;" not in table
    assert "with each image's own best contrast 0.000, without the worst 5% of images 0.000 (worst: s 0.00)" in table
    assert table.split("depth AbsRel at contrast k")[1].splitlines()[0].endswith(
        "best k 1 (log-depth variance lowest at k 1)")


def test_examples_without_passes_give_a_normals_only_report():
    example = _sphere_example()
    plain = evaluation.Example(example.id, example.beauty, example.normals, example.mask)
    report = evaluation.evaluate(_Exact(example), [plain], {"best_constant": [0, 0, 1], "gradient_strength": 1.0})
    assert "depth" not in report and "albedo" not in report and report["model"]["mean"] < 1e-3


@pytest.mark.slow
def test_real_checks_command_writes_report_and_gallery(tmp_path):
    pytest.importorskip("skimage")
    out, gallery = str(tmp_path / "real.json"), str(tmp_path / "gallery.png")
    proc = subprocess.run([sys.executable, "-m", "tfnormals.evaluate", "--real_checks", f"--output_json={out}",
                           f"--gallery={gallery}"], cwd=REPO, env=subprocess_env(), capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| motorcycle normals |" in proc.stdout and "flip equivariance" in proc.stdout
    with open(out) as f:
        report = json.load(f)
    assert report["motorcycle"]["pixels"] > 100000
    assert 0 < report["flip_equivariance_deg"] < 90 and 0 < report["scale_consistency_deg"] < 90
    moto = report["motorcycle"]
    assert moto["depth_contrast"]["1"] == moto["depth"] and "motorcycle depth AbsRel at contrast k" in proc.stdout
    # The same figures with the network at each photo's own resolution, beside predict's default.
    native = report["native"]
    assert 0 < native["motorcycle_mean_deg"] < 90
    assert native["motorcycle_mean_deg"] != report["motorcycle"]["model"]["mean"]
    assert "own resolution" in proc.stdout and report["working_size"] == shipped_metadata()["working_size"]
    assert os.path.isfile(gallery)
