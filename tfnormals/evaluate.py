"""Evaluate a model on records, on a folder of pairs, or on real photographs, beside baselines
(the work: tfnormals.tools.evaluation and tfnormals.tools.real_checks).

Usage:
  python -m tfnormals.evaluate --model=SAVEDMODEL_OR_RUN_DIR --records=RECORDS_DIR --output_json=F
  python -m tfnormals.evaluate --model=M --pairs_dir=DIR [pair-format flags] --train_records=R --output_json=F
  python -m tfnormals.evaluate --model=M --real_checks --output_json=real.json [--gallery=gallery.png]
  python -m tfnormals.evaluate --model=M --scale_checks --output_json=scale.json [--scale_renders=R256,R1024,R2048]
  python -m tfnormals.evaluate --model=M --shots=SHOTS_DIR --temporal_checks --output_json=temporal.json
  python -m tfnormals.evaluate --model=M --shots=SHOTS_DIR --temporal_matchmove --output_json=temporal.json

Records and pairs: normals metrics over masked pixels (mean and median angular error in degrees,
% of pixels under 11.25°, 22.5° and 30°) for "model", "flat", "best_constant" and
"luminance_gradient"; depth and albedo metrics when the model predicts them (see
tfnormals.tools.evaluation); per-image results under "images"; a triptych PNG per image.
Real checks: the Middlebury motorcycle's normals (and depth) against its ground-truth disparity,
flip equivariance and scale consistency on scikit-image's photos, and a gallery PNG.
Scale checks: predict's modes on the motorcycle upscaled ×1–×6 and on renders of the same scenes at
several resolutions, mean and edge errors (tfnormals.tools.scale_checks).
Temporal checks, per-frame prediction against predict's temporal mode (tfnormals.tools.temporal_checks): on
rendered shots (--shots, data_tools.render_shots) the accuracy and the flicker between corresponding pixels of
consecutive frames beyond the truth's own change; on plates without truth (--temporal_checks: scikit-image's
astronaut and coffee and the motorcycle; --temporal_plates: your own) the change between consecutive frames of a
still plate with fresh grain and of a slow pan. --temporal_matchmove adds, on the shots, the temporal mode given
each shot's recorded cameras (predict --matchmove), and --temporal_mattes that mode given mattes of the moving
objects too (predict --matchmove_mattes).

stdout is the metrics table. Nothing is written unless the evaluation succeeds; a damaged shard
is named (exit 1) before the model is loaded. Exit code 2 for a usage mistake (tfnormals.core.cli).
"""

import dataclasses

from absl import flags

from tfnormals.core import cli, errors, resources
from tfnormals.data import pairs
from tfnormals.tools import evaluation, fusion

FLAGS = flags.FLAGS


def define_flags():
    """Command-line flags (only when run as a program)."""
    flags.DEFINE_string("model", resources.DEFAULT_MODEL_DIR, "SavedModel folder or training run folder.")
    flags.DEFINE_string("records", "", "Records folder to evaluate (its --split).")
    flags.DEFINE_string("split", "test", "Split of --records to evaluate.")
    flags.DEFINE_string("pairs_dir", "", "Instead of records: a folder of pairs (see the pair format flags).")
    flags.DEFINE_string("train_records", "", "Records whose train split fits the baselines (default --records).")
    flags.DEFINE_string("output_json", "evaluation.json", "Report file.")
    flags.DEFINE_string("triptych_dir", "", "Where triptychs go (default: <output_json stem>_triptychs).")
    flags.DEFINE_integer("max_images", 0, "Evaluate at most this many images (0 = all).")
    flags.DEFINE_enum("mode", evaluation.NATIVE, evaluation.VIEWS, "How the network sees each image: "
                      f"{evaluation.NATIVE} = whole, at the image's own size (records and pairs; their default); "
                      "fused, global or tiled = as predict runs it (the real and temporal checks: fused unless given).")
    flags.DEFINE_integer("working_size", 0, "Longer side of predict's global pass (0 = the model's, from its "
                         "metadata): for --mode=fused/global and the real, scale and temporal checks.")
    flags.DEFINE_boolean("real_checks", False, "Instead of records or pairs: the checks on real photographs "
                         "(needs the eval extra: scikit-image).")
    flags.DEFINE_string("gallery", "", "With --real_checks: write the photo | normals | relit gallery PNG here.")
    flags.DEFINE_boolean("scale_checks", False, "Instead of records or pairs: predict's modes as plates grow "
                         "(the motorcycle upscaled, and --scale_renders; needs the eval extra).")
    flags.DEFINE_list("scale_renders", [], "With --scale_checks: folders of renders of the same scenes at several "
                      "resolutions (e.g. 256², 1024², 2048² of one seed).")
    flags.DEFINE_list("scale_factors", ["1", "2", "4", "6"], "With --scale_checks: the motorcycle's upscale factors.")
    flags.DEFINE_list("scale_modes", ["fused", "global", "tiled"], "With --scale_checks: predict modes to compare.")
    flags.DEFINE_string("scale_gallery", "", "With --scale_checks: write a PNG of --scale_gallery_plate and its "
                        "normals, whole and as a 1:1 crop (fused vs tiled).")
    flags.DEFINE_string("scale_gallery_plate", "", "With --scale_gallery: the large plate it shows.")
    flags.DEFINE_list("shots", [], "Temporal checks on rendered shots (data_tools.render_shots): shot folders or "
                      "folders of them.")
    flags.DEFINE_boolean("temporal_checks", False, "Temporal checks on the bundled plates (grain and pan sequences; "
                         "needs the eval extra).")
    flags.DEFINE_list("temporal_plates", [], "Temporal checks on these plates (grain and pan sequences of each).")
    flags.DEFINE_boolean("temporal_matchmove", False, "With --shots: also the temporal mode given each shot's recorded "
                         "cameras (its shot.json, as predict --matchmove reads it), beside the plain temporal mode.")
    flags.DEFINE_boolean("temporal_mattes", False, "With --temporal_matchmove: also the matchmove given mattes of each "
                         "shot's moving objects (their ID pass grown by 3% of the frame, as predict "
                         "--matchmove_mattes reads them).")
    pairs.define_pair_format_flags()


# What evaluate measures instead of records or pairs, by the flags that ask for it.
CHECK_FLAGS = {"real": ("real_checks",), "scale": ("scale_checks",),
               "temporal": ("shots", "temporal_checks", "temporal_plates", "temporal_matchmove",
                            "temporal_mattes")}


def asked_check(flag_values):
    """The check the flags ask for ('real', 'scale' or 'temporal'; None: records or pairs). errors.UsageError naming
    the flags when they ask for more than one, or for one beside --records or --pairs_dir."""
    asked = {check: [f"--{name}" for name in names if flag_values[name].value] for check, names in CHECK_FLAGS.items()}
    asked = {check: given for check, given in asked.items() if given}
    given = [flag for flags_given in asked.values() for flag in flags_given]
    if len(asked) > 1:
        raise errors.UsageError(f"{' and '.join(given)}: give the flags of one check (real, scale or temporal)")
    if asked and (flag_values.records or flag_values.pairs_dir):
        raise errors.UsageError(f"{' and '.join(given)}: a check; give it without --records or --pairs_dir")
    return next(iter(asked), None)


def main(argv):
    del argv
    pair_format = pairs.pair_format_from_flags(FLAGS)
    check = asked_check(FLAGS)
    inference = evaluation.inference_settings(FLAGS.mode, FLAGS.working_size)  # records and pairs
    settings = inference or fusion.PassSettings(working_size=FLAGS.working_size)  # the checks run predict's way
    settings.check()
    if check == "temporal":
        from tfnormals.tools import temporal_checks  # TensorFlow
        report = temporal_checks.check_model(FLAGS.model, FLAGS.output_json, shot_dirs=FLAGS.shots,
                                             plate_paths=FLAGS.temporal_plates, bundled=FLAGS.temporal_checks,
                                             inference=settings, matchmove=FLAGS.temporal_matchmove,
                                             mattes=FLAGS.temporal_mattes)
        cli.emit(temporal_checks.format_table(report))
        return
    if check == "scale":
        from tfnormals.tools import scale_checks  # TensorFlow
        request = dataclasses.replace(scale_checks.request_from_flags(FLAGS), settings=settings)
        cli.emit(scale_checks.format_table(scale_checks.check_model(FLAGS.model, FLAGS.output_json, request)))
        return
    if check == "real":
        from tfnormals.tools import real_checks  # TensorFlow
        cli.emit(real_checks.format_table(real_checks.check_model(FLAGS.model, FLAGS.output_json, FLAGS.gallery,
                                                                  settings)))
        return
    report = evaluation.evaluate_model(FLAGS.model, FLAGS.output_json, records=FLAGS.records, split=FLAGS.split,
                                       pairs_dir=FLAGS.pairs_dir, pair_format=pair_format,
                                       train_records=FLAGS.train_records, triptych_dir=FLAGS.triptych_dir,
                                       max_images=FLAGS.max_images,
                                       inference=inference)
    cli.emit(evaluation.format_table(report))


if __name__ == "__main__":
    define_flags()
    cli.run(main, "tfnormals.evaluate", failures=(pairs.SampleError,))
