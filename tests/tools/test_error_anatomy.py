"""tfnormals.tools.error_anatomy: error on detail vs smooth pixels, and what a rotation of the frame removes."""

import numpy as np

from tfnormals.core import normals
from tfnormals.tools import error_anatomy


def rotation_y(degrees):
    """A turn about the vertical axis: every normal of crease() (n.y = 0) moves by exactly `degrees`."""
    a = np.radians(degrees)
    return np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])


def crease(h=16, w=16):
    """Two planes meeting 40° apart at the middle column: the crease's pixels are detail, the rest smooth."""
    left = normals.normalize(np.array([-0.35, 0.0, 1.0]))
    right = normals.normalize(np.array([0.35, 0.0, 1.0]))
    truth = np.empty((h, w, 3), np.float32)
    truth[:, : w // 2], truth[:, w // 2:] = left, right
    return truth


def test_detail_is_the_band_around_a_crease_and_the_rest_is_smooth():
    truth = crease()
    valid = np.ones(truth.shape[:2], bool)
    detail = error_anatomy.detail_mask(truth, valid)
    r = error_anatomy.DETAIL_RADIUS_PX
    assert detail[:, 8 - r:8 + r].all() and not detail[:, : 8 - r].any() and not detail[:, 8 + r:].any()
    # an invalid neighbour (sky) does not make a pixel detail
    assert not error_anatomy.detail_mask(truth, valid & (np.arange(16) < 8)[None, :]).any()


def test_a_tilted_frame_is_removed_by_the_best_rotation_and_a_wrong_shape_is_not():
    truth = crease()
    valid = np.ones(truth.shape[:2], bool)
    tilted = (truth.reshape(-1, 3) @ rotation_y(20).T).reshape(truth.shape)
    entry = error_anatomy.image_entry(tilted, truth, valid)
    summary = error_anatomy.summary([entry])
    assert abs(summary["smooth_deg"] - 20) < 0.01 and abs(summary["detail_deg"] - 20) < 0.01
    assert summary["rotated_deg"] < 0.01
    assert abs(summary["detail_share"] - 4 * 16 / 256) < 1e-6
    flat = np.broadcast_to(np.float32([0, 0, 1]), truth.shape)  # the crease flattened: shape, not tilt
    shape = error_anatomy.summary([error_anatomy.image_entry(flat, truth, valid)])
    assert shape["rotated_deg"] > 15
    assert "detail pixels (25% of them) 20.00°" in error_anatomy.format_line(summary)


def test_images_are_weighted_by_their_pixels():
    truth = crease()
    valid = np.ones(truth.shape[:2], bool)
    exact = error_anatomy.image_entry(truth, truth, valid)
    tilted = error_anatomy.image_entry((truth.reshape(-1, 3) @ rotation_y(30).T).reshape(truth.shape), truth,
                                       valid & (np.arange(16) < 4)[:, None])  # a quarter of the pixels
    summary = error_anatomy.summary([exact, tilted])
    # smooth pixels: 192 exact in the first image, 48 of the tilted quarter's 64 (16 lie on the crease)
    assert abs(summary["smooth_deg"] - 30 * 48 / (192 + 48)) < 0.01
