"""tf.data input pipeline over the sharded TFRecords written by data_tools.make_records.

Order: list shards → interleave → shuffle → decode (with cache: decode → cache → shuffle) →
repeat → fit to a fixed size (or select a whole-scene or zoomed view) → batch → prefetch. The
per-element work is decoding and one crop or view; the augmentation proper runs batched inside
the training step (tfnormals.data.augment).
"""

import glob
import math
import os

import tensorflow as tf

from tfnormals.core import layout
from tfnormals.data import augment, schema


def list_shards(records_dir, split):
    """Sorted shard files of a split; raises if there are none."""
    files = sorted(glob.glob(os.path.join(glob.escape(records_dir), layout.shard_glob(split))))
    if not files:
        raise FileNotFoundError(f"{records_dir}: no {split} shards ({layout.shard_name(split, 0, 1)} style)")
    return files


IMAGE_KEYS = (("beauty", 3), ("normals", 3), ("mask", 1), ("depth", 1), ("albedo", 3))


def fit_to_size(example, size, random_crop, seed=None):
    """Crop (random or centred) and zero-pad an example's images to size×size; padding has mask 0.

    Stacking the images (beauty, normals, mask, depth, albedo) on channels crops them together.
    """
    stacked = tf.concat([example[key] for key, _ in IMAGE_KEYS], axis=-1)
    channels = sum(c for _, c in IMAGE_KEYS)
    shape = tf.shape(stacked)
    target = tf.minimum(shape[:2], size)
    if random_crop:
        crop = tf.concat([target, [channels]], 0)
        stacked = (tf.image.stateless_random_crop(stacked, crop, seed=seed) if seed is not None
                   else tf.image.random_crop(stacked, crop))
    else:
        offset = (shape[:2] - target) // 2
        stacked = stacked[offset[0]:offset[0] + target[0], offset[1]:offset[1] + target[1]]
    stacked = tf.image.pad_to_bounding_box(stacked, 0, 0, size, size)
    stacked = tf.ensure_shape(stacked, [size, size, channels])
    parts = tf.split(stacked, [c for _, c in IMAGE_KEYS], axis=-1)
    return dict(example, **{key: part for (key, _), part in zip(IMAGE_KEYS, parts)})


def select_view(example, size, seed, whole_share=0.0, zoom_range=(1.0, 1.0)):
    """A square view of an example resized to size×size: the whole scene, or a crop at a random zoom.

    With probability `whole_share` the view is the image's largest square (the whole scene of a
    square render); otherwise a zoom z drawn log-uniformly from `zoom_range` takes a size / z pixel
    square (at most the largest one), so z = 2 magnifies the record's pixels twice and z = 0.5 shows
    twice the area at half the resolution. Resampling is antialiased; normals stay unit length (a
    zoom leaves them unchanged), depth and albedo keep their values at silhouettes, and the field
    of view follows the crop. `seed` is a [2] int stateless seed.
    """
    u = tf.random.stateless_uniform([4], seed)
    shape = tf.shape(example["beauty"])
    height, width = shape[0], shape[1]
    short = tf.minimum(height, width)
    lo, hi = (math.log(z) for z in zoom_range)
    zoom = tf.exp(lo + u[1] * (hi - lo))
    side = tf.cast(tf.round(size / zoom), tf.int32)
    side = tf.where(u[0] < whole_share, short, tf.clip_by_value(side, 1, short))
    y0 = tf.cast(tf.floor(u[2] * tf.cast(height - side + 1, tf.float32)), tf.int32)
    x0 = tf.cast(tf.floor(u[3] * tf.cast(width - side + 1, tf.float32)), tf.int32)
    images = {key: example[key] for key, _ in IMAGE_KEYS}
    view = augment.resample(images, lambda stacked: tf.image.resize(
        stacked[y0:y0 + side, x0:x0 + side], [size, size], antialias=True))
    view = {key: tf.ensure_shape(view[key], [size, size, channels]) for key, channels in IMAGE_KEYS}
    half = tf.tan(example["hfov"] * (math.pi / 360.0)) * tf.cast(side, tf.float32) / tf.cast(width, tf.float32)
    hfov = tf.where(example["hfov"] > 0, tf.atan(half) * (360.0 / math.pi), 0.0)
    return dict(example, hfov=hfov, **view)


def make_dataset(records_dir, split, batch_size, size, training=True, shuffle_buffer=256, cache=False,
                 repeat=None, deterministic=False, seed=0, whole_share=0.0, zoom_range=None):
    """Batches of decoded examples (tfnormals.data.schema.decode_example) at size×size from one split.

    Args:
      records_dir: folder holding `<split>-NNNNN-of-KKKKK.tfrecord` shards.
      split: 'train', 'val' or 'test'.
      batch_size: images per batch (the last partial batch is dropped when training).
      size: side of the square each image is cropped/padded to before batching.
      training: shuffle and random-crop (else centred crops, in file order).
      shuffle_buffer: examples held for shuffling.
      cache: keep decoded examples in memory after the first epoch.
      repeat: loop forever (defaults to `training`).
      deterministic: fixed order and crops for a given seed (tests, evaluation).
      seed: shuffle/crop seed used when deterministic.
      whole_share, zoom_range: with a (min, max) zoom range, examples are views chosen by select_view
        (training: whole scenes for `whole_share` of them, random zooms for the rest; otherwise whole
        scenes) instead of size×size crops at the record's scale.
    """
    files = list_shards(records_dir, split)
    repeat = training if repeat is None else repeat
    ds = tf.data.Dataset.from_tensor_slices(files)
    if training:
        ds = ds.shuffle(len(files), seed=seed if deterministic else None)
    ds = ds.interleave(tf.data.TFRecordDataset, cycle_length=min(4, len(files)),
                       num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic or not training)
    decode = lambda d: d.map(schema.decode_example, num_parallel_calls=tf.data.AUTOTUNE,
                             deterministic=deterministic or not training)
    if cache:  # cache decoded examples, then shuffle, so every epoch gets a new order
        ds = decode(ds).cache()
    if training:
        ds = ds.shuffle(shuffle_buffer, seed=seed if deterministic else None)
    if not cache:  # shuffle the small serialized records, then decode
        ds = decode(ds)
    if repeat:
        ds = ds.repeat()
    if zoom_range:
        share = whole_share if training else 1.0
        seeds = lambda i: tf.stack([tf.cast(seed, tf.int64), i])
        if not deterministic:
            seeds = lambda i: tf.random.uniform([2], 0, 2**31 - 1, tf.int64)
        ds = ds.enumerate().map(lambda i, ex: select_view(ex, size, seeds(i), share, zoom_range),
                                num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic or not training)
    elif training and deterministic:
        ds = ds.enumerate().map(lambda i, ex: fit_to_size(ex, size, True, seed=tf.stack([tf.cast(seed, tf.int64), i])))
    else:
        ds = ds.map(lambda ex: fit_to_size(ex, size, training), num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.batch(batch_size, drop_remainder=training)
    return ds.prefetch(tf.data.AUTOTUNE)
