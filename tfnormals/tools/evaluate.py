"""Evaluate a model on records or on a folder of pairs, beside the flat, best-constant and
luminance-gradient baselines.

Metrics are over masked pixels (mask ≥ 0.5) of whole images: mean and median angular error in
degrees and the % of pixels under 11.25°, 22.5° and 30°. The JSON has those keys for "model",
"flat", "best_constant" and "luminance_gradient", per-image results under "images", and the
settings used. A triptych PNG (input | ground truth | prediction) is written per image.
"""

import json
import os

import numpy as np
from absl import logging

from tfnormals.core import conventions, image_io, layout, normals
from tfnormals.core.progress import Progress
from tfnormals.data import pairs
from tfnormals.tools import baselines
from tfnormals.tools.model_io import NormalsModel
from tfnormals.training import callbacks

METHODS = ("model", "flat", "best_constant", "luminance_gradient")
BASELINE_FIT_IMAGES = 64


def iter_records(records_dir, split, limit=0):
    """(id, beauty, normals, mask[H, W]) numpy tuples of a split, whole images."""
    import tensorflow as tf

    from tfnormals.data import dataset, schema
    ds = tf.data.TFRecordDataset(dataset.list_shards(records_dir, split)).map(schema.decode_example)
    for i, ex in enumerate(ds):
        if limit and i >= limit:
            return
        yield ex["id"].numpy().decode(), ex["beauty"].numpy(), ex["normals"].numpy(), ex["mask"].numpy()[..., 0]


def iter_pairs(pairs_dir, pair_layout, limit=0):
    """The same tuples from a folder of pairs; bad samples are reported and skipped."""
    for i, sample_id in enumerate(pairs.find_samples(pairs_dir, pair_layout)):
        if limit and i >= limit:
            return
        try:
            beauty, normal_map, mask, _ = pairs.load_sample(pairs_dir, sample_id, pair_layout)
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


def _record_count(records_dir, split, limit):
    index_path = os.path.join(records_dir, layout.RECORDS_INDEX)
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


def evaluate_model(model_path, output_json, records="", split="test", pairs_dir="", pair_layout=None,
                   train_records="", triptych_dir="", max_images=0):
    """What `python -m tfnormals.evaluate` does: evaluate on records or pairs, write the JSON report, return it.

    Baselines are fitted on `train_records` (default `records`) train split, or, with neither, on
    the evaluated pairs themselves (an optimistic floor, noted in the report).
    """
    if bool(records) == bool(pairs_dir):
        raise ValueError("give exactly one of records or pairs_dir")
    model = NormalsModel(model_path)
    train_records = train_records or records
    if train_records:
        fit_note = f"{train_records} train split"
        fit_examples = list(iter_records(train_records, "train", BASELINE_FIT_IMAGES))
    else:
        fit_note = "the evaluated pairs themselves (no training records given: an optimistic floor)"
        fit_examples = list(iter_pairs(pairs_dir, pair_layout, BASELINE_FIT_IMAGES))
    fitted = dict(fit_baselines(fit_examples), fitted_on=fit_note)
    if records:
        examples = iter_records(records, split, max_images)
        total = _record_count(records, split, max_images)
    else:
        examples, total = iter_pairs(pairs_dir, pair_layout, max_images), None
    triptych_dir = triptych_dir or os.path.splitext(output_json)[0] + "_triptychs"
    report = evaluate(model, examples, fitted, triptych_dir, total)
    report["settings"] = {"model": model_path, "records": records, "split": split, "pairs_dir": pairs_dir,
                          "mask_threshold": conventions.MASK_THRESHOLD}
    with image_io.atomic_output(output_json) as tmp:
        with open(tmp, "w") as f:
            json.dump(report, f, indent=1)
    return report
