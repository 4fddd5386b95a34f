"""Fine-tune a model on a shot: references for a few frames make a shot model (the work:
tfnormals.training.finetune).

Usage:
  python -m tfnormals.finetune --plates=shot/beauty.####.exr --references=refs/normals.####.exr \
      --frames=1001,1040,1090 --minutes=10 --output=shot_model [--model=BASE] \
      [--depth_references=refs/depth.####.exr] [--albedo_references=...] [--reference_masks=refs/mask.####.png]
  python -m tfnormals.finetune ... --resume        # continue after Ctrl-C (or with a larger --minutes/--steps)

References are camera-space normals EXRs in the project's convention, or a studio's (--normals_channels,
--normals_space=world with --camera_to_world or --camera_pattern, --flip_axes: as make_records reads them).
A reference may cover part of the frame: its alpha, the mask, or non-finite values mark unknown pixels,
which no loss sees. A share of the known pixels is held out; their error is shown live and picks the
weights kept. The result is a SavedModel like the shipped model (predict, relight and
`export --format=onnx` take it) whose tfnormals.json names the base model, frames, steps and held-out
errors. The resumable state lives in --work_dir (default OUTPUT.finetune).

stdout is one JSON line: the output, steps, best step, held-out errors (base and shot model) and the
training minutes. Exit code 2 for a usage mistake (a missing file, a malformed flag), 1 when a reference
cannot be read, 130 when interrupted (the state is saved; --resume continues).
"""

import dataclasses
import os
import sys

from absl import flags

from tfnormals.core import cli, colorspaces, errors, layout, resources
from tfnormals.core import frames as frame_numbers
from tfnormals.data import pairs, references
from tfnormals.tools import model_io, plates
from tfnormals.training import config, finetune, finetune_config  # TensorFlow (as tfnormals.train)

FLAGS = flags.FLAGS
PATTERN_FLAGS = ("plates", "references", "reference_masks", "depth_references", "albedo_references", "camera_pattern")
ROLES = {"plates": "plate", "references": "normals", "reference_masks": "mask", "depth_references": "depth",
         "albedo_references": "albedo", "camera_pattern": "camera"}


def define_flags():
    """Command-line flags (only when run as a program)."""
    flags.DEFINE_string("plates", None, "The shot's plates as a frame pattern (plate.####.exr).")
    flags.DEFINE_string("references", None, "Reference normals as a frame pattern (camera-space EXRs; alpha, "
                        "--reference_masks or non-finite values mark unknown pixels).")
    flags.DEFINE_string("frames", None, "Reference frames, e.g. 1001,1040,1090 (ranges like 1001-1003 work too).")
    flags.DEFINE_string("output", None, "SavedModel folder to write (a SavedModel there is replaced).")
    flags.DEFINE_string("model", resources.DEFAULT_MODEL_DIR, "Base model: a tfnormals SavedModel or a training run "
                        "folder (default: the shipped model).")
    flags.DEFINE_string("reference_masks", "", "Optional masks of the references as a frame pattern (>= 0.5 known).")
    flags.DEFINE_string("depth_references", "", "Optional depth references (channel Z, distance along the view axis; "
                        "scale free) as a frame pattern.")
    flags.DEFINE_string("albedo_references", "", "Optional linear albedo references as a frame pattern.")
    flags.DEFINE_string("rehearsal", resources.REHEARSAL_DIR, "Plates of scenes unlike the shot (a folder or glob) on "
                        "which the shot model keeps the base's outputs (--rehearsal_weight); empty = none. Default: "
                        "renders bundled for this (tfnormals/assets/rehearsal).")
    flags.DEFINE_string("work_dir", "", "Folder of the resumable state (default: OUTPUT.finetune).")
    flags.DEFINE_boolean("resume", False, "Continue the fine-tune in --work_dir (only --minutes and --steps may "
                         "change).")
    colorspaces.define_input_flag("plates")
    pairs.define_convention_flags(albedo_premultiplied=False)
    config.define_config_flags(finetune_config.FinetuneConfig())  # --minutes, --steps, ... and the augmentation's


def reference_files(values, frames):
    """data.references.ReferenceFiles of every frame; errors.UsageError naming the flag and file that is missing."""
    result = []
    for frame in frames:
        paths = {}
        for flag in PATTERN_FLAGS:
            pattern = getattr(values, flag)
            if not pattern:
                continue
            path = plates.frame_path(pattern, frame, f"--{flag}")
            if not os.path.isfile(path):
                raise errors.MissingPathError(f"--{flag}: {path}: no such file (frame {frame})")
            paths[ROLES[flag]] = path
        result.append(references.ReferenceFiles(frame=frame, **paths))
    return result


def layout_from_flags(values):
    """The pairs.PairLayout (conventions only) the reference files are read in."""
    try:
        return pairs.PairLayout(
            beauty_pattern="{id}", normals_pattern="{id}", beauty_colorspace=values.input_colorspace,
            normals_channels=tuple(values.normals_channels), normals_space=values.normals_space,
            camera_to_world=tuple(float(v) for v in values.camera_to_world), camera_pattern=values.camera_pattern,
            flip_axes=values.flip_axes, depth_channels=tuple(values.depth_channels),
            albedo_channels=tuple(values.albedo_channels), albedo_premultiplied=values.albedo_premultiplied)
    except (ValueError, TypeError) as e:
        raise errors.UsageError(f"reference convention flags: {e}") from None


def main(argv):
    del argv
    missing = [f"--{name}" for name in ("plates", "references", "frames", "output") if not getattr(FLAGS, name)]
    if missing:
        raise errors.UsageError(f"{', '.join(missing)} required")
    frames = frame_numbers.parse_frame_list(FLAGS.frames)
    if not os.path.exists(FLAGS.model):
        raise errors.MissingPathError(f"--model: {FLAGS.model}: no such model")
    model_io.check_savedmodel_output(FLAGS.output, "--output")
    pair_layout = layout_from_flags(FLAGS)
    files = reference_files(FLAGS, frames)
    settings = config.config_from_flag_values(finetune_config.FinetuneConfig, FLAGS)
    settings.validate()
    rehearsal = plates.expand_inputs(FLAGS.rehearsal).paths if FLAGS.rehearsal else []
    loaded = [references.load_reference(f, pair_layout) for f in files]
    request = finetune_config.Request(os.path.abspath(FLAGS.model), tuple(frames),
                               tuple(dataclasses.asdict(f) for f in files), settings.to_dict(),
                               tuple(os.path.abspath(p) for p in rehearsal))
    work_dir = FLAGS.work_dir or FLAGS.output.rstrip("/") + layout.FINETUNE_SUFFIX
    summary = finetune.finetune(loaded, request, FLAGS.output, work_dir, FLAGS.resume, log=_log,
                                rehearsal=plates.square_plates(rehearsal) if rehearsal else None)
    cli.emit({"output": FLAGS.output, "frames": frames, "steps": summary["steps"], "best_step": summary["best_step"],
              "heldout_error_deg": summary["heldout_error_deg"],
              "base_heldout_error_deg": summary["base_heldout_error_deg"],
              "train_minutes": summary["train_minutes"], "precision": summary["precision"], "work_dir": work_dir})


def _log(message):
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


if __name__ == "__main__":
    define_flags()
    cli.run(main, "tfnormals.finetune", failures=(pairs.SampleError,))
