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

from absl import flags, logging

from tfnormals.core import cli
from tfnormals.training import config, loop

FLAGS = flags.FLAGS


def main(argv):
    del argv
    run_dir = os.path.join(FLAGS.checkpoint_root, FLAGS.run_name)
    step = loop.train(config.from_flag_values(FLAGS), run_dir, resume=FLAGS.resume, export_dir=FLAGS.export_dir)
    logging.info("finished at step %d; run folder %s", step, run_dir)


if __name__ == "__main__":
    config.define_flags(FLAGS)
    cli.run(main, "tfnormals.train")
