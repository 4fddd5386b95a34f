"""tf.data input pipeline over the sharded TFRecords written by data_tools.make_records.

Order: list shards → interleave → shuffle → decode (with cache: decode → cache → shuffle) →
repeat → fit to a fixed size → batch → prefetch. The per-element work is decoding and one crop; the augmentation proper
runs batched inside the training step (tfnormals.augment).
"""

import glob
import os

import tensorflow as tf

from tfnormals.core import layout
from tfnormals.data import schema


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


def make_dataset(records_dir, split, batch_size, size, training=True, shuffle_buffer=256, cache=False,
                 repeat=None, deterministic=False, seed=0):
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
    if training and deterministic:
        ds = ds.enumerate().map(lambda i, ex: fit_to_size(ex, size, True, seed=tf.stack([tf.cast(seed, tf.int64), i])))
    else:
        ds = ds.map(lambda ex: fit_to_size(ex, size, training), num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.batch(batch_size, drop_remainder=training)
    return ds.prefetch(tf.data.AUTOTUNE)
