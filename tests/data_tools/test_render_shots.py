"""data_tools.render_shots on tiny renders: frame files, determinism, resuming, farm split, refused settings,
fixed exposure, and the true correspondence of tfnormals.core.shots against the rendered normals."""

import dataclasses
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from helpers import REPO, subprocess_env

from data_tools import mitsuba_render, render_shots
from data_tools.scene import sampling
from tfnormals.core import errors, image_io, layout, normals, shots

pytestmark = pytest.mark.slow

SIZE, FRAMES, SHOTS = 32, 3, 2


def shot_settings(**changes):
    """render_shots settings of the tests: 32 px, 3 frames, 4 spp, seed 11, orbits of still objects."""
    settings = {"resolution": SIZE, "spp": 4, "seed": 11, "num_frames": FRAMES, "first_frame": layout.FIRST_FRAME,
                "families": sampling.format_family_weights(sampling.DEFAULT_FAMILY_WEIGHTS), "camera_paths": "orbit",
                "shake_share": 0.5, "moving_share": 0.0, "denoise": True, "variant": mitsuba_render.FAST_VARIANT}
    return dict(settings, **changes)


def render_all(folder, settings, num_tasks=1, order=None):
    """Run every task of a `num_tasks` split (in `order`), summing (rendered, skipped, failed)."""
    totals = [0, 0, []]
    for task in order or range(num_tasks):
        pairs = render_shots.task_pairs(SHOTS, settings["num_frames"], task, num_tasks)
        for k, value in enumerate(render_shots.render_shots(str(folder), pairs, settings)):
            totals[k] += value
    return tuple(totals)


@pytest.fixture(scope="module")
def camera_shots(tmp_path_factory):
    """Two orbit shots (some shaken), nothing moving."""
    folder = tmp_path_factory.mktemp("camera_shots")
    assert render_all(folder, shot_settings()) == (SHOTS * FRAMES, 0, [])
    return folder


@pytest.fixture(scope="module")
def moving_shots(tmp_path_factory):
    """Two panning object studies in which one or two objects move."""
    folder = tmp_path_factory.mktemp("moving_shots")
    settings = shot_settings(camera_paths="pan", moving_share=1.0,
                             families=sampling.format_family_weights(sampling.parse_family_weights("object_study=1")))
    assert render_all(folder, settings) == (SHOTS * FRAMES, 0, [])
    return folder


def frame_files(folder):
    """{relative path: pixels (or JSON text)} of every file under a shots folder."""
    found = {}
    for shot in sorted(os.listdir(folder)):
        for name in sorted(os.listdir(os.path.join(folder, shot))):
            path = os.path.join(folder, shot, name)
            found[f"{shot}/{name}"] = open(path).read() if name.endswith(".json") else image_io.read_image(path)
    return found


def assert_same_files(a, b):
    files_a, files_b = frame_files(a), frame_files(b)
    assert sorted(files_a) == sorted(files_b)
    for name, content in files_a.items():
        if isinstance(content, str):
            assert content == files_b[name], name
        else:
            np.testing.assert_array_equal(content, files_b[name], err_msg=name)


def test_a_shot_folder_holds_every_frame_file_and_its_cameras(camera_shots):
    assert sorted(os.listdir(camera_shots)) == [layout.shot_id(s) for s in range(SHOTS)]
    for s in range(SHOTS):
        shot = shots.read_shot(os.path.join(camera_shots, layout.shot_id(s)))
        assert shot.frames == list(range(layout.FIRST_FRAME, layout.FIRST_FRAME + FRAMES))
        assert shot.info["settings"] == shot_settings() and shot.info["camera_path"]["kind"] == "orbit"
        for frame in shot.frames:
            for name in layout.SHOT_FRAME_FILES:
                assert os.path.isfile(shot.path(name, frame)), name
            cam = shot.camera(frame)
            assert (cam.width, cam.height) == (SIZE, SIZE)
            ids = shots.read_ids(shot.path(layout.IDS_PNG, frame))
            assert set(np.unique(ids)) <= {int(k) for k in shot.info["ids"]}
        # The camera moved: the last frame's camera is another one.
        first, last = (shot.camera(f).camera_to_world for f in (shot.frames[0], shot.frames[-1]))
        assert not np.allclose(first, last)


def test_task_split_in_any_order_gives_the_frames_of_one_run(camera_shots, tmp_path):
    """Three tasks, the last first: tasks that do not own a shot's first frame measure its exposure themselves
    (or read it from shot.json), and every file comes out identical to the single run's."""
    assert render_all(tmp_path, shot_settings(), num_tasks=3, order=(2, 1, 0)) == (SHOTS * FRAMES, 0, [])
    assert_same_files(camera_shots, tmp_path)


def test_task_pairs_split_the_frames_into_contiguous_blocks():
    owned = [render_shots.task_pairs(3, 5, t, 4) for t in range(4)]
    assert [p for task in owned for p in task] == [(s, f) for s in range(3) for f in range(5)]
    assert max(map(len, owned)) - min(map(len, owned)) <= 1


def test_rerun_skips_complete_frames_and_redoes_broken_ones(camera_shots, tmp_path):
    """Frames with a file missing or truncated on disk are rendered again, the others kept."""
    folder = tmp_path / "shots"
    shutil.copytree(camera_shots, folder)
    shot_dir = folder / layout.shot_id(1)
    os.remove(shot_dir / layout.frame_file(layout.NORMALS_EXR, 1002))  # killed while writing that frame
    for name in layout.SHOT_FRAME_FILES:
        os.remove(shot_dir / layout.frame_file(name, 1003))
    stale = shot_dir / ".tmp-half-written.exr"  # a killed writer's temporary (no live process owns it)
    stale.write_bytes(b"half-written")
    truncated = folder / layout.shot_id(0) / layout.frame_file(layout.DEPTH_EXR, 1002)  # a file server's crash
    with open(truncated, "r+b") as f:
        f.truncate(os.path.getsize(truncated) // 2)
    kept = os.stat(folder / layout.shot_id(0) / layout.frame_file(layout.BEAUTY_EXR, 1001)).st_mtime_ns

    assert render_all(folder, shot_settings()) == (3, SHOTS * FRAMES - 3, [])
    assert os.stat(folder / layout.shot_id(0) / layout.frame_file(layout.BEAUTY_EXR, 1001)).st_mtime_ns == kept
    assert not stale.exists()
    assert_same_files(camera_shots, folder)
    assert render_all(folder, shot_settings()) == (0, SHOTS * FRAMES, [])


@pytest.mark.parametrize("change", [{"spp": 8}, {"num_frames": 5}, {"moving_share": 0.5}])
def test_other_settings_in_the_same_folder_are_refused_naming_them(camera_shots, change):
    flag, value = next(iter(change.items()))
    before = frame_files(camera_shots)
    with pytest.raises(errors.UsageError, match=f"--{flag}={value} \\(the folder's shots have "):
        render_all(camera_shots, shot_settings(**change))
    assert sorted(frame_files(camera_shots)) == sorted(before)


def test_exposure_is_fixed_per_shot(camera_shots):
    """The first frame is auto-exposed (its EXPOSURE_PERCENTILE luminance lands at the target, times the camera's
    bias); later frames keep that exposure, so theirs lands elsewhere as the view changes (auto exposure per frame
    would put every frame there and make the shot flicker)."""
    for s in range(SHOTS):
        shot = shots.read_shot(os.path.join(camera_shots, layout.shot_id(s)))
        bias = 2.0 ** shot.info["scene"]["camera"]["exposure_bias"]
        levels = [mitsuba_render.auto_exposure(image_io.read_image(shot.path(layout.BEAUTY_EXR, f))[..., :3]) * bias
                  for f in shot.frames]
        assert levels[0] == pytest.approx(1.0, rel=0.01)
        assert max(abs(level - 1.0) for level in levels[1:]) > 0.02


def local_agreement(match, normals_a, normals_b, slack_deg=1.0):
    """Per pixel of a: whether a's normal, carried to b by the correspondence, agrees with b's normal where it lands
    within the spread of the four pixels of b it is interpolated from (plus `slack_deg`). Renders have detail at the
    pixel scale, so a sub-pixel landing point can only be checked against that spread; a wrong landing point or
    rotation fails it wherever the surface is smooth."""
    h, w = match.flow.shape[:2]
    rows, cols = np.mgrid[0:h, 0:w]
    x = np.clip(np.nan_to_num(cols + match.flow[..., 0]), 0, w - 1)
    y = np.clip(np.nan_to_num(rows + match.flow[..., 1]), 0, h - 1)
    sampled = normals.normalize(match.sample(normals_b))
    spread = np.zeros((h, w), np.float32)
    for dy in (0, 1):
        for dx in (0, 1):
            corner = normals_b[np.clip(np.floor(y).astype(int) + dy, 0, h - 1), np.clip(np.floor(x).astype(int) + dx,
                                                                                        0, w - 1)]
            spread = np.maximum(spread, normals.angular_error_deg(corner, sampled))
    return normals.angular_error_deg(match.transfer_normals(normals_a), sampled) <= spread + slack_deg


def pooled(folder, variant=lambda match, a, b: match):
    """Over every shot and frame pair (t, t+1), (t, t+2): per valid pixel, (agrees, ID, angular error) of the
    correspondence, after `variant` altered it (a broken one, for contrast)."""
    agrees, ids, errors_deg = [], [], []
    for s in range(SHOTS):
        shot = shots.read_shot(os.path.join(folder, layout.shot_id(s)))
        for a, b in ((shot.frames[0], shot.frames[1]), (shot.frames[0], shot.frames[2]),
                     (shot.frames[2], shot.frames[1])):
            view_a, view_b = shot.view(a), shot.view(b)
            match = variant(shots.correspondence(view_a, view_b), view_a, view_b)
            n_a, n_b = (image_io.read_image(shot.path(layout.NORMALS_EXR, f)) for f in (a, b))
            ok = local_agreement(match, n_a, n_b)
            err = normals.angular_error_deg(match.transfer_normals(n_a), normals.normalize(match.sample(n_b)))
            agrees.append(ok[match.valid])
            ids.append(match.ids[match.valid])
            errors_deg.append(err[match.valid])
    return np.concatenate(agrees), np.concatenate(ids), np.concatenate(errors_deg)


def test_the_true_correspondence_carries_normals_to_the_next_frames(camera_shots):
    """Frame t's normals, rotated into frame t+k's camera and moved by the true flow, are frame t+k's normals on
    valid pixels; dropping the rotation or the flow breaks that."""
    agrees, _, err = pooled(camera_shots)
    assert len(agrees) > 0.3 * SHOTS * 3 * SIZE * SIZE  # most surface pixels stay visible between these frames
    assert agrees.mean() > 0.95 and np.median(err) < 1.5
    for broken in (lambda m, a, b: dataclasses.replace(m, rotations={k: np.eye(3) for k in m.rotations}),
                   lambda m, a, b: dataclasses.replace(m, flow=np.where(np.isnan(m.flow), np.nan, 0.0))):
        broken_agrees, _, broken_err = pooled(camera_shots, broken)
        assert broken_agrees.mean() < agrees.mean() - 0.1 and np.median(broken_err) > 2.5 * np.median(err)


def test_the_true_correspondence_follows_moving_objects(moving_shots):
    """On the moving objects too; without their recorded transforms their pixels land in the wrong place."""
    movers = set()
    for s in range(SHOTS):
        info = shots.read_shot(os.path.join(moving_shots, layout.shot_id(s))).info
        assert info["moving_objects"]
        movers |= {m["id"] for m in info["moving_objects"]}
    agrees, ids, err = pooled(moving_shots)
    on_movers = np.isin(ids, list(movers))
    assert on_movers.sum() > 200
    assert agrees[on_movers].mean() > 0.9 and np.median(err[on_movers]) < 3.0
    untold, untold_ids, _ = pooled(moving_shots, lambda m, a, b: shots.correspondence(
        a, dataclasses.replace(b, object_transforms={})))
    assert np.sum(untold[np.isin(untold_ids, list(movers))]) < 0.3 * np.sum(agrees[on_movers])


def test_the_command_renders_a_shot_and_refuses_other_settings(tmp_path):
    """`python -m data_tools.render_shots` prints one JSON summary; a second run with another --num_frames into
    the same folder exits 2 with one line naming the flag, and writes nothing."""
    args = [f"--output_dir={tmp_path}", "--num_shots=1", "--num_frames=2", "--resolution=16", "--spp=1", "--seed=3",
            "--first_frame=1"]
    run = lambda extra: subprocess.run([sys.executable, "-m", "data_tools.render_shots", *args, *extra], cwd=REPO,
                                       env=subprocess_env(), capture_output=True, text=True, timeout=300)
    done = run([])
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)
    assert (summary["rendered"], summary["skipped_complete"], summary["failed"]) == (2, 0, [])
    assert "render_shots: 2/2" in done.stderr  # progress with rate and ETA
    shot_dir = tmp_path / layout.shot_id(0)
    assert sorted(os.listdir(shot_dir)) == sorted([layout.SHOT_JSON] + [layout.frame_file(name, f)
                                                                        for name in layout.SHOT_FRAME_FILES
                                                                        for f in (1, 2)])
    refused = run(["--num_frames=3"])
    assert refused.returncode == 2
    last = refused.stderr.strip().splitlines()[-1]
    assert last.startswith("data_tools.render_shots: error: --output_dir:") and "--num_frames=3" in last
    assert len(os.listdir(shot_dir)) == 1 + 2 * len(layout.SHOT_FRAME_FILES)
