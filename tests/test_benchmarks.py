"""Benchmarks keep running against the current model API (they are not run by CI otherwise):
bench_inference on a tiny plate with the shipped model in predict's modes; bench_backends on a tiny batch;
bench_temporal on a tiny sequence; bench_train_step on the shipped configuration at batch 1."""

import json
import subprocess
import sys

import pytest
from helpers import REPO, subprocess_env

from tfnormals.core import resources


@pytest.mark.slow
def test_bench_inference_times_the_shipped_model_on_a_tiny_plate(tmp_path):
    out = tmp_path / "inference.json"
    proc = subprocess.run([sys.executable, "-m", "benchmarks.bench_inference", f"--model={resources.DEFAULT_MODEL_DIR}",
                           "--sizes=320x192", "--modes=fused,global,tiled", "--tile=96", "--overlap=16", "--repeats=1",
                           f"--json_out={out}"], cwd=REPO, env=subprocess_env(), capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = json.loads(out.read_text())["rows"]
    assert [r["mode"] for r in rows] == ["fused", "global", "tiled"]
    assert all(r["seconds"] > 0 and r["peak_rss_mb"] > r["rss_after_load_mb"] * 0.5 for r in rows)
    assert rows[0]["tiles"] == 1 and rows[2]["tiles"] > 1 and rows[2]["pixel_factor"] > 1.0
    assert "| 320×192 | tiled 96/16 |" in proc.stdout and "| 320×192 | fused |" in proc.stdout


@pytest.mark.slow
def test_bench_backends_compares_every_backend_with_tensorflow(tmp_path):
    out = tmp_path / "backends.json"
    proc = subprocess.run([sys.executable, "-m", "benchmarks.bench_backends", f"--model={resources.DEFAULT_MODEL_DIR}",
                           "--batch=1", "--side=64", "--repeats=1", f"--json_out={out}"], cwd=REPO,
                          env=subprocess_env(), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = {r["backend"]: r for r in json.loads(out.read_text())["rows"]}
    assert {"tensorflow", "onnxruntime"} <= set(rows) and rows["tensorflow"]["max_difference"] == 0.0
    assert rows["onnxruntime"]["max_difference"] < 1e-3 and all(r["median_s"] > 0 for r in rows.values())


@pytest.mark.slow
def test_bench_temporal_times_every_mode_on_a_tiny_sequence(tmp_path):
    out = tmp_path / "temporal.json"
    proc = subprocess.run([sys.executable, "-m", "benchmarks.bench_temporal", f"--model={resources.DEFAULT_MODEL_DIR}",
                           "--sizes=160x96", "--frames=3", f"--json_out={out}"], cwd=REPO, env=subprocess_env(),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = json.loads(out.read_text())["rows"]
    assert [r["mode"] for r in rows] == ["per_frame", "temporal", "temporal --matchmove",
                                         "temporal --matchmove --matchmove_mattes"]
    assert all(r["seconds"] > 0 for r in rows) and all(r["blend_s"] > 0 for r in rows[1:])
    assert "| 160×96 | temporal |" in proc.stdout and "| 160×96 | temporal --matchmove |" in proc.stdout


@pytest.mark.slow
def test_bench_train_step_times_the_shipped_configuration_at_batch_one(tmp_path):
    """The shipped flags pair each image with its mirror image (the flip-consistency term), which a batch of one
    cannot: the benchmark turns that term off there rather than crash, and times the step."""
    out = tmp_path / "train_step.json"
    proc = subprocess.run([sys.executable, "-m", "benchmarks.bench_train_step", "--configs=shipped", "--batches=1",
                           "--steps=1", "--warmup_steps=1", "--budget_s=1", "--matmul_n=256",
                           f"--json_out={out}"], cwd=REPO, env=subprocess_env(), capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (row,) = json.loads(out.read_text())["rows"]
    assert (row["config"], row["batch"]) == ("shipped", 1) and row["step_s"] > 0 and row["flops"] > 0
