"""tfnormals.core.shots: the true correspondence of two frames, checked on ray-cast scenes (no renderer)."""

import dataclasses
import json
import os

import numpy as np
import pytest

from tfnormals.core import camera, image_io, layout, shots

WIDTH, HEIGHT, FOV = 128, 96, 50.0
FLOOR_ID, BALL_ID, STILL_BALL_ID = layout.ID_FIRST_SET, layout.ID_FIRST_OBJECT, layout.ID_FIRST_OBJECT + 1
# (ID, centre, radius): a ball that moves, one that stays, and a hill on the floor: part of the floor's ID, so
# what it hides of the floor behind it is told apart by depth alone.
BALLS = [(BALL_ID, np.array([0.0, 0.5, 0.0]), 0.5), (STILL_BALL_ID, np.array([0.9, 0.3, 0.6]), 0.3),
         (FLOOR_ID, np.array([-0.75, -0.5, 1.3]), 0.9)]


def rotation_y(degrees):
    c, s = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def rigid(rotation, translation):
    m = np.eye(4)
    m[:3, :3], m[:3, 3] = rotation, translation
    return m


def moved_balls(transforms):
    """BALLS with each centre moved by its ID's transform (the identity when none)."""
    return [(k, (transforms.get(k, np.eye(4)) @ np.append(c, 1.0))[:3], r) for k, c, r in BALLS]


def cast(camera_to_world, balls, cols, rows):
    """Ray-cast a floor (y = 0) and balls from a camera through pixel coordinates (col, row).

    Returns (depth, ID, world point, world normal); depth is the ray parameter of a camera-space direction with
    z = −1, i.e. the distance along the view axis. Rays that hit nothing get depth 0 and ID 0.
    """
    f = camera.focal_pixels(WIDTH, FOV)
    d_cam = np.stack([(cols + 0.5 - WIDTH / 2) / f, -(rows + 0.5 - HEIGHT / 2) / f, -np.ones(np.shape(cols))], -1)
    d = d_cam @ camera_to_world[:3, :3].T
    o = camera_to_world[:3, 3]
    with np.errstate(divide="ignore", invalid="ignore"):
        best = np.where(d[..., 1] < 0, -o[1] / d[..., 1], np.inf)
    which = np.full(np.shape(cols), -1)  # -1 the floor, else the index in `balls`
    for k, (_, centre, radius) in enumerate(balls):
        oc = o - centre
        a, b, c = np.sum(d * d, -1), np.sum(d * oc, -1), oc @ oc - radius ** 2
        disc = b * b - a * c
        t = np.where(disc > 0, (-b - np.sqrt(np.maximum(disc, 0))) / a, np.inf)
        t = np.where(t > 0, t, np.inf)
        which, best = np.where(t < best, k, which), np.minimum(t, best)
    hit = np.isfinite(best)
    point = o + d * np.where(hit, best, 0.0)[..., None]
    ids = np.where(hit, FLOOR_ID, layout.ID_BACKGROUND)
    n = np.where(hit[..., None], [0.0, 1.0, 0.0], 0.0)
    for k, (value, centre, radius) in enumerate(balls):
        ids = np.where(which == k, value, ids)
        n = np.where((which == k)[..., None], (point - centre) / radius, n)
    return np.where(hit, best, 0.0), ids, point, n


def frame(camera_to_world, transforms):
    """A FrameView and the world points and normals of a ray-cast frame (pixel centres)."""
    rows, cols = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64)
    depth, ids, point, n = cast(camera_to_world, moved_balls(transforms), cols, rows)
    view = shots.FrameView(depth.astype(np.float32), ids, shots.FrameCamera(camera_to_world, FOV, WIDTH, HEIGHT),
                           transforms)
    return view, point, n


CAMERA_A = camera.look_at([0.3, 1.2, 3.0], [0.0, 0.4, 0.0], [0.05, 1.0, 0.0])
ORBITED = rigid(rotation_y(9.0), [0.0, 0.0, 0.0]) @ camera.look_at([0.3, 1.0, 2.7], [0.1, 0.4, 0.0], [0.0, 1.0, 0.0])
WIDE_ORBIT = rigid(rotation_y(-35.0), [0.0, 0.0, 0.0]) @ CAMERA_A  # the hill hides floor that a saw
BALL_MOVED = {BALL_ID: rigid(rotation_y(25.0), [0.35, 0.0, -0.2])}


@pytest.mark.parametrize("camera_b, transforms_b", [(ORBITED, {}), (WIDE_ORBIT, {}), (ORBITED, BALL_MOVED),
                                                    (CAMERA_A, BALL_MOVED)],
                         ids=["camera_moves", "wide_orbit", "camera_and_ball_move", "only_the_ball_moves"])
def test_correspondence_matches_the_ray_cast_scene(camera_b, transforms_b):
    """Flow lands where the moved world point projects in b; normals rotate as the surface does; `valid` marks
    exactly the points b's own ray (through the landing position) hits first, away from depth edges."""
    a, point_a, n_a = frame(CAMERA_A, {})
    b, _, n_b = frame(camera_b, transforms_b)
    match = shots.correspondence(a, b)
    surface = a.depth > 0

    # The analytic landing point: the world point moved with its object, projected by b's camera.
    moved = np.array(point_a)
    for value, m in transforms_b.items():
        here = a.ids == value
        moved[here] = point_a[here] @ m[:3, :3].T + m[:3, 3]
    in_b = (moved - camera_b[:3, 3]) @ camera_b[:3, :3]  # world → b's camera axes
    f = camera.focal_pixels(WIDTH, FOV)
    with np.errstate(invalid="ignore"):  # pixels without a surface
        expected = np.stack([in_b[..., 0] / -in_b[..., 2] * f + WIDTH / 2 - 0.5,
                             -in_b[..., 1] / -in_b[..., 2] * f + HEIGHT / 2 - 0.5], -1)
    rows, cols = np.mgrid[0:HEIGHT, 0:WIDTH]
    landed = match.flow + np.stack([cols, rows], -1)
    assert np.abs(landed[surface] - expected[surface]).max() < 1e-3
    assert np.all(np.isnan(match.flow[~surface]))
    np.testing.assert_allclose(match.depth[surface], -in_b[..., 2][surface], rtol=1e-5)

    # Normals: a's world normals moved with their object, in b's camera axes.
    n_world = np.array(n_a)
    for value, m in transforms_b.items():
        n_world[a.ids == value] = n_a[a.ids == value] @ m[:3, :3].T
    n_a_camera = n_a @ CAMERA_A[:3, :3]
    np.testing.assert_allclose(match.transfer_normals(n_a_camera)[surface], (n_world @ camera_b[:3, :3])[surface],
                               atol=1e-5)

    # Visibility: b's ray through the landing position hits this very point first.
    inside = surface & np.all(np.isfinite(expected), -1) & (expected[..., 0] >= -0.5) & (
        expected[..., 0] < WIDTH - 0.5) & (expected[..., 1] >= -0.5) & (expected[..., 1] < HEIGHT - 0.5)
    t_b, ids_b, _, _ = cast(camera_b, moved_balls(transforms_b), expected[..., 0], expected[..., 1])
    visible = inside & (ids_b == a.ids) & (np.abs(t_b - (-in_b[..., 2])) < 1e-6 * np.abs(in_b[..., 2]) + 1e-9)
    edges = depth_edges(b.depth, b.ids)
    near_edge = shots.sample_bilinear(edges.astype(np.float32), expected[..., 0], expected[..., 1]) > 0
    decided = surface & ~near_edge
    assert np.mean(match.valid[decided] == visible[decided]) > 0.995
    assert not np.any(match.valid & ~surface)
    # The scene has all three cases: seen, hidden in b (or gone from its frame), and disoccluded pixels of b.
    assert 0.05 < np.mean(match.valid[surface]) < 0.98
    assert np.any(surface & ~inside) or np.any(inside & ~visible)


def depth_edges(depth, ids):
    """Pixels next to a change of ID or a depth jump of more than 10%, dilated by one pixel."""
    edge = np.zeros(depth.shape, bool)
    for axis in (0, 1):
        step = (np.diff(ids, axis=axis) != 0) | (np.abs(np.diff(depth, axis=axis)) > 0.1 * np.maximum(
            np.minimum(np.delete(depth, -1, axis), np.delete(depth, 0, axis)), 1e-6))
        pad = [(0, 0), (0, 0)]
        pad[axis] = (0, 1)
        edge |= np.pad(step, pad)
        pad[axis] = (1, 0)
        edge |= np.pad(step, pad)
    return edge | np.roll(edge, 1, 0) | np.roll(edge, -1, 0) | np.roll(edge, 1, 1) | np.roll(edge, -1, 1)


def test_a_frame_corresponds_to_itself_everywhere_it_shows_a_surface():
    a, _, _ = frame(CAMERA_A, {})
    match = shots.correspondence(a, a)
    surface = a.depth > 0
    assert np.array_equal(match.valid, surface)
    assert np.abs(match.flow[surface]).max() < 1e-4


def test_landing_on_another_surface_at_the_same_depth_is_no_correspondence():
    """Depth alone cannot tell a point from another object's at the same distance (where objects touch the
    floor, say): the ID at the landing pixel must be the same too."""
    a, _, _ = frame(CAMERA_A, {})
    relabelled = np.where(a.ids == STILL_BALL_ID, BALL_ID + 5, a.ids)
    match = shots.correspondence(a, dataclasses.replace(a, ids=relabelled))
    assert not np.any(match.valid[a.ids == STILL_BALL_ID])
    assert np.array_equal(match.valid[a.ids != STILL_BALL_ID], (a.depth > 0)[a.ids != STILL_BALL_ID])


def test_moving_the_object_without_telling_breaks_the_correspondence():
    """The object transforms matter: ignoring the ball's motion lands its pixels in the wrong place."""
    a, _, _ = frame(CAMERA_A, {})
    b, _, _ = frame(CAMERA_A, BALL_MOVED)
    told = shots.correspondence(a, b)
    untold = shots.correspondence(a, dataclasses.replace(b, object_transforms={}))
    ball = a.ids == BALL_ID
    assert np.mean(told.valid[ball]) > 0.5
    assert np.mean(untold.valid[ball]) < 0.2
    assert np.abs(told.flow[ball]).max() > 3.0  # the ball moved by pixels, not a rounding error


def test_project_inverts_position_from_depth():
    rng = np.random.default_rng(0)
    depth = rng.uniform(0.5, 4.0, (HEIGHT, WIDTH)).astype(np.float32)
    f = camera.focal_pixels(WIDTH, FOV)
    coords = camera.project(camera.position_from_depth(depth, f), f, WIDTH, HEIGHT)
    rows, cols = np.mgrid[0:HEIGHT, 0:WIDTH]
    np.testing.assert_allclose(coords, np.stack([cols, rows], -1), atol=1e-3)
    assert np.all(np.isnan(camera.project(np.array([0.0, 0.0, 1.0]), f, WIDTH, HEIGHT)))


def test_a_shot_folder_reads_back_into_the_same_correspondence(tmp_path):
    """Shot.correspondence reads shot.json's cameras and transforms and the depth and ID files of each frame."""
    a, _, _ = frame(CAMERA_A, {})
    b, _, _ = frame(ORBITED, BALL_MOVED)
    entries = []
    for number, view in ((1001, a), (1002, b)):
        image_io.write_exr(tmp_path / layout.frame_file(layout.DEPTH_EXR, number), {"Z": view.depth})
        image_io.write_png(str(tmp_path / layout.frame_file(layout.IDS_PNG, number)), view.ids / 255.0)
        entries.append({"frame": number, "camera_to_world": view.camera.camera_to_world.tolist(), "fov_deg": FOV,
                        "resolution": [WIDTH, HEIGHT],
                        "object_transforms": {str(k): m.tolist() for k, m in view.object_transforms.items()}})
    (tmp_path / layout.SHOT_JSON).write_text(json.dumps({"frames": entries}))
    shot = shots.read_shot(str(tmp_path))
    assert shot.frames == [1001, 1002]
    from_files = shot.correspondence(1001, 1002)
    expected = shots.correspondence(a, b)
    assert np.array_equal(from_files.valid, expected.valid)
    np.testing.assert_allclose(from_files.flow, expected.flow, atol=1e-4)
    with pytest.raises(shots.errors.UsageError, match="no frame 1005"):
        shot.camera(1005)
    with pytest.raises(shots.errors.UsageError, match=layout.SHOT_JSON):
        shots.read_shot(os.path.join(tmp_path, "missing"))


def test_sample_bilinear_interpolates_and_clamps():
    image = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert shots.sample_bilinear(image, np.array([1.5]), np.array([1.0]))[0] == pytest.approx(5.5)
    assert shots.sample_bilinear(image, np.array([9.0]), np.array([-3.0]))[0] == pytest.approx(3.0)
    assert shots.sample_bilinear(image, np.array([np.nan]), np.array([0.0]))[0] == 0.0
