"""Rendering throughput (data_tools.render) and where each sample's time goes.

    python -m benchmarks.bench_render [--resolutions=128,256] [--spp=32] [--samples=6]

Every configuration (variant × resolution × Dr.Jit thread count) runs in its own fresh
process that never imports TensorFlow (Dr.Jit segfaults when loaded after it), renders
sampling.sample_scene(seed, i, resolution) for i = 0..samples with the production
TemplateRenderer and writes each with data_tools.render.write_sample into a temp folder.
One more configuration runs two single-threaded processes at once, the way the data job
splits work (--task_index/--num_tasks).

Per sample the child splits the time into
  scene (numpy)  geometry.ground_meshes/object_mesh/material_textures/sky_map/
                 area_light_quad/sun_emitter, timed by wrapping them where _load calls them;
  upload         the rest of TemplateRenderer._load (parameter upload, params.update(),
                 acceleration-structure rebuild; scalar variants rebuild the scene here);
  render         render_layers minus _load (both scenes' kernels; Dr.Jit is lazy, so any
                 upload work it deferred lands here);
  post           render() minus render_layers (camera-space normals, exposure, in numpy);
  write          write_sample (EXR/PNG/JSON files).
JIT compile: the first sample's time minus the time of the same spec rendered again at the
end, plus Dr.Jit's own kernel history for the first sample (kernels launched, how many were
not in a cache, LLVM backend compile time). Dr.Jit caches kernels on disk (~/.drjit), so the
first sample normally loads them; the `cold cache` row points HOME at an empty folder to
measure a first-ever compile. samples/s = 1 / median seconds per steady-state sample.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

from benchmarks import common

MODULE = "benchmarks.bench_render"
GEOMETRY_FUNCS = {"ground_meshes": "geometry", "object_mesh": "geometry", "area_light_quad": "geometry",
                  "sun_emitter": "geometry", "material_textures": "textures", "sky_map": "sky"}
PARTS = ("scene", "upload", "render", "post", "write")
TARGET_SAMPLES_PER_S = 4.0


def _child(cfg):
    """Render cfg['samples'] + 2 specs in this process and report per-sample timings."""
    from data_tools import mitsuba_render, render
    from data_tools.scene import sampling
    active = mitsuba_render.init(cfg["variant"])
    import drjit as dr
    dr.set_thread_count(cfg["threads"])

    acc = {}

    def wrap(name, fn):
        group = GEOMETRY_FUNCS[name]

        def timed_fn(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                acc[group] = acc.get(group, 0.0) + time.perf_counter() - start
        return timed_fn

    for name in GEOMETRY_FUNCS:  # mitsuba_render calls them as geometry.<name>
        setattr(scene_geometry, name, wrap(name, getattr(scene_geometry, name)))

    start = time.perf_counter()
    renderer = mitsuba_render.TemplateRenderer(cfg["resolution"], cfg["spp"])
    init_s = time.perf_counter() - start
    for method in ("_load", "render_layers"):
        original = getattr(renderer, method)

        def timed_method(spec, _original=original, _key=method):
            t = time.perf_counter()
            try:
                return _original(spec)
            finally:
                acc[_key] = acc.get(_key, 0.0) + time.perf_counter() - t
        setattr(renderer, method, timed_method)

    out_dir = tempfile.mkdtemp(prefix="bench_render-")
    settings = {"resolution": cfg["resolution"], "spp": cfg["spp"], "variant": active}
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
            entry = {"index": index, "total": t2 - t0, "scene": numpy_s,
                     "geometry": acc.get("geometry", 0.0), "textures": acc.get("textures", 0.0),
                     "sky": acc.get("sky", 0.0), "upload": acc["_load"] - numpy_s,
                     "render": acc["render_layers"] - acc["_load"], "post": (t1 - t0) - acc["render_layers"],
                     "write": t2 - t1}
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
    base = {"spp": args.spp, "seed": args.seed, "first_index": args.first_index}
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
    headers = ["configuration", "samples/s", "per core", "s/sample", "scene (numpy)", "upload", "render", "post", "write",
               "first sample s", "JIT est. s", "1st-sample kernels: compiled/launched", "LLVM compile s",
               "peak RSS MB"]
    table = []
    for r in rows:
        kernels = "–" if r["first_kernels"] is None else f"{r['first_compiled']}/{r['first_kernels']}"
        table.append([r["label"], r["samples_per_s"], r["samples_per_s"] / r["cores"], r["total"], r["scene"],
                      r["upload"], r["render"], r["post"], r["write"], r["first_s"], r["jit_s"], kernels,
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
    text = (f"### Rendering ({args.spp} spp, seed {args.seed}, {args.samples} steady samples per row; "
            f"seconds are medians per sample; with concurrent processes they are per process and samples/s is "
            f"the sum)\n\n" + common.markdown_table(headers, table) +
            "\n\nScene build in numpy, split (median seconds per sample):\n\n" + parts)
    if ratios:
        text += "\n\nRatios (same run):\n\n" + common.markdown_table(["comparison", "speed-up"], ratios)
    return text


def targets(rows, args):
    res = 128 if 128 in args.resolutions else args.resolutions[0]
    candidates = [r for r in rows if r["resolution"] == res and r["variant"].startswith("llvm")
                  and r["cores"] <= 2 and "cold" not in r["label"]]
    if not candidates or args.spp != 32:
        return []
    best = max(candidates, key=lambda r: r["samples_per_s"])
    shares = {p: best[p] / best["total"] for p in PARTS}
    top = sorted(shares, key=shares.get, reverse=True)
    limits = (f"best config: {best['label']}; per sample {best['total']:.3f} s = "
              + ", ".join(f"{p} {100 * shares[p]:.0f}%" for p in top) + f" ({top[0]} dominates)")
    return [common.target(f"render ≥ {TARGET_SAMPLES_PER_S:g} samples/s at {res}², 32 spp, 2 cores",
                          f"{best['samples_per_s']:.2f} samples/s", best["samples_per_s"] >= TARGET_SAMPLES_PER_S,
                          limits)]


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ints = lambda s: [int(v) for v in s.split(",") if v]
    p.add_argument("--resolutions", type=ints, default=[128, 256], help="Square image sizes.")
    p.add_argument("--spp", type=int, default=32, help="Samples per pixel.")
    p.add_argument("--samples", type=int, default=6, help="Steady-state samples per LLVM configuration.")
    p.add_argument("--threads", type=ints, default=[1, 2], help="Dr.Jit thread counts (one process each).")
    p.add_argument("--parallel_procs", type=int, default=2, help="Concurrent 1-thread processes row (0/1 = off).")
    p.add_argument("--scalar_samples", type=int, default=2, help="Samples for the scalar_rgb row (0 = skip).")
    p.add_argument("--scalar_threads", type=ints, default=[2], help="Thread counts for scalar_rgb.")
    p.add_argument("--cold_cache", type=int, default=1, help="Also measure with an empty Dr.Jit kernel cache.")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--first_index", type=int, default=0)
    common.add_output_args(p, child=True)
    return p.parse_args(argv)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.child:
        return _child(json.loads(args.child))
    rows, failures = [], []
    for label, cfgs, env in configurations(args):
        print(f"[bench_render] {label} ...", file=sys.stderr, flush=True)
        try:
            rows.append(measure(label, cfgs, env))
        except common.ChildError as e:  # one broken configuration must not hide the others
            print(e, file=sys.stderr)
            failures.append([label, str(e).strip().splitlines()[-1]])
    text = report(rows, args) if rows else "### Rendering\n\nNo configuration ran."
    if failures:
        text += "\n\nFailed configurations:\n\n" + common.markdown_table(["configuration", "error"], failures)
    return common.finish(MODULE, argv, {"name": "render", "markdown": text, "rows": rows, "failures": failures,
                                        "targets": targets(rows, args)}, args.json_out)


if __name__ == "__main__":
    main()
