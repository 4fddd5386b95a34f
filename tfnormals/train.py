"""Train the normals GAN (U-Net generator + dense discriminator) with fit() and a custom train_step.

Usage:
  python -m tfnormals.train --flagfile=configs/smoke.flags
  python -m tfnormals.train --flagfile=configs/shipped.flags --checkpoint_root=../data/runs --resume

Every setting of tfnormals.training.config.TrainConfig (and its augmentation settings) is a
flag here, generated from the dataclasses; TrainConfig.validate checks them (exit 2 naming the
flag). A run lives in <checkpoint_root>/<run_name>/: config.json, ckpt/ (every checkpoint_every
steps and at exit), history.csv, TensorBoard logs/, monitor/ frames + monitor.gif, triptychs/.
--resume continues from the last checkpoint with the same step count and optimizer state.
"""

import os
import subprocess
import sys

from absl import flags, logging

from tfnormals.core import cli, errors, layout
from tfnormals.training import config, loop

FLAGS = flags.FLAGS
# The self-rendered data set of a run without --records_dir (its size, resolution, spp and seed are the synth_*
# settings): two shards per split, so that train, val and test all exist even for a few dozen samples.
SYNTH_SHARDS = 2
SYNTH_SPLIT = (0.8, 0.1, 0.1)


def render_records(train_config, run_dir):
    """Render the run's own small data set and make its records, once, in <run>/renders and <run>/records.

    The data tools run as commands in child processes: the renderer (Dr.Jit) cannot be loaded into a
    process that already holds TensorFlow. (Only this command runs them; the library never does.)
    """
    records_dir = os.path.join(run_dir, layout.RUN_RECORDS_DIR)
    if os.path.isfile(os.path.join(records_dir, layout.RECORDS_INDEX)):
        return
    renders = os.path.join(run_dir, layout.RUN_RENDERS_DIR)
    logging.info("no --records_dir: rendering %d samples into %s", train_config.synth_samples, renders)
    _run_command("data_tools.render", f"--output_dir={renders}", f"--num_samples={train_config.synth_samples}",
                 f"--resolution={train_config.synth_resolution}", f"--spp={train_config.synth_spp}",
                 f"--seed={train_config.synth_seed}")
    _run_command("data_tools.make_records", f"--input_dir={renders}", f"--output_dir={records_dir}",
                 f"--num_shards={SYNTH_SHARDS}", f"--split_fractions={','.join(map(str, SYNTH_SPLIT))}",
                 "--workers=1")


def _run_command(module, *args):
    """Run `python -m module args`; errors.Failure with the command's last error line when it fails."""
    proc = subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise errors.Failure(f"python -m {module} failed (exit {proc.returncode}): {last}")


def main(argv):
    del argv
    run_dir = os.path.join(FLAGS.checkpoint_root, FLAGS.run_name)
    train_config = config.from_flag_values(FLAGS)
    train_config.validate()  # before anything is rendered
    if not train_config.records_dir:
        render_records(train_config, run_dir)
    step = loop.train(train_config, run_dir, resume=FLAGS.resume, export_dir=FLAGS.export_dir)
    logging.info("finished at step %d; run folder %s", step, run_dir)


if __name__ == "__main__":
    config.define_flags(FLAGS)
    cli.run(main, "tfnormals.train")
