"""Evaluate a model on records or on a folder of pairs, beside the flat, best-constant and
luminance-gradient baselines (the work: tfnormals.tools.evaluate).

Usage:
  python -m tfnormals.evaluate --model=SAVEDMODEL_OR_RUN_DIR --records=RECORDS_DIR --output_json=F
  python -m tfnormals.evaluate --model=M --pairs_dir=DIR [pair-layout flags] --train_records=R --output_json=F

Metrics are over masked pixels (mask ≥ 0.5) of whole images: mean and median angular error in
degrees and the % of pixels under 11.25°, 22.5° and 30°. The JSON has those keys for "model",
"flat", "best_constant" and "luminance_gradient", per-image results under "images", and the
settings used. A triptych PNG (input | ground truth | prediction) is written per image.

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
    pairs.define_layout_flags()


def main(argv):
    del argv
    try:
        pair_layout = pairs.layout_from_flags(FLAGS)
    except ValueError as e:
        raise errors.UsageError(f"pair layout flags: {e}") from None
    from tfnormals.tools import evaluate  # TensorFlow
    report = evaluate.evaluate_model(FLAGS.model, FLAGS.output_json, FLAGS.records, FLAGS.split, FLAGS.pairs_dir,
                                     pair_layout, FLAGS.train_records, FLAGS.triptych_dir, FLAGS.max_images)
    cli.emit(evaluate.format_table(report))


if __name__ == "__main__":
    define_flags()
    cli.run(main, "tfnormals.evaluate", failures=(pairs.SampleError,))
