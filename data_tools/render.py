r"""Render random scenes into paired sample folders (beauty, normals, depth, albedo, mask, IDs, JSON).

Usage:
  python -m data_tools.render --output_dir=DIR --num_samples=N --resolution=R --spp=S --seed=K \
      [--task_index=I --num_tasks=T] [--families=object_study=0.4,...] [--denoise]

Sample i goes to DIR/<i as 7 digits>/. Samples are split across tasks by index (i % T == I),
so a render farm or job array needs no coordination. A finished sample folder is complete
(it is built under a temporary name and renamed), so re-running skips it: the job resumes.
A sample is a pure function of (seed, index, resolution, spp, families, denoise), which its
scene.json records: a folder holding samples made with other settings is refused, naming the
flag (a data set would mix them), whether the samples are this run's or others (extending a set).

stdout is one JSON line: {"rendered", "skipped_complete", "failed": [indices]}. Exit code 2 for a
usage mistake, 1 when a sample failed (tfnormals.core.cli).
"""

import glob
import json
import os
import shutil
import time

import numpy as np
from absl import flags, logging

from data_tools import denoise as denoiser
from data_tools import mitsuba_render
from data_tools.scene import sampling
from tfnormals.core import cli, errors, image_io, layout, normals, outputs, srgb
from tfnormals.core.progress import Progress

FLAGS = flags.FLAGS
HALF_MAX = 65504.0
DEFAULT_SPP = 4  # with the denoiser; BUILD_NOTES.md "Denoiser quality" has the PSNR table behind it
MAX_RESOLUTION = 8192
MAX_SPP = 1 << 16


def is_complete(sample_dir):
    return all(os.path.isfile(os.path.join(sample_dir, name)) for name in layout.SAMPLE_WRITTEN)


def sample_settings(*, seed, resolution, spp, denoise, families):
    """What decides a sample besides its index, by flag (and the scene generator's version)."""
    return {"--seed": seed, "--resolution": resolution, "--spp": spp, "--denoise": bool(denoise),
            "--families": families, "scene generator version": sampling.GENERATOR_VERSION}


def recorded_settings(sample_dir):
    """sample_settings() as a sample's scene.json records them (those it records); None when it cannot be read or a
    file it lists is not at the size it was written (truncated on disk: the sample must be rendered again)."""
    try:
        with open(os.path.join(sample_dir, layout.SCENE_JSON)) as f:
            scene = json.load(f)
        for name, size in scene.get("files", {}).items():
            if os.path.getsize(os.path.join(sample_dir, name)) != size:
                return None
        render = scene.get("render", {})
        recorded = {"--seed": scene.get("seed"), "--resolution": render.get("resolution"), "--spp": render.get("spp"),
                    "--denoise": render.get("denoised"), "--families": render.get("families"),
                    "scene generator version": scene.get("generator")}
    except (OSError, ValueError, AttributeError):
        return None
    return {name: value for name, value in recorded.items() if value is not None}


def check_settings(output_dir, indices, wanted):
    """The indices still to render: those without a complete sample folder whose scene.json reads and whose files
    are at the sizes it records (recorded_settings).

    Raises errors.UsageError naming the flags when one of the others, or another sample of the folder (a run
    extending a data set), was made with settings other than `wanted` (sample_settings()).
    """
    todo, recorded = [], {}
    for index in indices:
        folder = os.path.join(output_dir, layout.sample_id(index))
        settings = recorded_settings(folder) if is_complete(folder) else None
        if settings is None:
            todo.append(index)
        else:
            recorded[folder] = settings
    other = _any_sample(output_dir) if os.path.isdir(output_dir) else None
    if other and other not in recorded:
        recorded[other] = recorded_settings(other) or {}
    for folder, settings in recorded.items():
        changed = [f"{name}={settings[name]} (not {wanted[name]})" for name in wanted
                   if name in settings and settings[name] != wanted[name]]
        if changed:
            raise errors.UsageError(f"--output_dir: {output_dir} holds samples rendered with other settings "
                                    f"({', '.join(changed)}: {os.path.basename(folder)}); a data set would mix "
                                    "them. Use another --output_dir, or the same settings")
    return todo


def _any_sample(output_dir):
    """One complete sample folder of `output_dir` (the first the file system lists), or None."""
    with os.scandir(output_dir) as entries:
        for entry in entries:
            if entry.name.isdigit() and entry.is_dir() and is_complete(entry.path):
                return entry.path
    return None


def write_passes(path, result):
    """Write the image files of a render (layout.SHOT_FRAME_FILES: a sample but scene.json); path(name) → where."""
    # Half floats top out at 65504: clip rare sun glints instead of storing inf.
    beauty = np.minimum(result["beauty"], HALF_MAX)
    image_io.write_rgb_exr(path(layout.BEAUTY_EXR), beauty, alpha=result["alpha"], half=True)
    image_io.write_png(path(layout.BEAUTY_PNG), srgb.linear_to_srgb(result["beauty"]))
    image_io.write_rgb_exr(path(layout.NORMALS_EXR), result["normals"])
    image_io.write_png(path(layout.NORMALS_PNG), normals.encode(result["normals"]) * (result["alpha"][..., None] > 0))
    image_io.write_exr(path(layout.DEPTH_EXR), {"Z": result["depth"]})
    image_io.write_rgb_exr(path(layout.ALBEDO_EXR), result["albedo"], half=True)
    image_io.write_png(path(layout.MASK_PNG), result["alpha"])
    image_io.write_png(path(layout.IDS_PNG), result["ids"].astype(np.float32) / 255.0)


def write_sample(sample_dir, spec, result, settings):
    """Write every file of one sample under a temporary folder, then rename it into place."""
    parent = os.path.dirname(os.path.abspath(sample_dir))
    for stale in glob.glob(os.path.join(parent, f".tmp-{os.path.basename(sample_dir)}-*")):
        shutil.rmtree(stale, ignore_errors=True)  # left by an interrupted earlier run
    tmp = os.path.join(parent, f".tmp-{os.path.basename(sample_dir)}-{os.getpid()}")
    os.makedirs(tmp)
    path = lambda name: os.path.join(tmp, name)
    write_passes(path, result)
    sizes = {name: os.path.getsize(path(name)) for name in sorted(os.listdir(tmp))}  # checked when resuming
    record = dict(spec, ids=result["id_names"], render=dict(settings, exposure=result["exposure"]), files=sizes)
    with open(path(layout.SCENE_JSON), "w") as f:
        json.dump(record, f, indent=1)
    if os.path.isdir(sample_dir):  # an incomplete folder from an older, interrupted layout
        shutil.rmtree(sample_dir)
    os.rename(tmp, sample_dir)


def task_indices(start, count, task_index, num_tasks):
    """Indices this task owns among start..start+count-1."""
    if not 0 <= task_index < num_tasks:
        raise ValueError(f"task_index {task_index} must be in [0, {num_tasks})")
    return [i for i in range(start, start + count) if i % num_tasks == task_index]


def render_dataset(output_dir, indices, *, resolution, spp, seed, variant=mitsuba_render.FAST_VARIANT,
                   family_weights=None, denoise=True, threads=0):
    """Render the samples in `indices` that are not already complete; returns (rendered, skipped, failed).

    family_weights: {family: weight} (default sampling.DEFAULT_FAMILY_WEIGHTS); denoise: run OIDN on the beauty;
    threads: Dr.Jit worker threads (0 = one per core). Raises errors.UsageError when the folder holds samples
    made with other settings (check_settings).
    """
    weights = sampling.DEFAULT_FAMILY_WEIGHTS if family_weights is None else family_weights
    wanted = sample_settings(seed=seed, resolution=resolution, spp=spp, denoise=denoise,
                             families=sampling.format_family_weights(weights))
    todo = check_settings(output_dir, indices, wanted)
    os.makedirs(output_dir, exist_ok=True)
    skipped = len(indices) - len(todo)
    if skipped:
        logging.info("%d of %d samples already complete; resuming", skipped, len(indices))
    if not todo:
        return 0, skipped, []
    active_variant = mitsuba_render.init(variant, threads)
    renderer = mitsuba_render.TemplateRenderer(resolution, spp, denoise=denoise)
    settings = {"resolution": resolution, "spp": spp, "variant": active_variant, "denoised": bool(denoise),
                "families": sampling.format_family_weights(weights)}
    progress = Progress(len(todo), "render")
    failed = []
    for index in todo:
        spec = sampling.sample_scene(seed, index, resolution, weights)
        try:
            start = time.monotonic()
            result = renderer.render(spec)
            write_sample(os.path.join(output_dir, layout.sample_id(index)), spec, result,
                         dict(settings, seconds=round(time.monotonic() - start, 3)))
            progress.update()
        except Exception as e:  # A bad scene must not end a long job; it is reported and skipped.
            logging.error("sample %s failed: %s", layout.sample_id(index), e)
            failed.append(index)
            progress.update(failed=True)
    return len(todo) - len(failed), skipped, failed


def define_renderer_flags():
    """The flags every render command shares: image, samples, seed, scene families, farm split, renderer."""
    flags.DEFINE_integer("resolution", 128, "Square image size in pixels.")
    flags.DEFINE_integer("spp", DEFAULT_SPP, "Path-tracing samples per pixel of the beauty.")
    flags.DEFINE_integer("seed", 0, "Data set seed; item i uses the seed sequence (seed, i).")
    flags.DEFINE_integer("task_index", 0, "This task's index in [0, num_tasks).")
    flags.DEFINE_integer("num_tasks", 1, "How many tasks share the job.")
    flags.DEFINE_string("families", sampling.format_family_weights(sampling.DEFAULT_FAMILY_WEIGHTS),
                        "Scene family weights, NAME=WEIGHT,... (families not named get 0).")
    flags.DEFINE_integer("threads", 0, "Dr.Jit render threads in this process (0 = one per core); with one task "
                         "per core, 1 is fastest.")
    flags.DEFINE_boolean("denoise", True, "Denoise the beauty with Open Image Denoise (--nodenoise to turn off).")
    flags.DEFINE_enum("variant", mitsuba_render.FAST_VARIANT,
                      [mitsuba_render.FAST_VARIANT, mitsuba_render.FALLBACK_VARIANT],
                      "Mitsuba variant; the LLVM one falls back to scalar with a warning if LLVM is missing.")


def define_flags():
    """Command-line flags (defined only when run as a program, so importing defines none)."""
    flags.DEFINE_string("output_dir", None, "Folder to write sample folders into.")
    flags.DEFINE_integer("num_samples", 16, "Total samples in the data set (across all tasks).")
    flags.DEFINE_integer("start_index", 0, "First sample index (to extend a data set).")
    define_renderer_flags()


def validate_renderer(*, output_dir, resolution, spp, seed, task_index, num_tasks, families, denoise, threads=0):
    """(parsed family weights or None, [one-line problems]) of the flags every render command has: --output_dir (a
    folder this process can write in, checked before any work) and those define_renderer_flags defines."""
    problems = []
    if not output_dir:
        problems.append("--output_dir is required")
    else:
        try:
            outputs.check_writable_dir(output_dir, "--output_dir")
        except errors.UsageError as e:
            problems.append(str(e))
    if seed < 0:
        problems.append(f"--seed must be >= 0 (got {seed})")
    if not 0 < resolution <= MAX_RESOLUTION:
        problems.append(f"--resolution must be in 1..{MAX_RESOLUTION} (got {resolution})")
    if not 0 < spp <= MAX_SPP:
        problems.append(f"--spp must be in 1..{MAX_SPP} (got {spp})")
    if threads < 0:
        problems.append(f"--threads must be >= 0 (got {threads})")
    if num_tasks <= 0 or not 0 <= task_index < num_tasks:
        problems.append(f"--task_index must be in [0, --num_tasks) and --num_tasks > 0 (got {task_index}, {num_tasks})")
    if denoise and not denoiser.available():
        problems.append("--denoise needs the pyoidn package (pip install -e .[render]); or pass --nodenoise")
    weights = None
    try:
        weights = sampling.parse_family_weights(families)
    except ValueError as e:
        problems.append(f"--families: {e}")
    return weights, problems


def validate(*, output_dir, num_samples, resolution, spp, start_index, task_index, num_tasks, families, denoise,
             threads=0, seed=0):
    """Parsed family weights, or a one-line message saying what is wrong with the flags."""
    problems = []
    if num_samples <= 0:
        problems.append(f"--num_samples must be > 0 (got {num_samples})")
    if start_index < 0:
        problems.append(f"--start_index must be >= 0 (got {start_index})")
    weights, shared = validate_renderer(output_dir=output_dir, resolution=resolution, spp=spp, seed=seed,
                                        task_index=task_index, num_tasks=num_tasks, families=families,
                                        denoise=denoise, threads=threads)
    return weights, "; ".join(shared + problems)


def main(argv):
    del argv
    weights, problem = validate(output_dir=FLAGS.output_dir, num_samples=FLAGS.num_samples,
                                resolution=FLAGS.resolution, spp=FLAGS.spp, start_index=FLAGS.start_index,
                                task_index=FLAGS.task_index, num_tasks=FLAGS.num_tasks, families=FLAGS.families,
                                denoise=FLAGS.denoise, threads=FLAGS.threads, seed=FLAGS.seed)
    if problem:
        raise errors.UsageError(problem)
    indices = task_indices(FLAGS.start_index, FLAGS.num_samples, FLAGS.task_index, FLAGS.num_tasks)
    rendered, skipped, failed = render_dataset(FLAGS.output_dir, indices, resolution=FLAGS.resolution, spp=FLAGS.spp,
                                               seed=FLAGS.seed, variant=FLAGS.variant, family_weights=weights,
                                               denoise=FLAGS.denoise, threads=FLAGS.threads)
    cli.emit({"rendered": rendered, "skipped_complete": skipped, "failed": failed})
    if failed:
        raise errors.Failure(f"{len(failed)} of {len(indices)} sample(s) failed (their indices are in the summary; "
                             "the reasons are logged above); a re-run renders them again")


if __name__ == "__main__":
    define_flags()
    cli.run(main, "data_tools.render")
