r"""Draw the depth tail of an evaluate report: its worst images by depth AbsRel, one row each, as plate | true depth |
predicted depth | relative error (BUILD_NOTES "Where the depth tail is").

    python -m tfnormals.evaluate --pairs_dir=../data/r256_fresh --mode=fused --output_json=fresh.json
    python docs/make_depth_tail.py --report=fresh.json --count=3 --output=docs/depth_tail.png

The model, the images (records or a folder of our renders) and the way the network saw them (--mode and the rest)
are the report's own settings. Depth panels show log depth, black near and white far, on the truth's range in both,
the prediction median-scaled to the truth as AbsRel scales it; the error panel runs from blue (exact) to red
(|predicted − true| / true ≥ ERROR_FULL_SCALE).
"""

import json

import numpy as np
from absl import flags
from PIL import Image

from tfnormals.core import cli, conventions, errors, outputs
from tfnormals.data import pairs
from tfnormals.tools import depth_anatomy, evaluation, fusion

FLAGS = flags.FLAGS

ERROR_FULL_SCALE = 2.0


def log_depth_panel(depth, low, high, valid):
    """Log depth as grey on [low, high] (log units), black where not valid."""
    grey = np.clip((np.log(np.maximum(depth, 1e-6)) - low) / max(high - low, 1e-6), 0.0, 1.0) * valid
    return np.repeat(grey[..., None], 3, axis=-1)


def row(example, depth):
    """plate | true depth | predicted depth | relative error of one image, float RGB side by side."""
    valid = (example.mask >= conventions.MASK_THRESHOLD) & (example.depth > 0)
    aligned, relative = depth_anatomy.relative_error(depth, example.depth, valid)
    log_true = np.log(np.maximum(example.depth[valid], 1e-6))
    low, high = log_true.min(), log_true.max()
    error = np.clip(relative / ERROR_FULL_SCALE, 0, 1)
    error_panel = np.stack([error, np.zeros_like(error), 1.0 - error], axis=-1) * valid[..., None]
    return np.concatenate([np.clip(example.beauty, 0.0, 1.0), log_depth_panel(example.depth, low, high, valid),
                           log_depth_panel(aligned, low, high, valid), error_panel], axis=1)


def define_flags():
    """Command-line flags (only when run as a program)."""
    flags.DEFINE_string("report", None, "An evaluate report (JSON) of records or renders with depth.")
    flags.DEFINE_integer("count", 3, "How many of its worst images to draw.", lower_bound=1)
    flags.DEFINE_string("output", "docs/depth_tail.png", "The PNG to write.")
    flags.mark_flag_as_required("report")


def worst_images(report, count):
    """{id: AbsRel} of the report's `count` images with the highest depth AbsRel."""
    scored = {image["id"]: image["depth"]["model"]["absrel_median"] for image in report["images"]
              if image.get("depth")}
    if not scored:
        raise errors.UsageError(f"--report: {FLAGS.report} has no image with depth")
    return dict(sorted(scored.items(), key=lambda item: -item[1])[:count])


def main(argv):
    del argv
    outputs.check_writable_file(FLAGS.output, "--output")
    try:
        with open(FLAGS.report, encoding="utf-8") as f:
            report = json.load(f)
        settings = report["settings"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise errors.UsageError(f"--report: {FLAGS.report} is not an evaluate report ({e})") from None
    worst = worst_images(report, FLAGS.count)
    from tfnormals.tools.model_io import load_model  # TensorFlow
    model = load_model(settings["model"])
    inference = fusion.PassSettings(**settings["inference"]) if settings.get("inference") else None
    examples = (evaluation.iter_records(settings["records"], settings["split"]) if settings.get("records")
                else evaluation.iter_pairs(settings["pairs_dir"], pairs.PairFormat()))
    rows = {}
    for example in examples:
        if example.id in worst:
            passes = (inference.passes(model, example.beauty) if inference
                      else {k: v[0] for k, v in model.predict_passes(example.beauty[None]).items()})
            rows[example.id] = row(example, passes["depth"][..., 0])
    if not rows:
        raise errors.Failure(f"none of the report's worst images ({', '.join(worst)}) is in "
                             f"{settings.get('records') or settings.get('pairs_dir')} any more")
    width = next(iter(rows.values())).shape[1]
    picture = np.concatenate([np.asarray(Image.fromarray(np.rint(rows[i] * 255).astype(np.uint8)).resize(
        (width, round(rows[i].shape[0] * width / rows[i].shape[1])))) for i in worst if i in rows], axis=0)
    with outputs.atomic_output(FLAGS.output) as temporary:
        Image.fromarray(picture).save(temporary, format="PNG", optimize=True)
    cli.emit({"output": FLAGS.output, "images": {i: round(v, 3) for i, v in worst.items() if i in rows}})


if __name__ == "__main__":
    define_flags()
    cli.run(main, "docs/make_depth_tail.py")
