"""Evaluate a model on records or on a folder of pairs, beside baselines.

Normals: over masked pixels (mask ≥ 0.5) of whole images, mean and median angular error in
degrees and the % of pixels under 11.25°, 22.5° and 30°, for "model", "flat", "best_constant"
and "luminance_gradient". When the model predicts depth and the examples have it, "depth" holds
AbsRel and δ < 1.25 after per-image median scaling and after least-squares scale and shift, for
the model, a constant and a ground plane seen from eye level (means over images); and
"p_normals_agreement_deg", the mean angle between normals derived from the predicted position
pass (depth + the camera's field of view) and the predicted normals. When it predicts albedo,
"albedo" holds the scale-invariant MSE of the model and of the plate used as albedo. "families"
holds the errors per scene family and on floor and wall pixels (tfnormals.tools.family_report; a folder of our
renders, which carry an ID pass, also splits the floor pixels into set pieces and objects); "anatomy" the
model's error on detail and smooth pixels and after the best rotation of each image (tfnormals.tools.error_anatomy);
"depth" → "anatomy" the depth error's share at depth edges, the AbsRel with each image's own best contrast and with
one per lens, without the worst images and of the median image (tfnormals.tools.depth_anatomy).
Per-image results are under "images". A triptych PNG (input | ground truth | prediction) is written per image.

Nothing is written unless the whole evaluation succeeds: the shards of the evaluated split are
checked (CRC) before the model is loaded, a damaged shard (truncated or corrupt) is named with
the record it breaks at, and the triptychs are built in a temporary folder that replaces the
triptych folder only at the end, before the JSON report is renamed into place.
"""

import contextlib
import dataclasses
import json
import os
import re

import numpy as np
from absl import logging

from tfnormals.core import camera, conventions, errors, image_io, layout, normals, outputs, shots
from tfnormals.core.progress import Progress
from tfnormals.data import pairs
from tfnormals.tools import baselines, depth_anatomy, error_anatomy, family_report, fusion

METHODS = ("model", "flat", "best_constant", "luminance_gradient")
DEPTH_METHODS = ("model", "constant", "ground_plane")
ALBEDO_METHODS = ("model", "plate")
BASELINE_FIT_IMAGES = 64
NATIVE = "native"  # the network on each whole image at its own size (every held-out table before --mode)
VIEWS = (NATIVE,) + fusion.MODES  # how the network may see an evaluated image: natively or as predict runs it


def inference_settings(view, working_size=0):
    """The fusion.PassSettings a view asks for (predict's mode at `working_size`), None for NATIVE."""
    return None if view == NATIVE else fusion.PassSettings(mode=view, working_size=working_size)


@dataclasses.dataclass
class Example:
    """One evaluated image: sRGB plate, camera-space normals, coverage mask (H×W), and optional
    depth (H×W, 0 = none), linear albedo (H×W×3), horizontal field of view (degrees), scene family and ID pass
    (H×W ints, tfnormals.core.layout's numbering)."""

    id: str
    beauty: np.ndarray
    normals: np.ndarray
    mask: np.ndarray
    depth: np.ndarray = None
    albedo: np.ndarray = None
    hfov: float = None
    family: str = None
    ids: np.ndarray = None


class NothingToEvaluate(errors.Failure, ValueError):
    """No image had masked pixels (a Failure for the command; a ValueError, as always, for callers)."""


def list_shards(records_dir, split, flag="--records"):
    """The split's shard files; errors.UsageError naming the flag when the folder or its shards are missing, when
    its index.json says the split is empty, or when it holds records of a schema this code does not read."""
    from tfnormals.data import dataset, schema
    if not os.path.isdir(records_dir):
        raise errors.MissingPathError(f"{flag}: {records_dir}: no such folder")
    index = schema.read_index(records_dir, flag)
    counts = (index or {}).get("counts", {})
    if counts.get(split) == 0:
        what = "--split" if flag == "--records" else flag
        raise errors.UsageError(f"{what}: {records_dir} holds no {split} samples (index.json counts "
                                f"{', '.join(f'{k} {v}' for k, v in counts.items())})")
    try:
        return dataset.list_shards(records_dir, split)
    except FileNotFoundError:
        raise errors.UsageError(f"{flag}: {records_dir} holds no {split} shards ({layout.shard_glob(split)})") from None


def _cause(error):
    """What a TensorFlow error says is wrong, on one line, without the graph and iterator names around it."""
    text = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", error.message)
    text = re.sub(r"\s*(\[\[\{\{node |\[Op:).*", "", text, flags=re.S)
    text = re.sub(r"Error in user-defined function passed to \S+ transformation with iterator: \S+: ", "", text)
    return errors.one_line(text)[:300]


def _damaged(shard, record, error):
    import tensorflow as tf
    kind = "truncated or corrupt" if isinstance(error, tf.errors.DataLossError) else "undecodable record"
    return errors.Failure(f"{shard}: damaged shard ({kind} at record {record}: {_cause(error)})")


def verify_shards(files, flag="--records"):
    """Read every record of `files` (CRC-checked) and decode the first of each shard; returns how many records
    there are. errors.UsageError when a shard's records are not tfnormals records (another schema), errors.Failure
    naming the first damaged shard."""
    import tensorflow as tf

    from tfnormals.data import schema
    total = 0
    for shard in files:
        count = 0
        try:
            for record in tf.data.TFRecordDataset(shard):
                if count == 0:
                    try:
                        schema.decode_example(record)
                    except tf.errors.InvalidArgumentError as e:
                        raise errors.UsageError(f"{flag}: {shard}: not tfnormals records of schema version "
                                                f"{' or '.join(map(str, schema.READABLE_VERSIONS))} ({_cause(e)})")
                count += 1
        except tf.errors.OpError as e:
            raise _damaged(shard, count, e) from None
        total += count
    return total


def iter_records(records_dir, split, limit=0):
    """Examples of a split, whole images, shard by shard.

    A damaged shard raises errors.Failure naming it and the record it breaks at.
    """
    import tensorflow as tf

    from tfnormals.data import dataset, schema
    count = 0
    for shard in dataset.list_shards(records_dir, split):
        record = 0
        try:
            for ex in tf.data.TFRecordDataset(shard).map(schema.decode_example):
                if limit and count >= limit:
                    return
                yield Example(ex["id"].numpy().decode(), ex["beauty"].numpy(), ex["normals"].numpy(),
                              ex["mask"].numpy()[..., 0],
                              ex["depth"].numpy()[..., 0] if float(ex["has_depth"]) else None,
                              ex["albedo"].numpy() if float(ex["has_albedo"]) else None,
                              float(ex["hfov"]) or None, ex["family"].numpy().decode() or None)
                record, count = record + 1, count + 1
        except tf.errors.OpError as e:
            raise _damaged(shard, record, e) from None


def iter_pairs(pairs_dir, pair_format, limit=0):
    """The same examples from a folder of pairs; bad samples are reported and skipped."""
    for i, sample_id in enumerate(pairs.find_samples(pairs_dir, pair_format)):
        if limit and i >= limit:
            return
        try:
            beauty, normal_map, mask, _ = pairs.load_sample(pairs_dir, sample_id, pair_format)
            passes = pairs.load_passes(pairs_dir, sample_id, pair_format, mask)
        except pairs.SampleError as e:
            logging.warning("skipping %s: %s", sample_id, e)
            continue
        yield Example(sample_id, beauty, normal_map, mask, **passes,
                      ids=render_ids(pairs_dir, sample_id, pair_format, mask.shape))


def render_ids(pairs_dir, sample_id, pair_format, shape):
    """Our renderer's ID pass (layout.IDS_PNG beside the sample's beauty; its numbering is ours, so a studio's
    folders have none) at the sample's evaluated size `shape` (nearest pixel); None when absent, unreadable or of
    another size than the beauty (those two reported)."""
    path = os.path.join(os.path.dirname(pair_format.path(pairs_dir, "beauty", sample_id)), layout.IDS_PNG)
    if not os.path.isfile(path):
        return None
    try:
        ids = shots.read_ids(path)
        factor = pairs.pass_factor(path, ids.shape, shape, pair_format.max_sample_side)
    except (image_io.ImageError, OSError, pairs.SampleError) as e:
        logging.warning("%s: no floor parts for this sample: %s", sample_id, errors.one_line(e))
        return None
    return ids[::factor, ::factor][:shape[0], :shape[1]]  # load_sample's box downscale, as a nearest pick


def fit_baselines(train_examples):
    """Best constant normal and luminance-gradient strength from training examples."""
    plates, maps, masks = zip(*[(e.beauty, e.normals, e.mask) for e in train_examples])
    return {"best_constant": baselines.mean_normal(maps, masks).tolist(),
            "gradient_strength": baselines.fit_gradient_strength(plates, maps, masks)}


def predictions(passes, beauty, fitted):
    """Every method's normals for one plate, given the model's passes for it."""
    shape = beauty.shape[:2] + (3,)
    return {"model": passes["normals"],
            "flat": baselines.flat(shape),
            "best_constant": baselines.constant(shape, fitted["best_constant"]),
            "luminance_gradient": baselines.luminance_gradient(beauty, fitted["gradient_strength"])}


def depth_entry(passes, example, valid):
    """Depth metrics of the model and the depth baselines on one image, and the P-normals agreement."""
    truth = example.depth
    valid = valid & (truth > 0)
    if not np.any(valid):
        return None
    shape = truth.shape
    entry = {m: camera.depth_metrics(d, truth, valid) for m, d in (
        ("model", passes["depth"][..., 0]), ("constant", baselines.constant_depth(shape)),
        ("ground_plane", baselines.ground_plane_depth(shape)))}
    entry["contrast"] = camera.depth_contrast_metrics(passes["depth"][..., 0], truth, valid)
    entry["hfov"] = example.hfov
    entry["anatomy"] = depth_anatomy.image_entry(passes["depth"][..., 0], truth, valid)
    fov = example.hfov or camera.CameraSettings().field_of_view()
    position = camera.position_from_depth(passes["depth"][..., 0], camera.focal_pixels(shape[1], fov))
    derived = camera.normals_from_position(position, valid)
    inner = valid & (np.linalg.norm(derived, axis=-1) > 0)
    if np.any(inner):
        entry["p_normals_agreement_deg"] = float(normals.angular_error_deg(derived, passes["normals"])[inner].mean())
    return entry


def albedo_entry(passes, example, valid):
    """Scale-invariant MSE of the model's albedo and of the plate as albedo on one image."""
    return {"model": camera.albedo_si_mse(passes["albedo"], example.albedo, valid),
            "plate": camera.albedo_si_mse(baselines.plate_albedo(example.beauty), example.albedo, valid)}


def evaluate(model, examples, fitted, triptych_dir="", total=None, inference=None):
    """Metrics of every method over `examples`; returns the report dict (see the module docstring). The network
    sees each image whole at its own size, or as predict runs it with `inference` (a fusion.PassSettings)."""
    errors_deg = {m: [] for m in METHODS}
    images = []
    progress = Progress(total or 0, "evaluate", interval=10.0) if total else None
    for example in examples:
        valid = example.mask >= conventions.MASK_THRESHOLD
        if not np.any(valid):
            logging.warning("skipping %s: empty mask", example.id)
            continue
        if inference:
            passes = inference.passes(model, example.beauty)
        else:
            passes = {name: value[0] for name, value in model.predict_passes(example.beauty[None]).items()}
        preds = predictions(passes, example.beauty, fitted)
        entry = {"id": example.id, "pixels": int(valid.sum()), "family": example.family or "unknown"}
        for method, pred in preds.items():
            e = normals.angular_error_deg(pred, example.normals)[valid]
            errors_deg[method].append(e)
            entry[method] = normals.angular_metrics(e)
        entry["regions"] = family_report.image_entry(preds, example.normals, valid, example.ids)
        entry["anatomy"] = error_anatomy.image_entry(preds["model"], example.normals, valid)
        if "depth" in passes and example.depth is not None:
            entry["depth"] = depth_entry(passes, example, valid)
        if "albedo" in passes and example.albedo is not None:
            entry["albedo"] = albedo_entry(passes, example, valid)
        images.append(entry)
        if triptych_dir:
            from tfnormals.training import callbacks
            name = example.id.replace("/", "_") + ".png"
            triptych = callbacks.triptych(example.beauty, example.normals, preds["model"], example.mask[..., None])
            image_io.write_png(os.path.join(triptych_dir, name), triptych)
        if progress:
            progress.update()
    if not images:
        raise NothingToEvaluate("no images with masked pixels to evaluate")
    report = {m: normals.angular_metrics(np.concatenate(errors_deg[m])) for m in METHODS}
    report.update(_pass_summaries(images), families=family_report.summary(images),
                  anatomy=error_anatomy.summary([i["anatomy"] for i in images]))
    report.update(count=len(images), pixels=int(sum(i["pixels"] for i in images)), fitted_baselines=fitted,
                  images=images)
    return report


def _pass_summaries(images):
    """Means over images of the per-image depth and albedo metrics (only for the passes evaluated)."""
    summary = {}
    with_depth = [i for i in images if i.get("depth")]
    depth = [i["depth"] for i in with_depth]
    if depth:
        summary["depth"] = {m: {k: float(np.mean([d[m][k] for d in depth])) for k in depth[0][m]}
                            for m in DEPTH_METHODS}
        summary["depth"]["count"] = len(depth)
        summary["depth"]["contrast"] = {k: {m: float(np.mean([d["contrast"][k][m] for d in depth]))
                                            for m in depth[0]["contrast"][k]} for k in depth[0]["contrast"]}
        summary["depth"]["anatomy"] = depth_anatomy.summary([i["id"] for i in with_depth], depth)
        agreement = [d["p_normals_agreement_deg"] for d in depth if "p_normals_agreement_deg" in d]
        if agreement:
            summary["p_normals_agreement_deg"] = float(np.mean(agreement))
    albedo = [i["albedo"] for i in images if i.get("albedo")]
    if albedo:
        summary["albedo"] = {m: float(np.mean([a[m] for a in albedo])) for m in ALBEDO_METHODS}
        summary["albedo"]["count"] = len(albedo)
    return summary


def _record_count(records_dir, split, limit):
    index_path = os.path.join(records_dir, layout.RECORDS_INDEX)
    try:
        with open(index_path) as f:
            count = int(json.load(f)["counts"][split])
    except (OSError, ValueError, KeyError, TypeError):
        return None  # only the progress line's total depends on it
    return min(count, limit) if limit else count


def format_table(report):
    """Markdown tables of every method's metrics: normals, and depth and albedo when evaluated."""
    keys = ["mean", "median"] + [normals.threshold_key(t) for t in conventions.ANGLE_THRESHOLDS_DEG]
    lines = ["| method | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for method in METHODS:
        lines.append(f"| {method} | " + " | ".join(f"{report[method][k]:.2f}" for k in keys) + " |")
    text = "\n".join(lines) + f"\n\n{report['count']} images, {report['pixels']} masked pixels"
    text += "\n\n" + family_report.format_table(report["families"])
    text += "\n\n" + error_anatomy.format_line(report["anatomy"])
    if "depth" in report:
        keys = list(report["depth"]["model"])
        lines = ["| depth | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
        lines += [f"| {m} | " + " | ".join(f"{report['depth'][m][k]:.3f}" for k in keys) + " |" for m in DEPTH_METHODS]
        text += "\n\n" + "\n".join(lines) + f"\n\n{report['depth']['count']} images with depth"
        if "p_normals_agreement_deg" in report:
            text += f"; normals from predicted P vs predicted normals: {report['p_normals_agreement_deg']:.2f}° mean"
        text += "\n\n" + format_contrast_line(report["depth"]["contrast"])
        text += "\n\n" + depth_anatomy.format_line(report["depth"]["anatomy"])
    if "albedo" in report:
        text += "\n\n| albedo | si-MSE |\n|---|---|\n" + "\n".join(
            f"| {m} | {report['albedo'][m]:.4f} |" for m in ALBEDO_METHODS)
    return text


def format_contrast_line(contrast):
    """One line: the model's depth AbsRel (median-scaled) at each depth contrast k, the best k, and the k where the
    log-depth variance (the si_log training loss) is lowest — where they differ, the loss is not the metric."""
    best = min(contrast, key=lambda k: contrast[k]["absrel_median"])
    lowest_variance = min(contrast, key=lambda k: contrast[k]["si_log"])
    return ("depth AbsRel at contrast k (depth ** k; `export --depth_contrast=k`): "
            + ", ".join(f"{k}: {v['absrel_median']:.3f}" for k, v in contrast.items())
            + f"; best k {best} (log-depth variance lowest at k {lowest_variance})")


def check_request(model_path, output_json, *, records="", split="test", pairs_dir="", train_records="",
                  triptych_dir="", max_images=0):
    """Raise errors.UsageError, naming the flag, for anything wrong with an evaluation before it starts;
    returns the shard files to evaluate ([] for pairs)."""
    if bool(records) == bool(pairs_dir):
        raise errors.UsageError("give exactly one of --records or --pairs_dir")
    if not os.path.exists(model_path):
        raise errors.MissingPathError(f"--model: {model_path}: no such model")
    if split not in layout.SPLITS:
        raise errors.UsageError(f"--split: must be one of {', '.join(layout.SPLITS)}, not {split!r}")
    if max_images < 0:
        raise errors.UsageError(f"--max_images: must be 0 (all) or more, got {max_images}")
    if pairs_dir and not os.path.isdir(pairs_dir):
        raise errors.MissingPathError(f"--pairs_dir: {pairs_dir}: no such folder")
    files = list_shards(records, split) if records else []
    if train_records:
        list_shards(train_records, "train", "--train_records")
    outputs.check_writable_file(output_json, "--output_json")
    for flag, folder in (("--model", model_path), ("--records", records), ("--pairs_dir", pairs_dir),
                         ("--train_records", train_records)):
        if folder and os.path.isfile(output_json) and _inside(output_json, folder):
            raise errors.UsageError(f"--output_json: {output_json} is a file of {flag} {folder}, which writing it "
                                    "would destroy; give another path")
    triptych_dir = triptych_dir or default_triptych_dir(output_json)
    outputs.check_writable_dir(triptych_dir, "--triptych_dir")
    if os.path.isdir(triptych_dir):  # replaced as a whole by the new triptychs: it must hold nothing else
        others = [n for n in sorted(os.listdir(triptych_dir)) if not n.lower().endswith(".png")
                  or not os.path.isfile(os.path.join(triptych_dir, n))]
        if others:
            raise errors.UsageError(f"--triptych_dir: {triptych_dir} holds {others[0]}, not only triptychs; the "
                                    "evaluation replaces that folder, so give another")
    return files


def _inside(path, folder):
    relative = os.path.relpath(os.path.realpath(path), os.path.realpath(folder))
    return relative != os.pardir and not relative.startswith(os.pardir + os.sep)


def default_triptych_dir(output_json):
    return os.path.splitext(output_json)[0] + "_triptychs"


def evaluate_model(model_path, output_json, *, records="", split="test", pairs_dir="", pair_format=None,
                   train_records="", triptych_dir="", max_images=0, inference=None):
    """What `python -m tfnormals.evaluate` does: evaluate on records or pairs, write the JSON report, return it.

    Baselines are fitted on `train_records` (default `records`) train split, or, with neither, on
    the evaluated pairs themselves (an optimistic floor, noted in the report). The network sees each image
    whole at its own size, or as predict runs it with `inference` (a fusion.PassSettings: --mode, --working_size).
    Writes nothing unless everything succeeds (see the module docstring).
    """
    from tfnormals.tools.model_io import load_model
    files = check_request(model_path, output_json, records=records, split=split, pairs_dir=pairs_dir,
                          train_records=train_records, triptych_dir=triptych_dir, max_images=max_images)
    if records and not verify_shards(files):
        raise errors.UsageError(f"--split: the {split} shards of {records} hold no records")
    model = load_model(model_path)
    train_records = train_records or records
    if train_records:
        fit_note = f"{train_records} train split"
        fit_examples = list(iter_records(train_records, "train", BASELINE_FIT_IMAGES))
    else:
        fit_note = "the evaluated pairs themselves (no training records given: an optimistic floor)"
        fit_examples = list(iter_pairs(pairs_dir, pair_format, BASELINE_FIT_IMAGES))
    if not fit_examples:
        raise errors.Failure(f"no examples to fit the baselines on ({fit_note})")
    fitted = dict(fit_baselines(fit_examples), fitted_on=fit_note)
    if records:
        examples = iter_records(records, split, max_images)
        total = _record_count(records, split, max_images)
    else:
        examples, total = iter_pairs(pairs_dir, pair_format, max_images), None
    triptych_dir = triptych_dir or default_triptych_dir(output_json)
    folders = {os.path.dirname(os.path.abspath(p)) for p in (output_json, triptych_dir)}
    with contextlib.ExitStack() as stack:
        for folder in folders:
            stack.enter_context(outputs.created_dirs_removed_if_empty(folder))
            outputs.remove_stale_temps(folder)
        with outputs.atomic_output_dir(triptych_dir) as building:
            report = evaluate(model, examples, fitted, building, total, inference)
        report["settings"] = {"model": model_path, "records": records, "split": split, "pairs_dir": pairs_dir,
                              "mask_threshold": conventions.MASK_THRESHOLD,
                              "inference": inference.run_flags(model) if inference else "native"}
        with image_io.atomic_output(output_json) as tmp:
            with open(tmp, "w") as f:
                json.dump(report, f, indent=1)
    return report
