"""tfnormals.data.augment: geometry moves normals with the pixels, photometry touches the beauty only."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf
from helpers import SYNTHETIC_SAMPLES, mean_angle_deg, sphere_normal_map

from data_tools.scene import meshes, transforms
from tfnormals.core import layout
from tfnormals.data import augment, pairs

CROP = 32
# Every geometric transform on, every photometric change off.
GEOMETRY_ONLY = augment.AugmentConfig(crop_size=CROP, min_scale=0.6, hflip_prob=0.5, vflip_prob=0.5, rot90_prob=0.5,
                                      exposure_stops=0.0, white_balance=0.0, gamma_range=(1.0, 1.0), blur_prob=0.0,
                                      max_noise=0.0, jpeg_prob=0.0)
# The same geometry plus strong photometric changes.
FULL = dataclasses.replace(GEOMETRY_ONLY, exposure_stops=1.0, white_balance=0.1, gamma_range=(0.8, 1.25),
                           blur_prob=0.5, max_noise=0.03, jpeg_prob=0.5)
# Nothing at all: the output must be the input.
IDENTITY = dataclasses.replace(GEOMETRY_ONLY, min_scale=1.0, hflip_prob=0.0, vflip_prob=0.0, rot90_prob=0.0)


@pytest.fixture(scope="module")
def batch(synthetic_dir):
    """The session's synthetic samples as one batch, as tfnormals.data delivers them (sRGB beauty)."""
    loaded = [pairs.load_sample(str(synthetic_dir), layout.sample_id(i), pairs.PairFormat())
              for i in range(SYNTHETIC_SAMPLES)]
    return {"beauty": tf.constant(np.stack([s[0] for s in loaded])),
            "normals": tf.constant(np.stack([s[1] for s in loaded])),
            "mask": tf.constant(np.stack([s[2] for s in loaded])[..., None])}


def random_images(seed, size=16):
    """Random beauty, unit normals facing +Z-ish and a mask, each [2, size, size, C]."""
    rng = np.random.default_rng(seed)
    n = rng.normal(size=(2, size, size, 3)) + [0.0, 0.0, 2.0]
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    return (tf.constant(rng.random((2, size, size, 3)), tf.float32), tf.constant(n, tf.float32),
            tf.constant(rng.random((2, size, size, 1)) > 0.5, tf.float32))


def sphere_image(size=16):
    """(beauty, normals, mask) batches [1, size, size, C] of a sphere; the beauty is symmetric (lit from the camera)."""
    n, mask = sphere_normal_map(size)
    shading = np.repeat(n[..., 2:], 3, axis=-1)
    return tuple(tf.constant(a[None]) for a in (shading, n, mask[..., None]))


def assert_all_close(actual, expected, atol=1e-6):
    for a, e in zip(actual, expected):
        np.testing.assert_allclose(a.numpy(), e.numpy(), atol=atol)


def test_flips_and_rotations_undo_each_other():
    """hflip∘hflip, vflip∘vflip and rot90(4-k)∘rot90(k) give back beauty, normals and mask exactly."""
    images = random_images(0)
    assert_all_close(augment.hflip(*augment.hflip(*images)), images)
    assert_all_close(augment.vflip(*augment.vflip(*images)), images)
    for k in range(4):
        assert_all_close(augment.rot90(*augment.rot90(*images, k), 4 - k), images)
    # And they do change things (so the identities above are not vacuous).
    assert not np.allclose(augment.hflip(*images)[1].numpy(), images[1].numpy())


@pytest.mark.parametrize("transform", ["hflip", "vflip", "rot90_1", "rot90_2", "rot90_3"])
def test_transforms_map_a_sphere_onto_itself(transform):
    """A sphere's normal map is symmetric, so moving pixels *and* vectors correctly must reproduce it.

    Moving only the pixels (or rotating the vectors the wrong way) breaks the symmetry.
    """
    images = sphere_image()
    if transform.startswith("rot90"):
        result = augment.rot90(*images, int(transform[-1]))
    else:
        result = getattr(augment, transform)(*images)
    assert_all_close(result, images)


def test_augment_batch_keeps_normals_unit(batch):
    """After crops, resampling, flips and rotations, normals are unit wherever mask > 0.5."""
    for seed in range(3):
        out = augment.augment_batch(batch, tf.constant([seed, 1]), FULL)
        n, mask = out["normals"].numpy(), out["mask"].numpy()[..., 0]
        assert n.shape == (SYNTHETIC_SAMPLES, CROP, CROP, 3)
        valid = mask > 0.5
        assert valid.sum() > 100
        np.testing.assert_allclose(np.linalg.norm(n[valid], axis=-1), 1.0, atol=1e-3)


def test_augment_batch_is_deterministic_per_seed(batch):
    """The same seed gives the same batch; another seed gives another one."""
    first = augment.augment_batch(batch, tf.constant([4, 2]), FULL)
    again = augment.augment_batch(batch, tf.constant([4, 2]), FULL)
    other = augment.augment_batch(batch, tf.constant([5, 2]), FULL)
    for key in ("beauty", "normals", "mask"):
        np.testing.assert_array_equal(first[key].numpy(), again[key].numpy())
        assert not np.allclose(first[key].numpy(), other[key].numpy())


def test_photometric_changes_touch_the_beauty_only(batch):
    """With the same seed, adding photometric changes leaves normals and mask bit-identical."""
    seed = tf.constant([9, 3])
    geometry = augment.augment_batch(batch, seed, GEOMETRY_ONLY)
    full = augment.augment_batch(batch, seed, FULL)
    np.testing.assert_array_equal(full["normals"].numpy(), geometry["normals"].numpy())
    np.testing.assert_array_equal(full["mask"].numpy(), geometry["mask"].numpy())
    assert np.abs(full["beauty"].numpy() - geometry["beauty"].numpy()).mean() > 0.01


def test_identity_config_returns_the_input(batch):
    """No zoom, no flips and no photometric change give back the batch unchanged."""
    out = augment.augment_batch(batch, tf.constant([1, 1]), IDENTITY)
    for key in ("beauty", "normals", "mask"):
        np.testing.assert_allclose(out[key].numpy(), batch[key].numpy(), atol=1e-4)


def test_gaussian_blur_keeps_a_flat_image_flat():
    """Blurring must not change a constant image, borders included (no dark frame from zero padding)."""
    flat = tf.fill([2, 16, 16, 3], 0.5)
    out = augment.gaussian_blur(flat, tf.constant([0.5, 1.5]))
    np.testing.assert_allclose(out.numpy(), 0.5, atol=1e-5)
    impulse = np.zeros((1, 16, 16, 1), np.float32)
    impulse[0, 8, 8] = 1.0
    spread = augment.gaussian_blur(tf.constant(impulse), tf.constant([1.0])).numpy()
    assert spread[0, 8, 8, 0] < 0.5 and spread[0, 8, 9, 0] > 0.05
    np.testing.assert_allclose(spread.sum(), 1.0, atol=1e-5)


def test_jpeg_like_quantizes_blocks_but_keeps_the_image():
    """JPEG-like blocking changes a textured image a little and leaves its overall look."""
    rng = np.random.default_rng(3)
    smooth = tf.image.resize(tf.constant(rng.random((1, 4, 4, 3)), tf.float32), [32, 32])
    out = augment.jpeg_like(smooth, tf.constant([1.0])).numpy()
    error = np.abs(out - smooth.numpy())
    assert 1e-4 < error.mean() < 0.03


def mirrored_scene_meshes():
    """A displaced sphere and a tilted box, neither symmetric about the x = 0 plane."""
    sphere = meshes.sphere(32, 64)
    v = sphere.vertices
    sphere = meshes.displace(sphere, 0.08 * np.sin(5.0 * v[:, 0] + 2.0 * v[:, 1]) * np.cos(3.0 * v[:, 2]))
    sphere = meshes.transform(sphere, transforms.translation([-0.45, 0.6, 0.2]) @ transforms.scale(0.5))
    box = meshes.box((0.7, 0.5, 0.9), cells_per_unit=20)
    box = meshes.transform(box, transforms.translation([0.5, 0.3, -0.3]) @ transforms.rotation(35.0, 10.0, 0.0))
    return [sphere, box]


@pytest.mark.slow
def test_hflip_matches_the_render_of_the_mirrored_scene():
    """Rendering the scene mirrored in x (camera on the x = 0 plane) equals augment.hflip of its render.

    Renders in this process with Mitsuba (initialised by conftest before TensorFlow was loaded).
    """
    from mitsuba_helpers import render_normals
    camera = {"origin": [0.0, 1.2, 3.2], "target": [0.0, 0.45, 0.0], "up": [0.0, 1.0, 0.0], "fov_deg": 40.0}
    scene = mirrored_scene_meshes()
    mirror = np.diag([-1.0, 1.0, 1.0, 1.0])
    # 32 spp: pixels across a box edge average two faces, and the two renders sample them differently.
    normals, alpha = render_normals(scene, camera, 48, 32)
    mirrored, mirrored_alpha = render_normals([meshes.transform(m, mirror) for m in scene], camera, 48, 32)
    empty = tf.zeros([1, 48, 48, 3])
    _, flipped, flipped_alpha = augment.hflip(empty, tf.constant(normals[None]), tf.constant(alpha[None, ..., None]))
    flipped, flipped_alpha = flipped.numpy()[0], flipped_alpha.numpy()[0, ..., 0]
    both = (flipped_alpha == 1.0) & (mirrored_alpha == 1.0)
    assert both.sum() > 300
    assert mean_angle_deg(mirrored, flipped, both) < 1.5
    # Not vacuous: the unflipped render, or pixels mirrored without negating X, are far off.
    assert mean_angle_deg(mirrored, normals, both & (alpha == 1.0)) > 10.0
    assert mean_angle_deg(mirrored, normals[:, ::-1], both) > 10.0


def test_zoom_keeps_depth_and_albedo_values_at_silhouettes():
    """Depth and albedo are zero off the surface in the records; resampling across a silhouette must not
    blend those zeros in: every surface pixel keeps the constant depth and albedo of the half-covered frame."""
    size = 32
    mask = np.zeros((4, size, size, 1), np.float32)
    mask[:, :, : size // 2 + 3] = 1.0  # a vertical silhouette off the crop grid
    n = np.broadcast_to(np.float32([0.0, 0.0, 1.0]), (4, size, size, 3))
    batch = {"beauty": tf.constant(np.random.default_rng(0).random((4, size, size, 3)), tf.float32),
             "normals": tf.constant(n), "mask": tf.constant(mask),
             "depth": tf.constant(2.0 * mask), "albedo": tf.constant(mask * np.float32([0.5, 0.25, 0.8])),
             "has_depth": tf.ones([4]), "has_albedo": tf.ones([4])}
    zoom = dataclasses.replace(GEOMETRY_ONLY, crop_size=24, min_scale=0.37, rot90_prob=0.0)
    for seed in range(6):
        out = augment.augment_batch(batch, tf.constant([seed, 1], tf.int64), zoom)
        surface = out["mask"].numpy()[..., 0] >= 0.5
        assert surface.any() and (~surface).any()
        np.testing.assert_allclose(out["depth"].numpy()[surface], 2.0, rtol=1e-5)
        np.testing.assert_allclose(out["albedo"].numpy()[surface],
                                   np.broadcast_to([0.5, 0.25, 0.8], (surface.sum(), 3)),
                                   rtol=1e-5)


def test_mirror_pairs_appends_the_first_half_mirrored(batch):
    """The paired batch is the first half, then the same images mirrored: beauty and planes reversed in x,
    normals reversed with X negated, per-image values (ids, flags) copied; an odd last image is dropped."""
    extra = dict(batch, depth=batch["mask"] + 1.0, has_depth=tf.range(tf.shape(batch["mask"])[0], dtype=tf.float32))
    paired = augment.mirror_pairs(extra)
    half = int(extra["beauty"].shape[0]) // 2
    assert all(int(v.shape[0]) == 2 * half for v in paired.values())
    for key in ("beauty", "mask", "depth"):
        np.testing.assert_array_equal(paired[key][:half], extra[key][:half])
        np.testing.assert_array_equal(paired[key][half:], extra[key][:half, :, ::-1])
    np.testing.assert_array_equal(paired["normals"][half:], extra["normals"][:half, :, ::-1] * [-1.0, 1.0, 1.0])
    np.testing.assert_array_equal(paired["has_depth"], np.tile(np.arange(half), 2))
    # Mirroring the mirrored half back gives the first half: the pair is one image seen both ways.
    back = augment.mirror({k: paired[k][half:] for k in ("beauty", "normals")})
    np.testing.assert_array_equal(back["normals"], extra["normals"][:half])
