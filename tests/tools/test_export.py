"""Export (tfnormals.model.serving, tfnormals.export) and loading (tfnormals.tools.model_io): the SavedModel
matches the Keras generator on odd sizes, keeps unit length and loads in a fresh process that has only
TensorFlow. Everything but the missing-path check uses the smoke run, so it is slow."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from helpers import REPO, plates, subprocess_env
from model_fixtures import SMOKE_EVERY, SMOKE_STEPS, run_python

from tfnormals.core import layout
from tfnormals.model import serving
from tfnormals.tools.model_io import NormalsModel
from tfnormals.training import runs

SHIPPED = os.path.join(REPO, "tfnormals", "assets", "model")
SIZES = [(2, 77, 131), (1, 19, 40), (1, 64, 64)]  # odd sizes, the smallest side above half the stride (16)

FRESH_PROCESS_SCRIPT = """
import sys
import numpy as np
import tensorflow as tf
fn = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
input_name = next(iter(fn.structured_input_signature[1]))
output_name = next(iter(fn.structured_outputs))
inputs = np.load(sys.argv[2])
outputs = {key: fn(**{input_name: tf.constant(inputs[key])})[output_name].numpy() for key in inputs.files}
np.savez(sys.argv[3], **outputs)
print("NAMES", input_name, output_name)
print("ONLY TENSORFLOW", not any(m.split(".")[0] in ("tfnormals", "keras_hub", "data_tools") for m in sys.modules))
"""


@pytest.fixture(scope="module")
def keras_reference(smoke_run):
    """The smoke run's generator rebuilt in this process, its outputs on SIZES, and the inputs."""
    generator, config, step = runs.generator_from_run(smoke_run.run_dir)
    inputs = {f"b{n}_{h}x{w}": plates(n, h, w, seed=h) for n, h, w in SIZES}
    outputs = {k: generator(v, training=False)["normals"].numpy() for k, v in inputs.items()}
    return dict(generator=generator, config=config, step=step, inputs=inputs, outputs=outputs)


@pytest.mark.slow
def test_a_bf16_runs_generator_is_rebuilt_in_float32(keras_reference, smoke_run, tmp_path):
    """A run trained in mixed_bfloat16 exports and predicts in float32 (its weights are float32 anyway): the
    rebuilt generator computes in float32 and gives the float32 run's outputs (bf16 ops broke the ONNX export)."""
    run_dir = tmp_path / "bf16_run"
    shutil.copytree(smoke_run.run_dir, run_dir)
    with open(run_dir / layout.RUN_CONFIG) as f:
        config = json.load(f)
    config["precision"] = "mixed_bfloat16"
    with open(run_dir / layout.RUN_CONFIG, "w") as f:
        json.dump(config, f)
    generator, config, _ = runs.generator_from_run(str(run_dir))
    assert config.precision == "mixed_bfloat16"
    assert {layer.dtype_policy.compute_dtype for layer in generator.layers} == {"float32"}
    key = next(iter(keras_reference["inputs"]))
    np.testing.assert_array_equal(generator(keras_reference["inputs"][key], training=False)["normals"].numpy(),
                                  keras_reference["outputs"][key])


@pytest.mark.slow
def test_generator_from_run_restores_the_last_checkpoint(keras_reference, smoke_run):
    assert keras_reference["step"] == SMOKE_STEPS
    assert keras_reference["config"].base_filters == 16
    # A checkpoint prefix picks that checkpoint: earlier weights, earlier step.
    earlier, _, step = runs.generator_from_run(os.path.join(smoke_run.run_dir, "ckpt", f"ckpt-{SMOKE_EVERY}"))
    assert step == SMOKE_EVERY
    last = keras_reference["generator"]
    assert any(not np.array_equal(a.numpy(), b.numpy()) for a, b in zip(earlier.weights, last.weights))
    with pytest.raises(runs.RunError, match="neither a run folder nor a checkpoint"):
        runs.generator_from_run(os.path.join(smoke_run.root, "sm_missing_run"))


@pytest.mark.slow
def test_savedmodel_in_a_fresh_process_matches_keras_on_odd_sizes(keras_reference, smoke_export, tmp_path):
    """Acceptance 3: only TensorFlow, names read from the signature, same numbers as the Keras model, unit length."""
    model_dir, _ = smoke_export
    inputs_path, outputs_path = str(tmp_path / "in.npz"), str(tmp_path / "out.npz")
    np.savez(inputs_path, **keras_reference["inputs"])
    proc = subprocess.run([sys.executable, "-c", FRESH_PROCESS_SCRIPT, model_dir, inputs_path, outputs_path],
                          cwd=str(tmp_path), env=subprocess_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    assert "NAMES images normals" in proc.stdout  # as README.md and export.py document
    assert "ONLY TENSORFLOW True" in proc.stdout
    with np.load(outputs_path) as loaded:
        served = {k: loaded[k] for k in loaded.files}
    assert set(served) == set(keras_reference["outputs"])
    for key, expected in keras_reference["outputs"].items():
        assert served[key].shape == keras_reference["inputs"][key].shape
        np.testing.assert_allclose(served[key], expected, atol=1e-5, err_msg=key)
        np.testing.assert_allclose(np.linalg.norm(served[key], axis=-1), 1.0, atol=1e-5, err_msg=key)
    # The model is not trivially constant: its normals vary across the plate.
    assert served["b2_77x131"].reshape(-1, 3).std(axis=0).max() > 1e-3


@pytest.mark.slow
@pytest.mark.parametrize("source", ["savedmodel", "run_folder"])
def test_normals_model_loads_a_savedmodel_or_a_run_folder(keras_reference, smoke_export, smoke_run, source):
    path = smoke_export[0] if source == "savedmodel" else smoke_run.run_dir
    model = NormalsModel(path)
    for key, expected in keras_reference["outputs"].items():
        np.testing.assert_allclose(model(keras_reference["inputs"][key]), expected, atol=1e-5, err_msg=key)
    with pytest.raises(ValueError, match="batch"):
        model(np.zeros((32, 32, 3), np.float32))
    with pytest.raises(ValueError, match="batch"):
        model(np.zeros((1, 32, 32, 4), np.float32))


def test_normals_model_rejects_a_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError):
        NormalsModel(str(tmp_path / "nothing_here"))


@pytest.mark.slow
def test_export_command_output_and_metadata(keras_reference, smoke_export):
    model_dir, printed = smoke_export
    assert printed["step"] == SMOKE_STEPS and printed["stride"] == 2 ** 5
    assert printed["params"] == keras_reference["generator"].count_params()
    assert os.path.isfile(os.path.join(model_dir, "saved_model.pb"))
    with open(os.path.join(model_dir, layout.MODEL_METADATA)) as f:
        info = json.load(f)
    assert info["step"] == SMOKE_STEPS and info["stride"] == 32
    assert info["input"]["name"] == serving.INPUT_NAME and info["output"]["name"] == serving.OUTPUT_NAME
    assert info["config"]["base_filters"] == 16 and info["config"]["levels"] == 5


def test_export_generator_replaces_an_existing_export_atomically(tmp_path):
    """A tiny generator exported over an older export: the old files go, no temporary folder stays,
    and the SavedModel's `normals` equal the Keras model's."""
    import keras
    import tensorflow as tf

    from tfnormals.model.unet import build_generator
    from tfnormals.training.config import TrainConfig
    keras.utils.set_random_seed(3)
    config = TrainConfig.from_flat(dict(base_filters=4, levels=3, max_filters=8))
    generator = build_generator(**config.generator_kwargs())
    out = str(tmp_path / "model")
    os.makedirs(out)
    with open(os.path.join(out, "stale.txt"), "w") as f:
        f.write("from an older export")
    serving.export_generator(generator, out, runs.metadata(config, 7))
    assert sorted(os.listdir(tmp_path)) == ["model"]  # no temporary folder left behind
    assert not os.path.exists(os.path.join(out, "stale.txt"))
    with open(os.path.join(out, layout.MODEL_METADATA)) as f:
        assert json.load(f)["step"] == 7
    fn = tf.saved_model.load(out).signatures["serving_default"]
    plate = plates(1, 19, 40, seed=1)
    served = fn(images=tf.constant(plate))["normals"].numpy()
    np.testing.assert_allclose(served, generator(plate, training=False)["normals"].numpy(), atol=1e-5)


@pytest.mark.slow
def test_savedmodel_stores_each_weight_once(keras_reference, smoke_export):
    """The variables file holds the generator's float32 weights once (Keras' ExportArchive stored them twice)."""
    model_dir, _ = smoke_export
    weight_bytes = 4 * keras_reference["generator"].count_params()
    variables = os.path.join(model_dir, "variables")
    stored = sum(os.path.getsize(os.path.join(variables, f)) for f in os.listdir(variables))
    assert weight_bytes <= stored < 1.25 * weight_bytes, (stored, weight_bytes)


@pytest.mark.slow
def test_export_writes_the_working_size_asked_for(smoke_run, smoke_export, tmp_path):
    """--working_size replaces the run's in the metadata and its config; predict's global pass then uses it."""
    output = str(tmp_path / "sm96")
    proc = run_python(["-m", "tfnormals.export", f"--checkpoint={smoke_run.run_dir}", f"--output={output}",
                       "--working_size=96"])
    assert json.loads(proc.stdout.strip().splitlines()[-1])["working_size"] == 96
    with open(os.path.join(output, layout.MODEL_METADATA)) as f:
        info = json.load(f)
    assert info["working_size"] == 96 and info["config"]["working_size"] == 96
    assert NormalsModel(output).working_size == 96
    assert NormalsModel(smoke_export[0]).working_size == smoke_export[1]["working_size"] != 96


@pytest.mark.slow
def test_export_averages_checkpoints_weight_by_weight(smoke_run, tmp_path):
    """Two checkpoints of one run, comma-separated with weights 3:1, export the weighted mean of their weights
    (not either checkpoint's), list both in the metadata, and take the later step; a weight list of the wrong
    length is one usage line naming --average_weights."""
    early = os.path.join(smoke_run.run_dir, "ckpt", f"ckpt-{SMOKE_EVERY}")
    late = os.path.join(smoke_run.run_dir, "ckpt", f"ckpt-{SMOKE_STEPS}")
    output = str(tmp_path / "averaged")
    run_python(["-m", "tfnormals.export", f"--checkpoint={early},{late}", "--average_weights=3,1",
                f"--output={output}"])
    generator, _, _ = runs.load_model_generator(output)
    a, _, _ = runs.generator_from_run(early)
    b, _, _ = runs.generator_from_run(late)
    pairs = [(g.numpy(), x.numpy(), y.numpy()) for g, x, y in zip(generator.weights, a.weights, b.weights)
             if "seed_generator" not in g.path]
    assert any(not np.array_equal(x, y) for _, x, y in pairs)
    for got, x, y in pairs:
        np.testing.assert_allclose(got, 0.75 * x + 0.25 * y, rtol=1e-5, atol=1e-6)
    with open(os.path.join(output, layout.MODEL_METADATA)) as f:
        info = json.load(f)
    assert info["step"] == SMOKE_STEPS
    averaged = [(c["step"], c["weight"]) for c in info["averaged_checkpoints"]]
    assert averaged == [(SMOKE_EVERY, 0.75), (SMOKE_STEPS, 0.25)]
    proc = subprocess.run([sys.executable, "-m", "tfnormals.export", f"--checkpoint={early},{late}",
                           "--average_weights=1", f"--output={tmp_path / 'never'}"], cwd=REPO,
                          env=subprocess_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "--average_weights" in proc.stderr and "Traceback" not in proc.stderr
    assert not os.path.exists(tmp_path / "never")


@pytest.mark.slow
def test_export_averages_a_checkpoint_with_an_exported_savedmodel(smoke_run, smoke_export, tmp_path):
    """A SavedModel this command exported (as the shipped model is) averages with a run's checkpoint: the mean of
    the two networks' weights, the SavedModel listed with its metadata's step (how the shipped model was made)."""
    early = os.path.join(smoke_run.run_dir, "ckpt", f"ckpt-{SMOKE_EVERY}")
    output = str(tmp_path / "with_savedmodel")
    run_python(["-m", "tfnormals.export", f"--checkpoint={early},{smoke_export[0]}", f"--output={output}"])
    generator, _, info = runs.load_model_generator(output)
    a, _, _ = runs.generator_from_run(early)
    b, _, _ = runs.load_model_generator(smoke_export[0])
    pairs = [(g.numpy(), x.numpy(), y.numpy()) for g, x, y in zip(generator.weights, a.weights, b.weights)
             if "seed_generator" not in g.path]
    assert any(not np.array_equal(x, y) for _, x, y in pairs)
    for got, x, y in pairs:
        np.testing.assert_allclose(got, 0.5 * x + 0.5 * y, rtol=1e-5, atol=1e-6)
    assert [(c["checkpoint"], c["step"]) for c in info["averaged_checkpoints"]] == [
        (early, SMOKE_EVERY), (smoke_export[0], SMOKE_STEPS)]


@pytest.mark.slow
def test_export_depth_contrast_raises_the_depth_to_its_power_and_records_it(smoke_run, tmp_path):
    """--depth_contrast=0.5 on the shipped model (a SavedModel with depth): log depth halves, normals unchanged, the
    factor in the metadata; on the normals-only smoke run, one usage line naming the flag and nothing written."""
    output = str(tmp_path / "flatter")
    run_python(["-m", "tfnormals.export", f"--checkpoint={SHIPPED}", "--depth_contrast=0.5", f"--output={output}"])
    plate = plates(1, 64, 96, seed=3)
    before, after = NormalsModel(SHIPPED).predict_passes(plate), NormalsModel(output).predict_passes(plate)
    np.testing.assert_allclose(np.log(after["depth"]), 0.5 * np.log(before["depth"]), atol=1e-4)
    np.testing.assert_allclose(after["normals"], before["normals"], atol=1e-5)
    with open(os.path.join(output, layout.MODEL_METADATA)) as f:
        assert json.load(f)["depth_contrast"] == 0.5
    proc = subprocess.run([sys.executable, "-m", "tfnormals.export", f"--checkpoint={smoke_run.run_dir}",
                           "--depth_contrast=0.8", f"--output={tmp_path / 'never'}"], cwd=REPO,
                          env=subprocess_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "--depth_contrast" in proc.stderr and "no depth" in proc.stderr
    assert "Traceback" not in proc.stderr and not os.path.exists(tmp_path / "never")
