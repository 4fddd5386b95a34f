"""tfnormals.data.schema v2–v3: depth, albedo and family round trips; schema-1 records still decode."""

import numpy as np
import tensorflow as tf

from tfnormals.data import schema


def _arrays(h=12, w=20, seed=0):
    rng = np.random.default_rng(seed)
    n = rng.normal(size=(h, w, 3))
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    depth = rng.uniform(0.3, 250.0, (h, w)).astype(np.float32)
    depth[0, :4] = 0.0  # no surface there
    return rng.random((h, w, 3)), n, np.ones((h, w)), depth, rng.uniform(0.0, 1.0, (h, w, 3))


def _decode(payloads, h=12, w=20):
    return {k: v.numpy() for k, v in schema.decode_example(tf.constant(
        schema.build_example("s", "src", h, w, payloads))).items()}


def test_depth_survives_the_log_encoding_to_a_relative_1e4():
    beauty, n, mask, depth, albedo = _arrays()
    out = _decode(schema.encode_images(beauty, n, mask, depth=depth, albedo=albedo))
    assert out["has_depth"] == 1.0 and out["has_albedo"] == 1.0
    got = out["depth"][..., 0]
    valid = depth > 0
    assert np.all(got[~valid] == 0)
    assert np.max(np.abs(got[valid] - depth[valid]) / depth[valid]) < 1e-4
    assert np.abs(out["albedo"] - albedo).max() < 1e-4


def test_numpy_depth_codec_matches_the_tensorflow_decoder():
    _, _, _, depth, _ = _arrays(seed=3)
    codes, log_range = schema.encode_depth(depth)
    assert codes.dtype == np.uint16 and codes[depth > 0].min() >= 1
    back = schema.decode_depth(codes, log_range)
    assert np.allclose(back, depth, rtol=1e-4)


def test_records_without_extra_passes_decode_with_zero_validity():
    beauty, n, mask, _, _ = _arrays()
    out = _decode(schema.encode_images(beauty, n, mask))
    assert out["has_depth"] == 0.0 and out["has_albedo"] == 0.0
    assert out["depth"].shape == (12, 20, 1) and not out["depth"].any()
    assert out["albedo"].shape == (12, 20, 3) and not out["albedo"].any()


def test_the_scene_family_round_trips_and_is_empty_when_unknown():
    beauty, n, mask, _, _ = _arrays()
    assert _decode(schema.encode_images(beauty, n, mask, family="ground"))["family"] == b"ground"
    assert _decode(schema.encode_images(beauty, n, mask))["family"] == b""


def test_schema_1_records_written_by_the_old_writer_still_decode():
    beauty, n, mask, _, _ = _arrays()
    payloads = schema.encode_images(beauty, n, mask)
    feature = lambda v: tf.train.Feature(bytes_list=tf.train.BytesList(value=[v]))
    number = lambda v: tf.train.Feature(int64_list=tf.train.Int64List(value=[v]))
    example = tf.train.Example(features=tf.train.Features(feature={
        schema.KEY_ID: feature(b"old"), schema.KEY_SOURCE: feature(b"x"), schema.KEY_HEIGHT: number(12),
        schema.KEY_WIDTH: number(20), schema.KEY_VERSION: number(1), **{k: feature(v) for k, v in payloads.items()}}))
    out = schema.decode_example(tf.constant(example.SerializeToString()))
    assert out["id"].numpy() == b"old" and float(out["has_depth"]) == 0.0
    assert np.abs(out["normals"].numpy() - n).max() < 1e-3
