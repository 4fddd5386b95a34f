"""Run every benchmark with small settings and record the results in BUILD_NOTES.md.

    python -m benchmarks.run_all [--only=render,records,...] [--notes=BUILD_NOTES.md] [--no_write] [--tiny]
    (or python -m benchmarks, the same)

Each stage runs as its own process (`python -m benchmarks.bench_<stage> ... --json_out=F`), so
Mitsuba and TensorFlow never share one and every stage starts from a cold process. The combined
markdown — date, machine (nproc, CPU model, load average), the exact commands, a Targets table
and each stage's tables — is printed and written between `<!-- benchmarks:start -->` and
`<!-- benchmarks:end -->` in BUILD_NOTES.md (the markers are appended under a "## Benchmarks"
heading if absent; the file is replaced atomically). A failing stage is reported in its section
and the others still run. Meant for a quiet machine: other jobs on the cores skew every figure.
"""

import json
import os
import sys
import tempfile
import time

from absl import flags

from benchmarks import common
from tfnormals.core import cli, errors

START, END = "<!-- benchmarks:start -->", "<!-- benchmarks:end -->"
HEADING = "## Benchmarks"

# Small settings: the whole run takes a few minutes on 2 cores.
STAGES = [
    ("render", "benchmarks.bench_render", ["--resolutions=128,256", "--spp=4", "--samples=4", "--threads=1,2",
                                           "--parallel_procs=2", "--scalar_samples=1", "--cold_cache=1"]),
    ("records", "benchmarks.bench_records", ["--num_samples=48", "--resolution=128", "--spp=8", "--workers=1,2",
                                             "--repeats=3"]),
    ("pipeline", "benchmarks.bench_pipeline", ["--batches=20", "--repeats=3", "--steps=6",
                                                  "--warmup_steps=2"]),
    ("train_step", "benchmarks.bench_train_step", ["--steps=6", "--warmup_steps=2", "--budget_s=20"]),
    ("inference", "benchmarks.bench_inference", ["--sizes=1920x1080,4096x2160", "--modes=fused,global,tiled",
                                                 "--repeats=2"]),
    ("backends", "benchmarks.bench_backends", ["--repeats=3"]),
    ("temporal", "benchmarks.bench_temporal", ["--sizes=1920x1080", "--frames=6"]),
    ("quality", "benchmarks.bench_quality", []),
]
# --tiny: a smoke run of every code path in about a minute (figures meaningless).
TINY = {
    "render": ["--resolutions=64", "--spp=4", "--samples=2", "--threads=1,2", "--parallel_procs=2",
               "--scalar_samples=1", "--cold_cache=0"],
    "records": ["--num_samples=8", "--resolution=64", "--spp=4", "--workers=1,2", "--repeats=1"],
    "pipeline": ["--batches=5", "--repeats=2", "--steps=2", "--warmup_steps=1"],
    "train_step": ["--configs=shipped", "--batches=1", "--steps=3", "--warmup_steps=1", "--matmul_n=512"],
    "inference": ["--sizes=320x180", "--tile=128", "--overlap=16", "--repeats=1"],
    "backends": ["--batch=1", "--side=64", "--repeats=1"],
    "temporal": ["--sizes=320x180", "--frames=3"],
    "quality": ["--max_images=4", "--fit_images=4"],
}


STAGES_WITH_TARGETS = ("render", "pipeline", "train_step", "inference", "backends", "temporal")


def run_stage(name, module, argv):
    """Run one stage's script; returns its result dict (or one describing the failure)."""
    fd, path = tempfile.mkstemp(prefix=f"bench-{name}-", suffix=".json")
    os.close(fd)
    start = time.perf_counter()
    try:
        common.run_child(module, [*argv, f"--json_out={path}"], show_stderr=True, timeout=3 * 3600)
        with open(path) as f:
            result = json.load(f)
    except (common.ChildError, ValueError, OSError) as e:
        why = str(e).strip().splitlines()[-1]
        targets = [common.target(f"{name} targets", "not measured", False, f"stage failed: {why}")] \
            if name in STAGES_WITH_TARGETS else []
        result = {"name": name, "markdown": f"### {name}\n\nFailed: `{why}`", "error": str(e), "targets": targets}
        print(f"[run_all] {name} failed:\n{e}", file=sys.stderr, flush=True)
    finally:
        os.remove(path)
    result["seconds"] = time.perf_counter() - start
    result["command"] = common.command_line(module, argv)  # without the temporary --json_out
    return result


def combine(results, machine, total_s, argv):
    commands = [common.command_line("benchmarks", argv)] + [r["command"] for r in results]
    targets = [t for r in results for t in r.get("targets", [])]
    parts = [f"_Measured {machine['date']} on {machine['nproc']} cores ({machine['cpu']}), load average at start "
             f"{machine['loadavg']}, Python {machine['python']}; {total_s / 60:.1f} min in all. "
             f"Medians over repeats; ratios are from the same run._",
             "Commands (the first runs all of the others):\n\n```\n" + "\n".join(commands) + "\n```",
             "### Targets\n\n" + (common.targets_table(targets) if targets else "No target measured.")]
    parts += [r["markdown"] for r in results]
    return "\n\n".join(parts) + "\n"


def write_notes(path, markdown):
    """Replace the text between the markers (or append a section with them), atomically."""
    text = open(path).read() if os.path.isfile(path) else ""
    block = f"{START}\n{markdown.rstrip()}\n{END}"
    if START in text and END in text and text.index(START) < text.index(END):
        head, rest = text.split(START, 1)
        tail = rest.split(END, 1)[1]
        text = head + block + tail
    else:
        text = (text.rstrip("\n") + "\n\n" if text.strip() else "") + f"{HEADING}\n\n{block}\n"
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-notes-")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, os.stat(path).st_mode & 0o777 if os.path.exists(path) else 0o644)
    os.replace(tmp, path)


def define_flags():
    """Command-line flags (defined only when run as a program)."""
    flags.DEFINE_string("only", "", "Comma-separated stages: " + ",".join(s[0] for s in STAGES))
    flags.DEFINE_string("notes", os.path.join(common.REPO, "BUILD_NOTES.md"), "File to write into.")
    flags.DEFINE_boolean("no_write", False, "Print only; leave the notes file alone.")
    flags.DEFINE_boolean("tiny", False, "Smoke-test settings (implies --no_write).")


def main(args):
    only = [s for s in args.only.split(",") if s]
    unknown = set(only) - {s[0] for s in STAGES}
    if unknown:
        raise errors.UsageError(f"--only: unknown stage(s) {', '.join(sorted(unknown))}; expected some of "
                                f"{','.join(s[0] for s in STAGES)}")
    machine = common.machine_info()
    start = time.perf_counter()
    results = []
    for name, module, stage_argv in STAGES:
        if only and name not in only:
            continue
        stage_argv = TINY[name] if args.tiny else stage_argv
        print(f"[run_all] {name}: {common.command_line(module, stage_argv)}", file=sys.stderr, flush=True)
        results.append(run_stage(name, module, stage_argv))
    markdown = combine(results, machine, time.perf_counter() - start, sys.argv[1:])
    cli.emit(markdown)
    if not (args.no_write or args.tiny):
        write_notes(args.notes, markdown)
        print(f"[run_all] wrote {args.notes}", file=sys.stderr)
    failed = [r["name"] for r in results if "error" in r]
    if failed:
        raise errors.Failure(f"stage(s) {', '.join(failed)} failed (each section above says why)")


if __name__ == "__main__":
    define_flags()
    common.run(main, "benchmarks.run_all")
