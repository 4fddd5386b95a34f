"""data_tools.scene.camera_paths and shots: the camera moves, moving objects and per-frame records of a shot spec
(numpy only, no renderer)."""

import json
import types

import numpy as np
import pytest

from data_tools import render_shots
from data_tools.scene import camera_paths, families, shots
from tfnormals.core import camera, errors, layout

BASE = {"origin": [0.0, 1.0, 4.0], "target": [0.0, 0.5, 0.0], "up": [0.0, 1.0, 0.0], "fov_deg": 40.0,
        "focal_mm": 49.45, "resolution": 64, "exposure_bias": 0.0}
SUBJECT = np.array([0.0, 0.5, 0.0])


def moved(kind, shake=False, frames=9, fits=None, seed=0):
    path = camera_paths.sample(np.random.default_rng(seed), kind, shake, BASE, SUBJECT, frames, fits)
    return path, camera_paths.cameras(path, BASE, frames)


def forward(cam):
    d = np.asarray(cam["target"]) - np.asarray(cam["origin"])
    return d / np.linalg.norm(d)


def angle_deg(u, v):
    return float(np.degrees(np.arccos(np.clip(np.dot(u, v), -1.0, 1.0))))


def test_every_move_starts_at_the_scene_camera_and_moves_as_its_kind_says():
    for kind in camera_paths.KINDS:
        path, cams = moved(kind)
        assert len(cams) == 9 and path["kind"] == kind and (path["shake"] is None) == (kind != "handheld")
        np.testing.assert_allclose(cams[0]["origin"], BASE["origin"], atol=1e-9 if kind != "handheld" else 0.05)
        origins = np.array([c["origin"] for c in cams])
        if kind == "orbit":  # same distance to the subject, same height, turned by `amount` about the vertical
            np.testing.assert_allclose(np.linalg.norm(origins - SUBJECT, axis=1), np.linalg.norm(origins[0] - SUBJECT))
            np.testing.assert_allclose(origins[:, 1], BASE["origin"][1])
            flat = [forward(c) * [1, 0, 1] / np.linalg.norm(forward(c) * [1, 0, 1]) for c in (cams[0], cams[-1])]
            assert angle_deg(*flat) == pytest.approx(abs(path["amount"]), abs=1e-6)
        if kind == "pan":  # stays put and turns
            np.testing.assert_allclose(origins, np.broadcast_to(origins[0], origins.shape), atol=1e-12)
            assert angle_deg(forward(cams[0]), forward(cams[-1])) > 5.0
        if kind == "dolly":  # travels `amount` without turning
            assert np.linalg.norm(origins[-1] - origins[0]) == pytest.approx(abs(path["amount"]))
            np.testing.assert_allclose(forward(cams[-1]), forward(cams[0]), atol=1e-9)
        steps = np.linalg.norm(np.diff(origins, axis=0), axis=1)
        if kind != "handheld":
            np.testing.assert_allclose(steps, steps[0], rtol=1e-6)  # constant speed, no jumps


def test_handheld_shake_is_small_and_smooth():
    """Shake moves the camera by millimetres per metre and turns it by a fraction of a degree, frame to frame."""
    path, cams = moved("handheld", frames=48)
    origins = np.array([c["origin"] for c in cams])
    distance = np.linalg.norm(np.asarray(BASE["origin"]) - SUBJECT)
    assert 0 < np.abs(origins - BASE["origin"]).max() < 3 * camera_paths.SHAKE_TRANSLATION[1] * distance
    turns = [angle_deg(forward(a), forward(b)) for a, b in zip(cams, cams[1:])]
    assert 0 < max(turns) < 0.3


def test_a_move_that_leaves_free_space_is_reversed_then_shortened():
    """A dolly that would pass through a wall (z < 3.9) turns back; one boxed in on both sides shrinks, and at
    last stays put."""
    path, cams = moved("dolly", fits=lambda o: o[2] >= 3.9)
    assert all(c["origin"][2] >= 3.9 for c in cams)
    path, cams = moved("dolly", fits=lambda o: 3.95 <= o[2] <= 4.05)
    assert 0 < path["halved"] < camera_paths.SHRINK_TRIES and all(3.95 <= c["origin"][2] <= 4.05 for c in cams)
    path, cams = moved("dolly", fits=lambda o: o[2] == 4.0)
    assert path["halved"] == camera_paths.SHRINK_TRIES and path["amount"] == 0.0
    assert all(c["origin"] == BASE["origin"] for c in cams)


def test_shot_specs_are_deterministic_and_json():
    a = shots.sample_shot(3, 5, 64, 6)
    assert json.dumps(a) == json.dumps(shots.sample_shot(3, 5, 64, 6))
    assert json.dumps(a) != json.dumps(shots.sample_shot(3, 6, 64, 6))
    assert [f["frame"] for f in a["frames"]] == list(range(layout.FIRST_FRAME, layout.FIRST_FRAME + 6))
    assert [f["frame"] for f in shots.sample_shot(3, 5, 64, 6, first_frame=1)["frames"]] == list(range(1, 7))
    seeds = [f["sampler_seed"] for f in a["frames"]]
    assert len(set(seeds)) == len(seeds)  # fresh noise per frame


def test_every_frame_records_its_camera_as_the_renderer_sees_it():
    shot = shots.sample_shot(1, 2, 48, 5)
    for entry in shot["frames"]:
        cam = entry["camera"]
        np.testing.assert_allclose(entry["camera_to_world"], camera.look_at(cam["origin"], cam["target"], cam["up"]))
        assert entry["resolution"] == [48, 48]
        assert entry["fov_deg"] == cam["fov_deg"] == shot["scene"]["camera"]["fov_deg"]


@pytest.mark.parametrize("share", [0.0, 1.0])
def test_moving_share_and_rigid_object_motion(share):
    """moving_share 0: nothing moves; 1: every shot moves one or two objects rigidly, from their rest pose, on
    their support (no vertical travel or tilt)."""
    for index in range(6):
        shot = shots.sample_shot(4, index, 32, 4, moving_share=share, kinds=("pan",))
        assert shot["camera_path"]["kind"] == "pan"
        assert bool(shot["moving_objects"]) == bool(share)
        for entry in shot["frames"]:
            assert sorted(entry["object_transforms"]) == sorted(str(m["id"]) for m in shot["moving_objects"])
        for m in shot["moving_objects"]:
            assert m["id"] == layout.ID_FIRST_OBJECT + m["object"]
            first = np.asarray(shot["frames"][0]["object_transforms"][str(m["id"])])
            last = np.asarray(shot["frames"][-1]["object_transforms"][str(m["id"])])
            np.testing.assert_allclose(first, np.eye(4), atol=1e-12)
            np.testing.assert_allclose(last[:3, :3] @ last[:3, :3].T, np.eye(3), atol=1e-9)
            np.testing.assert_allclose(last[1], [0, 1, 0, 0], atol=1e-9)
            assert np.linalg.norm(last[:3, 3]) > 0 or abs(m["spin_deg"]) > 0


def test_cameras_keep_clear_of_objects_and_walls():
    """Over many shots, no frame's camera (shake aside) enters a rule the scene's own camera keeps: inside an
    object's sphere, through a room's wall, under the terrain or below the subject."""
    kinds_seen = set()
    for index in range(60):
        shot = shots.sample_shot(9, index, 32, 8)
        spec, path = shot["scene"], shot["camera_path"]
        kinds_seen.add(path["kind"])
        subject, _ = families.group_sphere(spec["objects"])
        fits = shots.camera_fits(spec, subject, shot["moving_objects"])
        if path["halved"] < camera_paths.SHRINK_TRIES:
            steady = camera_paths.cameras(dict(path, shake=None), spec["camera"], 8)
            assert all(fits(np.asarray(c["origin"])) for c in steady), (index, path)
    assert kinds_seen == set(camera_paths.KINDS)


def test_camera_fits_rejects_a_camera_inside_an_object():
    spec = shots.sample_shot(2, 0, 32, 2)["scene"]
    subject, _ = families.group_sphere(spec["objects"])
    fits = shots.camera_fits(spec, subject, [])
    centre, _ = families.bounding_sphere(spec["objects"][0])
    assert fits(np.asarray(spec["camera"]["origin"], np.float64)) and not fits(centre)


GOOD_FLAGS = dict(output_dir="out", num_shots=2, num_frames=3, first_frame=1001, camera_paths=["orbit", "pan"],
                  shake_share=0.3, moving_share=0.5, resolution=32, spp=4, seed=1, task_index=0, num_tasks=1,
                  families="object_study=1", denoise=False, threads=0, variant="llvm_ad_rgb")


def test_render_shots_settings_come_from_the_flags(tmp_path):
    settings = render_shots.settings_from_flags(types.SimpleNamespace(**dict(GOOD_FLAGS, output_dir=str(tmp_path))))
    assert sorted(settings) == sorted(render_shots.SETTINGS)
    assert settings["camera_paths"] == "orbit,pan" and settings["families"].startswith("object_study=1,")


@pytest.mark.parametrize("bad, flag", [({"camera_paths": ["zoom"]}, "--camera_paths"),
                                       ({"num_frames": 0}, "--num_frames"), ({"moving_share": 1.5}, "--moving_share"),
                                       ({"seed": -1}, "--seed"), ({"spp": 0}, "--spp"),
                                       ({"task_index": 2, "num_tasks": 2}, "--task_index"),
                                       ({"output_dir": ""}, "--output_dir")])
def test_render_shots_refuses_bad_flags_naming_them(tmp_path, bad, flag):
    values = types.SimpleNamespace(**dict(GOOD_FLAGS, **dict({"output_dir": str(tmp_path / "out")}, **bad)))
    with pytest.raises(errors.UsageError, match=flag):
        render_shots.settings_from_flags(values)
