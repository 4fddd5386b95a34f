"""Warm starts and multi-pass export: --init_from a SavedModel, serving outputs, metadata, time budget."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from tfnormals.core import layout
from tfnormals.model import serving
from tfnormals.model.unet import build_generator
from tfnormals.training import callbacks, runs
from tfnormals.training.config import TrainConfig

SMALL = dict(base_filters=8, levels=4, max_filters=32)


def _export(path, passes):
    config = TrainConfig.from_flat(dict(passes=",".join(passes), **SMALL))
    generator = build_generator(**config.generator_kwargs())
    serving.export_generator(generator, path, runs.metadata(config, 7))
    return generator


def test_multipass_savedmodel_returns_every_pass_and_describes_them(tmp_path):
    path = str(tmp_path / "sm")
    generator = _export(path, ("normals", "depth", "albedo"))
    fn = tf.saved_model.load(path).signatures["serving_default"]
    plate = np.random.default_rng(0).random((1, 21, 35, 3)).astype(np.float32)
    out = fn(images=tf.constant(plate))
    assert set(out) == {"normals", "depth", "albedo"}
    assert out["depth"].shape == (1, 21, 35, 1)
    assert np.allclose(out["depth"].numpy(), generator(plate)["depth"].numpy(), rtol=1e-5)
    with open(os.path.join(path, layout.MODEL_METADATA)) as f:
        info = json.load(f)
    assert set(info["outputs"]) == {"normals", "depth", "albedo"} and info["output"]["name"] == "normals"
    assert info["config"]["passes"] == "normals,depth,albedo" and info["step"] == 7


def test_init_from_a_savedmodel_copies_the_shared_layers_of_a_bigger_model(tmp_path):
    path = str(tmp_path / "sm")
    source = _export(path, ("normals",))
    target = build_generator(passes=("normals", "depth"), **SMALL)
    copied, total = runs.init_generator_from(target, path)
    weights = [v for v in source.variables if "seed_generator" not in v.path]  # dropout RNG state is not a weight
    assert copied == len(weights) and total > copied
    for name in ("enc1_conv", "dec0_conv", "head_conv"):
        for a, b in zip(source.get_layer(name).weights, target.get_layer(name).weights):
            assert np.array_equal(a.numpy(), b.numpy())


def test_a_deeper_decoder_warm_started_computes_what_its_source_did_until_trained(tmp_path):
    path = str(tmp_path / "sm")
    source = _export(path, ("normals", "depth"))
    target = build_generator(passes=("normals", "depth"), decoder_blocks=2, **SMALL)
    copied, total = runs.init_generator_from(target, path)
    # only the new blocks are left: two per decoder level (levels - 1 of them), 7 weights each (batch norm's 4)
    assert total - copied == (SMALL["levels"] - 1) * 2 * 7
    plate = np.random.default_rng(1).random((2, 40, 24, 3)).astype(np.float32)
    before, after = source(plate), target(plate)
    for name in ("normals", "depth"):
        assert np.allclose(before[name].numpy(), after[name].numpy(), atol=1e-6)
    residual = target.get_layer("dec1_res0_conv2")
    residual.kernel.assign(tf.random.normal(residual.kernel.shape, stddev=0.1))
    assert not np.allclose(before["normals"].numpy(), target(plate)["normals"].numpy(), atol=1e-3)


def test_init_from_a_model_with_nothing_in_common_is_refused(tmp_path):
    path = str(tmp_path / "sm")
    _export(path, ("normals",))
    other = build_generator(passes=("normals",), base_filters=4, levels=3, max_filters=8)  # only head biases fit
    with pytest.raises(runs.RunError, match="weights fit this generator"):
        runs.init_generator_from(other, path)


def test_time_budget_stops_training_after_its_minutes():
    budget = callbacks.TimeBudget(minutes=0.0)

    class Model:
        stop_training = False

    budget.set_model(Model())
    budget.on_train_begin()
    budget.on_train_batch_end(0)
    assert budget.model.stop_training
