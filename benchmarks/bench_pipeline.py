"""Input pipeline on one core vs the training step's consumption rate, in one run.

    python -m benchmarks.bench_pipeline [--records_dir=../data/records192] [--batches=20] [--steps=8]

Pipeline: tfnormals.data.make_dataset in training mode with the shipped config's settings
(configs/shipped.flags: batch, load size, shuffle buffer), restricted to one core with
tf.data options (threading.private_threadpool_size=1, threading.max_intra_op_parallelism=1,
autotune.cpu_budget=1, applied with ds.with_options). After a warm-up that fills the shuffle
buffer, `--repeats` blocks of `--batches` batches are pulled as fast as possible (rates are
medians over blocks); the CPU time the process used meanwhile divided by the wall time says
how many cores it really took (tf.data options bound its thread pool; a few ops such as
parallel interleave start their own threads, so the measured figure is what counts). A second, reduced
pipeline (read + parse + decode + batch, no shuffle or crop, same options) shows how much of
it is PNG decoding.

Step: tfnormals.gan.NormalsGAN built by tfnormals.train.build_gan from the same config
(augmentation included, all cores), trained with fit() on a few batches held in memory, so
the rate is the step alone; step time is the median interval between on_train_batch_end
calls after `--warmup_steps`. Target: pipeline batches/s ≥ 3 × step batches/s on ≤ 1 core.
"""

import os
import shutil
import sys
import time

from absl import flags

from benchmarks import common

MODULE = "benchmarks.bench_pipeline"
TARGET_RATIO = 3.0
CORE_TOLERANCE = 1.1  # the consuming Python thread adds a little on top of the pipeline's one thread


def one_core_options():
    import tensorflow as tf
    options = tf.data.Options()
    options.threading.private_threadpool_size = 1
    options.threading.max_intra_op_parallelism = 1
    options.autotune.cpu_budget = 1
    return options


def pull(iterator, count):
    """Pull `count` elements; returns (wall seconds, CPU seconds of this process)."""
    cpu0, t0 = common.cpu_seconds(), time.perf_counter()
    for _ in range(count):
        next(iterator)
    return time.perf_counter() - t0, common.cpu_seconds() - cpu0


def rates(iterator, count, repeats):
    """Median elements/s and median cores used over `repeats` back-to-back blocks of `count` pulls."""
    blocks = [pull(iterator, count) for _ in range(repeats)]
    return common.median(count / wall for wall, _ in blocks), common.median(cpu / wall for wall, cpu in blocks)


def measure_pipeline(records_dir, config, batches, warmup, repeats):
    from tfnormals.data import dataset
    ds = dataset.make_dataset(records_dir, "train", config.batch_size, config.load_size, training=True,
                           shuffle_buffer=config.shuffle_buffer, cache=config.cache, seed=config.seed)
    it = iter(ds.with_options(one_core_options()))
    fill_s, _ = pull(it, warmup)  # the first batch waits for the shuffle buffer
    rate, cores = rates(it, batches, repeats)
    return {"batches_per_s": rate, "cores": cores, "fill_s": fill_s}


def measure_decode(records_dir, batch_size, batches, repeats):
    """Batches/s of read + parse + decode + batch alone (no shuffle, crop or pad), one core."""
    import tensorflow as tf

    from tfnormals.data import dataset, schema
    files = dataset.list_shards(records_dir, "train")
    ds = tf.data.TFRecordDataset(files).map(schema.decode_example, num_parallel_calls=tf.data.AUTOTUNE)
    it = iter(ds.repeat().padded_batch(batch_size).with_options(one_core_options()))
    pull(it, 2)
    rate, cores = rates(it, batches, repeats)
    return {"batches_per_s": rate, "cores": cores}


def measure_step(records_dir, config, steps, warmup_steps, held_batches=4):
    """Median seconds per NormalsGAN train step on in-memory batches (returns dict)."""
    import keras
    import tensorflow as tf

    from tfnormals.data import dataset
    from tfnormals.training.loop import build_gan
    keras.utils.set_random_seed(config.seed)
    ds = dataset.make_dataset(records_dir, "train", config.batch_size, config.load_size, training=True,
                           shuffle_buffer=64, seed=config.seed)
    held = [{k: b[k] for k in ("beauty", "normals", "mask")} for b in ds.take(held_batches)]
    stacked = {k: tf.stack([b[k] for b in held]) for k in held[0]}
    memory = tf.data.Dataset.from_tensor_slices(stacked).repeat()
    gan = build_gan(config)
    intervals = common.fit_step_times(gan, memory, warmup_steps, steps)
    step_s = common.median(intervals[warmup_steps:])
    return {"step_s": step_s, "batches_per_s": 1.0 / step_s, "images_per_s": config.batch_size / step_s,
            "first_step_s": intervals[0], "intervals": intervals}


def define_flags():
    """Command-line flags (defined only when run as a program)."""
    flags.DEFINE_string("records_dir", common.SHIPPED_RECORDS,
                        "Records to read (default ../data/records192; a small set is made if missing).")
    flags.DEFINE_string("train_flags", common.SHIPPED_FLAGS, "Training config to take settings from.")
    flags.DEFINE_integer("batches", 20, "Timed pipeline batches per repeat.")
    flags.DEFINE_integer("repeats", 3, "Timed blocks; rates are their medians.")
    flags.DEFINE_integer("warmup_batches", 5, "Untimed pipeline batches before each timed block.")
    flags.DEFINE_integer("steps", 8, "Timed train steps.")
    flags.DEFINE_integer("warmup_steps", 3, "Untimed train steps first (the first traces the function).")
    common.define_output_flags(child=False)


def main(args):
    records_dir, made = args.records_dir, None
    if not common.has_records(records_dir):
        print(f"[bench_pipeline] no records in {records_dir}; making a small set ...", file=sys.stderr, flush=True)
        records_dir = made = common.small_records()
    try:
        config = common.train_config(args.train_flags, records_dir=records_dir)
        print("[bench_pipeline] pipeline ...", file=sys.stderr, flush=True)
        pipe = measure_pipeline(records_dir, config, args.batches, args.warmup_batches, args.repeats)
        decode = measure_decode(records_dir, config.batch_size, args.batches, args.repeats)
        print("[bench_pipeline] train step ...", file=sys.stderr, flush=True)
        step = measure_step(records_dir, config, args.steps, args.warmup_steps)
    finally:
        if made:
            shutil.rmtree(os.path.dirname(made), ignore_errors=True)
    ratio = pipe["batches_per_s"] / step["batches_per_s"]
    decode_batch_s = 1.0 / decode["batches_per_s"]
    pipe_batch_s = 1.0 / pipe["batches_per_s"]
    rows = [["input pipeline, 1 core (tf.data options)", pipe["batches_per_s"],
             pipe["batches_per_s"] * config.batch_size, 1000 * pipe_batch_s, pipe["cores"]],
            ["  of which read + parse + decode + batch (same options)", decode["batches_per_s"],
             decode["batches_per_s"] * config.batch_size, 1000 * decode_batch_s, decode["cores"]],
            ["train step (fit on in-memory batches, all cores)", step["batches_per_s"], step["images_per_s"],
             1000 * step["step_s"], None]]
    records_name = common.display_path(records_dir) if not made else "small temporary set"
    text = (f"### Input pipeline vs training step (`{args.train_flags and common.display_path(args.train_flags)}`: "
            f"batch {config.batch_size}, load {config.load_size}, crop {config.crop_size}, shuffle buffer "
            f"{config.shuffle_buffer}; records `{records_name}`)\n\n"
            + common.markdown_table(["stage", "batches/s", "images/s", "ms/batch", "cores used"], rows)
            + f"\n\nPipeline / step ratio (same run): **{ratio:.2f}×** "
              f"(shuffle-buffer fill + {args.warmup_batches} warm-up batches took {pipe['fill_s']:.1f} s; "
              f"first train step incl. tracing {step['first_step_s']:.1f} s)")
    met = ratio >= TARGET_RATIO and pipe["cores"] <= CORE_TOLERANCE
    limits = (f"pipeline {1000 * pipe_batch_s:.0f} ms/batch on {pipe['cores']:.2f} cores, of which read+decode+batch "
              f"~{1000 * decode_batch_s:.0f} ms ({100 * min(decode_batch_s / pipe_batch_s, 1):.0f}%); "
              f"step {1000 * step['step_s']:.0f} ms/batch")
    targets = [common.target(f"pipeline ≥ {TARGET_RATIO:g}× train-step rate on ≤ 1 core",
                             f"{ratio:.2f}× on {pipe['cores']:.2f} cores", met, limits)]
    return common.finish(MODULE, {"name": "pipeline", "markdown": text, "pipeline": pipe, "decode": decode,
                                        "step": step, "ratio": ratio, "targets": targets}, args.json_out)


if __name__ == "__main__":
    define_flags()
    common.run(main, MODULE)
