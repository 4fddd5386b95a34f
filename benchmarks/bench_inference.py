"""Inference time and peak memory for 1080p and 4K plates, for each of predict's modes.

    python -m benchmarks.bench_inference [--model=tfnormals/assets/model] [--sizes=1920x1080,4096x2160]

Each (size, mode) runs in a fresh process: load the model with tfnormals.model_io.NormalsModel
(the path tfnormals.predict uses), make a random float32 plate, run predict's inference for that mode
(tfnormals.tools.fusion.PassSettings(mode=...).passes: `fused`, predict's default — a global pass at the
model's working size and finer passes up to 1024 fused coarse to fine, guided up to the plate; `global` — one
pass at the working size; `tiled` — tiles of 512, overlap 64, at the plate's resolution) once as a warm-up and
`--repeats` more times; the figure is the median. Peak RSS is the kernel's ru_maxrss of that process
(os.wait4), so it includes TensorFlow and the model. Reading and writing image files is not included.

Without a model at --model, a generator with configs/shipped.flags' architecture and random weights is
exported to a temp folder with tfnormals.model.serving.export_generator: the architecture, not the weights,
sets the speed.
"""

import json
import os
import shutil
import sys
import tempfile
import time

from absl import flags

from benchmarks import common

MODULE = "benchmarks.bench_inference"
TARGET_S = {(1920, 1080): 3.0, (4096, 2160): 12.0}
TARGET_RSS_MB = {(4096, 2160): 3 * 1024.0}


def current_rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def _child(cfg):
    import numpy as np

    from tfnormals.tools import fusion
    from tfnormals.tools.model_io import NormalsModel
    start = time.perf_counter()
    model = NormalsModel(cfg["model"])
    load_s = time.perf_counter() - start
    loaded_rss = current_rss_mb()
    image = np.random.default_rng(0).random((cfg["height"], cfg["width"], 3), dtype=np.float32)
    settings = fusion.PassSettings(mode=cfg["mode"], tile=cfg["tile"], overlap=cfg["overlap"])
    run = lambda: settings.passes(model, image)
    start = time.perf_counter()
    out = run()
    first_s = time.perf_counter() - start
    assert out["normals"].shape == image.shape, {name: value.shape for name, value in out.items()}
    seconds = common.timed(run, repeats=cfg["repeats"], warmup=0)
    common.emit({"load_s": load_s, "first_s": first_s, "seconds": seconds, "rss_after_load_mb": loaded_rss,
                 "passes": sorted(out)})


def _export_child(output_dir, flagfile):
    from tfnormals.model import serving
    from tfnormals.model.unet import build_generator
    from tfnormals.training import runs
    config = common.train_config(flagfile)
    generator = build_generator(**config.generator_kwargs())
    serving.export_generator(generator, output_dir, runs.metadata(config, 0))
    common.emit({"params": generator.count_params()})


def model_or_stand_in(model, train_flags, label):
    """(the model to time, None) when `model` exists, else (a random-weight stand-in with `train_flags`'
    architecture, exported in a child process, and the temporary folder holding it, for the caller to delete)."""
    if os.path.exists(model):
        return model, None
    stand_in = tempfile.mkdtemp(prefix=f"{label}-model-")
    print(f"[{label}] no model at {model}; exporting a random-weight stand-in ...", file=sys.stderr, flush=True)
    common.run_child(MODULE, [f"--export_child={os.path.join(stand_in, 'model')}", f"--train_flags={train_flags}"])
    return os.path.join(stand_in, "model"), stand_in


def tiles_and_pixels(width, height, tile, overlap):
    """Tile count and pixels computed by the network per plate pixel (model-stride padding aside)."""
    from tfnormals.tools.tiling import tile_starts  # numpy only
    if tile <= 0 or (width <= tile and height <= tile):
        return 1, 1.0
    th, tw = min(tile, height), min(tile, width)
    n = len(tile_starts(height, th, overlap)) * len(tile_starts(width, tw, overlap))
    return n, n * th * tw / (width * height)


def define_flags():
    """Command-line flags (defined only when run as a program)."""
    flags.DEFINE_string("model", common.DEFAULT_MODEL, "SavedModel or run folder.")
    flags.DEFINE_string("train_flags", common.SHIPPED_FLAGS, "Architecture for the stand-in model.")
    flags.DEFINE_string("sizes", "1920x1080,4096x2160", "WIDTHxHEIGHT list.")
    flags.DEFINE_string("modes", "fused,global,tiled", "predict's modes to time (tfnormals.tools.fusion.MODES).")
    flags.DEFINE_integer("tile", 512, "Tile side of passes larger than it.")
    flags.DEFINE_integer("overlap", 64, "Tile overlap.")
    flags.DEFINE_integer("repeats", 3, "Timed runs after the warm-up.")
    common.define_output_flags(child=True)
    flags.DEFINE_string("export_child", "", "Internal: set by the benchmark itself when it re-runs in a child process.")


def main(args):
    if args.export_child:
        return _export_child(args.export_child, args.train_flags)
    model, stand_in = model_or_stand_in(args.model, args.train_flags, "bench_inference")
    rows = []
    try:
        for size in args.sizes.split(","):
            width, height = (int(v) for v in size.lower().split("x"))
            for mode in args.modes.split(","):
                print(f"[bench_inference] {width}x{height} {mode} ...", file=sys.stderr, flush=True)
                cfg = {"model": model, "width": width, "height": height, "mode": mode, "tile": args.tile,
                       "overlap": args.overlap, "repeats": args.repeats}
                r = common.run_child(MODULE, [f"--child={json.dumps(cfg)}"])
                tiles, redundancy = tiles_and_pixels(width, height, args.tile if mode == "tiled" else 0, args.overlap)
                rows.append({"width": width, "height": height, "mode": mode, "seconds": common.median(r["seconds"]),
                             "all_seconds": r["seconds"], "first_s": r["first_s"], "load_s": r["load_s"],
                             "peak_rss_mb": r["peak_rss_mb"], "rss_after_load_mb": r["rss_after_load_mb"],
                             "tiles": tiles, "pixel_factor": redundancy})
    finally:
        if stand_in:
            shutil.rmtree(stand_in, ignore_errors=True)
    table = common.markdown_table(
        ["plate", "mode", "median s", "MPix/s", "warm-up s", "model load s", "RSS after load MB", "peak RSS MB",
         "native tiles", "pixels computed ×"],
        [[f"{r['width']}×{r['height']}", r["mode"] + (f" {args.tile}/{args.overlap}" if r["mode"] == "tiled" else ""),
          r["seconds"], r["width"] * r["height"] / 1e6 / r["seconds"], r["first_s"], r["load_s"],
          r["rss_after_load_mb"], r["peak_rss_mb"], r["tiles"], r["pixel_factor"]] for r in rows])
    source = f"`{common.display_path(args.model)}`" if not stand_in else \
        f"random-weight stand-in exported from `{common.display_path(args.train_flags)}` (no model at " \
        f"`{common.display_path(args.model)}`)"
    text = (f"### Inference (model: {source}; fresh process per row, median of {args.repeats} runs after a warm-up)"
            f"\n\n" + table)
    return common.finish(MODULE, {"name": "inference", "markdown": text, "rows": rows, "stand_in": bool(stand_in),
                                        "targets": targets(rows)}, args.json_out)


def targets(rows):
    """Speed and memory targets of predict's default mode (fused), with the other modes beside them."""
    out = []
    for (w, h), limit in TARGET_S.items():
        at_size = {r["mode"]: r for r in rows if (r["width"], r["height"]) == (w, h)}
        if "fused" not in at_size:
            continue
        fused = at_size["fused"]
        others = ", ".join(f"{m} {r['seconds']:.1f} s" for m, r in at_size.items() if m != "fused")
        note = f" ({others})" if others else ""
        out.append(common.target(f"{w}×{h} ≤ {limit:g} s (fused, predict's default)",
                                 f"{fused['seconds']:.1f} s{note}", fused["seconds"] <= limit,
                                 "passes up to 1024 px, tiled above 512, plus the guided upsampling to the plate"))
        if (w, h) in TARGET_RSS_MB:
            rss_limit = TARGET_RSS_MB[(w, h)]
            out.append(common.target(f"{w}×{h} peak RSS ≤ {rss_limit / 1024:g} GB (fused)",
                                     f"{fused['peak_rss_mb'] / 1024:.2f} GB", fused["peak_rss_mb"] <= rss_limit,
                                     f"{fused['rss_after_load_mb']:.0f} MB after loading TF + model; the rest is the "
                                     "passes at plate size and a 4-tile batch's activations"))
    return out


if __name__ == "__main__":
    define_flags()
    common.run(main, MODULE, child=_child)
