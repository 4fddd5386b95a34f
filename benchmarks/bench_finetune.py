"""Fine-tuning on a shot (tfnormals.finetune): does a shot model beat the base model on the shot, and stay sane?

    python -m benchmarks.bench_finetune [--work=outputs/bench_finetune] [--minutes=10] [--picture=docs/finetune.png]

1. Renders shots with their truth (data_tools.render_shots: --num_shots × --num_frames at --resolution, --seed)
   unless they are there, and measures the base model on every frame as predict runs it.
2. Picks the --pick shots the base model does worst on and fine-tunes it on each, on --reference_frames with
   the shots' own normals as references, for --minutes (the command as a user runs it, one process each).
3. Per picked shot: the error on the shot's other frames, base vs shot model (the relative reduction).
   Guard: every shot model on the frames of every other shot, against the base there. For a shot model with a
   fallback to the base: how much the shot network answers on its own frames and on the others'.
4. Real check: the Middlebury motorcycle as a one-frame shot whose references are its left half's ground truth;
   the error on the right half, base vs shot model.
5. --picture: plate | truth | base | shot model, for a frame of the first picked shot no reference showed
   and for the motorcycle (its right half is what the shot model never saw).
Errors are mean angles in degrees over the truth's surface pixels. Shot models are kept in --work and reused
on a re-run (--redo fine-tunes again).
"""

import json
import os
import subprocess
import sys
import time

import numpy as np
from absl import flags

from benchmarks import common

MODULE = "benchmarks.bench_finetune"
TARGET_REDUCTION = 0.30   # the issue's: the shot's other frames, relative to the base model
GUARD_DEG = 2.0           # the issue's: at most this much worse on frames of a different shot


def define_flags():
    """Command-line flags (defined only when run as a program)."""
    flags.DEFINE_string("work", os.path.join(common.REPO, "outputs", "bench_finetune"),
                        "Folder for the shots, the shot models and the motorcycle's files.")
    flags.DEFINE_string("model", common.DEFAULT_MODEL, "Base model.")
    flags.DEFINE_integer("num_shots", 8, "Shots to render.", lower_bound=2)
    flags.DEFINE_integer("num_frames", 16, "Frames per shot.", lower_bound=2)
    flags.DEFINE_integer("resolution", 256, "Side of the shots' frames.", lower_bound=16)
    flags.DEFINE_integer("seed", 20, "render_shots seed.")
    flags.DEFINE_string("reference_frames", "1001,1008,1016", "Frames given as references.")
    flags.DEFINE_integer("pick", 3, "Fine-tune on this many of the base model's worst shots.", lower_bound=1)
    flags.DEFINE_float("minutes", 10.0, "Each fine-tune's training budget.", lower_bound=0.0)
    flags.DEFINE_string("finetune_args", "", "More tfnormals.finetune flags, space separated.")
    flags.DEFINE_boolean("motorcycle", True, "Also the real check on the Middlebury motorcycle.")
    flags.DEFINE_boolean("redo", False, "Fine-tune again even when a shot model exists.")
    flags.DEFINE_string("picture", "", "Write the before/after picture here (PNG).")
    flags.DEFINE_integer("picture_side", 160, "Width of each panel of the picture.", lower_bound=16)
    common.define_output_flags()


def finetune(args, output, plates, references, frames, masks=""):
    """Run tfnormals.finetune (unless its output exists); returns (its summary, wall seconds)."""
    summary_path = output + ".summary.json"
    if os.path.isfile(summary_path) and not args.redo:
        with open(summary_path) as f:
            return json.load(f)
    flags = [f"--plates={plates}", f"--references={references}", f"--frames={frames}", f"--output={output}",
             f"--minutes={args.minutes}", f"--model={args.model}", f"--work_dir={output}.finetune"]
    flags += [f"--reference_masks={masks}"] if masks else []
    if os.path.isdir(output + ".finetune"):
        import shutil
        shutil.rmtree(output + ".finetune")
    start = time.monotonic()
    summary = dict(run_command("tfnormals.finetune", flags + args.finetune_args.split()),
                   wall_seconds=time.monotonic() - start,
                   command=common.command_line("tfnormals.finetune", flags + args.finetune_args.split()))
    common.write_json(summary_path, summary)
    return summary


def run_command(module, args):
    """`python -m module args` as a user runs it (its progress on this stderr); its one JSON stdout line."""
    proc = subprocess.run([sys.executable, "-m", module, *args], cwd=common.REPO, env=common.child_env(),
                          stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise common.ChildError(f"python -m {module} {' '.join(args)} exited with {proc.returncode}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def shot_info(shot_dir):
    with open(os.path.join(shot_dir, "shot.json")) as f:
        record = json.load(f)
    path = record["camera_path"]
    return record["scene"]["family"], path.get("kind", "?") if isinstance(path, dict) else str(path)


def mean_over(errors, frames):
    return float(np.mean([errors[f] for f in frames]))


def has_fallback(model_dir):
    """Whether a shot model carries its base (its metadata's finetune.fallback)."""
    from tfnormals.core import layout
    with open(os.path.join(model_dir, layout.MODEL_METADATA)) as f:
        return bool(json.load(f).get("finetune", {}).get("fallback"))


def fallback_shares(model_dir, shot, frames, other_shots):
    """The shot weights of every network input of `frames` of the model's own shot and of every frame of the other
    shots: shares at 1 (own) and 0 (others), and the means."""
    from tfnormals.tools import shot_checks
    probe = shot_checks.FallbackProbe(model_dir)
    own = np.concatenate([probe.weights(shot_checks.frame_truth(shot, f)[0]) for f in frames])
    other = np.concatenate([probe.weights(shot_checks.frame_truth(o, f)[0]) for o in other_shots
                            for f in shot_checks.shot_frames(o)])
    return {"own_alone": float(np.mean(own >= 1.0)), "own_mean": float(own.mean()),
            "other_base": float(np.mean(other <= 0.0)), "other_mean": float(other.mean())}


def panel_row(plate, truth, mask, base, tuned, side=256, split=False):
    """plate | truth (black off the mask) | base | shot model, each `side` wide; `split` draws a white line down the
    middle of the truth (the motorcycle's references are its left half)."""
    from tfnormals.core import normals
    from tfnormals.tools import tiling
    height = max(1, round(plate.shape[0] * side / plate.shape[1]))
    small = lambda image: tiling.resize(image, height, side)  # noqa: E731
    shown = [small(plate), small(normals.encode(truth) * mask[..., None])]
    shown += [small(normals.encode(n)) for n in (base, tuned)]
    if split:
        shown[1][:, side // 2] = 1.0
    return np.concatenate(shown, axis=1)


def main(args):
    from tfnormals.core import frames as frame_numbers
    from tfnormals.core import layout
    shots_dir = os.path.join(args.work, "shots")
    run_command("data_tools.render_shots", [f"--output_dir={shots_dir}", f"--num_shots={args.num_shots}",
                                            f"--num_frames={args.num_frames}", f"--resolution={args.resolution}",
                                            f"--seed={args.seed}"])
    from tfnormals.core import image_io
    from tfnormals.tools import shot_checks
    from tfnormals.tools.model_io import load_model
    references = frame_numbers.parse_frame_list(args.reference_frames)
    shots = [os.path.join(shots_dir, layout.shot_id(s)) for s in range(args.num_shots)]
    base = load_model(args.model)
    base_errors = {shot: shot_checks.shot_errors(base, shot) for shot in shots}
    ranked = sorted(shots, key=lambda s: -np.mean(list(base_errors[s].values())))
    picked = ranked[:args.pick]
    rows, guards, fallbacks, targets = [], [], [], []
    record = {"machine": common.machine_info(), "shots": {}}
    for shot in picked:
        name = os.path.basename(shot)
        output = os.path.join(args.work, f"model_{name}")
        summary = finetune(args, output, os.path.join(shot, "beauty.####.exr"), os.path.join(shot, "normals.####.exr"),
                           args.reference_frames, os.path.join(shot, "mask.####.png"))
        tuned = load_model(output)
        others = [f for f in base_errors[shot] if f not in references]
        tuned_errors = shot_checks.shot_errors(tuned, shot, others)
        before, after = mean_over(base_errors[shot], others), mean_over(tuned_errors, others)
        per_frame = [1.0 - tuned_errors[f] / base_errors[shot][f] for f in others]
        guard = {os.path.basename(o): np.mean(list(shot_checks.shot_errors(tuned, o).values()))
                 - np.mean(list(base_errors[o].values())) for o in shots if o != shot}
        family, path = shot_info(shot)
        rows.append([name, f"{family}, {path}", common.fmt(before), common.fmt(after),
                     f"{100 * (1 - after / before):.0f}%", f"{100 * min(per_frame):.0f}–{100 * max(per_frame):.0f}%",
                     f"{summary['steps']} ({summary['train_minutes']:.1f} min)",
                     f"{summary['base_heldout_error_deg']:.1f} → {summary['heldout_error_deg']:.1f}"])
        worst = max(guard, key=guard.get)
        guards.append([name, f"{np.mean(list(guard.values())):+.2f}", f"{worst} {guard[worst]:+.2f}"])
        record["shots"][name] = {"base": base_errors[shot], "tuned": tuned_errors, "summary": summary,
                                 "guard_deg": guard, "reduction": 1 - after / before}
        if has_fallback(output):
            fallback = fallback_shares(output, shot, others, [o for o in shots if o != shot])
            record["shots"][name]["fallback"] = fallback
            fallbacks.append([name, f"{100 * fallback['own_alone']:.0f}%", f"{fallback['own_mean']:.2f}",
                              f"{100 * fallback['other_base']:.0f}%", f"{fallback['other_mean']:.2f}"])
    reductions = [record["shots"][os.path.basename(s)]["reduction"] for s in picked]
    worst_guard = max(max(r["guard_deg"].values()) for r in record["shots"].values())
    targets.append(common.target(f"shot's other frames ≥ {100 * TARGET_REDUCTION:.0f}% lower error, {args.pick} worst "
                                 f"shots, {args.minutes:g} min each", ", ".join(f"{100 * r:.0f}%" for r in reductions),
                                 min(reductions) >= TARGET_REDUCTION, "training minutes on a loaded machine"))
    targets.append(common.target(f"other shots at most {GUARD_DEG:g}° worse", f"worst {worst_guard:+.2f}°",
                                 worst_guard <= GUARD_DEG, "how near another shot looks to the references"))
    pictures = []
    if args.picture:
        shot = picked[0]
        others = [f for f in base_errors[shot] if f not in references]
        plate, truth, mask = shot_checks.frame_truth(shot, others[len(others) // 2])
        tuned = load_model(os.path.join(args.work, "model_" + os.path.basename(shot)))
        pictures.append(panel_row(plate, truth, mask, shot_checks.predict_normals(base, plate),
                                  shot_checks.predict_normals(tuned, plate), args.picture_side))
    text = (f"### Fine-tuning on a shot (`{common.display_path(args.model)}`, {args.num_shots} shots × "
            f"{args.num_frames} frames at {args.resolution}², seed {args.seed}; references: frames "
            f"{args.reference_frames}, the shots' own normals)\n\n"
            + common.markdown_table(["shot", "scene", "base °", "shot model °", "reduction", "per frame",
                                     "steps", "held-out ° (base → best)"], rows)
            + "\n\nGuard: each shot model on the frames of every other shot, minus the base there (degrees):\n\n"
            + common.markdown_table(["shot model", "mean over other shots", "worst shot"], guards))
    if fallbacks:
        text += ("\n\nFallback to the base (model.shot_gate), over every image predict feeds each shot model's "
                 "network: on the shot's other frames, the share the shot network answers alone and the mean shot "
                 "weight; on the other shots' frames, the share the base answers alone and the mean shot weight:\n\n"
                 + common.markdown_table(["shot model", "own: shot alone", "own: mean weight", "others: base alone",
                                          "others: mean weight"], fallbacks))
    if args.motorcycle:
        truth, _, right = shot_checks.motorcycle_halves()
        plate_pattern, reference_pattern = shot_checks.write_motorcycle_references(os.path.join(args.work, "moto"),
                                                                                   truth)
        output = os.path.join(args.work, "model_motorcycle")
        summary = finetune(args, output, plate_pattern, reference_pattern, "1")
        tuned = load_model(output)
        before, after = (shot_checks.masked_error(m, truth["plate"], truth["normals"], right) for m in (base, tuned))
        record["motorcycle"] = {"base_right_deg": before, "tuned_right_deg": after, "summary": summary}
        text += (f"\n\nMotorcycle, references from the left half's ground truth ({summary['steps']} steps, "
                 f"{summary['train_minutes']:.1f} min): right half {before:.2f}° base → {after:.2f}° shot model.")
        targets.append(common.target("motorcycle right half lower than the base", f"{before:.2f}° → {after:.2f}°",
                                     after < before, "one frame of references"))
        if args.picture:
            pictures.append(panel_row(truth["plate"], truth["normals"], truth["mask"],
                                      shot_checks.predict_normals(base, truth["plate"]),
                                      shot_checks.predict_normals(tuned, truth["plate"]), args.picture_side,
                                      split=True))
    if pictures:
        image_io.write_png(args.picture, np.concatenate(pictures, axis=0))
        text += f"\n\nPicture: {common.display_path(args.picture)}."
    return common.finish(MODULE, {"name": "finetune", "markdown": text, "record": record, "targets": targets},
                         args.json_out)


if __name__ == "__main__":
    define_flags()
    common.run(main, MODULE)
