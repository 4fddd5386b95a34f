"""tfnormals.tools.family_report: per-family errors on floor and wall pixels, pixel-weighted."""

import numpy as np

from tfnormals.core import layout, normals
from tfnormals.tools import family_report


def plane(shape, n):
    n = np.asarray(n, np.float32) / np.linalg.norm(n)
    return np.broadcast_to(n, shape + (3,)).copy()


def entry(family, truth, model, valid=None):
    valid = np.ones(truth.shape[:2], bool) if valid is None else valid
    shape = truth.shape[:2]
    preds = {"model": model, "flat": plane(shape, [0, 0, 1]), "best_constant": plane(shape, [0, 0.3, 1])}
    return {"family": family, "regions": family_report.image_entry(preds, truth, valid)}


def test_floor_and_wall_pixels_are_classed_by_the_true_normal_and_averaged_by_pixels():
    floor, wall = plane((4, 4), [0, 0.9, 0.3]), plane((4, 4), [0.2, 0.0, 1.0])
    truth = np.concatenate([floor, wall], axis=0)  # top half floor, bottom half wall
    backdrop_guess = plane((8, 4), [0, 0, 1])
    images = [entry("ground", truth, backdrop_guess), entry("ground", floor, floor), entry("object_study", wall, wall)]
    report = family_report.summary(images)
    ground = report["ground"]
    assert ground["images"] == 2 and ground["floor"]["pixels"] == 32 and ground["wall"]["pixels"] == 16
    floor_error = float(normals.angular_error_deg(backdrop_guess[:4], floor).mean())
    assert abs(ground["floor"]["model"] - floor_error * 16 / 32) < 1e-3  # half the floor pixels were right
    assert abs(ground["floor"]["predicted_y"] - (0.0 * 16 + floor[0, 0, 1] * 16) / 32) < 1e-5
    assert abs(ground["floor"]["true_y"] - floor[0, 0, 1]) < 1e-5  # every floor pixel faces up as the plane does
    assert report["object_study"]["floor"]["pixels"] == 0 and report["object_study"]["floor"]["model"] is None
    assert report["object_study"]["wall"]["model"] < 1e-3
    table = family_report.format_table(report)
    assert "| ground | 2 |" in table and "| object_study | 1 |" in table
    assert f"| {ground['floor']['predicted_y']:.2f} ({floor[0, 0, 1]:.2f}) |" in table


def test_depth_is_the_mean_absrel_of_the_family_images_that_have_it_and_the_table_shows_it():
    floor = plane((4, 4), [0, 0.9, 0.3])
    with_depth = [dict(entry("ground", floor, floor), depth={"model": {"absrel_median": a},
                                                             "constant": {"absrel_median": 0.5}})
                  for a in (0.1, 0.3)]
    report = family_report.summary([*with_depth, entry("ground", floor, floor), entry("interior", floor, floor)])
    assert report["ground"]["images"] == 3
    assert report["ground"]["depth"] == {"images": 2, "model": 0.2, "constant": 0.5}
    assert report["interior"]["depth"] is None
    table = family_report.format_table(report)
    assert "| 0.200 (0.500) |" in table and table.splitlines()[-1].endswith("| – |")


def test_an_id_pass_splits_floor_pixels_into_set_pieces_and_objects():
    floor = plane((4, 4), [0, 0.9, 0.3])
    ids = np.full((4, 4), layout.ID_FIRST_SET)
    ids[:, 3] = layout.ID_FIRST_OBJECT  # one column: an object's top, read as a backdrop
    model = floor.copy()
    model[:, 3] = [0, 0, 1]
    with_ids = {"family": "object_study", "regions": family_report.image_entry(
        {"model": model, "flat": plane((4, 4), [0, 0, 1]), "best_constant": floor}, floor, np.ones((4, 4), bool), ids)}
    report = family_report.summary([with_ids, entry("object_study", floor, floor), entry("ground", floor, floor)])
    study = report["object_study"]
    assert study["floor_set"]["pixels"] == 12 and study["floor_set"]["model"] < 1e-3
    top_error = float(normals.angular_error_deg(model[:1, 3], floor[:1, 3])[0])
    assert study["floor_object"]["pixels"] == 4 and abs(study["floor_object"]["model"] - top_error) < 1e-3
    assert study["floor"]["pixels"] == 32  # the image without an ID pass still counts in the floor as a whole
    assert "floor_set" not in report["ground"]
    table = family_report.format_table(report)
    assert f"| 0.0, {top_error:.1f} |" in table and "| –, – |" in table


def test_the_floor_parts_column_appears_only_when_an_image_had_an_id_pass():
    floor = plane((4, 4), [0, 0.9, 0.3])
    table = family_report.format_table(family_report.summary([entry("ground", floor, floor)]))
    assert "set, objects" not in table and table.splitlines()[1] == "|---|---|---|---|---|---|---|"
