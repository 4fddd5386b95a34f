"""tfnormals.model.shot_gate: the share of the shot model falls from 1 to 0 between the calibrated distances, the
calibration takes the asked quantile of unlike images, the blend keeps every pass in its convention, and a generator
with its gate features pools each image by itself."""

import numpy as np
import tensorflow as tf

from tfnormals.model import shot_gate
from tfnormals.model.unet import build_generator


def unit_rows(n, f, seed):
    rows = np.random.default_rng(seed).normal(size=(n, f)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_the_shot_weight_ramps_from_near_to_far():
    weight = shot_gate.shot_weight(tf.constant([0.0, 0.1, 0.15, 0.2, 0.5]), near=0.1, far=0.2).numpy()
    np.testing.assert_allclose(weight, [1.0, 1.0, 0.5, 0.0, 0.0], atol=1e-6)


def test_distances_are_to_the_nearest_bank_row():
    bank = unit_rows(5, 8, seed=0)
    query = np.concatenate([bank[3:4], -bank[1:2]])
    got = shot_gate.distances(tf.constant(query), tf.constant(bank)).numpy()
    assert abs(got[0]) < 1e-6  # a bank row itself
    np.testing.assert_allclose(got[1], 1.0 - (-bank[1] @ bank.T).max(), atol=1e-6)


def test_calibration_takes_the_quantile_of_the_unlike_images():
    bank, unlike = unit_rows(16, 8, seed=1), unit_rows(200, 8, seed=2)
    near, far = shot_gate.calibrate(bank, unlike, quantile=0.1, start=0.25)
    d = shot_gate.distances(tf.constant(unlike), tf.constant(bank)).numpy()
    assert abs(np.mean(d < far) - 0.1) < 0.01 and abs(near - 0.25 * far) < 1e-9


def test_the_blend_keeps_each_pass_in_its_convention():
    rng = np.random.default_rng(3)

    def passes(scale):
        n = rng.normal(size=(2, 4, 4, 3)).astype(np.float32)
        return {"normals": tf.constant(n / np.linalg.norm(n, axis=-1, keepdims=True)),
                "depth": tf.constant(scale * rng.uniform(1, 2, (2, 4, 4, 1)).astype(np.float32)),
                "albedo": tf.constant(rng.uniform(0, 1, (2, 4, 4, 3)).astype(np.float32))}

    shot, base = passes(1.0), passes(1000.0)  # depth is scale free: the two models' scales differ
    out = shot_gate._blend(shot, base, tf.constant([1.0, 0.0]))
    np.testing.assert_allclose(out["normals"][0], shot["normals"][0], atol=1e-6)
    np.testing.assert_allclose(out["normals"][1], base["normals"][1], atol=1e-6)
    np.testing.assert_allclose(out["albedo"][1], base["albedo"][1], atol=1e-6)
    np.testing.assert_allclose(out["depth"][1] / np.mean(out["depth"][1]), base["depth"][1] / np.mean(base["depth"][1]),
                               rtol=1e-5)
    half = shot_gate._blend(shot, base, tf.constant([0.5, 0.5]))
    np.testing.assert_allclose(np.linalg.norm(half["normals"], axis=-1), 1.0, atol=1e-5)
    assert 0.5 < float(tf.reduce_mean(half["depth"])) < 2.0  # neither model's scale dominates


def test_features_pool_each_image_by_itself():
    generator = build_generator(base_filters=4, levels=4, max_filters=16)
    with_features = shot_gate.with_features(generator)
    images = np.random.default_rng(4).random((3, 32, 48, 3)).astype(np.float32)
    outputs, features = with_features(images, training=False)
    assert features.shape[0] == 3 and np.allclose(np.linalg.norm(features, axis=-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(outputs["normals"], generator(images, training=False)["normals"], atol=1e-6)
    _, alone = with_features(images[1:2], training=False)
    np.testing.assert_allclose(alone[0], features[1], atol=1e-5)
    assert len(shot_gate.feature_tensors(generator)) == shot_gate.FEATURE_LEVELS
