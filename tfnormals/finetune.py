"""Fine-tune a model on a shot: references for a few frames make a shot model (the work:
tfnormals.training.finetune).

Usage:
  python -m tfnormals.finetune --plates=shot/beauty.####.exr --references=refs/normals.####.exr \\
      --frames=1001,1040,1090 --minutes=10 --output=shot_model [--model=BASE] \\
      [--depth_references=refs/depth.####.exr] [--albedo_references=...] [--reference_masks=refs/mask.####.png]
  python -m tfnormals.finetune ... --resume        # continue after Ctrl-C (or with a larger --minutes/--steps)

References are camera-space normals EXRs in the project's convention, or a studio's (--normals_channels,
--normals_space=world with --camera_to_world or --camera_pattern, --flip_axes: as make_records reads them).
A reference may cover part of the frame: its alpha, the mask, or non-finite values mark unknown pixels,
which no loss sees. A share of the known pixels is held out; their error is shown live and picks the
weights kept. The result is a SavedModel like the shipped model (predict, relight and
`export --format=onnx` take it) whose tfnormals.json names the base model, frames, steps and held-out
errors. It carries the base model too and falls back to it, image by image, on plates unlike the
references (--fallback; calibrated on the rehearsal plates), so it runs two networks per image.
The resumable state lives in --work_dir (default OUTPUT.finetune).

stdout is one JSON line: the output, steps, best step, held-out errors (base and shot model), the
training minutes and the fallback's calibration (null without one). Exit code 2 for a usage mistake (a
missing file, a malformed flag), 1 when a reference cannot be read, 130 when interrupted (the state is
saved; --resume continues).
"""

import dataclasses
import os
import sys

from absl import flags

from tfnormals.core import cli, colorspaces, errors, layout, outputs, resources, resume
from tfnormals.core import frames as frame_numbers
from tfnormals.data import pairs, references
from tfnormals.tools import fusion, inference, model_io, plates
from tfnormals.training import finetune, finetune_config  # TensorFlow (as tfnormals.train)

FLAGS = flags.FLAGS
ROLES = {"plates": "plate", "references": "normals", "reference_masks": "mask", "depth_references": "depth",
         "albedo_references": "albedo", "camera_pattern": "camera"}  # frame-pattern flag: ReferenceFiles field


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
    colorspaces.define_flags("plates")
    # How the reference files are stored (as make_records reads them; --camera_pattern is a frame pattern here).
    pairs.define_pair_format_flags(only=pairs.CONVENTION_FIELDS, albedo_premultiplied=False)
    finetune_config.define_flags()  # --minutes, --steps, ... and the augmentation's


def reference_files(values, frames):
    """data.references.ReferenceFiles of every frame, each file found by its frame number as predict finds plates
    (tools.plates.frame_files: two files of one frame are refused); errors.UsageError naming the flag and file that
    is missing or the flag that is not a frame pattern."""
    on_disk = {}
    for flag in ROLES:
        pattern = getattr(values, flag)
        if not pattern:
            continue
        if not frame_numbers.is_frame_pattern(pattern):
            raise errors.UsageError(f"--{flag}: {pattern!r} is not a frame pattern (mark the frame number with #### "
                                    "or %04d)")
        on_disk[flag] = plates.frame_files(pattern, f"--{flag}")
    result = []
    for frame in frames:
        for flag, found in on_disk.items():
            if frame not in found:
                raise errors.MissingPathError(f"--{flag}: {frame_numbers.frame_path(getattr(values, flag), frame)}: "
                                              f"no such file (frame {frame})")
        result.append(references.ReferenceFiles(frame=frame, **{ROLES[flag]: found[frame]
                                                                for flag, found in on_disk.items()}))
    return result


def _overlap(a, b):
    """Whether one of two paths is the other or inside it."""
    a, b = os.path.realpath(a), os.path.realpath(b)
    return a == b or a.startswith(b + os.sep) or b.startswith(a + os.sep)


def check_outputs(output, work_dir, model, inputs):
    """Raise errors.UsageError, naming the flag, unless --output can take the shot model and --work_dir the state
    without touching an input: the base model, or any of `inputs` ({what: file}: plates, references, rehearsal)."""
    model_io.check_savedmodel_output(output, "--output")
    outputs.check_writable_dir(work_dir, "--work_dir")
    for flag, path in (("--output", output), ("--work_dir", work_dir)):
        if _overlap(path, model):
            raise errors.UsageError(f"{flag}: {path} and the base model --model={model} overlap; give another folder")
    if _overlap(output, work_dir):
        raise errors.UsageError(f"--work_dir: {work_dir} and --output={output} overlap (the export replaces the "
                                "output folder); give another folder")
    for what, path in inputs.items():
        if _overlap(path, output):
            raise errors.UsageError(f"--output: {output} holds {path}, the {what} file, which writing the model "
                                    "would destroy; give another folder")
    for name in (layout.FINETUNE_REQUEST, layout.RUN_HISTORY):
        outputs.check_not_input(os.path.join(work_dir, name), inputs, "--work_dir")


def request_of(values, frames, files, settings, rehearsal):
    """The finetune_config.Request of the flags: the base model (and its fingerprint), frames, files, settings and
    the size and time of every input file, which a resume checks."""
    inputs = [path for f in files for path in dataclasses.asdict(f).values() if isinstance(path, str) and path]
    return finetune_config.Request(
        os.path.abspath(values.model), tuple(frames), tuple(dataclasses.asdict(f) for f in files), settings.to_dict(),
        tuple(os.path.abspath(p) for p in rehearsal), base_fingerprint=inference.fingerprint(values.model),
        sources={os.path.abspath(p): resume.file_state(p) for p in inputs + list(rehearsal)})


def main(argv):
    del argv
    if FLAGS.list_colorspaces:
        cli.emit(colorspaces.listing())
        return
    missing = [f"--{name}" for name in ("plates", "references", "frames", "output") if not getattr(FLAGS, name)]
    if missing:
        raise errors.UsageError(f"{', '.join(missing)} required")
    frames = frame_numbers.parse_frame_list(FLAGS.frames)
    if not os.path.exists(FLAGS.model):
        raise errors.MissingPathError(f"--model: {FLAGS.model}: no such model")
    settings = finetune_config.from_flag_values(FLAGS)
    settings.validate()
    pair_format = pairs.pair_format_from_flags(FLAGS, only=pairs.CONVENTION_FIELDS,
                                               beauty_colorspace=FLAGS.input_colorspace)
    files = reference_files(FLAGS, frames)
    rehearsal = plates.expand_inputs(FLAGS.rehearsal).paths if FLAGS.rehearsal else []
    work_dir = FLAGS.work_dir or FLAGS.output.rstrip("/") + layout.FINETUNE_SUFFIX
    inputs = {f"--{flag} (frame {f.frame})": getattr(f, role) for f in files for flag, role in ROLES.items()
              if getattr(f, role)}
    inputs.update({f"--rehearsal ({os.path.basename(p)})": p for p in rehearsal})
    check_outputs(FLAGS.output, work_dir, FLAGS.model, inputs)
    loaded = [references.load_reference(f, pair_format) for f in files]
    request = request_of(FLAGS, frames, files, settings, rehearsal)
    fed = network_inputs(FLAGS.model, loaded) if rehearsal and settings.fallback else None
    summary = finetune.finetune(loaded, request, FLAGS.output, work_dir, FLAGS.resume, log=_log,
                                rehearsal=plates.square_plates(rehearsal) if rehearsal else None, network_inputs=fed)
    cli.emit({"output": FLAGS.output, "frames": frames, "steps": summary["steps"], "best_step": summary["best_step"],
              "heldout_error_deg": summary["heldout_error_deg"],
              "base_heldout_error_deg": summary["base_heldout_error_deg"],
              "train_minutes": summary["train_minutes"], "precision": summary["precision"],
              "fallback": summary["fallback"], "work_dir": work_dir})


def network_inputs(model_path, references):
    """What predict feeds the network for the reference frames' plates (fusion.network_inputs, the base model
    predicting): the shot model's fallback bank holds their looks, so on its own frames, at every scale, it is the
    shot model alone."""
    model = model_io.load_model(model_path)
    return [image for r in references for image in fusion.network_inputs(model.predict_passes, r.plate,
                                                                         model.working_size)]


def _log(message):
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


if __name__ == "__main__":
    define_flags()
    cli.run(main, "tfnormals.finetune", failures=(pairs.SampleError,))
