"""Temporal mode's cost: seconds per frame of a 1080p sequence, per-frame prediction vs `predict --temporal`.

    python -m benchmarks.bench_temporal [--model=tfnormals/assets/model] [--sizes=1920x1080] [--frames=6]

Each size runs in a fresh process: load the model (tfnormals.tools.model_io, as predict does), make a sequence (a
textured plate panned 2 px a frame, with grain: the flow has something to follow), and run it through the
temporal mode, timing each frame's parts: the plate's own passes (fusion.PassSettings().passes, predict's
default fused mode: all that per-frame prediction does), temporal.History.update (flow both ways at the flow's
size, warp, alignment, blend), and the same update given the frame's camera, as with predict --matchmove (a camera
turning PAN_PX a frame: the rigid flows and their depth-scale fits besides), and given a matte too, as with
--matchmove_mattes (a box over an eighth of the frame, resized to the flow's size). All parts are timed on the same
frames, one after the other, so a load that changes during the run (other jobs on the cores) moves them alike. The first
frame is a warm-up; figures are medians over the others. Reading and writing files is not included. Without a model
at --model, a random-weight stand-in is exported as bench_inference does.
"""

import json
import shutil
import sys
import time

from absl import flags

from benchmarks import bench_inference, common

MODULE = "benchmarks.bench_temporal"
TARGET_OVERHEAD = 0.30  # temporal costs at most 30% more than per-frame on 1080p
PAN_PX = 2
MATCHMOVE_FOV_DEG = 50.0  # the bench's matchmove camera


def sequence(width, height, frames, seed=0):
    """`frames` network inputs: a plate with structure at several scales panned PAN_PX a frame, fresh grain each."""
    import numpy as np

    from tfnormals.tools import tiling
    rng = np.random.default_rng(seed)
    wide = width + PAN_PX * frames
    plate = sum(tiling.resize(rng.random((height // k + 1, wide // k + 1, 3)).astype(np.float32), height, wide)
                / (1 + i) for i, k in enumerate((96, 24, 4)))
    plate = 0.1 + 0.8 * plate / 1.83
    return [np.clip(plate[:, t * PAN_PX:t * PAN_PX + width] + rng.normal(0, 0.01, (height, width, 3)), 0, 1)
            .astype(np.float32) for t in range(frames)]


def pan_camera(frame, width, height):
    """The camera of `frame` for sequence(): turning right so the plate moves PAN_PX a frame at its centre."""
    import math

    from tfnormals.core import camera
    from tfnormals.core.shots import FrameCamera
    angle = frame * math.atan(PAN_PX / camera.focal_pixels(width, MATCHMOVE_FOV_DEG))
    turn = camera.look_at((0.0, 0.0, 0.0), (math.sin(angle), 0.0, -math.cos(angle)), (0.0, 1.0, 0.0))
    return FrameCamera(turn, MATCHMOVE_FOV_DEG, width, height)


def _child(cfg):
    import numpy as np

    from tfnormals.tools import fusion, temporal
    from tfnormals.tools.model_io import NormalsModel
    model = NormalsModel(cfg["model"])
    settings = fusion.PassSettings()
    histories = {"blend": temporal.History(), "matchmove_blend": temporal.History(),
                 "mattes_blend": temporal.History()}
    matte = np.zeros((cfg["height"], cfg["width"]), bool)
    matte[cfg["height"] // 4:3 * cfg["height"] // 4, cfg["width"] // 4:cfg["width"] // 2] = True
    seconds = {"passes": [], **{name: [] for name in histories}}
    for k, image in enumerate(sequence(cfg["width"], cfg["height"], cfg["frames"])):
        start = time.perf_counter()
        passes = settings.passes(model, image)
        timed = {"passes": time.perf_counter() - start}
        camera = pan_camera(k, cfg["width"], cfg["height"])
        for name, extra in (("blend", ()), ("matchmove_blend", (camera,)), ("mattes_blend", (camera, matte))):
            start = time.perf_counter()
            _, info = histories[name].update(image, passes, *extra)
            timed[name] = time.perf_counter() - start
            assert k == 0 or not info["cut"], (name, info)
        if k:  # the first frame is the warm-up (and has no history to blend)
            for name, value in timed.items():
                seconds[name].append(value)
    common.emit({f"{name}_seconds": values for name, values in seconds.items()})


def define_flags():
    """Command-line flags (defined only when run as a program)."""
    flags.DEFINE_string("model", common.DEFAULT_MODEL, "SavedModel or run folder.")
    flags.DEFINE_string("train_flags", common.SHIPPED_FLAGS, "Architecture for the stand-in model.")
    flags.DEFINE_string("sizes", "1920x1080", "WIDTHxHEIGHT list.")
    flags.DEFINE_integer("frames", 6, "Frames per sequence (the first is a warm-up).", lower_bound=2)
    common.define_output_flags(child=True)


def main(args):
    model, stand_in = bench_inference.model_or_stand_in(args.model, args.train_flags, "bench_temporal")
    rows = []
    try:
        for size in args.sizes.split(","):
            width, height = (int(v) for v in size.lower().split("x"))
            print(f"[bench_temporal] {width}x{height} ...", file=sys.stderr, flush=True)
            cfg = {"model": model, "width": width, "height": height, "frames": args.frames}
            r = common.run_child(MODULE, [f"--child={json.dumps(cfg)}"])
            per_frame = common.median(r["passes_seconds"])
            rows.append({"width": width, "height": height, "mode": "per_frame", "seconds": per_frame,
                         "all_seconds": r["passes_seconds"], "blend_s": None, "peak_rss_mb": r["peak_rss_mb"]})
            for mode, key in (("temporal", "blend_seconds"), ("temporal --matchmove", "matchmove_blend_seconds"),
                              ("temporal --matchmove --matchmove_mattes", "mattes_blend_seconds")):
                frames = [p + b for p, b in zip(r["passes_seconds"], r[key])]
                blend = common.median(r[key])
                rows.append({"width": width, "height": height, "mode": mode, "seconds": common.median(frames),
                             "all_seconds": frames, "blend_s": blend, "overhead": blend / per_frame,
                             "peak_rss_mb": r["peak_rss_mb"]})
    finally:
        if stand_in:
            shutil.rmtree(stand_in, ignore_errors=True)
    table = common.markdown_table(
        ["plate", "mode", "median s per frame", "blend s", "more than per-frame"],
        [[f"{r['width']}×{r['height']}", r["mode"], r["seconds"], r["blend_s"],
          f"{r['overhead']:+.0%}" if r["blend_s"] is not None else "–"] for r in rows])
    source = f"`{common.display_path(args.model)}`" if not stand_in else "a random-weight stand-in"
    machine = common.machine_info()
    text = (f"### Temporal mode (model: {source}, predict's fused passes; every part of each frame timed in one "
            f"process; medians of {args.frames - 1} frames after a warm-up; peak RSS {rows[-1]['peak_rss_mb']:.0f} MB; "
            f"load average at start {machine['loadavg']})\n\n" + table)
    return common.finish(MODULE, {"name": "temporal", "markdown": text, "rows": rows, "stand_in": bool(stand_in),
                                  "targets": targets(rows)}, args.json_out)


def targets(rows):
    return [common.target(f"1920×1080 {r['mode']} ≤ {TARGET_OVERHEAD:.0%} more time than per-frame",
                          f"{r['overhead']:+.0%} ({r['blend_s']:.2f} s on {r['blend_s'] / r['overhead']:.2f} s)",
                          r["overhead"] <= TARGET_OVERHEAD,
                          "the blend: flow both ways at ≤ 480 px (with a matchmove also the rigid flows and their "
                          "depth-scale fits), warp and alignment at the plate's size")
            for r in rows if r["blend_s"] is not None and (r["width"], r["height"]) == (1920, 1080)]


if __name__ == "__main__":
    define_flags()
    common.run(main, MODULE, child=_child)
