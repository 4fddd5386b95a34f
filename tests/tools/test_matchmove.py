"""tfnormals.tools.matchmove and the temporal mode given a matchmove: the rigid flow of two cameras is the true
correspondence of a still scene, the depth's free scale is recovered from the plates, and a moving object keeps
its image flow."""

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
from helpers import REPO, subprocess_env

from tfnormals.core import camera, errors, shots
from tfnormals.tools import fusion, matchmove, temporal, tiling

H, W, FOV = 96, 128, 50.0
FOCAL = camera.focal_pixels(W, FOV)


def plane_depth(camera_to_world, wall=-1.0, tilt=(0.3, 0.2)):
    """Depth per pixel (H×W) of a camera looking at the slanted wall z = wall + tilt · (x, y) (world)."""
    rows, cols = np.mgrid[0:H, 0:W].astype(np.float64)
    rays = np.stack([(cols + 0.5 - W / 2) / FOCAL, -(rows + 0.5 - H / 2) / FOCAL, -np.ones_like(cols)], -1)
    d, o = rays @ camera_to_world[:3, :3].T, camera_to_world[:3, 3]
    # o + t·d on the wall; rays have z = −1 in camera space, so t is the depth
    t = (wall + tilt[0] * o[0] + tilt[1] * o[1] - o[2]) / (d[..., 2] - tilt[0] * d[..., 0] - tilt[1] * d[..., 1])
    return np.where(t > 0, t, 0.0).astype(np.float32)


CAMERA_A = camera.look_at([0.0, 0.2, 2.0], [0.1, 0.0, 0.0], [0.0, 1.0, 0.0])
CAMERA_B = camera.look_at([0.25, 0.25, 1.7], [0.15, 0.0, 0.0], [0.03, 1.0, 0.0])  # moved, turned and rolled


def move(from_camera, to_camera):
    return np.linalg.inv(to_camera) @ from_camera


def textured(seed, h=H, w=W):
    """An sRGB plate with structure at several scales."""
    rng = np.random.default_rng(seed)
    plate = sum(tiling.resize(rng.random((h // k + 1, w // k + 1, 3)).astype(np.float32), h, w) / (1 + i)
                for i, k in enumerate((24, 8, 3)))
    return np.clip(0.1 + 0.8 * plate / 1.83, 0.0, 1.0).astype(np.float32)


def carried(image, flow):
    """`image` sampled where `flow` points from each pixel (bilinear): a plate seen after the flow's move."""
    rows, cols = np.mgrid[0:flow.shape[0], 0:flow.shape[1]].astype(np.float32)
    return cv2.remap(image, cols + flow[..., 0], rows + flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def test_rigid_flow_is_the_true_correspondence_of_a_still_scene():
    depth_a, depth_b = plane_depth(CAMERA_A), plane_depth(CAMERA_B)
    assert depth_a.min() > 0
    views = [shots.FrameView(d, np.zeros((H, W), np.int32), shots.FrameCamera(c, FOV, W, H), {})
             for d, c in ((depth_a, CAMERA_A), (depth_b, CAMERA_B))]
    truth = shots.correspondence(*views)
    flow = matchmove.rigid_flow(move(CAMERA_A, CAMERA_B), 1.0 / depth_a, (FOCAL, FOCAL))
    assert truth.valid.mean() > 0.8 and np.abs(truth.flow[truth.valid]).max() > 5.0  # a move worth the name
    np.testing.assert_allclose(flow[truth.valid], truth.flow[truth.valid], atol=2e-3)
    # Only the rotation counts at infinite distance: a camera that only turns needs no depth.
    turn = move(CAMERA_A, CAMERA_B)
    turn[:3, 3] = 0.0
    far = matchmove.rigid_flow(turn, np.zeros((H, W), np.float32), (FOCAL, FOCAL))
    np.testing.assert_allclose(far, matchmove.rigid_flow(turn, 1.0 / depth_a, (FOCAL, FOCAL)), atol=1e-4)


def test_the_depth_scale_fit_recovers_a_known_scale():
    """The plate of frame t is frame t − 1's seen through the true rigid flow; given a depth 3× too near (inverse
    depth 3× too large) the fit finds k = 1/3."""
    back = move(CAMERA_B, CAMERA_A)  # frame t is seen by CAMERA_B, t − 1 by CAMERA_A
    inverse = 1.0 / plane_depth(CAMERA_B)
    before = textured(1)
    now = carried(before, matchmove.rigid_flow(back, inverse, (FOCAL, FOCAL)))
    k = matchmove.fit_depth_scale(back, 3.0 * inverse, (FOCAL, FOCAL), (FOCAL, FOCAL), before, now, 1.0)
    assert k == pytest.approx(1.0 / 3.0, rel=0.03)
    still = np.eye(4)
    still[:3, :3] = back[:3, :3]
    assert matchmove.fit_depth_scale(still, inverse, (FOCAL, FOCAL), (FOCAL, FOCAL), before, now, 1.0) == 1.0


def test_a_moving_object_keeps_its_image_flow():
    """The camera turns (the background moves ~3.5 px right) while a textured object moves 6 px left: per pixel the
    background takes the camera's flow and the object DIS's, so the object is carried where it went, not smeared
    along the camera's move."""
    turn = camera.look_at([0, 0, 0], [np.tan(np.radians(-1.4)), 0, -1], [0, 1, 0])  # t's camera, t − 1's is identity
    back = move(turn, np.eye(4))
    depth = np.ones((H, W), np.float32)
    camera_flow = matchmove.rigid_flow(back, 1.0 / depth, (FOCAL, FOCAL))
    before, now = textured(2), carried(textured(2), camera_flow)
    thing = textured(9, 32, 32)[..., ::-1] * 0.5 + 0.5
    before[30:62, 50:82], now[30:62, 44:76] = thing, thing
    found = temporal.motion(before, now, camera_move=matchmove.CameraMove(back, FOCAL, FOCAL), depths=(depth, depth))
    object_flow = np.median(found.flow[36:56, 50:70], axis=(0, 1))
    image_flow = np.median(temporal.motion(before, now).flow[36:56, 50:70], axis=(0, 1))
    np.testing.assert_allclose(object_flow, image_flow, atol=0.05)  # DIS's own (it makes 6 px 5.3)
    assert object_flow[0] > 4.5 and abs(object_flow[1]) < 0.2
    background = np.zeros((H, W), bool)
    background[8:-8, 8:-8] = True
    background[20:72, 36:92] = False  # away from the object and what it uncovers
    assert np.median(np.abs(found.flow - camera_flow)[background]) < 0.1
    assert np.median(camera_flow[background][:, 0]) < -2.5  # the camera's flow is the other way
    assert 0.6 < found.rigid_share < 0.97
    assert found.confidence[36:56, 50:70].mean() > 0.5


def test_a_matte_keeps_the_image_flow_where_the_camera_s_would_win():
    """A smooth object moves while the camera turns: its plate matches either flow, so without a matte it takes the
    camera's (carried along the camera's move); mattes of it keep DIS's flow there, and only there."""
    turn = camera.look_at([0, 0, 0], [np.tan(np.radians(-1.4)), 0, -1], [0, 1, 0])
    back = move(turn, np.eye(4))
    depth = np.ones((H, W), np.float32)
    camera_flow = matchmove.rigid_flow(back, 1.0 / depth, (FOCAL, FOCAL))
    before, now = textured(2), carried(textured(2), camera_flow)
    before[30:62, 50:82], now[30:62, 44:76] = 0.6, 0.6  # a flat grey card moving 6 px left
    camera_move = matchmove.CameraMove(back, FOCAL, FOCAL)
    plain = temporal.motion(before, now, camera_move=camera_move, depths=(depth, depth))
    card = (slice(36, 56), slice(50, 70))
    assert np.median(np.abs(plain.flow[card] - camera_flow[card])) < 0.1  # the camera's flow won on the card
    matte_before, matte_now = np.zeros((H, W), bool), np.zeros((H, W), bool)
    matte_before[26:66, 46:86], matte_now[26:66, 40:80] = True, True  # a loose roto of the card in each frame
    matted = temporal.motion(before, now, camera_move=camera_move, depths=(depth, depth),
                             mattes=(matte_now, matte_before))
    image_only = temporal.motion(before, now)
    np.testing.assert_allclose(matted.flow[card], image_only.flow[card], atol=1e-4)  # DIS's own on the card
    background = np.zeros((H, W), bool)
    background[8:-8, 8:-8] = True
    background[20:72, 30:92] = False
    np.testing.assert_allclose(matted.flow[background], plain.flow[background], atol=1e-4)  # the rest unchanged
    assert matted.rigid_share < plain.rigid_share - 0.1


def test_mattes_are_read_by_frame_number(tmp_path):
    from tfnormals.core import image_io
    cameras = {1001: None, 1002: None}
    right_half = np.pad(np.ones((8, 4, 3), np.float32), ((0, 0), (4, 0), (0, 0)))
    image_io.write_png(str(tmp_path / "roto.1001.png"), right_half)
    rgba = np.zeros((8, 8, 4), np.float32)
    rgba[:4, :, 3] = 1.0  # alpha marks the top half; the colour says nothing
    image_io.write_png(str(tmp_path / "roto.1002.png"), rgba)
    found = matchmove.Matchmove("cam.json", str(tmp_path / "plate.####.exr"), cameras, str(tmp_path / "roto.####.png"))
    first = found.matte(str(tmp_path / "plate.1001.exr"), (4, 4))  # resized to the plate's size
    np.testing.assert_array_equal(first, [[False] * 2 + [True] * 2] * 4)
    assert found.matte(str(tmp_path / "plate.1002.exr"), (8, 8))[:, 0].tolist() == [True] * 4 + [False] * 4
    assert matchmove.Matchmove("cam.json", "plate.####.exr", cameras).matte("plate.1001.exr", (4, 4)) is None
    with pytest.raises(errors.MissingPathError, match=r"--matchmove_mattes: no matte for frame 1003 \(.*1003\.png"):
        matchmove.Matchmove("cam.json", str(tmp_path / "plate.####.exr"), {1003: None},
                            str(tmp_path / "roto.####.png")).check([str(tmp_path / "plate.1003.exr")])
    (tmp_path / "roto.1003.png").write_bytes(b"not a png")
    with pytest.raises(image_io.ImageError, match=r"^--matchmove_mattes: .*roto\.1003\.png"):
        found.matte(str(tmp_path / "plate.1003.exr"), (4, 4))


def write_cameras(path, frames, step_deg=0.6):
    """A camera JSON of a camera that turns by `step_deg` a frame and creeps sideways."""
    cameras = {}
    for k, frame in enumerate(frames):
        angle = np.radians(step_deg * k)
        cameras[str(frame)] = {"camera_to_world": camera.look_at([0.02 * k, 0, 0], [np.sin(angle), 0, -np.cos(angle)],
                                                                 [0, 1, 0]).tolist(), "fov_deg": FOV}
    path.write_text(json.dumps({"frames": cameras}))
    return str(path)


def test_matchmove_frames_are_checked_before_work(tmp_path):
    from test_temporal import _write_pan
    pattern = _write_pan(tmp_path, frames=3)
    paths = [str(tmp_path / f"plate.{f}.png") for f in (1001, 1002, 1003)]
    cameras = write_cameras(tmp_path / "cam.json", (1001, 1002))
    with pytest.raises(errors.UsageError, match=r"--matchmove: .*cam\.json: no camera for frame 1003"):
        temporal.pass_settings("auto", fusion.PassSettings(), pattern, matchmove_file=cameras, plate_paths=paths)
    # A farm task's warm-up plates need cameras too.
    with pytest.raises(errors.UsageError, match="no camera for frame 1001"):
        temporal.pass_settings("auto", fusion.PassSettings(), pattern, frames="1003", matchmove_file=write_cameras(
            tmp_path / "late.json", (1002, 1003)), plate_paths=paths[2:])
    with pytest.raises(errors.UsageError, match="--matchmove: the cameras feed the temporal mode"):
        temporal.pass_settings("off", fusion.PassSettings(), pattern, matchmove_file=cameras, plate_paths=paths)
    with pytest.raises(errors.MissingPathError, match="--matchmove: .*none.json: no such file"):
        temporal.pass_settings("auto", fusion.PassSettings(), pattern, matchmove_file=str(tmp_path / "none.json"))
    passes = temporal.pass_settings("auto", fusion.PassSettings(), pattern, matchmove_file=cameras,
                                    plate_paths=paths[:2])
    assert passes.matchmove.camera(paths[1]).fov_deg == FOV
    with pytest.raises(errors.UsageError, match="--matchmove_mattes: .* give --matchmove too"):
        temporal.pass_settings("auto", fusion.PassSettings(), pattern, matchmove_mattes="roto.####.png")
    with pytest.raises(errors.UsageError, match="--matchmove_mattes: needs a frame pattern"):
        temporal.pass_settings("auto", fusion.PassSettings(), pattern, matchmove_file=cameras,
                               matchmove_mattes=str(tmp_path / "roto.png"), plate_paths=paths[:2])
    with pytest.raises(errors.MissingPathError, match="--matchmove_mattes: no matte for frame 1001"):
        temporal.pass_settings("auto", fusion.PassSettings(), pattern, matchmove_file=cameras,
                               matchmove_mattes=str(tmp_path / "roto.####.png"), plate_paths=paths[:2])


@pytest.mark.slow
def test_rigid_flow_matches_a_rendered_shots_true_flow(tmp_path):
    """On a tiny rendered shot (a dolly, nothing moving), the rigid flow of the recorded cameras (read as predict
    --matchmove reads a shot.json) and the rendered depth is core.shots' true flow."""
    rendered = subprocess.run([sys.executable, "-m", "data_tools.render_shots", f"--output_dir={tmp_path}",
                               "--num_shots=1", "--num_frames=3", "--resolution=40", "--spp=1", "--seed=5",
                               "--camera_paths=dolly", "--moving_share=0"], cwd=REPO, env=subprocess_env(),
                              capture_output=True, text=True, timeout=600)
    assert rendered.returncode == 0, rendered.stderr[-3000:]
    shot = shots.read_shot(str(tmp_path / "shot00000"))
    cameras = matchmove.read_matchmove(str(tmp_path / "shot00000" / "shot.json"), "beauty.####.exr", None).cameras
    for a, b in zip(shot.frames, shot.frames[1:]):
        truth, view = shot.correspondence(a, b), shot.view(a)
        step = matchmove.CameraMove.between(cameras[b], cameras[a], view.depth.shape[1])  # a's space into b's
        inverse = np.where(view.depth > 0, 1.0 / np.maximum(view.depth, 1e-6), 0.0)
        flow = matchmove.rigid_flow(step.back, inverse, (step.focal_now,) * 2, (step.focal_before,) * 2)
        assert truth.valid.mean() > 0.3 and np.abs(truth.flow[truth.valid]).mean() > 0.05
        np.testing.assert_allclose(flow[truth.valid], truth.flow[truth.valid], atol=1e-3)
