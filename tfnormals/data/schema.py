"""TFRecord schema for paired samples, shared by the writer (make_records) and the reader (dataset).

Schema version 1, one tf.train.Example per sample:
  sample/id        bytes   unique sample name (folder or file stem)
  sample/source    bytes   where the sample came from (path of its beauty file)
  image/height     int64   H
  image/width      int64   W
  beauty/encoded   bytes   16-bit RGB PNG, sRGB-encoded (display-referred) beauty in [0, 1]
  normals/encoded  bytes   16-bit RGB PNG of 0.5 * n + 0.5, camera-space normals (DESIGN.md)
  mask/encoded     bytes   8-bit gray PNG, surface coverage in [0, 1]
  schema/version   int64   SCHEMA_VERSION

TensorFlow is imported only by the functions that build or parse protos, so worker
processes that just read images and encode PNGs stay light. Shard file names are in
tfnormals.core.layout.
"""

import hashlib

from tfnormals.core import image_io, normals

SCHEMA_VERSION = 1
KEY_ID = "sample/id"
KEY_SOURCE = "sample/source"
KEY_HEIGHT = "image/height"
KEY_WIDTH = "image/width"
KEY_BEAUTY = "beauty/encoded"
KEY_NORMALS = "normals/encoded"
KEY_MASK = "mask/encoded"
KEY_VERSION = "schema/version"


def _features():
    import tensorflow as tf
    return {
        KEY_ID: tf.io.FixedLenFeature([], tf.string),
        KEY_SOURCE: tf.io.FixedLenFeature([], tf.string, default_value=""),
        KEY_HEIGHT: tf.io.FixedLenFeature([], tf.int64),
        KEY_WIDTH: tf.io.FixedLenFeature([], tf.int64),
        KEY_BEAUTY: tf.io.FixedLenFeature([], tf.string),
        KEY_NORMALS: tf.io.FixedLenFeature([], tf.string),
        KEY_MASK: tf.io.FixedLenFeature([], tf.string),
        KEY_VERSION: tf.io.FixedLenFeature([], tf.int64),
    }


def encode_images(beauty_srgb, normal_map, mask):
    """PNG payloads of one sample's arrays (numpy only, so worker processes need no TF)."""
    return {KEY_BEAUTY: image_io.encode_png(beauty_srgb, bits=16),
            KEY_NORMALS: image_io.encode_png(normals.encode(normal_map), bits=16),
            KEY_MASK: image_io.encode_png(mask, bits=8)}


def build_example(sample_id, source, height, width, payloads):
    """Serialized tf.train.Example from encode_images() payloads."""
    import tensorflow as tf
    b = lambda v: tf.train.Feature(bytes_list=tf.train.BytesList(value=[v]))
    i = lambda v: tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v)]))
    feature = {KEY_ID: b(sample_id.encode()), KEY_SOURCE: b(source.encode()), KEY_HEIGHT: i(height),
               KEY_WIDTH: i(width), KEY_VERSION: i(SCHEMA_VERSION)}
    feature.update({k: b(v) for k, v in payloads.items()})
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def decode_example(serialized):
    """Parse one serialized example into tensors.

    Returns a dict:
      id: tf.string scalar.
      beauty: float32 [H, W, 3] in [0, 1], sRGB-encoded.
      normals: float32 [H, W, 3] in [-1, 1], unit length where mask > 0.
      mask: float32 [H, W, 1] in [0, 1].
    """
    import tensorflow as tf
    parsed = tf.io.parse_single_example(serialized, _features())
    tf.debugging.assert_equal(parsed[KEY_VERSION], tf.constant(SCHEMA_VERSION, tf.int64),
                              message="TFRecord schema version mismatch")
    height, width = parsed[KEY_HEIGHT], parsed[KEY_WIDTH]

    def png(key, channels, dtype, scale):
        image = tf.io.decode_png(parsed[key], channels=channels, dtype=dtype)
        image = tf.cast(image, tf.float32) / scale
        return tf.reshape(image, tf.stack([height, width, channels]))

    beauty = png(KEY_BEAUTY, 3, tf.uint16, 65535.0)
    normal_map = png(KEY_NORMALS, 3, tf.uint16, 65535.0) * 2.0 - 1.0
    mask = png(KEY_MASK, 1, tf.uint8, 255.0)
    return {"id": parsed[KEY_ID], "beauty": beauty, "normals": normal_map, "mask": mask}


def split_of(sample_id, fractions):
    """Deterministic split ('train', 'val' or 'test') from a hash of the sample id."""
    u = _hash_unit(sample_id, "split")
    train, val = fractions[0], fractions[0] + fractions[1]
    return "train" if u < train else "val" if u < val else "test"


def shard_of(sample_id, num_shards):
    """Deterministic shard index of a sample."""
    return int(_hash_unit(sample_id, "shard") * num_shards) % num_shards


def _hash_unit(text, salt):
    digest = hashlib.sha256(f"{salt}:{text}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64

