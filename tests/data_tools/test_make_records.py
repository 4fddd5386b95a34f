"""data_tools.make_records: bad samples are skipped and reported; interrupted runs resume cleanly."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from helpers import NUM_SAMPLES, SPLIT_FRACTIONS, copy_sample

from data_tools import make_records
from tfnormals.core import image_io, layout
from tfnormals.data import dataset, pairs, schema


def read_ids(records_dir):
    """Sample ids of every example in every shard of every split (in file order)."""
    ids = []
    for split in layout.SPLITS:
        for shard in dataset.list_shards(str(records_dir), split):
            ids += [schema.decode_example(r)["id"].numpy().decode() for r in tf.data.TFRecordDataset(shard)]
    return ids


def shard_files(records_dir):
    return sorted(name for name in os.listdir(records_dir) if name.endswith(".tfrecord") and not name.startswith("."))


def rewrite_normals(folder, change):
    """Replace a sample's normals.exr with change(normals)."""
    path = os.path.join(folder, layout.NORMALS_EXR)
    image_io.write_rgb_exr(path, change(image_io.read_image(path)))


def with_nan(n):
    n = n.copy()
    n[n.shape[0] // 2, n.shape[1] // 2] = np.nan
    return n


# Kinds of broken sample: how to break a copy of a good one, and what the skip reason must say.
BROKEN = {
    "corrupt_exr": (lambda d: open(os.path.join(d, layout.BEAUTY_EXR), "wb").write(b"\x76\x2f\x31\x01garbage"),
                    ["beauty.exr", "not a readable EXR"]),
    "truncated_exr": (lambda d: open(os.path.join(d, layout.NORMALS_EXR), "r+b").truncate(300),
                      ["normals.exr", "not a readable EXR"]),
    "size_mismatch": (lambda d: rewrite_normals(d, lambda n: n[:16, :16]), ["size mismatch", "16x16", "32x32"]),
    "nan_normals": (lambda d: rewrite_normals(d, with_nan), ["normals.exr", "NaN"]),
    "nonunit_normals": (lambda d: rewrite_normals(d, lambda n: 0.5 * n), ["normals.exr", "non-unit"]),
    "missing_normals": (lambda d: os.remove(os.path.join(d, layout.NORMALS_EXR)), ["normals.exr", "missing"]),
    "empty_mask": (lambda d: image_io.write_png(os.path.join(d, layout.MASK_PNG), np.zeros((32, 32))),
                   ["mask.png", "empty"]),
}


def test_bad_samples_are_skipped_and_named_in_the_index(rendered_dir, tmp_path):
    """Each broken sample is left out with a reason naming its file; good ones are written; counts add up."""
    inputs, out = tmp_path / "in", tmp_path / "out"
    good = [layout.sample_id(0), layout.sample_id(1)]
    for sample_id in good:
        copy_sample(rendered_dir, sample_id, inputs)
    for kind, (break_it, _) in BROKEN.items():
        break_it(copy_sample(rendered_dir, layout.sample_id(2), inputs, new_id=kind))

    index = make_records.make_records(str(inputs), str(out), pairs.PairFormat(), num_shards=1,
                                      fractions=(1.0, 0.0, 0.0))
    with open(out / "index.json") as f:
        assert json.load(f) == index
    assert index["counts"] == {"train": 2, "val": 0, "test": 0}
    assert index["skipped_count"] == len(BROKEN)
    reasons = {s["id"]: s["reason"] for s in index["skipped"]}
    assert sorted(reasons) == sorted(BROKEN)
    for kind, (_, words) in BROKEN.items():
        for word in words:
            assert word in reasons[kind], (kind, reasons[kind])
        assert str(inputs / kind) in reasons[kind]
    assert sorted(read_ids(out)) == good


def test_interrupted_run_resumes_without_duplicates(rendered_dir, tmp_path):
    """Delete one shard and leave a stale temporary file: a re-run rewrites only that shard, no id twice."""
    out = tmp_path / "out"
    kwargs = dict(pair_format=pairs.PairFormat(), num_shards=3, fractions=(1.0, 0.0, 0.0))
    first = make_records.make_records(str(rendered_dir), str(out), **kwargs)
    sizes = {name: os.path.getsize(out / name) for name in shard_files(out)}
    lost = max(sizes, key=sizes.get)  # a shard that holds samples
    os.remove(out / lost)
    (out / ".tmp-abc123.tfrecord").write_bytes(b"half a shard")  # left by the killed run
    before = {name: os.stat(out / name).st_mtime_ns for name in shard_files(out)}

    second = make_records.make_records(str(rendered_dir), str(out), **kwargs)
    assert {name: os.stat(out / name).st_mtime_ns for name in before} == before  # untouched
    assert os.path.getsize(out / lost) == sizes[lost]  # rewritten, same content size
    assert second["counts"] == first["counts"] == {"train": NUM_SAMPLES, "val": 0, "test": 0}
    ids = read_ids(out)
    assert len(ids) == len(set(ids)) == NUM_SAMPLES
    assert ".tmp-abc123.tfrecord" not in " ".join(dataset.list_shards(str(out), "train"))


def test_changed_input_redoes_only_affected_shards(rendered_dir, tmp_path):
    """Adding a sample rewrites the shard it hashes to; shards whose assignment is unchanged are kept."""
    inputs, out = tmp_path / "in", tmp_path / "out"
    for i in range(NUM_SAMPLES):
        copy_sample(rendered_dir, layout.sample_id(i), inputs)
    kwargs = dict(pair_format=pairs.PairFormat(), num_shards=4, fractions=(1.0, 0.0, 0.0))
    make_records.make_records(str(inputs), str(out), **kwargs)
    before = {name: os.stat(out / name).st_mtime_ns for name in shard_files(out)}
    copy_sample(rendered_dir, layout.sample_id(0), inputs, new_id="extra")

    index = make_records.make_records(str(inputs), str(out), **kwargs)
    target = layout.shard_name("train", schema.shard_of("extra", 4), 4)
    changed = {name for name in before if os.stat(out / name).st_mtime_ns != before[name]}
    assert changed == {target}
    assert index["counts"]["train"] == NUM_SAMPLES + 1
    assert sorted(read_ids(out)) == sorted([layout.sample_id(i) for i in range(NUM_SAMPLES)] + ["extra"])


def test_parallel_workers_write_the_same_shards(rendered_dir, records_dir, tmp_path):
    """workers=2 (a process pool) writes byte-identical shards to the in-process writer."""
    serial_dir, _ = records_dir
    index = make_records.make_records(str(rendered_dir), str(tmp_path), pairs.PairFormat(), num_shards=2,
                                      fractions=SPLIT_FRACTIONS, workers=2)
    assert sum(index["counts"].values()) == NUM_SAMPLES
    for name in shard_files(serial_dir):
        assert (tmp_path / name).read_bytes() == (serial_dir / name).read_bytes(), name


def test_split_fractions_must_sum_to_one(rendered_dir, tmp_path):
    with pytest.raises(ValueError, match="fractions"):
        make_records.make_records(str(rendered_dir), str(tmp_path), pairs.PairFormat(), fractions=(0.5, 0.2, 0.2))
