"""ONNX export: outputs match the SavedModel's within 1e-4 at odd sizes on random and real plates, for the shipped
model and a tiny multi-pass one; the metadata travels inside the .onnx; predict runs it without
TensorFlow."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from helpers import REPO, plates, shipped_metadata, shipped_passes, subprocess_env

from tfnormals.core import errors, image_io, resources
from tfnormals.tools import fusion, onnx_model
from tfnormals.tools.model_io import NormalsModel, load_model

pytestmark = pytest.mark.slow  # conversions (tf2onnx) and subprocesses

TOLERANCE = 1e-4
# Odd sizes, at least half the shipped stride (64) per side so the raw SavedModel signature takes them too;
# 77×131 is the case (it came back 64×128 from a plain tf2onnx conversion).
ODD_SIZES = [(77, 131), (33, 200), (129, 65), (64, 64)]
# Tiny sizes go through the loaders' own padding (the SavedModel signature alone refuses them).
TINY_SIZES = [(1, 1), (5, 7), (20, 3)]

# Run as `python -c BLOCK_TF ARGS`: TensorFlow (and Keras) cannot be imported, then predict runs as its command.
BLOCK_TF = """
import runpy, sys
class NoTensorFlow:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "keras", "tf_keras", "tf2onnx"):
            raise ImportError(f"{name} is blocked in this test")
sys.meta_path.insert(0, NoTensorFlow())
try:
    import tensorflow
    sys.exit("the blocker let TensorFlow in")
except ImportError:
    pass
sys.argv[0] = "tfnormals.predict"
runpy.run_module("tfnormals.predict", run_name="__main__")
"""


def _export(args):
    proc = subprocess.run([sys.executable, "-m", "tfnormals.export", "--format=onnx", *args], cwd=REPO,
                          env=subprocess_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def shipped_onnx(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("onnx") / "shipped.onnx")
    summary = _export([f"--checkpoint={resources.DEFAULT_MODEL_DIR}", f"--output={path}"])
    assert summary == {"output": path, "format": "onnx", "step": shipped_metadata()["step"], "stride": 64,
                       "passes": shipped_passes(), "opset": 17}
    return path


@pytest.fixture(scope="module")
def multipass_onnx(multipass, tmp_path_factory):
    """The conftest's multi-pass generator converted from Keras (generator_to_onnx: SavedModel, then ONNX)."""
    from tfnormals.tools import onnx_export
    path = str(tmp_path_factory.mktemp("mp") / "mp.onnx")
    onnx_export.generator_to_onnx(multipass.generator, path, multipass.metadata)
    return path


def _signature(savedmodel):
    import tensorflow as tf
    loaded = tf.saved_model.load(savedmodel)
    fn = loaded.signatures["serving_default"]
    return lambda batch: {k: v.numpy() for k, v in fn(images=tf.constant(batch)).items()}, loaded


def _real_plates():
    """Crops of the bundled photographs at odd sizes."""
    astronaut = image_io.to_rgb(image_io.read_image(resources.EXAMPLE_PLATE))
    return [astronaut[:77, :131][None], astronaut[101:300, 33:250][None]]


def _assert_parity(onnx_passes, reference):
    assert set(onnx_passes) == set(reference)
    for name, value in reference.items():
        assert onnx_passes[name].shape == value.shape, name
        assert np.abs(onnx_passes[name] - value).max() < TOLERANCE, (name, np.abs(onnx_passes[name] - value).max())


def test_shipped_model_parity_at_odd_sizes(shipped_onnx):
    """The .onnx graph alone (onnxruntime, no padding of ours) against the SavedModel's own signature."""
    import onnxruntime
    session = onnxruntime.InferenceSession(shipped_onnx, providers=["CPUExecutionProvider"])
    reference, _keep = _signature(resources.DEFAULT_MODEL_DIR)
    batches = [plates(2, h, w, seed=h) for h, w in ODD_SIZES] + _real_plates()
    for batch in batches:
        out = dict(zip([o.name for o in session.get_outputs()], session.run(None, {"images": batch})))
        _assert_parity(out, reference(batch))


def test_loaders_agree_at_every_size(shipped_onnx):
    """load_model's OnnxModel and NormalsModel: same passes, stride and outputs, tiny plates included."""
    onnx, saved = load_model(shipped_onnx), NormalsModel(resources.DEFAULT_MODEL_DIR)
    assert isinstance(onnx, onnx_model.OnnxModel)
    assert (onnx.passes, onnx.stride) == (saved.passes, saved.stride) == (tuple(shipped_passes()), 64)
    assert onnx.metadata["format"] == "tfnormals-onnx-1" and "config" in onnx.metadata
    for h, w in TINY_SIZES + ODD_SIZES[:1]:
        batch = plates(1, h, w, seed=w)
        _assert_parity(onnx.predict_passes(batch), saved.predict_passes(batch))
        assert onnx(batch).shape == (1, h, w, 3)


def test_every_output_ends_in_its_own_four_dimensional_reshape(shipped_onnx):
    """Each pass leaves the graph through the converter's last Reshape to [N, H, W, C]: tf2onnx sometimes dropped
    the Squeeze after its one-channel transpose (a 5-D depth), which only a rare conversion showed."""
    import onnx

    graph = onnx.load(shipped_onnx).graph
    producers = {name: node for node in graph.node for name in node.output}
    for output in graph.output:
        node = producers[output.name]
        assert node.op_type == "Reshape", output.name
        assert len(output.type.tensor_type.shape.dim) == 4, output.name


@pytest.mark.parametrize("mode", fusion.MODES)
def test_loaders_agree_in_every_predict_mode(shipped_onnx, mode):
    """Every mode of predict (fused pyramid, global, tiled) gives the same passes through ONNX and TensorFlow,
    and both read the same working size from the model's metadata."""
    onnx, saved = load_model(shipped_onnx), NormalsModel(resources.DEFAULT_MODEL_DIR)
    assert onnx.working_size == saved.working_size
    plate = plates(1, 300, 520, seed=4)[0]
    settings = fusion.PassSettings(mode=mode, max_pass=520, tile=256, overlap=64)
    _assert_parity(settings.passes(onnx, plate), settings.passes(saved, plate))


def test_multipass_parity(multipass, multipass_onnx):
    onnx = load_model(multipass_onnx)
    assert onnx.passes == ("normals", "albedo", "depth") and onnx.stride == 16
    assert onnx.metadata["step"] == 7 and onnx.metadata["passes"] == ["normals", "albedo", "depth"]
    reference, _keep = _signature(multipass.savedmodel)
    for batch in [plates(2, 77, 131), plates(1, 9, 23)] + _real_plates():
        _assert_parity(onnx.predict_passes(batch), reference(batch))


def test_predict_runs_an_onnx_model_without_tensorflow(shipped_onnx, tmp_path):
    """predict --model=model.onnx in a process where importing TensorFlow fails: the normals of the SavedModel."""
    plate = str(tmp_path / "plate.0001.png")
    image_io.write_png(plate, image_io.to_rgb(image_io.read_image(resources.EXAMPLE_PLATE))[:90, :150], bits=16)
    proc = subprocess.run([sys.executable, "-c", BLOCK_TF, f"--input={plate}", f"--output={tmp_path / 'onnx'}",
                           f"--model={shipped_onnx}"], cwd=REPO, env=subprocess_env(), capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert json.loads(proc.stdout)["written"] == 1
    from tfnormals.tools import prediction
    prediction.predict_files(NormalsModel(resources.DEFAULT_MODEL_DIR), [plate], str(tmp_path / "tf"))
    name = "plate.normals.0001.exr"
    a, b = (image_io.read_image(os.path.join(tmp_path, folder, name)) for folder in ("onnx", "tf"))
    assert np.abs(a - b).max() < TOLERANCE


def test_export_flags_are_checked_before_work(tmp_path):
    from tfnormals import export
    with pytest.raises(errors.UsageError, match="--output: .* must end in .onnx"):
        export.check_request(resources.DEFAULT_MODEL_DIR, str(tmp_path / "model"), "onnx")
    (tmp_path / "dir.onnx").mkdir()
    with pytest.raises(errors.UsageError, match="is a folder"):
        export.check_request(resources.DEFAULT_MODEL_DIR, str(tmp_path / "dir.onnx"), "onnx")
    with pytest.raises(errors.MissingPathError, match="--checkpoint"):
        export.check_request(str(tmp_path / "nothing"), str(tmp_path / "m.onnx"), "onnx")


def test_a_broken_onnx_file_is_a_failure_naming_it(tmp_path):
    path = tmp_path / "broken.onnx"
    path.write_bytes(b"\x08\x07garbage")
    with pytest.raises(errors.Failure, match="broken.onnx: cannot load the ONNX model"):
        load_model(str(path))
    with pytest.raises(errors.MissingPathError, match="no such ONNX model"):
        load_model(str(tmp_path / "absent.onnx"))
