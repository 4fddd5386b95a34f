"""Evaluate a model on records or on a folder of pairs, beside the flat, best-constant and
luminance-gradient baselines.

Usage:
  python -m tfnormals.evaluate --model=SAVEDMODEL_OR_RUN_DIR --records=RECORDS_DIR --output_json=F
  python -m tfnormals.evaluate --model=M --pairs_dir=DIR [pair-layout flags] --train_records=R --output_json=F

Metrics are over masked pixels (mask ≥ 0.5) of whole images: mean and median angular error in
degrees and the % of pixels under 11.25°, 22.5° and 30°. The JSON has those keys for "model",
"flat", "best_constant" and "luminance_gradient", per-image results under "images", and the
settings used. A triptych PNG (input | ground truth | prediction) is written per image.
"""

import json
import os

import numpy as np
from absl import app, flags, logging

from tfnormals import baselines, callbacks, conventions, image_io, normals
from tfnormals.model_io import NormalsModel
from tfnormals.progress import Progress

FLAGS = flags.FLAGS
METHODS = ("model", "flat", "best_constant", "luminance_gradient")
BASELINE_FIT_IMAGES = 64


def iter_records(records_dir, split, limit=0):
    """(id, beauty, normals, mask[H, W]) numpy tuples of a split, whole images."""
    import tensorflow as tf
    from tfnormals import data, records
    ds = tf.data.TFRecordDataset(data.list_shards(records_dir, split)).map(records.decode_example)
    for i, ex in enumerate(ds):
        if limit and i >= limit:
            return
        yield ex["id"].numpy().decode(), ex["beauty"].numpy(), ex["normals"].numpy(), ex["mask"].numpy()[..., 0]


def iter_pairs(pairs_dir, layout, limit=0):
    """The same tuples from a folder of pairs; bad samples are reported and skipped."""
    from data_tools import pairs
    for i, sample_id in enumerate(pairs.find_samples(pairs_dir, layout)):
        if limit and i >= limit:
            return
        try:
            beauty, normal_map, mask, _ = pairs.load_sample(pairs_dir, sample_id, layout)
        except pairs.SampleError as e:
            logging.warning("skipping %s: %s", sample_id, e)
            continue
        yield sample_id, beauty, normal_map, mask


def fit_baselines(train_examples):
    """Best constant normal and luminance-gradient strength from training examples."""
    plates, maps, masks = zip(*[(b, n, m) for _, b, n, m in train_examples])
    return {"best_constant": baselines.mean_normal(maps, masks).tolist(),
            "gradient_strength": baselines.fit_gradient_strength(plates, maps, masks)}


def predictions(model, beauty, fitted):
    """Every method's prediction for one plate."""
    shape = beauty.shape[:2] + (3,)
    return {"model": model(beauty[None])[0],
            "flat": baselines.flat(shape),
            "best_constant": baselines.constant(shape, fitted["best_constant"]),
            "luminance_gradient": baselines.luminance_gradient(beauty, fitted["gradient_strength"])}


def evaluate(model, examples, fitted, triptych_dir="", total=None):
    """Metrics of every method over `examples`; returns the report dict."""
    errors = {m: [] for m in METHODS}
    images = []
    progress = Progress(total or 0, "evaluate", interval=10.0) if total else None
    for sample_id, beauty, target, mask in examples:
        valid = mask >= conventions.MASK_THRESHOLD
        if not np.any(valid):
            logging.warning("skipping %s: empty mask", sample_id)
            continue
        preds = predictions(model, beauty, fitted)
        entry = {"id": sample_id, "pixels": int(valid.sum())}
        for method, pred in preds.items():
            e = normals.angular_error_deg(pred, target)[valid]
            errors[method].append(e)
            entry[method] = normals.angular_metrics(e)
        images.append(entry)
        if triptych_dir:
            name = sample_id.replace("/", "_") + ".png"
            image_io.write_png(os.path.join(triptych_dir, name), callbacks.triptych(beauty, target, preds["model"], mask[..., None]))
        if progress:
            progress.update()
    if not images:
        raise ValueError("no images with masked pixels to evaluate")
    report = {m: normals.angular_metrics(np.concatenate(errors[m])) for m in METHODS}
    report.update(count=len(images), pixels=int(sum(i["pixels"] for i in images)), fitted_baselines=fitted,
                  images=images)
    return report


def define_flags():
    """Command-line flags (only when run as a program)."""
    from data_tools import pairs
    flags.DEFINE_string("model", conventions.DEFAULT_MODEL_DIR, "SavedModel folder or training run folder.")
    flags.DEFINE_string("records", "", "Records folder to evaluate (its --split).")
    flags.DEFINE_string("split", "test", "Split of --records to evaluate.")
    flags.DEFINE_string("pairs_dir", "", "Instead of records: a folder of pairs (see the layout flags).")
    flags.DEFINE_string("train_records", "", "Records whose train split fits the baselines (default --records).")
    flags.DEFINE_string("output_json", "evaluation.json", "Report file.")
    flags.DEFINE_string("triptych_dir", "", "Where triptychs go (default: <output_json stem>_triptychs).")
    flags.DEFINE_integer("max_images", 0, "Evaluate at most this many images (0 = all).")
    pairs.define_layout_flags()


def main(argv):
    del argv
    from data_tools import pairs
    if bool(FLAGS.records) == bool(FLAGS.pairs_dir):
        raise app.UsageError("give exactly one of --records or --pairs_dir")
    model = NormalsModel(FLAGS.model)
    train_records = FLAGS.train_records or FLAGS.records
    fit_note = f"{train_records} train split"
    if train_records:
        fit_examples = list(iter_records(train_records, "train", BASELINE_FIT_IMAGES))
    else:
        fit_note = "the evaluated pairs themselves (no training records given: an optimistic floor)"
        fit_examples = list(iter_pairs(FLAGS.pairs_dir, pairs.layout_from_flags(FLAGS), BASELINE_FIT_IMAGES))
    fitted = dict(fit_baselines(fit_examples), fitted_on=fit_note)
    if FLAGS.records:
        examples = iter_records(FLAGS.records, FLAGS.split, FLAGS.max_images)
        total = _record_count(FLAGS.records, FLAGS.split, FLAGS.max_images)
    else:
        examples = iter_pairs(FLAGS.pairs_dir, pairs.layout_from_flags(FLAGS), FLAGS.max_images)
        total = None
    triptych_dir = FLAGS.triptych_dir or os.path.splitext(FLAGS.output_json)[0] + "_triptychs"
    report = evaluate(model, examples, fitted, triptych_dir, total)
    report["settings"] = {"model": FLAGS.model, "records": FLAGS.records, "split": FLAGS.split,
                          "pairs_dir": FLAGS.pairs_dir, "mask_threshold": conventions.MASK_THRESHOLD}
    with image_io.atomic_output(FLAGS.output_json) as tmp:
        with open(tmp, "w") as f:
            json.dump(report, f, indent=1)
    print(format_table(report))


def _record_count(records_dir, split, limit):
    index_path = os.path.join(records_dir, "index.json")
    if not os.path.isfile(index_path):
        return None
    with open(index_path) as f:
        count = json.load(f)["counts"][split]
    return min(count, limit) if limit else count


def format_table(report):
    """A markdown table of every method's metrics."""
    keys = ["mean", "median"] + [normals.threshold_key(t) for t in conventions.ANGLE_THRESHOLDS_DEG]
    lines = ["| method | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for method in METHODS:
        lines.append(f"| {method} | " + " | ".join(f"{report[method][k]:.2f}" for k in keys) + " |")
    return "\n".join(lines) + f"\n\n{report['count']} images, {report['pixels']} masked pixels"


if __name__ == "__main__":
    define_flags()
    app.run(main)
