"""Session-wide fixtures and helpers of the slow model/training tests (test_training, test_export, test_evaluate).

One tiny data set is rendered per test session, by the smoke command itself
(`python -m tfnormals.train --flagfile=configs/smoke.flags`, which renders in a subprocess:
Dr.Jit cannot be loaded after TensorFlow). Every other model test reuses that run folder, its
records, its exported SavedModel and one longer in-process training run.

tests/conftest.py loads this module as a plugin (`pytest_plugins`), so every test can ask for
these fixtures by name and each session fixture runs once; test modules import only the constants
and helpers. conftest marks every test that uses one of these fixtures slow.
"""

import csv
import dataclasses
import json
import os
import subprocess
import sys

import pytest
from helpers import REPO, subprocess_env

from tfnormals.core import layout

# The smoke command as the issue states it, shortened: 64 renders (one data set for every model
# test: 55 train, 5 val, 4 test images), 40 steps in two checkpoint intervals, a monitor frame
# every 10 steps.
SMOKE_SAMPLES = 64
SMOKE_STEPS = 40
SMOKE_EVERY = 20
SMOKE_MONITOR_EVERY = 10
SMOKE_OVERRIDES = (f"--synth_samples={SMOKE_SAMPLES}", f"--steps={SMOKE_STEPS}",
                   f"--checkpoint_every={SMOKE_EVERY}", f"--monitor_every={SMOKE_MONITOR_EVERY}")

# Held-out splits (never trained on) and the learning run of acceptance test 1. Tuned for learning fast
# on 55 images: Adam at 1e-3 (not 2e-4), instance norm, whole-image crops, no photometric
# augmentation. It fits its training images well below the best constant within 300 steps; at this
# data size it does not generalize past the best constant (see test_training for the numbers).
HELD_OUT_SPLITS = ("val", "test")
LEARN_MARGIN_DEG = 6.0
LEARN_CONFIG = dict(
    batch_size=8, load_size=64, crop_size=64, steps=300, checkpoint_every=100, val_steps=0, monitor_every=0,
    triptych_count=0, base_filters=16, levels=5, max_filters=128, norm="instance", d_base_filters=32, d_levels=3,
    g_lr=1e-3, min_scale=1.0, exposure_stops=0.0, white_balance=0.0, blur_prob=0.0, max_noise=0.0, jpeg_prob=0.0)

# A tiny model for the resume / interruption / distribution tests (~30 steps/s on 2 cores).
TINY_CONFIG = dict(
    batch_size=8, load_size=32, crop_size=32, base_filters=8, levels=3, max_filters=32, d_base_filters=8,
    d_levels=2, g_lr=1e-3, val_steps=0, monitor_every=0, triptych_count=0, exposure_stops=0.0,
    white_balance=0.0, blur_prob=0.0, max_noise=0.0, jpeg_prob=0.0)

def run_python(args, timeout=600):
    """Run `python ARGS` from the repository root; returns stdout + stderr, failing with both on error."""
    proc = subprocess.run([sys.executable, *args], cwd=REPO, env=subprocess_env(), capture_output=True, text=True,
                          timeout=timeout)
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        pytest.fail(f"python {' '.join(args)} exited with {proc.returncode}:\n{output[-6000:]}")
    return proc


def read_history(run_dir):
    """history.csv rows as dicts of floats (missing values are NaN)."""
    def number(v):
        try:
            return float(v)
        except ValueError:
            return float("nan")
    with open(os.path.join(run_dir, layout.RUN_HISTORY)) as f:
        return [{k: number(v) for k, v in row.items()} for row in csv.DictReader(f)]


@dataclasses.dataclass
class SmokeRun:
    root: str
    run_dir: str
    records_dir: str
    output: str


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """The smoke command run end to end in a subprocess: renders SMOKE_SAMPLES samples, trains, checkpoints."""
    root = str(tmp_path_factory.mktemp("smoke_cli"))
    proc = run_python(["-m", "tfnormals.train", "--flagfile=configs/smoke.flags", f"--checkpoint_root={root}",
                       *SMOKE_OVERRIDES], timeout=900)
    run_dir = os.path.join(root, "smoke")
    return SmokeRun(root, run_dir, os.path.join(run_dir, layout.RUN_RECORDS_DIR), proc.stdout + proc.stderr)


@pytest.fixture(scope="session")
def smoke_records(smoke_run):
    """The smoke run's records folder (train/val/test shards of its renders)."""
    return smoke_run.records_dir


@pytest.fixture(scope="session")
def smoke_export(smoke_run):
    """`python -m tfnormals.export` of the smoke run: (SavedModel folder, the command's JSON line)."""
    output = os.path.join(smoke_run.root, "sm")
    proc = run_python(["-m", "tfnormals.export", f"--checkpoint={smoke_run.run_dir}", f"--output={output}"])
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")][-1]
    return output, json.loads(line)


@pytest.fixture(scope="session")
def smoke_eval(smoke_run, smoke_export):
    """`python -m tfnormals.evaluate` of the exported smoke model on the val split: (report, triptych dir)."""
    out_json = os.path.join(smoke_run.root, "e.json")
    run_python(["-m", "tfnormals.evaluate", f"--model={smoke_export[0]}", f"--records={smoke_run.records_dir}",
                "--split=val", f"--output_json={out_json}"])
    with open(out_json) as f:
        return json.load(f), os.path.join(smoke_run.root, "e_triptychs")


@pytest.fixture(scope="session")
def learned_run(smoke_records, tmp_path_factory):
    """LEARN_CONFIG trained in this process on the smoke records: (run folder, config, log lines)."""
    from tfnormals.training import loop
    from tfnormals.training.config import TrainConfig
    config = TrainConfig.from_flat(dict(records_dir=smoke_records, **LEARN_CONFIG))
    run_dir = str(tmp_path_factory.mktemp("learned") / "run")
    lines = []
    step = loop.train(config, run_dir, log=lines.append)
    assert step == config.steps
    return run_dir, config, lines
