"""python -m tfnormals.finetune as a user runs it: the shot model (with its fallback to the base) loads in predict,
exports to ONNX and runs there; Ctrl-C saves the state (exit 130) and --resume finishes the fine-tune."""

import glob
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from helpers import default_ctrl_c, subprocess_env, write_synthetic_shot

from tfnormals.core import image_io, layout

pytestmark = pytest.mark.slow  # subprocess commands

FRAMES = (1001, 1002, 1003)
SIZE = 32
TINY = ["--view_size=32", "--crop_size=32", "--batch_size=2", "--eval_every=1", "--precision=float32",
        "--rehearsal_views=1"]


def command(args, cwd, timeout=600):
    return subprocess.run([sys.executable, "-m", *args], cwd=cwd, env=subprocess_env(), capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def shot(tmp_path_factory):
    root = tmp_path_factory.mktemp("shot")
    write_synthetic_shot(str(root), FRAMES, SIZE)
    return root


def finetune_args(model, shot, output, *more):
    return ["tfnormals.finetune", f"--plates={shot}/beauty.####.exr", f"--references={shot}/normals.####.exr",
            "--frames=1001,1003", f"--model={model}", f"--output={output}", *TINY, *more]


def test_the_shot_model_runs_in_predict_and_as_onnx(tiny_model, shot, tmp_path):
    proc = command(finetune_args(tiny_model.path, shot, tmp_path / "shot_model", "--minutes=0", "--steps=3"), tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout)
    assert summary["steps"] == 3 and summary["frames"] == [1001, 1003]
    assert "held-out" in proc.stderr and "ETA" in proc.stderr  # the live progress line
    with open(tmp_path / "shot_model" / layout.MODEL_METADATA) as f:
        info = json.load(f)
    assert info["finetune"]["steps"] == 3 and info["stride"] == tiny_model.stride
    assert info["finetune"]["fallback"]["calibration_views"] > 0  # the bundled rehearsal plates calibrated it

    proc = command(["tfnormals.predict", f"--input={shot}/beauty.####.exr", "--output=passes",
                    f"--model={tmp_path / 'shot_model'}"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout)["written"] == len(FRAMES)
    saved = image_io.read_exr(str(tmp_path / "passes" / "beauty.normals.1002.exr"), ["R", "G", "B"])
    np.testing.assert_allclose(np.linalg.norm(saved, axis=-1), 1.0, atol=1e-4)

    proc = command(["tfnormals.export", "--format=onnx", f"--checkpoint={tmp_path / 'shot_model'}",
                    "--output=shot_model.onnx"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc = command(["tfnormals.predict", f"--input={shot}/beauty.1002.exr", "--output=onnx_passes",
                    "--model=shot_model.onnx"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    onnx = image_io.read_exr(str(tmp_path / "onnx_passes" / "beauty.normals.1002.exr"), ["R", "G", "B"])
    np.testing.assert_allclose(onnx, saved, atol=1e-3)


def test_ctrl_c_saves_and_resume_finishes(tiny_model, shot, tmp_path):
    args = finetune_args(tiny_model.path, shot, tmp_path / "m", "--minutes=0", "--steps=100000")
    proc = subprocess.Popen([sys.executable, "-m", *args], cwd=tmp_path, env=subprocess_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=default_ctrl_c)
    history = tmp_path / ("m" + layout.FINETUNE_SUFFIX) / layout.RUN_HISTORY
    deadline = time.monotonic() + 300
    while not (history.is_file() and len(history.read_text().splitlines()) >= 4):  # header, step 0, 1, 2
        assert proc.poll() is None and time.monotonic() < deadline, "the fine-tune never got going"
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-3000:]
    assert err.strip().splitlines()[-1].startswith("tfnormals.finetune: error: interrupted")
    assert "--resume continues it" in err and out == ""
    assert not os.path.exists(tmp_path / "m")  # nothing exported, the state saved
    assert glob.glob(str(tmp_path / ("m" + layout.FINETUNE_SUFFIX) / layout.RUN_CKPT_DIR / "*.index"))
    stopped = int(err.split("saved the fine-tune at step ")[1].split()[0])

    resumed = command(args[:-1] + [f"--steps={stopped + 2}", "--resume"], tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert json.loads(resumed.stdout)["steps"] == stopped + 2
    assert f"m{layout.FINETUNE_SUFFIX} at step {stopped}" in resumed.stderr
