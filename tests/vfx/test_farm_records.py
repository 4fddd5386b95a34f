"""make_records as a farm task array: disjoint shards per task, a per-task index, a merge that writes the index,
and the same records as one run."""

import json
import os
import subprocess
import sys

import pytest
from helpers import REPO, subprocess_env

from data_tools import make_records
from tfnormals.core import errors, layout
from tfnormals.data import pairs

NUM_SHARDS, FRACTIONS = 2, (0.5, 0.25, 0.25)
SPLIT = dict(num_shards=NUM_SHARDS, fractions=FRACTIONS)


def shard_records(folder):
    """{shard file: [tf.train.Example, ...] in file order} (parsed: a proto's map fields serialize in a
    per-process order, so equal records need not be equal bytes across processes)."""
    import tensorflow as tf
    return {name: [tf.train.Example.FromString(r.numpy()) for r in tf.data.TFRecordDataset(str(folder / name))]
            for name in sorted(os.listdir(folder)) if name.endswith(".tfrecord")}


def without_time(index):
    return {k: v for k, v in index.items() if k != "created"}


def run_tasks(samples, out, num_tasks, **kwargs):
    """Every task of an array, one after another; returns their task indexes."""
    return [make_records.make_records(str(samples), str(out), pairs.PairFormat(), **SPLIT,
                                      task_index=i, num_tasks=num_tasks, **kwargs) for i in range(num_tasks)]


def test_two_tasks_give_the_records_of_one(synthetic_dir, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    single = make_records.make_records(str(synthetic_dir), str(one), pairs.PairFormat(), **SPLIT)
    tasks = run_tasks(synthetic_dir, two, 2)
    assert not (two / layout.RECORDS_INDEX).exists()  # only the merge writes it
    written = [[s for split in layout.SPLITS for s in task["splits"][split]["shards"]] for task in tasks]
    assert written[0] and written[1] and not set(written[0]) & set(written[1])  # disjoint, both working
    assert sorted(written[0] + written[1]) == sorted(shard_records(one))  # together: every shard
    for i, task in enumerate(tasks):
        with open(two / layout.task_index_name(i, 2)) as f:
            assert json.load(f) == task
    merged = make_records.merge_records(str(synthetic_dir), str(two), pairs.PairFormat(), **SPLIT)
    assert shard_records(two) == shard_records(one)
    assert without_time(merged) == without_time(single) and sum(merged["counts"].values()) > 0
    with open(two / layout.RECORDS_INDEX) as f:
        assert json.load(f) == merged


def test_merge_before_every_task_finished_names_the_missing_shards(synthetic_dir, tmp_path):
    out = tmp_path / "out"
    make_records.make_records(str(synthetic_dir), str(out), pairs.PairFormat(), **SPLIT,
                              task_index=1, num_tasks=3)
    with pytest.raises(errors.Failure, match=r"4 of 6 shard\(s\) missing .*train-00000-of-00002\.tfrecord"):
        make_records.merge_records(str(synthetic_dir), str(out), pairs.PairFormat(), **SPLIT)
    assert not (out / layout.RECORDS_INDEX).exists()
    run_tasks(synthetic_dir, out, 3)  # task 1 resumes (its shards are complete), 0 and 2 write theirs
    make_records.merge_records(str(synthetic_dir), str(out), pairs.PairFormat(), **SPLIT)
    assert (out / layout.RECORDS_INDEX).exists()


@pytest.mark.parametrize("kwargs, flag", [(dict(task_index=2, num_tasks=2), "--task_index"),
                                          (dict(task_index=-1, num_tasks=2), "--task_index"),
                                          (dict(num_tasks=0), "--num_tasks"),
                                          (dict(task_index=0, num_tasks=2, overwrite=True), "--overwrite")])
def test_bad_task_flags_are_refused(synthetic_dir, tmp_path, kwargs, flag):
    with pytest.raises(errors.UsageError, match=flag):
        make_records.make_records(str(synthetic_dir), str(tmp_path / "out"), pairs.PairFormat(),
                                  **SPLIT, **kwargs)
    assert not (tmp_path / "out").exists()


def test_a_task_refuses_a_folder_of_other_settings(synthetic_dir, tmp_path):
    out = tmp_path / "out"
    run_tasks(synthetic_dir, out, 2)
    with pytest.raises(errors.UsageError, match=r"index\.task-00000-of-00002\.json made with other settings "
                                                r"\(num_shards\)"):
        make_records.make_records(str(synthetic_dir), str(out), pairs.PairFormat(), num_shards=3, fractions=FRACTIONS,
                                  task_index=0, num_tasks=2)


@pytest.mark.slow
def test_concurrent_task_processes_and_merge_command(synthetic_dir, tmp_path):
    """Two task processes at once into one folder (as a Slurm array runs them), then the merge command: the
    records of a single run."""
    one, two = tmp_path / "one", tmp_path / "two"
    make_records.make_records(str(synthetic_dir), str(one), pairs.PairFormat(), **SPLIT)
    base = [sys.executable, "-m", "data_tools.make_records", f"--input_dir={synthetic_dir}", f"--output_dir={two}",
            f"--num_shards={NUM_SHARDS}", f"--split_fractions={','.join(map(str, FRACTIONS))}", "--workers=1"]
    tasks = [subprocess.Popen(base + [f"--task_index={i}", "--num_tasks=2"], cwd=REPO, env=subprocess_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    for i, task in enumerate(tasks):
        stdout, stderr = task.communicate(timeout=300)
        assert task.returncode == 0, stderr[-3000:]
        assert json.loads(stdout)["task_index"] == i
    merge = subprocess.run(base + ["--merge"], cwd=REPO, env=subprocess_env(), capture_output=True, text=True,
                           timeout=300)
    assert merge.returncode == 0, merge.stderr[-3000:]
    with open(one / layout.RECORDS_INDEX) as f:
        assert json.loads(merge.stdout)["counts"] == json.load(f)["counts"]
    assert shard_records(two) == shard_records(one)
    assert not [n for n in os.listdir(two) if n.startswith(layout.TMP_PREFIX)]
