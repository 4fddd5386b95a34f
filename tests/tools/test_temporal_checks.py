"""tfnormals.tools.temporal_checks: the flicker measures (against known changes), the grain and pan sequences, and
`evaluate --shots --temporal_plates --temporal_matchmove` on a tiny rendered shot."""

import json
import subprocess
import sys

import numpy as np
import pytest
from helpers import REPO, subprocess_env

from tfnormals.core import image_io, normals, shots
from tfnormals.tools import temporal_checks

H, W = 12, 16


def still_match(depth):
    """The correspondence of a frame with itself: zero flow, every pixel seen, no rotation."""
    ids = np.zeros((H, W), np.int32)
    return shots.Correspondence(np.zeros((H, W, 2), np.float32), np.ones((H, W), bool), depth, ids, {0: np.eye(3)})


def rotation_x(degrees):
    c, s = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]], np.float32)


def test_flicker_is_the_change_of_the_prediction_beyond_the_truths():
    rng = np.random.default_rng(0)
    n = normals.normalize(rng.normal(0, 0.3, (H, W, 3)) * [0.0, 1.0, 1.0] + [0.0, 0.0, 1.0])  # ⊥ the x axis
    depth = rng.uniform(1.0, 2.0, (H, W)).astype(np.float32)
    truth = {"normals": n, "depth": depth, "mask": np.ones((H, W), bool)}
    match = still_match(depth)
    same = {"normals": n, "depth": depth[..., None]}
    assert temporal_checks.pair_changes(match, same, same, truth, truth) == pytest.approx(
        {"normals_deg": 0.0, "depth_pct": 0.0}, abs=1e-3)
    turned = {"normals": n @ rotation_x(5.0).T, "depth": 1.1 * depth[..., None]}  # normals turn 5°, depth jumps 10%
    changes = temporal_checks.pair_changes(match, same, turned, truth, truth)
    assert changes["normals_deg"] == pytest.approx(5.0, abs=0.05)
    assert changes["depth_pct"] == pytest.approx(100 * np.log(1.1), abs=0.01)
    # A change the truth makes too is no flicker: the prediction following the truth scores 0.
    moved_truth = dict(truth, normals=turned["normals"], depth=1.1 * depth)
    moved_match = still_match(1.1 * depth)
    assert temporal_checks.pair_changes(moved_match, same, turned, truth, moved_truth) == pytest.approx(
        {"normals_deg": 0.0, "depth_pct": 0.0}, abs=1e-3)


def test_grain_and_pan_sequences():
    plate = np.random.default_rng(1).uniform(0.2, 0.8, (H, W + 7, 3)).astype(np.float32)
    grain = temporal_checks.grain_sequence(plate, frames=4, sigma=0.02)
    assert len(grain) == 4 and all(f.shape == plate.shape for f in grain)
    assert 0.015 < np.std(grain[1] - grain[0]) / np.sqrt(2) < 0.025
    pan = temporal_checks.pan_sequence(plate, frames=8, step=1, sigma=0.0)
    assert all(f.shape == (H, W, 3) for f in pan)
    np.testing.assert_array_equal(pan[3][:, :-1], pan[2][:, 1:])  # the picture moves one pixel left a frame
    # A prediction that moves with the picture does not change once the frames are aligned.
    outputs = [{"normals": normals.normalize(f * 2.0 - 1.0)} for f in pan]
    assert temporal_checks.consecutive_change_deg(outputs, step=1) == pytest.approx(0.0, abs=1e-3)
    assert temporal_checks.consecutive_change_deg(outputs) > 1.0


@pytest.mark.slow
def test_the_command_measures_a_rendered_shot_and_a_plate(tmp_path):
    run = lambda module, *args: subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, env=subprocess_env(),
                                               capture_output=True, text=True, timeout=600)
    # seed 6: its moving objects stay in view, so the flicker is split between them and the rest
    rendered = run("data_tools.render_shots", f"--output_dir={tmp_path / 'shots'}", "--num_shots=1", "--num_frames=3",
                   "--resolution=32", "--spp=1", "--seed=6", "--camera_paths=pan", "--moving_share=1")
    assert rendered.returncode == 0, rendered.stderr[-3000:]
    plate = tmp_path / "plate.png"
    image_io.write_png(str(plate), np.random.default_rng(2).uniform(0.1, 0.9, (40, 56, 3)))
    report_path = tmp_path / "temporal.json"
    done = run("tfnormals.evaluate", f"--shots={tmp_path / 'shots'}", f"--temporal_plates={plate}",
               "--temporal_matchmove", "--temporal_mattes", f"--output_json={report_path}")
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(report_path.read_text())
    (shot,) = report["shots"].values()
    assert shot["frames"] == 3 and shot["moving_objects"] and shot["camera_path"] == "pan"
    # the last two with the shot's recorded cameras, the last with mattes of its moving objects too
    for method in ("per_frame", "temporal", "temporal_matchmove", "temporal_matchmove_mattes"):
        assert set(shot[method]) == {"accuracy_deg", "flicker_normals_deg", "flicker_depth_pct",
                                     "flicker_moving_normals_deg", "flicker_still_normals_deg"}
        assert all(np.isfinite(v) for v in shot[method].values()) and 0 < shot[method]["accuracy_deg"] < 90
    checks = report["plates"]["plate.png"]
    assert set(checks) == {"grain", "pan"} and all(checks[k]["per_frame"] > 0 for k in checks)
    assert "| shots/shot00000 (pan, moving objects) |" in done.stdout and "| plate.png |" in done.stdout
    assert "flicker lower by (temporal) | flicker lower by (matchmove) | flicker lower by (matchmove + mattes)" in \
        done.stdout
    assert 0.0 < shot["moving_share"] < 1.0  # the flicker split between the moving object and the rest
    assert "| on moving objects, per-frame ° | on moving objects, temporal ° |" in done.stdout


def test_flicker_is_split_between_moving_objects_and_still_surfaces():
    rng = np.random.default_rng(3)
    n = normals.normalize(rng.normal(0, 0.3, (H, W, 3)) * [0.0, 1.0, 1.0] + [0.0, 0.0, 1.0])
    depth = np.ones((H, W), np.float32)
    truth = {"normals": n, "depth": depth, "mask": np.ones((H, W), bool)}
    ids = np.zeros((H, W), np.int32)
    ids[:, :4] = 8  # a moving object (ID 8) on the first 4 of 16 columns
    match = shots.Correspondence(np.zeros((H, W, 2), np.float32), np.ones((H, W), bool), depth, ids,
                                 {0: np.eye(3), 8: np.eye(3)})
    turned = n.copy()
    turned[:, :4] = n[:, :4] @ rotation_x(8.0).T  # only the object's normals change between the frames
    changes = temporal_checks.pair_changes(match, {"normals": n}, {"normals": turned}, truth, truth, moving_ids=[8])
    assert changes["moving_normals_deg"] == pytest.approx(8.0, abs=0.05)
    assert changes["still_normals_deg"] == pytest.approx(0.0, abs=1e-3)
    assert changes["normals_deg"] == pytest.approx(8.0 * 4 / 16, abs=0.05)  # the whole frame's mean
    assert set(temporal_checks.pair_changes(match, {"normals": n}, {"normals": turned}, truth, truth)) == {
        "normals_deg"}  # no moving objects named: no split
