"""Evaluate a model on records, on a folder of pairs, or on real photographs, beside baselines
(the work: tfnormals.tools.evaluate and tfnormals.tools.real_checks).

Usage:
  python -m tfnormals.evaluate --model=SAVEDMODEL_OR_RUN_DIR --records=RECORDS_DIR --output_json=F
  python -m tfnormals.evaluate --model=M --pairs_dir=DIR [pair-layout flags] --train_records=R --output_json=F
  python -m tfnormals.evaluate --model=M --real_checks --output_json=real.json [--gallery=gallery.png]
  python -m tfnormals.evaluate --model=M --scale_checks --output_json=scale.json [--scale_renders=R256,R1024,R2048]
  python -m tfnormals.evaluate --model=M --shots=SHOTS_DIR --temporal_checks --output_json=temporal.json

Records and pairs: normals metrics over masked pixels (mean and median angular error in degrees,
% of pixels under 11.25°, 22.5° and 30°) for "model", "flat", "best_constant" and
"luminance_gradient"; depth and albedo metrics when the model predicts them (see
tfnormals.tools.evaluate); per-image results under "images"; a triptych PNG per image.
Real checks: the Middlebury motorcycle's normals (and depth) against its ground-truth disparity,
flip equivariance and scale consistency on scikit-image's photos, and a gallery PNG.
Scale checks: predict's modes on the motorcycle upscaled ×1–×6 and on renders of the same scenes at
several resolutions, mean and edge errors (tfnormals.tools.scale_checks).
Temporal checks, per-frame prediction against predict's temporal mode (tfnormals.tools.temporal_checks): on
rendered shots (--shots, data_tools.render_shots) the accuracy and the flicker between corresponding pixels of
consecutive frames beyond the truth's own change; on plates without truth (--temporal_checks: scikit-image's
astronaut and coffee and the motorcycle; --temporal_plates: your own) the change between consecutive frames of a
still plate with fresh grain and of a slow pan.

stdout is the metrics table. Nothing is written unless the evaluation succeeds; a damaged shard
is named (exit 1) before the model is loaded. Exit code 2 for a usage mistake (tfnormals.core.cli).
"""

from absl import flags

from tfnormals.core import cli, errors, resources
from tfnormals.data import pairs

FLAGS = flags.FLAGS


def define_flags():
    """Command-line flags (only when run as a program)."""
    flags.DEFINE_string("model", resources.DEFAULT_MODEL_DIR, "SavedModel folder or training run folder.")
    flags.DEFINE_string("records", "", "Records folder to evaluate (its --split).")
    flags.DEFINE_string("split", "test", "Split of --records to evaluate.")
    flags.DEFINE_string("pairs_dir", "", "Instead of records: a folder of pairs (see the layout flags).")
    flags.DEFINE_string("train_records", "", "Records whose train split fits the baselines (default --records).")
    flags.DEFINE_string("output_json", "evaluation.json", "Report file.")
    flags.DEFINE_string("triptych_dir", "", "Where triptychs go (default: <output_json stem>_triptychs).")
    flags.DEFINE_integer("max_images", 0, "Evaluate at most this many images (0 = all).")
    flags.DEFINE_boolean("real_checks", False, "Instead of records or pairs: the checks on real photographs "
                         "(needs the eval extra: scikit-image).")
    flags.DEFINE_string("gallery", "", "With --real_checks: write the photo | normals | relit gallery PNG here.")
    flags.DEFINE_boolean("scale_checks", False, "Instead of records or pairs: predict's modes as plates grow "
                         "(the motorcycle upscaled, and --scale_renders; needs the eval extra).")
    flags.DEFINE_list("scale_renders", [], "With --scale_checks: folders of renders of the same scenes at several "
                      "resolutions (e.g. 256², 1024², 2048² of one seed).")
    flags.DEFINE_list("scale_factors", ["1", "2", "4", "6"], "With --scale_checks: the motorcycle's upscale factors.")
    flags.DEFINE_list("scale_modes", ["fused", "global", "tiled"], "With --scale_checks: predict modes to compare.")
    flags.DEFINE_list("shots", [], "Temporal checks on rendered shots (data_tools.render_shots): shot folders or "
                      "folders of them.")
    flags.DEFINE_boolean("temporal_checks", False, "Temporal checks on the bundled plates (grain and pan sequences; "
                         "needs the eval extra).")
    flags.DEFINE_list("temporal_plates", [], "Temporal checks on these plates (grain and pan sequences of each).")
    pairs.define_layout_flags()


def main(argv):
    del argv
    pair_layout = pairs.layout_from_flags(FLAGS)
    temporal = bool(FLAGS.shots or FLAGS.temporal_checks or FLAGS.temporal_plates)
    checks = [name for name, wanted in (("--real_checks", FLAGS.real_checks), ("--scale_checks", FLAGS.scale_checks),
                                        ("--shots/--temporal_checks/--temporal_plates", temporal)) if wanted]
    if len(checks) > 1:
        raise errors.UsageError(f"{' and '.join(checks)}: give one of them")
    if checks and (FLAGS.records or FLAGS.pairs_dir):
        raise errors.UsageError(f"{checks[0]}: give it without --records or --pairs_dir")
    if temporal:
        from tfnormals.tools import temporal_checks  # TensorFlow
        report = temporal_checks.check_model(FLAGS.model, FLAGS.output_json, FLAGS.shots, FLAGS.temporal_plates,
                                             FLAGS.temporal_checks)
        cli.emit(temporal_checks.format_table(report))
        return
    if FLAGS.scale_checks:
        from tfnormals.tools import scale_checks  # TensorFlow
        request = scale_checks.request_from_flags(FLAGS)
        cli.emit(scale_checks.format_table(scale_checks.check_model(FLAGS.model, FLAGS.output_json, request)))
        return
    if FLAGS.real_checks:
        from tfnormals.tools import real_checks  # TensorFlow
        cli.emit(real_checks.format_table(real_checks.check_model(FLAGS.model, FLAGS.output_json, FLAGS.gallery)))
        return
    from tfnormals.tools import evaluate  # TensorFlow
    report = evaluate.evaluate_model(FLAGS.model, FLAGS.output_json, FLAGS.records, FLAGS.split, FLAGS.pairs_dir,
                                     pair_layout, FLAGS.train_records, FLAGS.triptych_dir, FLAGS.max_images)
    cli.emit(evaluate.format_table(report))


if __name__ == "__main__":
    define_flags()
    cli.run(main, "tfnormals.evaluate", failures=(pairs.SampleError,))
