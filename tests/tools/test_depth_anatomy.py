"""tfnormals.tools.depth_anatomy: depth error at edges, within each image's depth range, and in the worst images."""

import numpy as np
import pytest
from helpers import ray_traced_sphere

from tfnormals.tools import depth_anatomy, evaluation

SIDE = 40


def sphere_before_wall():
    """Depth of a unit sphere 3 units away in front of a wall at 6, and where the sphere is."""
    depth, _, _, hit = ray_traced_sphere(SIDE, 50.0, (0.0, 0.0, -3.0), background_depth=6.0)
    return depth, hit


def depth_entry(pred_depth, truth, image_id="s"):
    """evaluate's depth entry of one image whose predicted depth is `pred_depth`."""
    example = evaluation.Example(image_id, np.zeros((SIDE, SIDE, 3), np.float32), np.zeros((SIDE, SIDE, 3)),
                                 np.ones((SIDE, SIDE), np.float32), truth, hfov=50.0)
    passes = {"depth": pred_depth[..., None].astype(np.float32), "normals": np.zeros((SIDE, SIDE, 3), np.float32)}
    return evaluation.depth_entry(passes, example, np.ones((SIDE, SIDE), bool))


def test_edges_ring_the_silhouette_and_a_plane_has_none():
    depth, hit = sphere_before_wall()
    valid = np.ones(depth.shape, bool)
    edges = depth_anatomy.edge_mask(depth, valid)
    row = SIDE // 2
    first_hit = int(np.argmax(hit[row]))
    assert edges[row, first_hit - depth_anatomy.DEPTH_EDGE_RADIUS_PX:first_hit + 2].all()
    assert not edges[0, 0] and not edges[row, SIDE // 2], "the wall's corner and the sphere's centre are surfaces"
    plane = 2.0 + 0.01 * np.arange(SIDE, dtype=np.float32)[:, None].repeat(SIDE, 1)
    assert not depth_anatomy.edge_mask(plane, valid).any()
    holed = valid.copy()
    holed[10:20, 10:20] = False
    assert not depth_anatomy.edge_mask(np.where(holed, plane, 0.0), holed).any(), "no edge against invalid pixels"


def test_a_blurred_silhouette_puts_the_error_on_the_edges():
    depth, _ = sphere_before_wall()
    edges = depth_anatomy.edge_mask(depth, np.ones(depth.shape, bool))
    blurred = np.where(edges, np.median(depth), depth)
    anatomy = depth_anatomy.summary(["s"], [depth_entry(blurred, depth)])
    assert anatomy["absrel"] > 0.01 and anatomy["edge_error_share"] > 0.99
    assert 0 < anatomy["edge_pixel_share"] < 0.5


def test_a_wrong_depth_range_is_what_each_images_own_contrast_removes():
    depth, _ = sphere_before_wall()
    anatomy = depth_anatomy.summary(["s"], [depth_entry(depth ** 0.8, depth)])  # k = 1.25 of the grid undoes it
    assert anatomy["absrel"] > 0.02 and anatomy["per_image_contrast"] < 1e-4
    flat = depth_anatomy.summary(["s"], [depth_entry(np.full_like(depth, 4.0), depth)])
    assert flat["per_image_contrast"] == flat["absrel"] > 0.1, "no contrast gives a constant depth a layout"


def test_the_tail_is_the_worst_twentieth_of_images_and_they_are_named():
    depth, _ = sphere_before_wall()
    entries = [depth_entry(depth ** 0.9, depth, f"good{i}") for i in range(19)]
    entries.append(depth_entry(np.full_like(depth, 4.0), depth, "flat"))
    ids = [f"good{i}" for i in range(19)] + ["flat"]
    anatomy = depth_anatomy.summary(ids, entries)
    good = entries[0]["model"]["absrel_median"]
    assert abs(anatomy["without_tail"] - good) < 1e-9 < anatomy["absrel"] - good
    assert anatomy["worst"][0][0] == "flat" and len(anatomy["worst"]) == depth_anatomy.WORST_SHOWN
    assert anatomy["median_image"] == pytest.approx(good)
    line = depth_anatomy.format_line(anatomy)
    assert f"without the worst 5% of images {good:.3f} (worst: flat " in line


def test_a_range_that_follows_the_lens_is_what_a_contrast_per_lens_removes():
    depth, _ = sphere_before_wall()
    narrow = [depth_entry(depth ** 1.25, depth) for _ in range(3)]  # wants k = 0.8
    wide = [depth_entry(depth ** 0.8, depth) for _ in range(3)]  # wants k = 1.25
    for entry in narrow:
        entry["hfov"] = 20.0
    for entry in wide:
        entry["hfov"] = 80.0
    anatomy = depth_anatomy.summary(list("abcdef"), narrow + wide)
    assert anatomy["absrel"] > 0.02 and anatomy["per_lens_contrast"] < 1e-4
    assert ", with a contrast per lens 0.000," in depth_anatomy.format_line(anatomy)
    for entry in wide:
        entry["hfov"] = 22.0  # nearly the same lens wanting both ranges: no contrast per lens serves both
    assert depth_anatomy.summary(list("abcdef"), narrow + wide)["per_lens_contrast"] > 0.01
    entry["hfov"] = None
    assert depth_anatomy.summary(list("abcdef"), narrow + wide)["per_lens_contrast"] is None
