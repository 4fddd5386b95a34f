"""Turn a folder of paired samples into sharded TFRecords with a JSON index.

Usage:
  python -m data_tools.make_records --input_dir=DIR --output_dir=OUT --num_shards=K
  # a studio's files, world-space normals in a multi-layer EXR:
  python -m data_tools.make_records --input_dir=renders --output_dir=OUT \
      --beauty_pattern="{id}.beauty.exr" --normals_pattern="{id}.beauty.exr" \
      --normals_channels=N.X,N.Y,N.Z --mask_pattern= --normals_space=world \
      --camera_to_world=1,0,0,0,0,1,0,0,0,0,1,5,0,0,0,1

Writes OUT/<split>-NNNNN-of-KKKKK.tfrecord for split in train/val/test (chosen by a hash
of the sample id, so it never changes between runs) and OUT/index.json with per-split
counts, skipped samples and their reasons, and the schema version (tfnormals.records).
Each shard is written under a temporary name and renamed when complete; a re-run keeps
complete shards and redoes only the missing ones. Samples are read in parallel.
"""

import datetime
import json
import multiprocessing
import os

from absl import app, flags, logging

from tfnormals.core import image_io, layout
from tfnormals.core.progress import Progress
from tfnormals.data import pairs, schema

FLAGS = flags.FLAGS

def encode_sample(job):
    """Worker: load one sample and PNG-encode it. Returns ('ok', id, source, h, w, payloads) or ('error', id, why)."""
    input_dir, sample_id, pair_layout = job
    try:
        beauty, normal_map, mask, source = pairs.load_sample(input_dir, sample_id, pair_layout)
        payloads = schema.encode_images(beauty, normal_map, mask,
                                        **pairs.load_passes(input_dir, sample_id, pair_layout, mask))
        return ("ok", sample_id, source, mask.shape[0], mask.shape[1], payloads)
    except pairs.SampleError as e:
        return ("error", sample_id, str(e))
    except Exception as e:  # A crash on one sample is reported, not fatal to the job.
        return ("error", sample_id, f"{type(e).__name__}: {e}")


def plan_shards(sample_ids, num_shards, fractions):
    """{(split, shard_index): [ids]} for every split and shard, including empty ones."""
    plan = {(split, k): [] for split in layout.SPLITS for k in range(num_shards)}
    for sample_id in sample_ids:
        plan[(schema.split_of(sample_id, fractions), schema.shard_of(sample_id, num_shards))].append(sample_id)
    return plan


def _sidecar_path(output_dir, shard_file):
    return os.path.join(output_dir, layout.RECORDS_PROGRESS_DIR, shard_file + ".json")


def _load_sidecar(output_dir, shard_file, assigned):
    """The finished shard's summary if the shard is complete and holds the same assignment."""
    path = _sidecar_path(output_dir, shard_file)
    if not (os.path.isfile(path) and os.path.isfile(os.path.join(output_dir, shard_file))):
        return None
    with open(path) as f:
        summary = json.load(f)
    return summary if summary.get("assigned") == assigned else None


def _write_json(path, data):
    with image_io.atomic_output(path) as tmp:
        with open(tmp, "w") as f:
            json.dump(data, f, indent=1)


def write_shard(output_dir, shard_file, jobs, results):
    """Write one shard from an iterator of encode_sample results; returns its summary."""
    import tensorflow as tf
    written, skipped = [], []
    with image_io.atomic_output(os.path.join(output_dir, shard_file)) as tmp:
        with tf.io.TFRecordWriter(tmp) as writer:
            for result in results:
                if result[0] == "ok":
                    _, sample_id, source, height, width, payloads = result
                    writer.write(schema.build_example(sample_id, source, height, width, payloads))
                    written.append(sample_id)
                else:
                    logging.warning("skipping sample %s: %s", result[1], result[2])
                    skipped.append({"id": result[1], "reason": result[2]})
        summary = {"assigned": [job[1] for job in jobs], "written": written, "skipped": skipped}
        _write_json(_sidecar_path(output_dir, shard_file), summary)
    return summary


def make_records(input_dir, output_dir, pair_layout, num_shards=16, fractions=(0.9, 0.05, 0.05), workers=1):
    """Write the shards and index.json; returns the index dict."""
    if abs(sum(fractions) - 1.0) > 1e-6 or len(fractions) != 3:
        raise ValueError(f"split fractions must be three numbers summing to 1, got {fractions}")
    sample_ids = pairs.find_samples(input_dir, pair_layout)
    if not sample_ids:
        raise ValueError(f"{input_dir}: no samples match {pair_layout.beauty_pattern!r}")
    os.makedirs(os.path.join(output_dir, layout.RECORDS_PROGRESS_DIR), exist_ok=True)
    plan = plan_shards(sample_ids, num_shards, fractions)
    summaries, pending = {}, []
    for (split, k), ids in sorted(plan.items()):
        shard_file = layout.shard_name(split, k, num_shards)
        summary = _load_sidecar(output_dir, shard_file, ids)
        if summary is None:
            pending.append((shard_file, ids))
        else:
            summaries[shard_file] = summary
    logging.info("%d samples; %d of %d shards already complete", len(sample_ids), len(summaries), len(plan))
    progress = Progress(sum(len(ids) for _, ids in pending), "make_records")
    pool = multiprocessing.get_context("spawn").Pool(workers) if workers > 1 else None
    try:
        for shard_file, ids in pending:
            jobs = [(input_dir, sample_id, pair_layout) for sample_id in ids]
            results = pool.imap(encode_sample, jobs, chunksize=4) if pool else map(encode_sample, jobs)

            def counted(results):
                for result in results:
                    progress.update(failed=result[0] != "ok")
                    yield result

            summaries[shard_file] = write_shard(output_dir, shard_file, jobs, counted(results))
    finally:
        if pool:
            pool.close()
            pool.join()
    index = build_index(input_dir, pair_layout, num_shards, fractions, summaries)
    _write_json(os.path.join(output_dir, layout.RECORDS_INDEX), index)
    return index


def build_index(input_dir, pair_layout, num_shards, fractions, summaries):
    splits = {}
    for split in layout.SPLITS:
        files = [layout.shard_name(split, k, num_shards) for k in range(num_shards)]
        splits[split] = {"count": sum(len(summaries[f]["written"]) for f in files), "shards": files}
    skipped = [s for f in sorted(summaries) for s in summaries[f]["skipped"]]
    return {"schema_version": schema.SCHEMA_VERSION,
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "input_dir": os.path.abspath(input_dir), "num_shards": num_shards,
            "split_fractions": list(fractions), "splits": splits,
            "counts": {split: splits[split]["count"] for split in layout.SPLITS},
            "skipped_count": len(skipped), "skipped": skipped,
            "layout": {k: list(v) if isinstance(v, tuple) else v for k, v in vars(pair_layout).items()}}


def define_flags():
    """Command-line flags (defined only when run as a program, so importing defines none)."""
    flags.DEFINE_string("input_dir", None, "Folder of samples.")
    flags.DEFINE_string("output_dir", None, "Folder for the shards and index.json.")
    flags.DEFINE_integer("num_shards", 16, "Shards per split.")
    flags.DEFINE_integer("workers", os.cpu_count() or 1, "Parallel reader processes (1 = in this process).")
    flags.DEFINE_list("split_fractions", ["0.9", "0.05", "0.05"], "train,val,test fractions.")
    pairs.define_layout_flags()


def main(argv):
    del argv
    if not FLAGS.input_dir or not FLAGS.output_dir:
        raise app.UsageError("--input_dir and --output_dir are required")
    pair_layout = pairs.layout_from_flags(FLAGS)
    index = make_records(FLAGS.input_dir, FLAGS.output_dir, pair_layout, FLAGS.num_shards,
                         tuple(float(f) for f in FLAGS.split_fractions), FLAGS.workers)
    print(json.dumps({"counts": index["counts"], "skipped": index["skipped_count"]}))


if __name__ == "__main__":
    define_flags()
    app.run(main)
