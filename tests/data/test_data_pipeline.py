"""tfnormals.data.schema and tfnormals.data.dataset: what make_records writes is what training reads.

The records are made from synthetic sample folders (conftest.synthetic_records: analytic spheres,
no renderer), so these tests run in the fast tier.
"""

import os

import numpy as np
import pytest
import tensorflow as tf
from helpers import RESOLUTION, SYNTHETIC_SAMPLES, read_sample, synthetic_sample

from tfnormals.core import layout, srgb
from tfnormals.data import dataset, schema


def eval_examples(records_dir, size=RESOLUTION):
    """{id: example} over every split, read in evaluation mode (file order, centred crops)."""
    examples = {}
    for split in layout.SPLITS:
        for batch in dataset.make_dataset(str(records_dir), split, batch_size=2, size=size, training=False):
            for i, sample_id in enumerate(batch["id"].numpy()):
                assert sample_id.decode() not in examples
                examples[sample_id.decode()] = {k: v[i].numpy() for k, v in batch.items() if k != "id"}
    return examples


def test_records_reproduce_the_sample_files(synthetic_records, synthetic_dir):
    """Decoded beauty, normals and mask equal the sample files after the documented conversions.

    Beauty: linear EXR → sRGB, 16-bit. Normals: camera space, 0.5 n + 0.5 at 16 bits, zero off the
    mask. Mask: the 8-bit mask.png exactly. Depth and albedo: the passes the sample was made from.
    """
    out, index = synthetic_records
    examples = eval_examples(out)
    assert sorted(examples) == [layout.sample_id(i) for i in range(SYNTHETIC_SAMPLES)]
    assert {split: sum(1 for e in examples if schema.split_of(e, index["split_fractions"]) == split)
            for split in layout.SPLITS} == index["counts"]
    for sample_id, example in examples.items():
        sample = read_sample(os.path.join(synthetic_dir, sample_id))
        covered = sample["mask"] > 0
        assert 0.2 < covered.mean() < 0.9  # a sphere and some sky: both sides of the mask are tested
        np.testing.assert_allclose(example["beauty"], srgb.linear_to_srgb(sample["beauty"]), atol=1e-5)
        np.testing.assert_allclose(example["normals"], sample["normals"] * covered[..., None], atol=4e-5)
        np.testing.assert_array_equal(example["mask"][..., 0], sample["mask"])
        source = synthetic_sample(RESOLUTION, int(sample_id))
        assert example["has_depth"] == 1.0 and example["has_albedo"] == 1.0
        np.testing.assert_allclose(example["depth"][..., 0], source["depth"], rtol=2e-5)
        np.testing.assert_allclose(example["albedo"], source["albedo"], atol=1.0 / 65535 + 1e-6)


def test_training_crops_are_paired_windows_and_deterministic(synthetic_records):
    """Training batches are random windows cut at the same place from beauty, normals and mask,
    and the same seed gives the same batches."""
    out, index = synthetic_records
    split = max(index["counts"], key=index["counts"].get)
    whole = eval_examples(out)
    make = lambda: dataset.make_dataset(str(out), split, batch_size=2, size=16, training=True, deterministic=True,
                                     seed=5)
    first, again = list(make().take(3)), list(make().take(3))
    for a, b in zip(first, again):
        for key in ("id", "beauty", "normals", "mask"):
            np.testing.assert_array_equal(a[key].numpy(), b[key].numpy())
    offsets = set()
    for batch in first:
        assert batch["beauty"].shape == (2, 16, 16, 3)
        for i, sample_id in enumerate(batch["id"].numpy()):
            source = whole[sample_id.decode()]
            crop = {k: batch[k][i].numpy() for k in ("beauty", "normals", "mask")}
            matches = [(y, x) for y in range(RESOLUTION - 15) for x in range(RESOLUTION - 15)
                       if np.array_equal(source["beauty"][y:y + 16, x:x + 16], crop["beauty"])]
            assert matches, "a training crop must be a window of the image"
            y, x = matches[0]
            offsets.add((y, x))
            np.testing.assert_array_equal(source["normals"][y:y + 16, x:x + 16], crop["normals"])
            np.testing.assert_array_equal(source["mask"][y:y + 16, x:x + 16], crop["mask"])
    assert len(offsets) > 1  # the crops are not all in one place


def test_cached_training_data_is_reshuffled_every_epoch(synthetic_records):
    """With cache, each pass over the split comes in a new order (the cache holds decoded examples, not an order)."""
    out, index = synthetic_records
    split = max(index["counts"], key=index["counts"].get)
    count = index["counts"][split]
    ds = dataset.make_dataset(str(out), split, batch_size=1, size=16, training=True, cache=True, deterministic=True,
                              seed=3)
    ids = [b["id"].numpy()[0] for b in ds.take(4 * count)]
    epochs = [tuple(ids[i:i + count]) for i in range(0, len(ids), count)]
    assert all(sorted(e) == sorted(epochs[0]) for e in epochs)  # every epoch holds every example once
    assert len(set(epochs)) > 1


def test_small_images_are_zero_padded_with_empty_mask(synthetic_records):
    """Asking for a size larger than the images pads them at the bottom-right with mask 0."""
    out, _ = synthetic_records
    padded = eval_examples(out, size=RESOLUTION + 8)
    plain = eval_examples(out)
    for sample_id, example in padded.items():
        assert example["beauty"].shape == (RESOLUTION + 8, RESOLUTION + 8, 3)
        for key in ("beauty", "normals", "mask"):
            np.testing.assert_array_equal(example[key][:RESOLUTION, :RESOLUTION], plain[sample_id][key])
            assert not example[key][RESOLUTION:].any() and not example[key][:, RESOLUTION:].any()


def test_example_round_trip_in_memory():
    """encode_images → build_example → decode_example keeps a non-square image's layout and values."""
    rng = np.random.default_rng(0)
    beauty = rng.random((5, 7, 3)).astype(np.float32)
    n = rng.normal(size=(5, 7, 3))
    n = (n / np.linalg.norm(n, axis=-1, keepdims=True)).astype(np.float32)
    mask = (rng.random((5, 7)) > 0.5).astype(np.float32)
    serialized = schema.build_example("s1", "/x/beauty.exr", 5, 7, schema.encode_images(beauty, n, mask))
    example = schema.decode_example(serialized)
    assert example["id"].numpy() == b"s1"
    np.testing.assert_allclose(example["beauty"].numpy(), beauty, atol=0.5 / 65535 + 1e-7)
    np.testing.assert_allclose(example["normals"].numpy(), n, atol=1.0 / 65535 + 1e-6)
    np.testing.assert_array_equal(example["mask"].numpy()[..., 0], mask)
    # The payloads really are 16-bit RGB and 8-bit gray PNGs.
    payload = schema.encode_images(beauty, n, mask)
    assert tf.io.decode_png(payload[schema.KEY_BEAUTY], dtype=tf.uint16).shape == (5, 7, 3)
    assert payload[schema.KEY_MASK][24:26] == bytes([8, 0])  # bit depth 8, colour type gray


def test_schema_version_mismatch_is_refused():
    """An example written with another schema version is rejected when decoded."""
    payload = schema.encode_images(np.zeros((2, 2, 3)), np.zeros((2, 2, 3)), np.zeros((2, 2)))
    example = tf.train.Example.FromString(schema.build_example("s", "", 2, 2, payload))
    example.features.feature[schema.KEY_VERSION].int64_list.value[0] = schema.SCHEMA_VERSION + 1
    with pytest.raises(tf.errors.InvalidArgumentError, match="schema version"):
        schema.decode_example(example.SerializeToString())


def test_split_and_shard_assignment_is_pinned():
    """Splits and shards come from a hash of the id that never changes (across processes, Python's
    hash seed and versions): re-made records keep every sample in its split. Values pinned here."""
    ids = ["0000000", "0000001", "0000002", "frame_00042", "shot010_1001"]
    assert [schema.split_of(i, (0.3, 0.3, 0.4)) for i in ids] == ["train", "val", "val", "test", "train"]
    assert [schema.shard_of(i, 16) for i in ids] == [11, 3, 2, 3, 13]


def test_split_and_shard_assignment_is_proportional():
    """Over many ids the splits follow the fractions and every shard gets some."""
    ids = [f"frame_{i:05d}" for i in range(4000)]
    fractions = (0.8, 0.1, 0.1)
    splits = [schema.split_of(i, fractions) for i in ids]
    share = {s: splits.count(s) / len(ids) for s in layout.SPLITS}
    assert share == pytest.approx({"train": 0.8, "val": 0.1, "test": 0.1}, abs=0.03)
    shards = [schema.shard_of(i, 7) for i in ids]
    assert set(shards) == set(range(7))
    assert layout.shard_name("val", 3, 16) == "val-00003-of-00016.tfrecord"


def test_missing_split_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="train"):
        dataset.list_shards(str(tmp_path), "train")

