"""TFRecord schema for paired samples, shared by the writer (make_records) and the reader (dataset).

Schema version 3, one tf.train.Example per sample:
  sample/id         bytes   unique sample name (folder or file stem)
  sample/source     bytes   where the sample came from (path of its beauty file)
  image/height      int64   H
  image/width       int64   W
  beauty/encoded    bytes   16-bit RGB PNG, sRGB-encoded (display-referred) beauty in [0, 1]
  normals/encoded   bytes   16-bit RGB PNG of 0.5 * n + 0.5, camera-space normals (DESIGN.md)
  mask/encoded      bytes   8-bit gray PNG, surface coverage in [0, 1]
  depth/encoded     bytes   optional 16-bit gray PNG: 0 = no depth, else 1 + 65534 · (ln z − lo) / (hi − lo),
                            z = camera-space distance along the view axis (DEPTH_LEVELS steps of log depth)
  depth/log_range   float   optional [lo, hi] of that encoding
  albedo/encoded    bytes   optional 16-bit RGB PNG, linear reflectance in [0, 1] (not premultiplied)
  camera/hfov_deg   float   optional horizontal field of view of the camera (0 = unknown)
  scene/family      bytes   optional scene family of a render (object_study, ground, ...; "" = unknown),
                            so validation and evaluation can report per family
  schema/version    int64   SCHEMA_VERSION

Version-1 records (no depth or albedo) still decode: their missing passes come back as zeros
with a 0 validity flag, so losses leave them out; version-2 records have no family (""). TensorFlow
is imported only by the functions that build or parse protos, so worker processes that just read
images and encode PNGs stay light. Shard file names are in tfnormals.core.layout.
"""

import hashlib
import json
import os

import numpy as np

from tfnormals.core import errors, image_io, layout, normals

SCHEMA_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)
KEY_ID = "sample/id"
KEY_SOURCE = "sample/source"
KEY_HEIGHT = "image/height"
KEY_WIDTH = "image/width"
KEY_BEAUTY = "beauty/encoded"
KEY_NORMALS = "normals/encoded"
KEY_MASK = "mask/encoded"
KEY_DEPTH = "depth/encoded"
KEY_DEPTH_RANGE = "depth/log_range"
KEY_ALBEDO = "albedo/encoded"
KEY_HFOV = "camera/hfov_deg"
KEY_FAMILY = "scene/family"
KEY_VERSION = "schema/version"
DEPTH_LEVELS = 65534  # 16-bit codes 1..65535 hold log depth; 0 marks pixels without depth


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
        KEY_DEPTH: tf.io.FixedLenFeature([], tf.string, default_value=""),
        KEY_DEPTH_RANGE: tf.io.FixedLenFeature([2], tf.float32, default_value=[0.0, 0.0]),
        KEY_ALBEDO: tf.io.FixedLenFeature([], tf.string, default_value=""),
        KEY_HFOV: tf.io.FixedLenFeature([], tf.float32, default_value=0.0),
        KEY_FAMILY: tf.io.FixedLenFeature([], tf.string, default_value=""),
        KEY_VERSION: tf.io.FixedLenFeature([], tf.int64),
    }


def encode_depth(depth):
    """(16-bit codes H×W uint16, [lo, hi]) of a depth map whose non-positive or non-finite pixels have no depth."""
    depth = np.asarray(depth, np.float64)
    valid = np.isfinite(depth) & (depth > 0)
    codes = np.zeros(depth.shape, np.uint16)
    if not np.any(valid):
        return codes, [0.0, 0.0]
    log_depth = np.log(depth[valid])
    lo, hi = float(log_depth.min()), float(log_depth.max())
    scale = DEPTH_LEVELS / max(hi - lo, 1e-6)
    codes[valid] = 1 + np.round((log_depth - lo) * scale).astype(np.uint16)
    return codes, [lo, hi]


def decode_depth(codes, log_range):
    """Inverse of encode_depth (numpy): depth, 0 where there is none."""
    codes = np.asarray(codes, np.float64)
    lo, hi = log_range
    depth = np.exp(lo + (codes - 1.0) / DEPTH_LEVELS * (hi - lo))
    return np.where(codes > 0, depth, 0.0).astype(np.float32)


def encode_images(beauty_srgb, normal_map, mask, depth=None, albedo=None, hfov=None, family=None):
    """Payloads of one sample's arrays (numpy only, so worker processes need no TF).

    Returns {feature key: bytes or list of floats}; depth (H×W), albedo (H×W×3, linear), the
    horizontal field of view (degrees) and the scene family (a name) are optional.
    """
    payloads = {KEY_BEAUTY: image_io.encode_png(beauty_srgb, bits=16),
                KEY_NORMALS: image_io.encode_png(normals.encode(normal_map), bits=16),
                KEY_MASK: image_io.encode_png(mask, bits=8)}
    if depth is not None:
        codes, log_range = encode_depth(depth)
        payloads[KEY_DEPTH] = image_io.encode_png(codes.astype(np.float32) / 65535.0, bits=16)
        payloads[KEY_DEPTH_RANGE] = log_range
    if albedo is not None:
        payloads[KEY_ALBEDO] = image_io.encode_png(albedo, bits=16)
    if hfov:
        payloads[KEY_HFOV] = [float(hfov)]
    if family:
        payloads[KEY_FAMILY] = family.encode()
    return payloads


def build_example(sample_id, source, height, width, payloads):
    """Serialized tf.train.Example from encode_images() payloads."""
    import tensorflow as tf

    def feature(value):
        if isinstance(value, bytes):
            return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))
        if isinstance(value, int):
            return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))
        return tf.train.Feature(float_list=tf.train.FloatList(value=list(value)))

    values = {KEY_ID: sample_id.encode(), KEY_SOURCE: source.encode(), KEY_HEIGHT: int(height),
              KEY_WIDTH: int(width), KEY_VERSION: SCHEMA_VERSION, **payloads}
    features = tf.train.Features(feature={k: feature(v) for k, v in values.items()})
    return tf.train.Example(features=features).SerializeToString()


def decode_example(serialized):
    """Parse one serialized example (schema 1, 2 or 3) into tensors.

    Returns a dict:
      id: tf.string scalar.
      beauty: float32 [H, W, 3] in [0, 1], sRGB-encoded.
      normals: float32 [H, W, 3] in [-1, 1], unit length where mask > 0.
      mask: float32 [H, W, 1] in [0, 1].
      depth: float32 [H, W, 1], camera-space distance, 0 where unknown.
      albedo: float32 [H, W, 3], linear reflectance (zeros when the record has none).
      has_depth, has_albedo: float32 scalars, 1 when the record holds that pass.
      hfov: float32 scalar, the camera's horizontal field of view in degrees (0 = unknown).
      family: tf.string scalar, the scene family ("" = unknown).
    """
    import tensorflow as tf
    parsed = tf.io.parse_single_example(serialized, _features())
    version = parsed[KEY_VERSION]
    tf.debugging.assert_equal(tf.reduce_any(tf.equal(version, READABLE_VERSIONS)), True,
                              message=f"TFRecord schema version is not one of {READABLE_VERSIONS}")
    height, width = parsed[KEY_HEIGHT], parsed[KEY_WIDTH]

    def png(data, channels, dtype, scale):
        image = tf.io.decode_png(data, channels=channels, dtype=dtype)
        image = tf.cast(image, tf.float32) / scale
        return tf.reshape(image, tf.stack([height, width, channels]))

    def optional(key, decode, channels):
        present = tf.strings.length(parsed[key]) > 0
        zeros = lambda: tf.zeros(tf.stack([height, width, channels]), tf.float32)
        return tf.cond(present, decode, zeros), tf.cast(present, tf.float32)

    def depth_from_codes():
        codes = png(parsed[KEY_DEPTH], 1, tf.uint16, 1.0)
        lo, hi = parsed[KEY_DEPTH_RANGE][0], parsed[KEY_DEPTH_RANGE][1]
        return tf.where(codes > 0, tf.exp(lo + (codes - 1.0) / DEPTH_LEVELS * (hi - lo)), 0.0)

    depth, has_depth = optional(KEY_DEPTH, depth_from_codes, 1)
    albedo, has_albedo = optional(KEY_ALBEDO, lambda: png(parsed[KEY_ALBEDO], 3, tf.uint16, 65535.0), 3)
    return {"id": parsed[KEY_ID],
            "beauty": png(parsed[KEY_BEAUTY], 3, tf.uint16, 65535.0),
            "normals": png(parsed[KEY_NORMALS], 3, tf.uint16, 65535.0) * 2.0 - 1.0,
            "mask": png(parsed[KEY_MASK], 1, tf.uint8, 255.0),
            "depth": depth, "albedo": albedo, "has_depth": has_depth, "has_albedo": has_albedo,
            "hfov": parsed[KEY_HFOV], "family": parsed[KEY_FAMILY]}


def read_index(records_dir, flag="--records"):
    """A records folder's index.json (make_records' settings and counts), or None when it has none.

    Raises errors.UsageError naming `flag` when it cannot be read or describes records of a schema version this
    code does not read.
    """
    path = os.path.join(records_dir, layout.RECORDS_INDEX)
    if not os.path.isfile(path):
        return None
    try:
        with open(path) as f:
            index = json.load(f)
        version = index["schema_version"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise errors.UsageError(f"{flag}: {path}: not a records index ({errors.one_line(e)})") from None
    if version not in READABLE_VERSIONS:
        raise errors.UsageError(f"{flag}: {records_dir} holds records of schema version {version} (index.json); this "
                                f"tfnormals reads versions {', '.join(map(str, READABLE_VERSIONS))}")
    return index


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

