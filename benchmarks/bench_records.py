"""make_records throughput: samples/s and input MB/s with 1 vs N reader processes.

    python -m benchmarks.bench_records [--input_dir=DIR] [--num_samples=48 --resolution=128 --spp=8]

Without --input_dir a small set is rendered first with `python -m data_tools.render` (its own
process, so Dr.Jit never shares one with TensorFlow). Each worker count then runs in a fresh
process that imports TensorFlow before the clock starts and calls
data_tools.make_records.make_records into a new empty folder `--repeats` times; the figure is
the median. workers > 1 includes starting its spawn pool, as every real run pays it; the
"pool start" column is that fixed cost alone (a spawn pool whose workers import
data_tools.make_records, measured separately): on a small set it can outweigh the work, so use
--input_dir (with --max_samples) on a big set to see the speed-up a real conversion gets.
Input MB/s counts the bytes of the files make_records reads per sample (beauty, normals, mask).
"""

import json
import os
import shutil
import sys
import tempfile
import time

from absl import flags

from benchmarks import common

MODULE = "benchmarks.bench_records"


def _import(name):
    """Pool job: import a module (what a make_records worker does before its first sample)."""
    import importlib
    importlib.import_module(name)
    return name


def _child(cfg):
    import tensorflow as tf  # noqa: F401  (import cost is not make_records' cost)

    from data_tools import make_records
    from tfnormals.data import pairs
    pair_format = pairs.PairFormat()
    ids = pairs.find_samples(cfg["input_dir"], pair_format)
    input_bytes = sum(os.path.getsize(pair_format.path(cfg["input_dir"], role, i))
                      for i in ids for role in ("beauty", "normals", "mask"))
    seconds, out_bytes, counts = [], 0, {}
    for _ in range(cfg["repeats"]):
        out = tempfile.mkdtemp(prefix="bench_records-")
        try:
            start = time.perf_counter()
            index = make_records.make_records(cfg["input_dir"], out, pair_format, num_shards=cfg["num_shards"],
                                              workers=cfg["workers"])
            seconds.append(time.perf_counter() - start)
            counts = index["counts"]
            out_bytes = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out) if f.endswith(".tfrecord"))
        finally:
            shutil.rmtree(out, ignore_errors=True)
    pool_s = None
    if cfg["workers"] > 1:  # fixed cost of a spawn pool: interpreters plus the imports a job needs
        import multiprocessing
        start = time.perf_counter()
        with multiprocessing.get_context("spawn").Pool(cfg["workers"]) as pool:
            pool.map(_import, ["data_tools.make_records"] * cfg["workers"], chunksize=1)
        pool_s = time.perf_counter() - start
    common.emit({"samples": len(ids), "written": sum(counts.values()), "input_bytes": input_bytes,
                 "output_bytes": out_bytes, "seconds": seconds, "pool_start_s": pool_s})


def render_set(args):
    """Render a small set into a temp folder; returns (folder, seconds)."""
    folder = tempfile.mkdtemp(prefix="bench_records-input-")
    start = time.perf_counter()
    common.run_child("data_tools.render", [f"--output_dir={folder}", f"--num_samples={args.num_samples}",
                                           f"--resolution={args.resolution}", f"--spp={args.spp}", "--seed=7"])
    return folder, time.perf_counter() - start


def link_subset(input_dir, count):
    """A temp folder of symlinks to the first `count` complete sample folders of our layout."""
    from tfnormals.core import layout  # no TensorFlow
    folder = tempfile.mkdtemp(prefix="bench_records-subset-")
    names = sorted(n for n in os.listdir(input_dir) if not n.startswith("."))
    linked = 0
    for name in names:
        source = os.path.join(os.path.abspath(input_dir), name)
        if linked < count and all(os.path.isfile(os.path.join(source, f)) for f in layout.SAMPLE_REQUIRED):
            os.symlink(source, os.path.join(folder, name))
            linked += 1
    return folder


def define_flags():
    """Command-line flags (defined only when run as a program)."""
    flags.DEFINE_string("input_dir", "", "Existing folder of sample pairs (default: render one).")
    flags.DEFINE_integer("max_samples", 0,
                         "Use only the first N complete samples of --input_dir (linked into a temp folder).")
    flags.DEFINE_integer("num_samples", 48, "Samples to render when no --input_dir.")
    flags.DEFINE_integer("resolution", 128, "Resolution of the rendered samples (without --input_dir).")
    flags.DEFINE_integer("spp", 8, "Samples per pixel of the rendered samples.")
    flags.DEFINE_string("workers", "1,2", "Worker counts to compare (one process each).")
    flags.DEFINE_integer("num_shards", 4, "Shards per split.")
    flags.DEFINE_integer("repeats", 3, "Timed runs per worker count.")
    common.define_output_flags(child=True)


def main(args):
    input_dir, rendered, render_s = args.input_dir, False, None
    if input_dir and args.max_samples:
        input_dir, rendered = link_subset(input_dir, args.max_samples), True
    elif not input_dir:
        print(f"[bench_records] rendering {args.num_samples} samples ...", file=sys.stderr, flush=True)
        input_dir, render_s = render_set(args)
        rendered = True
    try:
        rows = []
        for workers in [int(w) for w in args.workers.split(",")]:
            print(f"[bench_records] workers={workers} ...", file=sys.stderr, flush=True)
            cfg = {"input_dir": input_dir, "workers": workers, "num_shards": args.num_shards, "repeats": args.repeats}
            r = common.run_child(MODULE, [f"--child={json.dumps(cfg)}"])
            s = common.median(r["seconds"])
            rows.append({"workers": workers, "samples": r["samples"], "written": r["written"], "seconds": s,
                         "samples_per_s": r["samples"] / s, "input_mb_s": r["input_bytes"] / 1e6 / s,
                         "input_mb": r["input_bytes"] / 1e6, "output_mb": r["output_bytes"] / 1e6,
                         "all_seconds": r["seconds"], "pool_start_s": r["pool_start_s"]})
    finally:
        if rendered:
            shutil.rmtree(input_dir, ignore_errors=True)
    base = rows[0]["samples_per_s"]
    table = common.markdown_table(
        ["workers", "samples", "median s", "samples/s", "input MB/s", "input MB", "records MB",
         "pool start s", "speed-up vs first"],
        [[r["workers"], r["samples"], r["seconds"], r["samples_per_s"], r["input_mb_s"], r["input_mb"], r["output_mb"],
          r["pool_start_s"], r["samples_per_s"] / base] for r in rows])
    if args.input_dir:
        source = f"`{common.display_path(args.input_dir)}`" + (f", first {rows[0]['samples']} samples"
                                                               if args.max_samples else "")
    else:
        source = f"{args.num_samples} samples rendered at {args.resolution}², {args.spp} spp ({render_s:.1f} s)"
    text = (f"### make_records ({source}; {args.num_shards} shards per split; median of {args.repeats} runs)\n\n"
            + table)
    return common.finish(MODULE, {"name": "records", "markdown": text, "rows": rows, "targets": []},
                         args.json_out)


if __name__ == "__main__":
    define_flags()
    common.run(main, MODULE, child=_child)
