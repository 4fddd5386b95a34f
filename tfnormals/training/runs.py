"""Run folders and models: rebuild a run's or an exported model's generator, and describe it for export."""

import dataclasses
import json
import os

import tensorflow as tf

from tfnormals.core import errors, layout
from tfnormals.model import serving, shot_gate
from tfnormals.model.unet import build_generator, precision
from tfnormals.training.config import TrainConfig


class RunError(ValueError):
    """A run folder or checkpoint that cannot be used, with the path and the reason."""


PASS_DESCRIPTIONS = {
    "normals": {"channels": 3, "convention": "camera space, +X right, +Y up, +Z toward the camera, unit length"},
    "depth": {"channels": 1, "convention": "relative camera-space distance along the view axis: positive, "
                                           "unknown scale per image"},
    "albedo": {"channels": 3, "convention": "linear RGB reflectance in [0, 1], up to a per-channel scale"},
}


def metadata(config, step):
    """What a SavedModel loader needs to know besides the signature."""
    passes = config.generator_kwargs()["passes"]
    outputs = {p: dict(PASS_DESCRIPTIONS[p], dtype="float32",
                       shape=[None, None, None, PASS_DESCRIPTIONS[p]["channels"]])
               for p in passes}
    return {"format": serving.FORMAT, "step": int(step),
            "input": {"name": serving.INPUT_NAME, "dtype": "float32", "shape": [None, None, None, 3],
                      "range": [0.0, 1.0], "encoding": "sRGB"},
            "output": dict(outputs[serving.OUTPUT_NAME], name=serving.OUTPUT_NAME), "outputs": outputs,
            "stride": 2 ** config.levels, "working_size": config.global_pass_size, "config": config.to_dict()}


def locate_checkpoint(run_or_checkpoint):
    """(run folder, checkpoint prefix) of a run folder (its latest checkpoint) or a checkpoint prefix."""
    path = run_or_checkpoint.rstrip("/")
    if os.path.isdir(path):
        checkpoint = tf.train.latest_checkpoint(os.path.join(path, layout.RUN_CKPT_DIR))
        if checkpoint is None:
            raise RunError(f"{path}: no checkpoints in {os.path.join(path, layout.RUN_CKPT_DIR)}")
        return path, checkpoint
    if not os.path.isfile(path + ".index"):
        raise RunError(f"{path}: neither a run folder nor a checkpoint prefix (no {path}.index)")
    return os.path.dirname(os.path.dirname(os.path.abspath(path))), path


def init_generator_from(generator, path):
    """Copy weights into `generator` from a SavedModel (a shot model: its own network) or a run folder/checkpoint,
    variable by variable.

    Variables match by layer path and shape (so a normals-only model can seed a multi-pass one
    with the same encoder); the rest keep their initial values. Returns (copied, total); raises RunError
    when fewer than half of the source's weights fit: that warm start is a mistake in the flags.
    """
    if layout.is_savedmodel(path):
        loaded = tf.saved_model.load(path)
        function = loaded.signatures["serving_default"]
        source = {v.name.split(":")[0]: v for v in function.variables}
    else:
        source_generator, _, _ = generator_from_run(path)
        source = {v.path: v for v in source_generator.variables}
    # Not weights of the network: dropout's RNG state, and a shot model's copy of its base (model.shot_gate).
    source = {name: v for name, v in source.items()
              if "seed_generator" not in name and not name.startswith(shot_gate.FALLBACK_SCOPE + "/")}
    copied = 0
    for variable in generator.weights:
        match = source.get(variable.path)
        if match is not None and tuple(match.shape) == tuple(variable.shape):
            variable.assign(tf.cast(match, variable.dtype))
            copied += 1
    if copied < len(source) / 2:
        raise RunError(f"{path}: only {copied} of its {len(source)} weights fit this generator "
                       "(a different encoder or architecture?)")
    return copied, len(generator.weights)


def generator_from_run(run_or_checkpoint):
    """Rebuild a run's generator from its config.json and restore the latest (or given) checkpoint.

    The generator computes in float32 whatever precision the run trained in (its weights are float32 either
    way): exports, ONNX and inference from a run folder get one numeric contract. Returns (generator, config,
    step).
    """
    run_dir, checkpoint = locate_checkpoint(run_or_checkpoint)
    config_path = os.path.join(run_dir, layout.RUN_CONFIG)
    if not os.path.isfile(config_path):
        raise RunError(f"{run_dir}: no {layout.RUN_CONFIG}; is this a tfnormals run folder?")
    config = TrainConfig.from_json(config_path)
    with precision("float32"):
        generator = build_generator(**config.generator_kwargs())
    tf.train.Checkpoint(generator=generator).restore(checkpoint).expect_partial()
    step = int(checkpoint.rsplit("-", 1)[-1])
    return generator, config, step


def generator_from_weights(path):
    """(float32 generator, config, step) of a run folder, a checkpoint prefix or an exported SavedModel (its
    metadata's step): anything whose weights can be averaged."""
    if layout.is_savedmodel(path):
        generator, config, info = load_model_generator(path, flag="--checkpoint")
        return generator, config, int(info.get("step", 0))
    return generator_from_run(path)


def averaged_generator(checkpoints, shares):
    """(generator, config, steps) whose weights are the mean of checkpoints' (run folders, checkpoint prefixes or
    exported SavedModels — a shipped model averages with a later run's checkpoints; one gives its own weights) of
    one architecture, each counted by its share (`shares`: one per checkpoint, summing to 1): checkpoint
    averaging, which lands between the checkpoints of one run and can beat each (BUILD_NOTES.md "Averaged
    checkpoints"). The config is the first checkpoint's, the steps each checkpoint's. RunError names a checkpoint
    whose network differs."""
    generator, config, step = generator_from_weights(checkpoints[0])
    steps = [step]
    total = [w.numpy() * shares[0] for w in generator.weights]
    for checkpoint, share in zip(checkpoints[1:], shares[1:]):
        other, other_config, other_step = generator_from_weights(checkpoint)
        steps.append(other_step)
        if other_config.generator_kwargs() != config.generator_kwargs():
            raise RunError(f"{checkpoint}: its generator differs from {checkpoints[0]}'s (settings of the network); "
                           "only checkpoints of one architecture average")
        total = [t + v.numpy() * share for t, v in zip(total, other.weights)]
    for variable, value in zip(generator.weights, total):
        if "seed_generator" not in variable.path:  # dropout RNG state, not a weight
            variable.assign(value.astype(variable.dtype))
    return generator, config, steps


def load_model_generator(path, flag="--model"):
    """(float32 generator with a model's weights, its TrainConfig with the working size, its metadata dict) of a
    SavedModel exported by tfnormals (its tfnormals.json holds the config the network is rebuilt from) or of a
    training run folder; errors.UsageError naming `flag` when the network cannot be rebuilt exactly."""
    if layout.is_savedmodel(path):
        metadata_path = os.path.join(path, layout.MODEL_METADATA)
        try:
            with open(metadata_path) as f:
                info = json.load(f)
            config = TrainConfig.from_flat(info["config"])
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise errors.UsageError(f"{flag}: {metadata_path}: no readable training config ({errors.one_line(e)}); "
                                    "the network is rebuilt from it") from None
        generator = build_generator(**config.generator_kwargs())
        copied, _ = init_generator_from(generator, path)
        expected = len([w for w in generator.weights if "seed_generator" not in w.path])
        if copied != expected:
            raise errors.UsageError(f"{flag}: {path}: only {copied} of {expected} weights fit the network its "
                                    "metadata describes")
    else:
        generator, config, step = generator_from_run(path)
        info = metadata(config, step)
    working_size = int(info.get("working_size") or config.global_pass_size)
    return generator, dataclasses.replace(config, working_size=working_size), info
