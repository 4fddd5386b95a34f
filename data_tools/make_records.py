r"""Turn a folder of paired samples into sharded TFRecords with a JSON index.

Usage:
  python -m data_tools.make_records --input_dir=DIR --output_dir=OUT --num_shards=K
  # on a farm: T tasks (a Slurm array, a Kubernetes indexed Job), then one merge
  python -m data_tools.make_records --input_dir=DIR --output_dir=OUT --num_shards=K --task_index=I --num_tasks=T
  python -m data_tools.make_records --input_dir=DIR --output_dir=OUT --num_shards=K --merge
  # a studio's files, world-space normals in a multi-layer EXR:
  python -m data_tools.make_records --input_dir=renders --output_dir=OUT \
      --beauty_pattern="{id}.beauty.exr" --normals_pattern="{id}.beauty.exr" \
      --normals_channels=N.X,N.Y,N.Z --mask_pattern= --normals_space=world \
      --camera_to_world=1,0,0,0,0,1,0,0,0,0,1,5,0,0,0,1

Writes OUT/<split>-NNNNN-of-KKKKK.tfrecord for split in train/val/test (chosen by a hash
of the sample id, so it never changes between runs) and OUT/index.json with per-split
counts, skipped samples and their reasons, and the schema version (tfnormals.records).
Each shard is written under a temporary name and renamed when complete; a re-run keeps
complete shards made with the same settings from the same files (names, sizes and times of every
file its samples are read from: a repaired or re-rendered sample redoes its shard) and redoes the
others, after removing the temporary files a killed run left. Samples are read in parallel.
A run in which no sample could be read leaves no records behind.

An output folder holding records made with other settings (another --num_shards, input folder,
split or layout) is refused, because a reader's glob would take both sets and every sample
twice; --overwrite replaces them. stdout is one JSON line: {"counts": {...}, "skipped": N}.
Exit code 2 for a usage mistake, 1 when no sample could be read.

Farm-scale: with --num_tasks=T, task I writes every T-th shard of the sorted (split, shard) list —
tasks are disjoint and need no coordination — and its own index, index.task-I-of-T.json, instead
of index.json. Records do not depend on T: a shard holds the same samples, in the same order,
whichever task writes it. `--merge` (same flags, after every task has finished) checks that every
shard is complete and up to date and writes index.json; a task run again resumes like a single run.
"""

import datetime
import glob
import hashlib
import json
import math
import multiprocessing
import os
import shutil

from absl import flags, logging

from tfnormals.core import cli, colorspaces, errors, image_io, layout, outputs, resume
from tfnormals.core.progress import Progress
from tfnormals.data import pairs, schema

FLAGS = flags.FLAGS

def encode_sample(job):
    """Worker: load one sample and PNG-encode it. Returns ('ok', id, source, h, w, payloads) or ('error', id, why)."""
    input_dir, sample_id, pair_format = job
    try:
        beauty, normal_map, mask, source = pairs.load_sample(input_dir, sample_id, pair_format)
        payloads = schema.encode_images(beauty, normal_map, mask,
                                        **pairs.load_passes(input_dir, sample_id, pair_format, mask))
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


def task_plan(plan, task_index, num_tasks):
    """The part of `plan` that task `task_index` of `num_tasks` writes: every num_tasks-th shard of the sorted
    (split, shard) list, so the tasks are disjoint and together write every shard."""
    return {key: ids for j, (key, ids) in enumerate(sorted(plan.items())) if j % num_tasks == task_index}


def _sidecar_path(output_dir, shard_file):
    return os.path.join(output_dir, layout.RECORDS_PROGRESS_DIR, shard_file + ".json")


def source_digest(input_dir, sample_ids, pair_format):
    """A digest of the names, sizes and modification times of every file `sample_ids` are read from: a shard made
    from them is out of date when it changes (a sample re-rendered, an unreadable file repaired)."""
    digest = hashlib.sha256()
    for sample_id in sample_ids:
        for path in pairs.sample_files(input_dir, sample_id, pair_format):
            try:
                digest.update(f"{os.path.relpath(path, input_dir)}:{resume.file_state(path)};".encode())
            except FileNotFoundError:
                digest.update(f"{os.path.relpath(path, input_dir)}:absent;".encode())
    return digest.hexdigest()


def _load_sidecar(output_dir, shard_file, assigned, settings, sources):
    """The finished shard's summary if the shard is on disk at the size it was written, and was made with the same
    settings and assignment from the same files (`sources`, source_digest()); else None."""
    path = _sidecar_path(output_dir, shard_file)
    shard = os.path.join(output_dir, shard_file)
    if not (os.path.isfile(path) and os.path.isfile(shard)):
        return None
    try:
        with open(path) as f:
            summary = json.load(f)
    except (OSError, ValueError):
        return None  # unreadable: write the shard again
    expected = {"assigned": assigned, "settings": settings, "sources": sources, "bytes": os.path.getsize(shard)}
    return summary if all(summary.get(key) == value for key, value in expected.items()) else None


def run_settings(input_dir, pair_format, num_shards, fractions):
    """Everything that decides which records a folder holds, as stored in index.json and the shard sidecars."""
    settings = {"schema_version": schema.SCHEMA_VERSION, "input_dir": os.path.abspath(input_dir),
                "num_shards": num_shards, "split_fractions": list(fractions),
                "layout": pair_format.stored_settings()}  # "layout": the key index files have always used
    return json.loads(json.dumps(settings))  # as it reads back from JSON


def _record_files(output_dir):
    """Shard files of every split and shard count, index.json, task indexes and the progress folder in `output_dir`."""
    folder = glob.escape(output_dir)
    shards = [p for split in layout.SPLITS for p in glob.glob(os.path.join(folder, layout.shard_glob(split)))]
    extra = [os.path.join(output_dir, name) for name in (layout.RECORDS_INDEX, layout.RECORDS_PROGRESS_DIR)]
    return sorted(shards), [p for p in extra if os.path.exists(p)] + _task_indexes(output_dir)


def _task_indexes(output_dir):
    return sorted(glob.glob(os.path.join(glob.escape(output_dir), layout.TASK_INDEX_GLOB)))


def foreign_records(output_dir, settings):
    """Why `output_dir` holds records that this run would not write (a list of reasons; empty when none)."""
    shards, _ = _record_files(output_dir)
    planned = {layout.shard_name(split, k, settings["num_shards"]) for split in layout.SPLITS
               for k in range(settings["num_shards"])}
    reasons = []
    others = [os.path.basename(p) for p in shards if os.path.basename(p) not in planned]
    if others:
        reasons.append(f"{len(others)} shard(s) of another --num_shards (e.g. {others[0]})")
    for index_path in [os.path.join(output_dir, layout.RECORDS_INDEX)] + _task_indexes(output_dir):
        if not os.path.isfile(index_path):
            continue
        try:
            with open(index_path) as f:
                index = json.load(f)
            changed = sorted(k for k in settings if index.get(k) != settings[k])
        except (OSError, ValueError, AttributeError):
            changed = ["an unreadable index"]
        if changed:
            reasons.append(f"{os.path.basename(index_path)} made with other settings ({', '.join(changed)})")
    return reasons


def clear_records(output_dir):
    """Delete the shards, index.json and progress folder of any earlier run in `output_dir` (nothing else)."""
    shards, extra = _record_files(output_dir)
    for path in shards + extra:
        shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)


def check_request(input_dir, output_dir, *, num_shards, fractions, workers, task_index=0, num_tasks=1,
                  overwrite=False):
    """Raise errors.UsageError, naming the flag, for anything wrong with a run before it starts."""
    if num_tasks < 1:
        raise errors.UsageError(f"--num_tasks: must be at least 1, got {num_tasks}")
    if not 0 <= task_index < num_tasks:
        raise errors.UsageError(f"--task_index: must be in [0, {num_tasks - 1}] for --num_tasks={num_tasks}, "
                                f"got {task_index}")
    if overwrite and num_tasks > 1:
        raise errors.UsageError("--overwrite with --num_tasks > 1: tasks would delete each other's shards; clear "
                                "the folder once (a single run with --overwrite, or by hand) before the array")
    if not os.path.isdir(input_dir):
        kind = "not a folder" if os.path.exists(input_dir) else "no such folder"
        raise errors.MissingPathError(f"--input_dir: {input_dir}: {kind}")
    if num_shards < 1:
        raise errors.UsageError(f"--num_shards: must be at least 1, got {num_shards}")
    if workers < 1:
        raise errors.UsageError(f"--workers: must be at least 1, got {workers}")
    if (len(fractions) != 3 or not all(math.isfinite(f) and f >= 0 for f in fractions)
            or abs(sum(fractions) - 1.0) > 1e-6):
        raise errors.UsageError(f"--split_fractions: must be three numbers (train, val, test) of at least 0 "
                                f"summing to 1, got {','.join(f'{f:g}' for f in fractions)}")
    outputs.check_writable_dir(output_dir, "--output_dir")


def _write_json(path, data):
    with image_io.atomic_output(path) as tmp:
        with open(tmp, "w") as f:
            json.dump(data, f, indent=1)


def write_shard(output_dir, shard_file, jobs, results, settings=None, sources=None):
    """Write one shard from an iterator of encode_sample results; returns its summary (with the run's `settings`,
    the `sources` digest of its samples' files and its size, which a re-run checks: _load_sidecar)."""
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
        summary = {"assigned": [job[1] for job in jobs], "written": written, "skipped": skipped, "settings": settings,
                   "sources": sources, "bytes": os.path.getsize(tmp)}
        _write_json(_sidecar_path(output_dir, shard_file), summary)
    return summary


def _samples_and_settings(input_dir, output_dir, pair_format, num_shards, fractions, overwrite):
    """(sample ids, run_settings(), reasons the folder holds other records); UsageError for no samples or, unless
    `overwrite`, records made with other settings."""
    sample_ids = pairs.find_samples(input_dir, pair_format)
    if not sample_ids:
        raise errors.UsageError(f"--input_dir: {input_dir}: no samples match --beauty_pattern "
                                f"{pair_format.beauty_pattern!r}")
    settings = run_settings(input_dir, pair_format, num_shards, fractions)
    foreign = foreign_records(output_dir, settings) if os.path.isdir(output_dir) else []
    if foreign and not overwrite:
        raise errors.UsageError(f"--output_dir: {output_dir} holds records made with other settings "
                                f"({'; '.join(foreign)}); a reader would mix both sets. Use another --output_dir, "
                                "or --overwrite to replace them")
    return sample_ids, settings, foreign


def make_records(input_dir, output_dir, pair_format, *, num_shards=16, fractions=(0.9, 0.05, 0.05), workers=1,
                 overwrite=False, task_index=0, num_tasks=1):
    """Write the shards and index.json (or, as task `task_index` of `num_tasks`, its shards and its task index);
    returns that index dict.

    Raises errors.UsageError (a ValueError) for bad settings, a missing input folder, no samples, or an
    output folder holding records made with other settings (unless `overwrite`, which replaces them).
    """
    check_request(input_dir, output_dir, num_shards=num_shards, fractions=fractions, workers=workers,
                  task_index=task_index, num_tasks=num_tasks, overwrite=overwrite)
    sample_ids, settings, foreign = _samples_and_settings(input_dir, output_dir, pair_format, num_shards, fractions,
                                                          overwrite)
    with outputs.created_dirs_removed_if_empty(output_dir):
        if foreign:
            logging.warning("--overwrite: removing the records in %s (%s)", output_dir, "; ".join(foreign))
            clear_records(output_dir)
        for folder in (output_dir, os.path.join(output_dir, layout.RECORDS_PROGRESS_DIR)):
            for name in outputs.remove_stale_temps(folder):
                logging.info("removed %s, left by an interrupted run", os.path.join(folder, name))
        plan = task_plan(plan_shards(sample_ids, num_shards, fractions), task_index, num_tasks)
        summaries = _write_shards(input_dir, output_dir, pair_format, plan, settings, workers)
        if num_tasks == 1:
            index = build_index(settings, summaries)
            if not sum(index["counts"].values()):
                clear_records(output_dir)  # empty records would only stand in the way of the corrected run
                raise nothing_read(index, "nothing was written")
            _write_json(os.path.join(output_dir, layout.RECORDS_INDEX), index)
        else:
            index = dict(build_index(settings, summaries), task_index=task_index, num_tasks=num_tasks)
            _write_json(os.path.join(output_dir, layout.task_index_name(task_index, num_tasks)), index)
    return index


def nothing_read(index, outcome):
    """The errors.Failure of a run whose samples were all skipped: how many, the first reason, and `outcome`."""
    first = index["skipped"][0] if index["skipped"] else {"id": "-", "reason": "no samples"}
    return errors.Failure(f"no sample could be read ({index['skipped_count']} skipped, e.g. {first['id']}: "
                          f"{first['reason']}); {outcome}")


def merge_records(input_dir, output_dir, pair_format, *, num_shards=16, fractions=(0.9, 0.05, 0.05)):
    """After a task array (make_records with num_tasks > 1): check that every shard of the plan is complete and
    made with these settings, then write index.json; returns it.

    Raises errors.Failure naming the shards still missing or out of date (and so the tasks to run again).
    """
    check_request(input_dir, output_dir, num_shards=num_shards, fractions=fractions, workers=1)
    sample_ids, settings, _ = _samples_and_settings(input_dir, output_dir, pair_format, num_shards, fractions, False)
    summaries, missing = {}, []
    for (split, k), ids in sorted(plan_shards(sample_ids, num_shards, fractions).items()):
        shard_file = layout.shard_name(split, k, num_shards)
        summaries[shard_file] = _load_sidecar(output_dir, shard_file, ids, settings,
                                              source_digest(input_dir, ids, pair_format))
        if summaries[shard_file] is None:
            missing.append(shard_file)
    if missing:
        raise errors.Failure(f"{output_dir}: {len(missing)} of {len(summaries)} shard(s) missing or made from other "
                             f"samples (e.g. {', '.join(missing[:3])}); run the tasks that write them again (each "
                             "resumes), then --merge")
    index = build_index(settings, summaries)
    _write_json(os.path.join(output_dir, layout.RECORDS_INDEX), index)
    return index


def _write_shards(input_dir, output_dir, pair_format, plan, settings, workers):
    """Write every shard of `plan` that is not already complete; returns {shard file: summary} for all of them."""
    os.makedirs(os.path.join(output_dir, layout.RECORDS_PROGRESS_DIR), exist_ok=True)
    num_shards = settings["num_shards"]
    summaries, pending = {}, []
    for (split, k), ids in sorted(plan.items()):
        shard_file = layout.shard_name(split, k, num_shards)
        sources = source_digest(input_dir, ids, pair_format)
        summary = _load_sidecar(output_dir, shard_file, ids, settings, sources)
        if summary is None:
            pending.append((shard_file, ids, sources))
        else:
            summaries[shard_file] = summary
    logging.info("%d samples; %d of %d shards already complete", sum(map(len, plan.values())), len(summaries),
                 len(plan))
    progress = Progress(sum(len(ids) for _, ids, _ in pending), "make_records")
    pool = multiprocessing.get_context("spawn").Pool(workers) if workers > 1 and pending else None
    try:
        for shard_file, ids, sources in pending:
            jobs = [(input_dir, sample_id, pair_format) for sample_id in ids]
            results = pool.imap(encode_sample, jobs, chunksize=4) if pool else map(encode_sample, jobs)

            def counted(results):
                for result in results:
                    progress.update(failed=result[0] != "ok")
                    yield result

            summaries[shard_file] = write_shard(output_dir, shard_file, jobs, counted(results), settings, sources)
    finally:
        if pool:
            pool.close()
            pool.join()
    return summaries


def build_index(settings, summaries):
    """index.json (or a task's index): run_settings() plus per-split counts and shard files of the shards in
    `summaries` ({shard file: summary}), and every skipped sample with its reason."""
    splits = {}
    for split in layout.SPLITS:
        files = [name for name in (layout.shard_name(split, k, settings["num_shards"])
                                   for k in range(settings["num_shards"])) if name in summaries]
        splits[split] = {"count": sum(len(summaries[f]["written"]) for f in files), "shards": files}
    skipped = [s for f in sorted(summaries) for s in summaries[f]["skipped"]]
    return dict(settings,
                created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), splits=splits,
                counts={split: splits[split]["count"] for split in layout.SPLITS},
                skipped_count=len(skipped), skipped=skipped)


def define_flags():
    """Command-line flags (defined only when run as a program, so importing defines none)."""
    flags.DEFINE_string("input_dir", None, "Folder of samples.")
    flags.DEFINE_string("output_dir", None, "Folder for the shards and index.json.")
    flags.DEFINE_integer("num_shards", 16, "Shards per split.")
    flags.DEFINE_integer("workers", os.cpu_count() or 1, "Parallel reader processes (1 = in this process).")
    flags.DEFINE_list("split_fractions", ["0.9", "0.05", "0.05"], "train,val,test fractions.")
    flags.DEFINE_boolean("overwrite", False, "Replace records of other settings found in --output_dir.")
    flags.DEFINE_integer("task_index", 0, "This task's index in a task array (0-based; e.g. $SLURM_ARRAY_TASK_ID, "
                         "$JOB_COMPLETION_INDEX).")
    flags.DEFINE_integer("num_tasks", 1, "Tasks in the array: each writes every num_tasks-th shard and its own "
                         "index.task-I-of-T.json; then run once with --merge. 1 = write index.json directly.")
    flags.DEFINE_boolean("merge", False, "After every task finished: check all shards and write index.json.")
    pairs.define_pair_format_flags()
    colorspaces.define_list_flag()


def main(argv):
    del argv
    if FLAGS.list_colorspaces:
        cli.emit(colorspaces.listing())
        return
    if not FLAGS.input_dir or not FLAGS.output_dir:
        raise errors.UsageError("--input_dir and --output_dir are required")
    try:
        fractions = tuple(float(f) for f in FLAGS.split_fractions)
    except ValueError:
        raise errors.UsageError(f"--split_fractions: expected three numbers, got {','.join(FLAGS.split_fractions)!r}") \
            from None
    pair_format = pairs.pair_format_from_flags(FLAGS)
    if FLAGS.merge:
        index = merge_records(FLAGS.input_dir, FLAGS.output_dir, pair_format, num_shards=FLAGS.num_shards,
                              fractions=fractions)
    else:
        index = make_records(FLAGS.input_dir, FLAGS.output_dir, pair_format, num_shards=FLAGS.num_shards,
                             fractions=fractions, workers=FLAGS.workers, overwrite=FLAGS.overwrite,
                             task_index=FLAGS.task_index, num_tasks=FLAGS.num_tasks)
    task = {"task_index": FLAGS.task_index, "num_tasks": FLAGS.num_tasks} if "task_index" in index else {}
    cli.emit(dict({"counts": index["counts"], "skipped": index["skipped_count"]}, **task))
    if not sum(index["counts"].values()) and index["skipped_count"]:  # a task may have no samples at all
        raise nothing_read(index, "reasons in " + os.path.join(
            FLAGS.output_dir, layout.task_index_name(FLAGS.task_index, FLAGS.num_tasks)))


if __name__ == "__main__":
    define_flags()
    cli.run(main, "data_tools.make_records")
