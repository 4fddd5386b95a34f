"""Render shots: one random scene seen through a moving camera, objects that may move, N frames of every pass.

Usage:
  python -m data_tools.render_shots --output_dir=DIR --num_shots=S --num_frames=N --resolution=R --seed=K \
      [--camera_paths=dolly,orbit,pan,handheld] [--shake_share=0.3] [--moving_share=0.5] [--first_frame=1001] \
      [--task_index=I --num_tasks=T]

Shot s goes to DIR/shot<s as 5 digits>/ (tfnormals.core.layout): per frame the files of a data_tools.render
sample as sequences (beauty.1001.exr, beauty.1001.png, normals, depth, albedo, mask, ids), and shot.json:
the shot spec (data_tools.scene.shots: the scene, the camera path, moving objects, every frame's camera and
object transforms), the settings, the ID names and the shot's exposure. tfnormals.core.shots reads it and
gives the true correspondence of any two frames.

A frame is a pure function of (seed, shot, frame offset) and the settings. The (shot, frame) pairs are split
between tasks in contiguous blocks (a task loads few shots) with no coordination. Every file is written
under a temporary name and renamed; a re-run skips complete frames (every file there and readable in full).
Flags are checked before any work as data_tools.render checks its own (render.validate_renderer: a negative
seed, an output folder this process cannot write in, ...), and a folder holding shots made with other
settings is refused, naming them. Exposure is fixed per shot (no flicker): the first frame's auto exposure
times the camera's exposure bias, taken from shot.json when it exists, else measured by rendering the
first frame (once per shot and task; the path tracer's noise still changes per frame, like film grain).
"""

import glob
import json
import os
import time

import numpy as np
from absl import flags, logging

from data_tools import mitsuba_render, render
from data_tools.scene import camera_paths, sampling, shots
from tfnormals.core import cli, errors, image_io, layout, outputs, resume
from tfnormals.core.progress import Progress

FLAGS = flags.FLAGS
SETTINGS = ("resolution", "spp", "seed", "num_frames", "first_frame", "families", "camera_paths", "shake_share",
            "moving_share", "denoise", "variant")  # flags a shot's pixels depend on, as shot.json records them
GENERATORS = [shots.SHOT_GENERATOR_VERSION, sampling.GENERATOR_VERSION]  # shot.json's generator, scene.generator
CONVENTIONS = ("camera_to_world: 4x4, columns = camera +X right, +Y up, +Z toward the viewer (OpenGL) and position, "
               "world space; fov_deg: horizontal; pixel (row, col) centre at (col + 0.5, row + 0.5) from the "
               "top-left corner; depth: distance along the view axis; object_transforms: ID -> 4x4 world transform "
               "from the scene spec's pose to the frame's (tfnormals.core.shots)")


def task_pairs(num_shots, num_frames, task_index, num_tasks):
    """The (shot, frame offset) pairs task `task_index` of `num_tasks` renders: a contiguous block of all pairs."""
    total = num_shots * num_frames
    start, stop = total * task_index // num_tasks, total * (task_index + 1) // num_tasks
    return [divmod(p, num_frames) for p in range(start, stop)]


def frame_complete(shot_dir, frame):
    """Whether the shot's shot.json exists and every file of `frame` exists and reads in full (each is renamed into
    place when complete, but a file server's crash can still truncate one on disk: resume.readable)."""
    files = [os.path.join(shot_dir, layout.frame_file(name, frame)) for name in layout.SHOT_FRAME_FILES]
    return os.path.isfile(os.path.join(shot_dir, layout.SHOT_JSON)) and resume.readable(files)


def read_shot_json(shot_dir):
    """shot.json of a shot folder, or None when there is none yet."""
    try:
        with open(os.path.join(shot_dir, layout.SHOT_JSON)) as f:
            return json.load(f)
    except FileNotFoundError:
        return None


def check_folder(output_dir, settings):
    """Raise errors.UsageError if a shot in `output_dir` was made with other settings (naming them)."""
    for path in sorted(glob.glob(os.path.join(glob.escape(output_dir), layout.SHOT_GLOB, layout.SHOT_JSON))):
        try:
            with open(path) as f:
                record = json.load(f)
            theirs, made_by = record["settings"], [record["generator"], record["scene"]["generator"]]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise errors.UsageError(f"--output_dir: {path} is not a readable shot.json ({e}); use another "
                                    "--output_dir") from None
        changed = [f"--{k}={settings[k]} (the folder's shots have {theirs.get(k)})" for k in SETTINGS
                   if theirs.get(k) != settings[k]]
        if made_by != GENERATORS:
            changed.append(f"scene/shot generator versions {GENERATORS} (the folder's shots have {made_by})")
        if changed:
            raise errors.UsageError(f"--output_dir: {output_dir} holds shots made with other settings: "
                                    f"{'; '.join(changed)} ({path}); use another --output_dir or the same settings")


def _render_frame(renderer, shot, index, denoise, exposure=None):
    """render() of frame `index` (0-based) of the loaded shot; exposure None = auto (the shot's first frame)."""
    entry = shot["frames"][index]
    moved = {int(k) - layout.ID_FIRST_OBJECT: np.asarray(m) for k, m in entry["object_transforms"].items()}
    renderer.pose(entry["camera"], moved)
    layers = renderer.render_loaded(entry["sampler_seed"])
    return renderer.finish(dict(shot["scene"], camera=entry["camera"]), layers, denoise, exposure)


def _write_shot_json(shot_dir, shot, ids, settings, variant, exposure):
    record = dict(shot, ids=ids, settings=settings, renderer={"variant": variant}, exposure=exposure,
                  exposure_frame=shot["frames"][0]["frame"], conventions=CONVENTIONS)
    with image_io.atomic_output(os.path.join(shot_dir, layout.SHOT_JSON)) as tmp:
        with open(tmp, "w") as f:
            json.dump(record, f, indent=1)


def _render_shot(renderer, output_dir, shot, indices, settings, variant, progress):
    """Render frames `indices` (offsets, ascending) of one shot spec; returns the frame numbers that failed."""
    shot_dir = os.path.join(output_dir, layout.shot_id(shot["shot"]))
    os.makedirs(shot_dir, exist_ok=True)
    outputs.remove_stale_temps(shot_dir)
    denoise = settings["denoise"]
    try:
        ids = renderer.load(shot["scene"])
        known = read_shot_json(shot_dir)
        first = None
        if known is None:
            first = _render_frame(renderer, shot, 0, denoise)
            _write_shot_json(shot_dir, shot, ids, settings, variant, first["exposure"])
        exposure = known["exposure"] if known else first["exposure"]
    except Exception as e:  # a bad scene must not end a long job; its frames are reported and skipped
        logging.error("shot %s failed: %s", layout.shot_id(shot["shot"]), e)
        progress.update(len(indices), failed=True)
        return [shot["frames"][i]["frame"] for i in indices]
    failed = []
    for index in indices:
        frame = shot["frames"][index]["frame"]
        try:
            result = first if index == 0 and first is not None else _render_frame(renderer, shot, index, denoise,
                                                                                   exposure)
            render.write_passes(lambda name: os.path.join(shot_dir, layout.frame_file(name, frame)), result)
            progress.update()
        except Exception as e:  # reported and skipped, as in data_tools.render
            logging.error("shot %s frame %d failed: %s", layout.shot_id(shot["shot"]), frame, e)
            failed.append(frame)
            progress.update(failed=True)
    return failed


def render_shots(output_dir, pairs, settings, threads=0):
    """Render the (shot, frame offset) pairs that are not complete; returns (rendered, skipped, failed).

    settings: the SETTINGS values (families as sampling.format_family_weights writes them, camera_paths as a
    comma-separated list). failed lists `shot00003/1005` names.
    """
    check_folder(output_dir, settings)
    os.makedirs(output_dir, exist_ok=True)
    first_frame = settings["first_frame"]
    todo = {}
    for shot, index in pairs:
        if not frame_complete(os.path.join(output_dir, layout.shot_id(shot)), first_frame + index):
            todo.setdefault(shot, []).append(index)
    count = sum(len(v) for v in todo.values())
    skipped = len(pairs) - count
    if skipped:
        logging.info("%d of %d frames already complete; resuming", skipped, len(pairs))
    if not todo:
        return 0, skipped, []
    variant = mitsuba_render.init(settings["variant"], threads)
    renderer = mitsuba_render.TemplateRenderer(settings["resolution"], settings["spp"], denoise=settings["denoise"])
    weights = sampling.parse_family_weights(settings["families"])
    progress = Progress(count, "render_shots")
    failed = []
    for shot, indices in sorted(todo.items()):
        spec = shots.sample_shot(settings["seed"], shot, settings["resolution"], settings["num_frames"], first_frame,
                                 weights, settings["camera_paths"].split(","), settings["shake_share"],
                                 settings["moving_share"])
        failed += [f"{layout.shot_id(shot)}/{frame}"
                   for frame in _render_shot(renderer, output_dir, spec, sorted(indices), settings, variant, progress)]
    return count - len(failed), skipped, failed


def define_flags():
    """Command-line flags (defined only when run as a program, so importing defines none)."""
    flags.DEFINE_string("output_dir", None, "Folder to write shot folders into.")
    flags.DEFINE_integer("num_shots", 4, "Shots in the set (across all tasks); shot s shows sample s's scene.")
    flags.DEFINE_integer("num_frames", 24, "Frames per shot.")
    flags.DEFINE_integer("first_frame", layout.FIRST_FRAME, "Number of each shot's first frame.")
    flags.DEFINE_list("camera_paths", list(camera_paths.KINDS), "Camera moves to pick from at random, of "
                      f"{', '.join(camera_paths.KINDS)} (one name forces it).")
    flags.DEFINE_float("shake_share", 0.3, "Share of dolly, orbit and pan shots with handheld shake on top.")
    flags.DEFINE_float("moving_share", 0.5, "Share of shots in which one or two objects move.")
    render.define_renderer_flags()


def settings_from_flags(values):
    """The SETTINGS of a run from its flags; errors.UsageError naming the flag for values that cannot work."""
    problems = []
    if values.num_shots <= 0 or values.num_frames <= 0:
        problems.append(f"--num_shots and --num_frames must be > 0 (got {values.num_shots}, {values.num_frames})")
    if values.first_frame < 0:
        problems.append(f"--first_frame must be >= 0 (got {values.first_frame})")
    unknown = sorted(set(values.camera_paths) - set(camera_paths.KINDS))
    if unknown or not values.camera_paths:
        problems.append(f"--camera_paths: {','.join(unknown) or 'none'} given; choose from "
                        f"{','.join(camera_paths.KINDS)}")
    for name in ("shake_share", "moving_share"):
        if not 0.0 <= getattr(values, name) <= 1.0:
            problems.append(f"--{name} must be in [0, 1] (got {getattr(values, name)})")
    weights, shared = render.validate_renderer(output_dir=values.output_dir, resolution=values.resolution,
                                               spp=values.spp, seed=values.seed, task_index=values.task_index,
                                               num_tasks=values.num_tasks, families=values.families,
                                               denoise=values.denoise, threads=values.threads)
    if shared + problems:
        raise errors.UsageError("; ".join(shared + problems))
    kinds = ",".join(k for k in camera_paths.KINDS if k in values.camera_paths)
    return {"resolution": values.resolution, "spp": values.spp, "seed": values.seed, "num_frames": values.num_frames,
            "first_frame": values.first_frame, "families": sampling.format_family_weights(weights),
            "camera_paths": kinds, "shake_share": values.shake_share, "moving_share": values.moving_share,
            "denoise": values.denoise, "variant": values.variant}


def main(argv):
    del argv
    settings = settings_from_flags(FLAGS)
    pairs = task_pairs(FLAGS.num_shots, FLAGS.num_frames, FLAGS.task_index, FLAGS.num_tasks)
    start = time.monotonic()
    rendered, skipped, failed = render_shots(FLAGS.output_dir, pairs, settings, FLAGS.threads)
    cli.emit({"rendered": rendered, "skipped_complete": skipped, "failed": failed,
              "seconds": round(time.monotonic() - start, 1)})
    if failed:
        raise errors.Failure(f"{len(failed)} frame(s) failed (first {failed[0]}); see the log above, a re-run "
                             "retries them")


if __name__ == "__main__":
    define_flags()
    cli.run(main, "data_tools.render_shots")
