"""Rendering throughput (data_tools.render) and where each sample's time goes; denoiser quality.

    python -m benchmarks.bench_render [--resolutions=128,256] [--spp=4] [--samples=6] [--denoise=1]
    python -m benchmarks.bench_render --only_psnr [--psnr_scenes=6 --psnr_spp=1,2,4,8,16 --reference_spp=512]

Every configuration (variant × resolution × Dr.Jit thread count) runs in its own fresh
process that never imports TensorFlow (Dr.Jit segfaults when loaded after it), renders
sampling.sample_scene(seed, i, resolution) for i = 0..samples with the production
TemplateRenderer and writes each with data_tools.render.write_sample into a temp folder.
One more configuration runs two single-threaded processes at once, the way the data job
splits work (--task_index/--num_tasks).

Per sample the child splits the time into
  scene (numpy)  building the spec's geometry (sets.set_pieces, shapes.object_mesh, light quads),
                 textures (materials.textures, bake.bake: atlas, wear and dirt) and the
                 environment map (lighting.environment_map), timed by wrapping those functions;
  upload         the rest of TemplateRenderer.load (parameter upload, params.update(),
                 acceleration-structure rebuild; scalar variants rebuild the scene here);
  render         render_layers minus load (the path tracer, the background and the 1-spp ID
                 pass; Dr.Jit is lazy, so any upload work it deferred lands here);
  denoise        Open Image Denoise on the beauty (data_tools.denoise), when --denoise=1;
  post           the rest of render() (camera-space normals, exposure, ID lookup, in numpy);
  write          write_sample (EXR/PNG/JSON files).
JIT compile: the first sample's time minus the time of the same spec rendered again at the
end, plus Dr.Jit's own kernel history for the first sample (kernels launched, how many were
not in a cache, LLVM backend compile time). Dr.Jit caches kernels on disk (~/.drjit), so the
first sample normally loads them; the `cold cache` row points HOME at an empty folder to
measure a first-ever compile. samples/s = 1 / median seconds per steady-state sample.

Denoiser quality (--psnr_scenes > 0): for the first scenes of the default family mix, a
--reference_spp render without denoising is the reference; each --psnr_spp render is compared
with it undenoised and denoised (PSNR of the display-referred sRGB image, both exposed with the
reference's exposure, over the whole frame). The reference uses another sampler seed, so its
noise is independent of the low-spp renders'.
"""

import json
import os
import shutil
import sys
import tempfile
import time

from absl import flags

from benchmarks import common

MODULE = "benchmarks.bench_render"
# (module, function) → part of the scene build; the renderer reaches each through its module.
SCENE_FUNCS = {("sets", "set_pieces"): "geometry", ("shapes", "object_mesh"): "geometry",
               ("geometry", "emitters"): "geometry", ("materials", "textures"): "textures",
               ("bake", "bake"): "textures", ("lighting", "environment_map"): "sky"}
PARTS = ("scene", "upload", "render", "denoise", "post", "write")
TARGETS_SAMPLES_PER_S = {128: 4.0, 256: 1.0}  # issue 9, denoiser included, 2 cores
DEFAULT_PSNR_SPP = (1, 2, 4, 8, 16, 32)


def _timed(acc, group, fn):
    """fn, adding its run time to acc[group]."""
    def timed_fn(*args, **kwargs):
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            acc[group] = acc.get(group, 0.0) + time.perf_counter() - start
    return timed_fn


def _child(cfg):
    """Render cfg['samples'] + 2 specs in this process and report per-sample timings."""
    if cfg.get("psnr"):
        return _psnr_child(cfg)
    import importlib

    from data_tools import mitsuba_render, render
    from data_tools.scene import sampling
    active = mitsuba_render.init(cfg["variant"], cfg["threads"])
    import drjit as dr

    acc = {}
    for (module, name), group in SCENE_FUNCS.items():  # the renderer calls them through their modules
        mod = importlib.import_module(f"data_tools.scene.{module}")
        setattr(mod, name, _timed(acc, group, getattr(mod, name)))
    mitsuba_render.denoiser.denoise = _timed(acc, "denoise", mitsuba_render.denoiser.denoise)

    start = time.perf_counter()
    renderer = mitsuba_render.TemplateRenderer(cfg["resolution"], cfg["spp"], denoise=cfg["denoise"])
    init_s = time.perf_counter() - start
    for method in ("load", "render_layers"):
        original = getattr(renderer, method)

        def timed_method(spec, _original=original, _key=method):
            t = time.perf_counter()
            try:
                return _original(spec)
            finally:
                acc[_key] = acc.get(_key, 0.0) + time.perf_counter() - t
        setattr(renderer, method, timed_method)

    out_dir = tempfile.mkdtemp(prefix="bench_render-")
    settings = {"resolution": cfg["resolution"], "spp": cfg["spp"], "variant": active, "denoised": cfg["denoise"]}
    first = cfg["first_index"]
    # The first spec is rendered first (kernel compile/load) and again at the end (steady state).
    stride = cfg.get("stride", 1)  # concurrent processes interleave indices like --task_index/--num_tasks
    indices = [first] + [first + stride * k for k in range(1, 1 + cfg["samples"])] + [first]
    samples = []
    try:
        for n, index in enumerate(indices):
            spec = sampling.sample_scene(cfg["seed"], index, cfg["resolution"])
            history = n in (0, len(indices) - 1) and not active.startswith("scalar")
            if history:
                dr.set_flag(dr.JitFlag.KernelHistory, True)
                dr.kernel_history()  # clears what earlier work recorded
            acc.clear()
            t0 = time.perf_counter()
            result = renderer.render(spec)
            t1 = time.perf_counter()
            render.write_sample(os.path.join(out_dir, f"{n:07d}"), spec, result, settings)
            t2 = time.perf_counter()
            numpy_s = sum(acc.get(k, 0.0) for k in ("geometry", "textures", "sky"))
            denoise_s = acc.get("denoise", 0.0)
            entry = {"index": index, "total": t2 - t0, "scene": numpy_s,
                     "geometry": acc.get("geometry", 0.0), "textures": acc.get("textures", 0.0),
                     "sky": acc.get("sky", 0.0), "upload": acc["load"] - numpy_s,
                     "render": acc["render_layers"] - acc["load"], "denoise": denoise_s,
                     "post": (t1 - t0) - acc["render_layers"] - denoise_s, "write": t2 - t1}
            if history:
                jit = [k for k in dr.kernel_history() if k.get("type") == dr.KernelType.JIT]
                dr.set_flag(dr.JitFlag.KernelHistory, False)
                entry["kernels"] = len(jit)
                entry["kernels_compiled"] = sum(1 for k in jit if not k.get("cache_hit"))
                entry["compile_s"] = sum(k.get("backend_time", 0.0) for k in jit) / 1000.0
                entry["codegen_s"] = sum(k.get("codegen_time", 0.0) for k in jit) / 1000.0
            samples.append(entry)
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    common.emit({"config": cfg, "variant": active, "init_s": init_s, "samples": samples})


def psnr(a, b):
    """PSNR in dB of two [0, 1] images."""
    import numpy as np
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(1.0 / mse)


def _psnr_child(cfg):
    """Render each scene at the reference spp and at every test spp; PSNR of noisy and denoised beauty."""
    from data_tools import mitsuba_render
    from data_tools.scene import sampling
    from tfnormals.core import srgb
    mitsuba_render.init(cfg["variant"], cfg["threads"])
    display = lambda linear, exposure: srgb.linear_to_srgb(linear * exposure)
    scenes = []
    reference = mitsuba_render.TemplateRenderer(cfg["resolution"], cfg["reference_spp"], denoise=False)
    renderers = {spp: mitsuba_render.TemplateRenderer(cfg["resolution"], spp) for spp in cfg["psnr_spp"]}
    for index in range(cfg["first_index"], cfg["first_index"] + cfg["psnr_scenes"]):
        spec = sampling.sample_scene(cfg["seed"], index, cfg["resolution"])
        ref = reference.finish(spec, reference.render_layers(spec, seed=index + 7919), denoise=False)
        target = display(ref["beauty"] / ref["exposure"], ref["exposure"])
        row = {"index": index, "family": spec["family"], "spp": {}}
        for spp, renderer in renderers.items():
            t0 = time.perf_counter()
            layers = renderer.render_layers(spec)
            t1 = time.perf_counter()
            noisy = renderer.finish(spec, layers, denoise=False)
            t2 = time.perf_counter()
            clean = renderer.finish(spec, layers, denoise=True)
            t3 = time.perf_counter()
            row["spp"][str(spp)] = {
                "noisy": psnr(display(noisy["beauty"] / noisy["exposure"], ref["exposure"]), target),
                "denoised": psnr(display(clean["beauty"] / clean["exposure"], ref["exposure"]), target),
                "render_s": t1 - t0, "denoise_s": (t3 - t2) - (t2 - t1)}
        scenes.append(row)
    common.emit({"config": cfg, "scenes": scenes})


def psnr_report(result, args):
    """Markdown table: median PSNR over scenes per spp, noisy vs denoised, and the render cost."""
    rows = []
    for spp in args.psnr_spp:
        cells = [s["spp"][str(spp)] for s in result["scenes"]]
        rows.append([spp, common.median(c["noisy"] for c in cells), common.median(c["denoised"] for c in cells),
                     min(c["denoised"] for c in cells), common.median(c["render_s"] for c in cells),
                     common.median(c["denoise_s"] for c in cells)])
    families = ", ".join(f"{s['index']} {s['family']}" for s in result["scenes"])
    return (f"### Denoiser quality ({args.psnr_resolution}², {len(result['scenes'])} scenes of seed {args.seed}: "
            f"{families}; reference {args.reference_spp} spp, not denoised; PSNR of the sRGB beauty in dB, "
            f"median over scenes; seconds per sample with {args.psnr_threads} Dr.Jit thread(s))\n\n"
            + common.markdown_table(["spp", "PSNR noisy", "PSNR denoised", "worst scene denoised", "render s",
                                     "denoise s"], rows))


def summarize(result):
    """Medians over the steady-state samples (all but the first) and the first-sample figures."""
    samples = result["samples"]
    first, steady, again = samples[0], samples[1:], samples[-1]
    row = {part: common.median(s[part] for s in steady) for part in PARTS + ("geometry", "textures", "sky", "total")}
    row["samples_per_s"] = 1.0 / row["total"]
    row["first_s"] = first["total"]
    row["jit_s"] = first["total"] - again["total"]
    row["first_kernels"] = first.get("kernels")
    row["first_compiled"] = first.get("kernels_compiled")
    row["first_compile_s"] = first.get("compile_s")
    row["steady_compiled"] = again.get("kernels_compiled")
    row["variant"] = result["variant"]
    row["peak_rss_mb"] = result["peak_rss_mb"]
    return row


def configurations(args):
    """(label, [child cfg, ...], extra env) per row; several cfgs = concurrent processes."""
    base = {"spp": args.spp, "seed": args.seed, "first_index": args.first_index, "denoise": bool(args.denoise)}
    rows = []
    for res in args.resolutions:
        for threads in args.threads:
            cfg = dict(base, variant="llvm_ad_rgb", resolution=res, threads=threads, samples=args.samples)
            rows.append((f"llvm {res}² {threads} thread(s)", [cfg], {}))
        if args.parallel_procs > 1:
            rows.append((f"llvm {res}² {args.parallel_procs} procs × 1 thread",
                         [dict(base, variant="llvm_ad_rgb", resolution=res, threads=1, samples=args.samples,
                               first_index=args.first_index + p, stride=args.parallel_procs)
                          for p in range(args.parallel_procs)], {}))
    if args.scalar_samples:
        for threads in args.scalar_threads:
            rows.append((f"scalar {args.resolutions[0]}² {threads} thread(s)",
                         [dict(base, variant="scalar_rgb", resolution=args.resolutions[0], threads=threads,
                               samples=args.scalar_samples)], {}))
    if args.cold_cache:
        rows.append((f"llvm {args.resolutions[0]}² {max(args.threads)} thread(s), cold kernel cache",
                     [dict(base, variant="llvm_ad_rgb", resolution=args.resolutions[0], threads=max(args.threads),
                           samples=2)], {"HOME": None}))
    return rows


def measure(label, cfgs, env):
    """Run one row's child process(es); returns the summary row (rates summed over processes)."""
    home = None
    if "HOME" in env:
        home = tempfile.mkdtemp(prefix="bench_render-home-")  # empty ~/.drjit: no cached kernels
        env = dict(env, HOME=home)
    try:
        if len(cfgs) == 1:
            results = [common.run_child(MODULE, [f"--child={json.dumps(cfgs[0])}"], env=env)]
        else:
            handles = [common.start_child(MODULE, [f"--child={json.dumps(c)}"], env=env) for c in cfgs]
            results = [common.finish_child(h) for h in handles]
    finally:
        if home:
            shutil.rmtree(home, ignore_errors=True)
    rows = [summarize(r) for r in results]
    row = dict(rows[0])
    row["samples_per_s"] = sum(r["samples_per_s"] for r in rows)  # concurrent processes add up
    row["peak_rss_mb"] = max(r["peak_rss_mb"] for r in rows)
    if row["variant"] != cfgs[0]["variant"]:  # mitsuba_render.init fell back (no LLVM >= 16)
        label += f" (ran {row['variant']})"
    row.update(label=label, resolution=cfgs[0]["resolution"], threads=cfgs[0]["threads"], procs=len(cfgs),
               cores=cfgs[0]["threads"] * len(cfgs))
    return row


def report(rows, args):
    headers = ["configuration", "samples/s", "per core", "s/sample", "scene (numpy)", "upload", "render", "denoise",
               "post", "write",
               "first sample s", "JIT est. s", "1st-sample kernels: compiled/launched", "LLVM compile s",
               "peak RSS MB"]
    table = []
    for r in rows:
        kernels = "–" if r["first_kernels"] is None else f"{r['first_compiled']}/{r['first_kernels']}"
        table.append([r["label"], r["samples_per_s"], r["samples_per_s"] / r["cores"], r["total"], r["scene"],
                      r["upload"], r["render"], r["denoise"], r["post"], r["write"], r["first_s"], r["jit_s"], kernels,
                      r["first_compile_s"], r["peak_rss_mb"]])
    parts = common.markdown_table(["configuration", "geometry", "textures", "sky map"],
                                  [[r["label"], r["geometry"], r["textures"], r["sky"]] for r in rows])
    llvm = [r for r in rows if r["variant"].startswith("llvm") and "cold" not in r["label"]]
    ratios = []
    for res in args.resolutions:
        one = [r for r in llvm if r["resolution"] == res and r["procs"] == 1 and r["threads"] == 1]
        for r in llvm:
            if one and r["resolution"] == res and r is not one[0]:
                ratios.append([f"{res}²: {r['label']} vs 1 thread", r["samples_per_s"] / one[0]["samples_per_s"]])
    scalar = [r for r in rows if r["variant"].startswith("scalar")]
    for s in scalar:
        same = [r for r in llvm
                if r["resolution"] == s["resolution"] and r["threads"] == s["threads"] and r["procs"] == 1]
        if same:
            ratios.append([f"{s['resolution']}²: llvm vs scalar, {s['threads']} thread(s)",
                           same[0]["samples_per_s"] / s["samples_per_s"]])
    denoised = "denoised" if args.denoise else "not denoised"
    text = (f"### Rendering ({args.spp} spp, {denoised}, seed {args.seed}, {args.samples} steady samples per row; "
            f"seconds are medians per sample; with concurrent processes they are per process and samples/s is "
            f"the sum)\n\n" + common.markdown_table(headers, table) +
            "\n\nScene build in numpy, split (median seconds per sample):\n\n" + parts)
    if ratios:
        text += "\n\nRatios (same run):\n\n" + common.markdown_table(["comparison", "speed-up"], ratios)
    return text


def targets(rows, args):
    """One target row per resolution with a target: the best ≤ 2-core LLVM configuration."""
    result = []
    for res, target in TARGETS_SAMPLES_PER_S.items():
        candidates = [r for r in rows if r["resolution"] == res and r["variant"].startswith("llvm")
                      and r["cores"] <= 2 and "cold" not in r["label"]]
        if not candidates:
            continue
        best = max(candidates, key=lambda r: r["samples_per_s"])
        shares = {p: best[p] / best["total"] for p in PARTS}
        top = sorted(shares, key=shares.get, reverse=True)
        limits = (f"best config: {best['label']}; per sample {best['total']:.3f} s = "
                  + ", ".join(f"{p} {100 * shares[p]:.0f}%" for p in top) + f" ({top[0]} dominates)")
        denoised = ", denoised" if args.denoise else ""
        result.append(common.target(f"render ≥ {target:g} samples/s at {res}², {args.spp} spp{denoised}, 2 cores",
                                    f"{best['samples_per_s']:.2f} samples/s", best["samples_per_s"] >= target, limits))
    return result


def define_flags():
    """Command-line flags (defined only when run as a program)."""
    common.define_int_list("resolutions", [128, 256], "Square image sizes.")
    flags.DEFINE_integer("spp", 4, "Samples per pixel (data_tools.render's default).")
    flags.DEFINE_integer("denoise", 1, "Denoise the beauty, as data_tools.render does by default.")
    flags.DEFINE_integer("samples", 6, "Steady-state samples per LLVM configuration.")
    common.define_int_list("threads", [1, 2], "Dr.Jit thread counts (one process each).")
    flags.DEFINE_integer("parallel_procs", 2, "Concurrent 1-thread processes row (0/1 = off).")
    flags.DEFINE_integer("scalar_samples", 2, "Samples for the scalar_rgb row (0 = skip).")
    common.define_int_list("scalar_threads", [2], "Thread counts for scalar_rgb.")
    flags.DEFINE_integer("cold_cache", 1, "Also measure with an empty Dr.Jit kernel cache.")
    flags.DEFINE_integer("seed", 0, "Data set seed of the rendered scenes.")
    flags.DEFINE_integer("first_index", 0, "First sample index rendered.")
    flags.DEFINE_integer("psnr_scenes", 0, "Scenes for the denoiser-quality table (0 = skip).")
    common.define_int_list("psnr_spp", list(DEFAULT_PSNR_SPP), "Test spp for the PSNR table.")
    flags.DEFINE_integer("reference_spp", 512, "Reference spp for the PSNR table.")
    flags.DEFINE_integer("psnr_resolution", 256, "Resolution of the PSNR table.")
    flags.DEFINE_integer("psnr_threads", 2, "Dr.Jit threads of the PSNR child.")
    flags.DEFINE_boolean("only_psnr", False, "Measure only the PSNR table.")
    common.define_output_flags(child=True)


def main(args):
    rows, failures, sections = [], [], []
    if args.psnr_scenes > 0:
        print("[bench_render] denoiser quality ...", file=sys.stderr, flush=True)
        cfg = {"psnr": True, "variant": "llvm_ad_rgb", "threads": args.psnr_threads, "seed": args.seed,
               "first_index": args.first_index, "psnr_scenes": args.psnr_scenes, "psnr_spp": args.psnr_spp,
               "reference_spp": args.reference_spp, "resolution": args.psnr_resolution}
        try:
            sections.append(psnr_report(common.run_child(MODULE, [f"--child={json.dumps(cfg)}"]), args))
        except common.ChildError as e:
            print(e, file=sys.stderr)
            failures.append(["denoiser quality", str(e).strip().splitlines()[-1]])
    for label, cfgs, env in ([] if args.only_psnr else configurations(args)):
        print(f"[bench_render] {label} ...", file=sys.stderr, flush=True)
        try:
            rows.append(measure(label, cfgs, env))
        except common.ChildError as e:  # one broken configuration must not hide the others
            print(e, file=sys.stderr)
            failures.append([label, str(e).strip().splitlines()[-1]])
    text = report(rows, args) if rows else "### Rendering\n\nNo configuration ran."
    if args.only_psnr:
        text = ""
    text = "\n\n".join(sections + [text]).strip()
    if failures:
        text += "\n\nFailed configurations:\n\n" + common.markdown_table(["configuration", "error"], failures)
    return common.finish(MODULE, {"name": "render", "markdown": text, "rows": rows, "failures": failures,
                                        "targets": targets(rows, args)}, args.json_out)


if __name__ == "__main__":
    define_flags()
    common.run(main, MODULE, child=_child)
