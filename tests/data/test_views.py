"""tfnormals.data.dataset.select_view: whole scenes and zoomed crops keep every pass right."""

import math

import numpy as np
import tensorflow as tf
from helpers import mean_angle_deg, sphere_normal_map

from tfnormals.data import dataset

SIZE = 16


def sphere_example(side=64, hfov=60.0):
    """A decoded example (as schema.decode_example returns) of a sphere filling a side×side frame."""
    n, mask = sphere_normal_map(side, radius=0.8)
    depth = np.where(mask > 0, 2.0 - n[..., 2] * 0.5, 0.0).astype(np.float32)
    albedo = np.where(mask[..., None] > 0, [0.6, 0.3, 0.1], 0.0).astype(np.float32)
    return {"beauty": tf.constant(np.repeat(n[..., 2:] * 0.5 + 0.25, 3, -1)), "normals": tf.constant(n),
            "mask": tf.constant(mask[..., None]), "depth": tf.constant(depth[..., None]),
            "albedo": tf.constant(albedo), "hfov": tf.constant(hfov), "family": tf.constant(b"object_study")}


def view(example, whole_share, zoom_range, seed=0):
    return {k: v.numpy() for k, v in dataset.select_view(example, SIZE, tf.constant([seed, 1], tf.int64),
                                                          whole_share, zoom_range).items()}


def test_whole_scene_is_the_frame_downscaled():
    """The whole view of a 64² sphere at 16² matches the sphere drawn at 16² (unit normals, same field of view)."""
    out = view(sphere_example(), 1.0, (2.0, 2.0))
    truth, inside = sphere_normal_map(SIZE, radius=0.8)
    core = (inside > 0) & (out["mask"][..., 0] > 0.99)
    assert out["normals"].shape == (SIZE, SIZE, 3) and core.sum() > 60
    np.testing.assert_allclose(np.linalg.norm(out["normals"][core], axis=-1), 1.0, atol=1e-5)
    assert mean_angle_deg(out["normals"], truth, core) < 3.0
    assert abs(float(out["hfov"]) - 60.0) < 1e-4
    assert out["family"] == b"object_study"


def test_zoom_takes_a_smaller_square_and_narrows_the_field_of_view():
    """Zoom 2 at 16² shows an 8-px square of the record, magnified; hfov follows the crop's width."""
    example = sphere_example()
    out = view(example, 0.0, (2.0, 2.0), seed=3)
    expected = 2 * math.degrees(math.atan(math.tan(math.radians(30.0)) * 8 / 64))
    assert abs(float(out["hfov"]) - expected) < 1e-3
    # The magnified square's normals are those of an 8-px region: they span at most the angles 8 px of the sphere do.
    n = out["normals"][out["mask"][..., 0] > 0.99]
    assert np.ptp(n[:, 0]) < 0.5 and np.ptp(n[:, 1]) < 0.5


def test_zoom_one_is_a_crop_at_the_records_pixels():
    """Zoom 1 resamples nothing: the view is an exact 16-px window of the record."""
    example = sphere_example()
    out = view(example, 0.0, (1.0, 1.0), seed=5)
    beauty = example["beauty"].numpy()
    windows = [beauty[y:y + SIZE, x:x + SIZE] for y in range(64 - SIZE + 1) for x in range(64 - SIZE + 1)]
    assert min(np.abs(w - out["beauty"]).max() for w in windows) < 1e-6


def test_depth_and_albedo_keep_their_values_at_silhouettes():
    """Resampling does not blend depth or albedo with the zeros outside the surface."""
    out = view(sphere_example(), 1.0, (1.0, 1.0))
    surface = out["depth"][..., 0] > 0
    assert surface.sum() > 50
    assert out["depth"][..., 0][surface].min() >= 1.5 - 1e-4 and out["depth"][..., 0][surface].max() <= 2.0 + 1e-4
    np.testing.assert_allclose(out["albedo"][surface], np.broadcast_to([0.6, 0.3, 0.1], (surface.sum(), 3)),
                               atol=1e-4)


def test_views_are_a_function_of_the_seed():
    example = dict(sphere_example(), beauty=tf.random.stateless_uniform([64, 64, 3], [1, 2]))
    a, b = (view(example, 0.0, (0.5, 2.0), seed=7)["beauty"] for _ in range(2))
    np.testing.assert_array_equal(a, b)
    assert all(np.abs(view(example, 0.0, (0.5, 2.0), seed=s)["beauty"] - a).max() > 0 for s in (8, 9, 10))
