r"""Encoders and losses under the same wall-clock budget: which design the long run should use.

    python -m benchmarks.bench_encoders --records=../data/records256 --minutes=12 \
        [--arms=unet_warm,vgg16_balanced,unet_dpasses,...] [--runs_dir=../data/pilots]

Every arm trains `python -m tfnormals.train --flagfile=configs/shipped.flags` with its own
overrides and `--time_budget_min=MINUTES` (one after the other, so each has the whole machine),
then is measured on: the records' val split (normals mean angle, whole images; depth AbsRel when
predicted), the Middlebury motorcycle (normals mean angle against its ground-truth disparity),
flip equivariance and scale consistency on scikit-image's photos (tfnormals.tools.real_checks).
`--steps=N` trains each arm N steps instead (equal steps: how precision changes accuracy, not speed).
One run per arm: treat differences of a degree or two as noise. A run folder that already
reached its budget is measured again without retraining (delete it to retrain).
"""

import json
import os
import sys

from absl import flags

from benchmarks import common
from tfnormals.core import resources

MODULE = "benchmarks.bench_encoders"
FLAGFILE = common.SHIPPED_FLAGS
# Each arm's flags on top of configs/shipped.flags (which warm-starts today's encoder from the committed model).
VGG16 = ["--encoder=vgg16", "--precision=mixed_bfloat16", "--pretrained=true", "--freeze_blocks=2", "--init_from="]
SCRATCH = ["--encoder=unet", "--precision=float32", "--init_from="]
WARM = ["--encoder=unet", f"--init_from={resources.DEFAULT_MODEL_DIR}"]
ARMS = {
    "unet": SCRATCH + ["--balance_power=0"],
    "vgg16": VGG16 + ["--balance_power=0"],
    "unet_balanced": SCRATCH + ["--balance_power=0.5"],
    "vgg16_balanced": VGG16 + ["--balance_power=0.5"],
    # the discriminator also judging depth and albedo (issue "beyond normals": measure against normals only)
    "vgg16_dpasses": VGG16 + ["--balance_power=0.5", "--d_passes=normals,depth,albedo"],
    # today's encoder warm-started from the committed model (16k steps on the older renders when measured):
    # the unet path as it is really trained, so the comparison is between two models one could ship
    "unet_warm": WARM + ["--precision=float32", "--balance_power=0.5"],
    # the same without the direction-balanced normals loss (the point 2: show its effect)
    "unet_warm_unbalanced": WARM + ["--precision=float32", "--balance_power=0"],
    # the same under bf16 compute (issue "model for real photographs": accuracy no worse than float32)
    "unet_warm_bf16": WARM + ["--precision=mixed_bfloat16", "--balance_power=0.5"],
    # the same with the discriminator also judging depth and albedo
    "unet_dpasses": WARM + ["--precision=float32", "--balance_power=0.5", "--d_passes=normals,depth,albedo"],
}
# Issue "the next shipped model": arms on configs/scene_layout.flags (whole scenes and zoomed views, global context,
# bf16, the discriminator on every pass), each changing one choice back.
LAYOUT_FLAGFILE = os.path.join(common.REPO, "configs", "scene_layout.flags")
LAYOUT_ARMS = {
    "layout": [],
    # the data pipeline before: 128 crops of the 256 records after a 0.4-1x zoom, no whole-scene share, no context
    "layout_crops": ["--load_size=256", "--min_scale=0.4", "--whole_share=0", "--min_zoom=0", "--max_zoom=0",
                     "--context=none"],
    "layout_no_context": ["--context=none"],
    "layout_whole_60": ["--whole_share=0.6"],
    "layout_zoom_to_1": ["--max_zoom=1.0"],
}
STEPS_TIMEOUT_S = 6 * 3600  # an equal-steps arm's training, whatever else shares the machine
# Short runs: checkpoint and validate often enough that a budget-stopped run has a recent checkpoint.
PILOT_FLAGS = ["--steps=100000", "--checkpoint_every=200", "--val_steps=4", "--monitor_every=0", "--triptych_count=0",
               "--g_lr=1e-4", "--d_lr=2e-4"]  # the arms' learning rates (shipped.flags has the last segment's third)


def measure(run_dir, records, max_val):
    """Val-split and real-photo figures of a run's latest checkpoint (one child process, TensorFlow inside)."""
    from tfnormals.tools import evaluation, fusion, real_checks
    from tfnormals.tools.model_io import NormalsModel
    from tfnormals.training import runs
    model = NormalsModel(run_dir)
    fitted = {"best_constant": [0.0, 0.0, 1.0], "gradient_strength": 1.0}  # only the model's figures are used
    val = evaluation.evaluate(model, evaluation.iter_records(records, "val", max_val), fitted)
    real = real_checks.run_checks(lambda plate: fusion.PassSettings().passes(model, plate))  # predict's default
    moto = real["motorcycle"]
    families = val["families"]
    floor = [f["floor"] for f in families.values() if f["floor"]["pixels"]]
    return {"val_mean_deg": val["model"]["mean"],
            "val_floor_deg": sum(f["model"] * f["pixels"] for f in floor) / max(sum(f["pixels"] for f in floor), 1),
            "val_ground_deg": families.get("ground", {}).get("all", {}).get("model"),
            "val_depth_absrel": val.get("depth", {}).get("model", {}).get("absrel_median"),
            "motorcycle_mean_deg": moto["model"]["mean"],
            "motorcycle_depth_absrel": moto.get("depth", {}).get("absrel_median"),
            "flip_deg": real["flip_equivariance_deg"], "scale_deg": real["scale_consistency_deg"],
            "val_images": val["count"], "steps": int(runs.locate_checkpoint(run_dir)[1].rsplit("-", 1)[-1])}


def child(config):
    common.emit(measure(config["run_dir"], config["records"], config["max_val"]))


def define_flags():
    """Command-line flags (defined only when run as a program)."""
    flags.DEFINE_string("records", None, "Records (v2) with train and val splits.")
    flags.mark_flag_as_required("records")
    flags.DEFINE_float("minutes", 12.0, "Training wall-clock per arm.")
    flags.DEFINE_integer("steps", 0, "Train each arm this many steps instead of --minutes.")
    flags.DEFINE_string("arms", "unet_warm,vgg16_balanced", f"Any of {', '.join({**ARMS, **LAYOUT_ARMS})}.")
    flags.DEFINE_string("runs_dir", os.path.join(common.REPO, "..", "data", "pilots"),
                        "Where each arm's run folder is written.")
    flags.DEFINE_integer("max_val", 64, "Val images measured.")
    common.define_output_flags(child=True)


def main(args):
    rows = []
    for arm in args.arms.split(","):
        run_dir = os.path.join(args.runs_dir, arm)
        if not os.path.isdir(os.path.join(run_dir, "ckpt")):
            length = f"{args.steps} steps" if args.steps else f"{args.minutes:g} min"
            print(f"[bench_encoders] training {arm} for {length} ...", file=sys.stderr, flush=True)
            limit = [f"--steps={args.steps}"] if args.steps else [f"--time_budget_min={args.minutes}"]
            flagfile, overrides = (LAYOUT_FLAGFILE, LAYOUT_ARMS[arm]) if arm in LAYOUT_ARMS else (FLAGFILE, ARMS[arm])
            common.run_child("tfnormals.train", [f"--flagfile={flagfile}", f"--records_dir={args.records}",
                                                 f"--checkpoint_root={args.runs_dir}", f"--run_name={arm}",
                                                 *PILOT_FLAGS, *limit, *overrides],
                             timeout=STEPS_TIMEOUT_S if args.steps else int(args.minutes * 60 + 1800), show_stderr=True)
        print(f"[bench_encoders] measuring {arm} ...", file=sys.stderr, flush=True)
        result = common.run_child(MODULE, ["--records", args.records, "--child",
                                           json.dumps({"run_dir": run_dir, "records": args.records,
                                                       "max_val": args.max_val})])
        rows.append(dict(result, arm=arm))
    headers = ["arm", "steps", "val normals °", "val floor px °", "val ground family °", "val depth AbsRel",
               "motorcycle °", "motorcycle depth AbsRel", "flip equivariance °", "scale consistency °"]
    table = common.markdown_table(headers, [[r["arm"], r["steps"], r["val_mean_deg"], r["val_floor_deg"],
                                             r["val_ground_deg"], r["val_depth_absrel"], r["motorcycle_mean_deg"],
                                             r["motorcycle_depth_absrel"], r["flip_deg"], r["scale_deg"]]
                                            for r in rows])
    budget = f"equal steps ({args.steps} each" if args.steps else f"equal wall-clock ({args.minutes:g} min each"
    text = (f"### Encoders, losses and data views at {budget}, `configs/shipped.flags` (layout arms: "
            f"`configs/scene_layout.flags`) + the arm's flags; records `{common.display_path(args.records)}`)\n\n"
            + table)
    return common.finish(MODULE, {"name": "encoders", "markdown": text, "rows": rows, "targets": []},
                         args.json_out)


if __name__ == "__main__":
    define_flags()
    common.run(main, MODULE, child=child)
