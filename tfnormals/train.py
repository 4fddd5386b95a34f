"""Train the normals GAN (U-Net generator + dense discriminator) with fit() and a custom train_step.

Usage:
  python -m tfnormals.train --flagfile=configs/smoke.flags
  python -m tfnormals.train --flagfile=configs/default.flags --run_name=big --resume

Every setting of tfnormals.training.config.TrainConfig (and its augmentation settings) is a
flag here. A run lives in <checkpoint_root>/<run_name>/: config.json, ckpt/ (every
checkpoint_every steps and at exit), history.csv, TensorBoard logs/, monitor/ frames +
monitor.gif, triptychs/. --resume continues from the last checkpoint with the same step count
and optimizer state.
"""

import os

from absl import flags, logging

from tfnormals.core import cli, errors
from tfnormals.training import config, loop

FLAGS = flags.FLAGS
POSITIVE_SETTINGS = ("steps", "checkpoint_every", "batch_size", "load_size", "base_filters", "depth")


def checked_config(flag_values):
    """The run's TrainConfig; errors.UsageError naming the flag for the obvious mistakes."""
    for name in POSITIVE_SETTINGS:
        if flag_values[name].value < 1:
            raise errors.UsageError(f"--{name}: must be at least 1, got {flag_values[name].value}")
    records_dir = flag_values["records_dir"].value
    if records_dir and not os.path.isdir(records_dir):
        raise errors.MissingPathError(f"--records_dir: {records_dir}: no such folder")
    try:
        train_config = config.from_flag_values(flag_values)
        train_config.validate()
    except ValueError as e:
        raise errors.UsageError(str(e)) from None
    return train_config


def main(argv):
    del argv
    run_dir = os.path.join(FLAGS.checkpoint_root, FLAGS.run_name)
    step = loop.train(checked_config(FLAGS), run_dir, resume=FLAGS.resume, export_dir=FLAGS.export_dir)
    logging.info("finished at step %d; run folder %s", step, run_dir)


if __name__ == "__main__":
    config.define_flags(FLAGS)
    cli.run(main, "tfnormals.train")
