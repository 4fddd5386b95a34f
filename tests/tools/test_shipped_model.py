"""The shipped model (tfnormals/assets/model): its contract, and that it beats every baseline on
a fresh held-out render set (a seed the training data never used)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tfnormals.core import layout, resources
from tfnormals.tools import evaluate
from tfnormals.tools.model_io import NormalsModel

HELD_OUT_SEED = 424242  # the shipped model was trained on seed 1 (see BUILD_NOTES.md)


def test_shipped_savedmodel_contract():
    """serving_default takes float32 [N, H, W, 3] and returns unit normals of the same size; the model is
    package data (tfnormals/assets/model), found through importlib.resources."""
    import tensorflow as tf
    fn = tf.saved_model.load(resources.DEFAULT_MODEL_DIR).signatures["serving_default"]
    (name, spec), = fn.structured_input_signature[1].items()
    assert spec.dtype == tf.float32 and spec.shape.as_list() == [None, None, None, 3]
    out = fn(**{name: tf.random.uniform([2, 61, 97, 3])})
    (normals,) = out.values()
    assert normals.shape == (2, 61, 97, 3)
    np.testing.assert_allclose(np.linalg.norm(normals.numpy(), axis=-1), 1.0, atol=1e-4)
    with open(os.path.join(resources.DEFAULT_MODEL_DIR, layout.MODEL_METADATA)) as f:
        assert json.load(f)["input"]["encoding"] == "sRGB"
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(resources.DEFAULT_MODEL_DIR)
               for f in files)
    assert size < 50e6


@pytest.mark.slow
def test_shipped_model_beats_all_baselines_on_held_out_renders(tmp_path):
    renders = str(tmp_path / "renders")
    subprocess.run([sys.executable, "-m", "data_tools.render", f"--output_dir={renders}", "--num_samples=10",
                    "--resolution=128", "--spp=16", f"--seed={HELD_OUT_SEED}"], check=True, capture_output=True)
    from tfnormals.data import pairs
    examples = list(evaluate.iter_pairs(renders, pairs.PairLayout()))
    assert len(examples) == 10
    # Baselines fitted on the evaluated set itself: an optimistic floor the model must still beat.
    fitted = evaluate.fit_baselines(examples)
    report = evaluate.evaluate(NormalsModel(resources.DEFAULT_MODEL_DIR), examples, fitted)
    model = report["model"]
    for baseline in ("flat", "best_constant", "luminance_gradient"):
        assert model["mean"] < report[baseline]["mean"] - 3.0, (baseline, model, report[baseline])
        assert model["median"] < report[baseline]["median"], (baseline, model, report[baseline])
        assert model["within_22_5"] > report[baseline]["within_22_5"], (baseline, model, report[baseline])
