r"""Model quality: tfnormals.evaluate's table (model vs flat, best constant, luminance gradient).

    python -m benchmarks.bench_quality [--model=tfnormals/assets/model] [--records=../data/records_layout_b] \
        [--split=test] [--mode=fused]

The shipped model is evaluated on the held-out split of the records as predict runs it (`--mode=fused`: each
image seen whole at the model's working size, finer passes fused; `native`: the network on the whole image at
its own size), over masked pixels (mean/median angular error in degrees, % of pixels under 11.25°/22.5°/30°). The
baselines are fitted on the first 64 images of the records' train split
(evaluation.fit_baselines), as `python -m tfnormals.evaluate` does. Without a model the
section says so instead of inventing numbers.
"""

import json
import os
import time

from absl import flags

from benchmarks import common
from tfnormals.tools import evaluation

MODULE = "benchmarks.bench_quality"


def model_step(path):
    info = os.path.join(path, "tfnormals.json")
    if os.path.isfile(info):
        with open(info) as f:
            return json.load(f).get("step")
    return None


def define_flags():
    """Command-line flags (defined only when run as a program)."""
    flags.DEFINE_string("model", common.DEFAULT_MODEL, "SavedModel or training run folder.")
    flags.DEFINE_string("records", common.SHIPPED_RECORDS, "Records folder (evaluated split + train split).")
    flags.DEFINE_string("split", "test", "Split of --records to evaluate.")
    flags.DEFINE_integer("fit_images", 64, "Train images the baselines are fitted on.")
    flags.DEFINE_integer("max_images", 0, "Evaluate at most this many images (0 = all).")
    flags.DEFINE_enum("mode", "fused", evaluation.VIEWS, "How the network sees each image: native = whole at its own "
                      "size; otherwise as predict's --mode.")
    common.define_output_flags(child=False)


def main(args):
    rel = common.display_path
    title = f"### Model quality (`{rel(args.model)}` on `{rel(args.records)}` {args.split} split, --mode={args.mode})"
    missing = [what for what, ok in (("model", os.path.exists(args.model)),
                                     (f"{args.split} records", common.has_records(args.records, args.split)),
                                     ("train records", common.has_records(args.records, "train"))) if not ok]
    if missing:
        text = f"{title}\n\nNot measured: no {' and no '.join(missing)} yet."
        return common.finish(MODULE, {"name": "quality", "markdown": text, "skipped": missing, "targets": []},
                             args.json_out)
    from tfnormals.tools.model_io import NormalsModel
    start = time.perf_counter()
    model = NormalsModel(args.model)
    fitted = evaluation.fit_baselines(list(evaluation.iter_records(args.records, "train", args.fit_images)))
    report = evaluation.evaluate(model, evaluation.iter_records(args.records, args.split, args.max_images), fitted,
                                 inference=evaluation.inference_settings(args.mode))
    seconds = time.perf_counter() - start
    step = model_step(args.model)
    text = (f"{title}\n\n" + evaluation.format_table(report)
            + f"\n\nModel step {step if step is not None else '?'}; baselines fitted on {args.fit_images} train images "
              f"(best constant {[round(v, 3) for v in fitted['best_constant']]}, gradient strength "
              f"{fitted['gradient_strength']}); {seconds:.0f} s.")
    summary = {m: report[m] for m in evaluation.METHODS}
    return common.finish(MODULE, {"name": "quality", "markdown": text, "metrics": summary,
                                        "count": report["count"], "fitted": fitted, "targets": []}, args.json_out)


if __name__ == "__main__":
    define_flags()
    common.run(main, MODULE)
