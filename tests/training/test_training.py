"""Training runs (tfnormals.train, tfnormals.training.loop) on tiny real renders: the smoke command, learning,
resume after an interruption, and mirrored training on two logical CPU devices. All slow: each renders
or trains (the config has its own fast tests in test_config.py, the GAN step in tests/model/test_gan.py)."""

import dataclasses
import glob
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf
from helpers import REPO, default_ctrl_c, plates, subprocess_env
from model_fixtures import (
    HELD_OUT_SPLITS,
    LEARN_MARGIN_DEG,
    SMOKE_EVERY,
    SMOKE_MONITOR_EVERY,
    SMOKE_SAMPLES,
    SMOKE_STEPS,
    TINY_CONFIG,
    read_history,
)
from PIL import Image

from tfnormals.core import charts, layout, resources
from tfnormals.tools import evaluation
from tfnormals.tools.model_io import NormalsModel
from tfnormals.training import loop, runs
from tfnormals.training.config import TrainConfig

pytestmark = pytest.mark.slow


def _checkpoint_steps(run_dir):
    paths = glob.glob(os.path.join(run_dir, layout.RUN_CKPT_DIR, "ckpt-*.index"))
    return sorted(int(p.rsplit("-", 1)[1].split(".")[0]) for p in paths)


# ---------------------------------------------------------------- the smoke command (acceptance 5)

def test_smoke_command_writes_a_complete_run(smoke_run):
    """`python -m tfnormals.train --flagfile=configs/smoke.flags` renders its data, trains and writes the run folder."""
    run = smoke_run.run_dir
    assert "1 replica(s)" in smoke_run.output
    config = TrainConfig.from_json(os.path.join(run, "config.json"))
    assert (config.steps, config.base_filters, config.levels, config.synth_samples) == (SMOKE_STEPS, 16, 5,
                                                                                      SMOKE_SAMPLES)
    # Its own renders and records.
    assert len([d for d in os.listdir(os.path.join(run, "renders")) if d.isdigit()]) == SMOKE_SAMPLES
    with open(os.path.join(smoke_run.records_dir, "index.json")) as f:
        counts = {split: v["count"] for split, v in json.load(f)["splits"].items()}
    assert sum(counts.values()) == SMOKE_SAMPLES and min(counts.values()) > 0
    # A checkpoint per interval.
    assert _checkpoint_steps(run) == list(range(SMOKE_EVERY, SMOKE_STEPS + 1, SMOKE_EVERY))
    # history.csv: one row per interval, with the global step and validation metrics.
    history = read_history(run)
    assert [row["epoch"] for row in history] == list(range(SMOKE_STEPS // SMOKE_EVERY))
    assert [row["step"] for row in history] == list(range(SMOKE_EVERY, SMOKE_STEPS + 1, SMOKE_EVERY))
    for row in history:
        assert 0.0 < row["angle_deg"] < 180.0 and 0.0 < row["val_angle_deg"] < 180.0
        assert np.isfinite(row["g_loss"]) and np.isfinite(row["d_loss"])
    # Per-family validation (whole scenes of each family among the val images) beside the overall figures.
    family_columns = [c for c in history[0] if c.startswith(charts.FAMILY_PREFIX)]
    assert family_columns and all(0.0 < row[c] < 180.0 for row in history for c in family_columns)
    # curves.png: the history drawn as charts (normals, GAN and per-family panels for a normals-only run).
    with Image.open(os.path.join(run, "curves.png")) as chart:
        assert chart.format == "PNG" and chart.size == (2 * charts.PANEL_SIZE[0], 2 * charts.PANEL_SIZE[1])
    # monitor.gif: one frame per monitor_every steps, [photo | predicted normals].
    frames = sorted(os.listdir(os.path.join(run, "monitor")))
    assert frames == [f"step_{s:08d}.png" for s in range(SMOKE_MONITOR_EVERY, SMOKE_STEPS + 1, SMOKE_MONITOR_EVERY)]
    with Image.open(os.path.join(run, "monitor.gif")) as gif:
        assert gif.format == "GIF" and gif.n_frames == len(frames)
        width, height = gif.size
    photo = Image.open(resources.MONITOR_IMAGE)
    assert max(width // 2, height) == config.monitor_size
    assert abs(width / 2 / height - photo.width / photo.height) < 0.02
    # Validation triptychs at each interval: rows of input | ground truth | prediction.
    sheets = sorted(os.listdir(os.path.join(run, "triptychs")))
    assert sheets == [f"step_{s:08d}.png" for s in range(SMOKE_EVERY, SMOKE_STEPS + 1, SMOKE_EVERY)]
    with Image.open(os.path.join(run, "triptychs", sheets[-1])) as sheet:
        rows = min(config.triptych_count, counts["val"])
        assert sheet.size == (3 * config.load_size, rows * config.load_size)
    assert glob.glob(os.path.join(run, "logs", "**", "events.out.tfevents.*"), recursive=True)


# ---------------------------------------------------------------- learning (acceptance 1)

def test_training_beats_the_flat_and_best_constant_baselines(learned_run, smoke_records):
    """300 steps on 55 tiny renders: the model's normals are clearly better than flat and best-constant normals.

    Scored on the training images (whole, unaugmented, inference mode) against baselines fitted on
    the same split. On the held-out images it beats flat normals; with 55 training images of the
    object-study renderer it does not generalize past the best constant (measured 2026-11-26: held-out
    model 39.5°, flat 47.6°, best constant 39.3° on 9 renders here; model 38.7°, flat 44.3° on the CI
    machine; earlier generator: ~30° vs ~30.6°), so that comparison is not asserted, and the held-out
    margin over flat is half the training one: 9 images swing it by a few degrees between machines.
    """
    run_dir, _, _ = learned_run
    model = NormalsModel(run_dir)
    train_examples = list(evaluation.iter_records(smoke_records, "train"))
    fitted = evaluation.fit_baselines(train_examples)
    report = evaluation.evaluate(model, train_examples, fitted)
    held_out = [ex for split in HELD_OUT_SPLITS for ex in evaluation.iter_records(smoke_records, split)]
    held = evaluation.evaluate(model, held_out, fitted)
    for name, r in (("train", report), ("held-out", held)):
        print(f"\n{name} ({r['count']} images): mean angle model {r['model']['mean']:.2f}, "
              f"flat {r['flat']['mean']:.2f}, "
              f"best constant {r['best_constant']['mean']:.2f}, luminance gradient "
              f"{r['luminance_gradient']['mean']:.2f}; median model {r['model']['median']:.2f}, "
              f"best constant {r['best_constant']['median']:.2f}")
    model_m, flat_m, constant_m = report["model"], report["flat"], report["best_constant"]
    assert report["count"] >= 40
    assert model_m["mean"] < constant_m["mean"] - LEARN_MARGIN_DEG
    assert model_m["mean"] < flat_m["mean"] - 2 * LEARN_MARGIN_DEG
    assert model_m["median"] < constant_m["median"] - LEARN_MARGIN_DEG
    assert model_m["within_22_5"] > constant_m["within_22_5"] + 10.0
    assert held["count"] >= 6
    assert held["model"]["mean"] < held["flat"]["mean"] - LEARN_MARGIN_DEG / 2
    # The training curve went down too (first interval's mean vs the last).
    history = read_history(run_dir)
    assert history[-1]["angle_deg"] < history[0]["angle_deg"] - 5.0


def test_whole_scenes_zooms_and_global_context_train_and_export(smoke_records, tmp_path):
    """Views chosen per example (whole scenes and 0.5–2× zooms) feed a generator with global context; the exported
    model runs on any size and gives unit normals."""
    config = TrainConfig.from_flat(dict(records_dir=smoke_records, steps=20, checkpoint_every=10, context="pool",
                                        whole_share=0.5, min_zoom=0.5, max_zoom=2.0, min_scale=1.0, **TINY_CONFIG))
    export_dir = str(tmp_path / "export")
    assert loop.train(config, str(tmp_path / "run"), export_dir=export_dir, log=lambda _: None) == 20
    history = read_history(str(tmp_path / "run"))
    assert all(np.isfinite(row["g_loss"]) and 0.0 < row["angle_deg"] < 180.0 for row in history)
    fn = tf.saved_model.load(export_dir).signatures["serving_default"]
    plate = np.random.default_rng(0).random((1, 40, 72, 3)).astype(np.float32)
    out = fn(images=tf.constant(plate))["normals"].numpy()
    assert out.shape == (1, 40, 72, 3) and np.allclose(np.linalg.norm(out, axis=-1), 1.0, atol=1e-3)


# ---------------------------------------------------------------- resume (acceptance 2)

@pytest.fixture(scope="module")
def resumed_run(smoke_records, tmp_path_factory):
    """A tiny run trained to N steps, then resumed to 2N with half the generator learning rate, and a
    fresh run of N/2 steps for comparison."""
    every = 25
    base = TrainConfig.from_flat(dict(records_dir=smoke_records, steps=2 * every, checkpoint_every=every,
                                      **TINY_CONFIG))
    root = tmp_path_factory.mktemp("resume")
    run_dir, fresh_dir = str(root / "run"), str(root / "fresh")
    first_log, resumed_log = [], []
    first = loop.train(base, run_dir, log=first_log.append)
    history_before = read_history(run_dir)
    resumed = loop.train(dataclasses.replace(base, steps=4 * every, g_lr=base.g_lr / 2), run_dir, resume=True,
                          log=resumed_log.append)
    loop.train(dataclasses.replace(base, steps=every), fresh_dir, log=lambda _: None)
    return dict(base=base, every=every, run_dir=run_dir, first=first, resumed=resumed, first_log=first_log,
                resumed_log=resumed_log, history_before=history_before, history=read_history(run_dir),
                fresh_history=read_history(fresh_dir))


def test_resume_continues_the_step_count(resumed_run):
    every = resumed_run["every"]
    assert resumed_run["first"] == 2 * every and resumed_run["resumed"] == 4 * every
    assert any(f"step {2 * every} of {4 * every}" in line for line in resumed_run["resumed_log"])
    assert any(f"step 0 of {2 * every}" in line for line in resumed_run["first_log"])
    history = resumed_run["history"]
    assert [row["epoch"] for row in history] == [0, 1, 2, 3]
    assert [row["step"] for row in history] == [every, 2 * every, 3 * every, 4 * every]
    key = lambda rows: [(row["epoch"], row["step"], row["g_loss"]) for row in rows]
    assert key(history[:2]) == key(resumed_run["history_before"])  # appended to, not rewritten
    assert _checkpoint_steps(resumed_run["run_dir"]) == [2 * every, 3 * every, 4 * every]  # keep_checkpoints=3


def test_resume_continues_the_loss_curve(resumed_run):
    """The first resumed interval's loss is near the last one before the stop, far from a fresh start's."""
    before, after = resumed_run["history"][1], resumed_run["history"][2]
    fresh = resumed_run["fresh_history"][0]
    print(f"\nlast interval before the stop {before['g_loss']:.1f} ({before['angle_deg']:.1f}°), first resumed "
          f"{after['g_loss']:.1f} ({after['angle_deg']:.1f}°), "
          f"fresh start {fresh['g_loss']:.1f} ({fresh['angle_deg']:.1f}°)")
    for key in ("g_loss", "angle_deg"):
        assert after[key] < fresh[key], key
        assert abs(after[key] - before[key]) < 0.5 * (fresh[key] - before[key]), (key, before, after, fresh)


def test_restore_latest_restores_weights_and_optimizer_state(resumed_run):
    import tensorflow as tf
    run_dir, every = resumed_run["run_dir"], resumed_run["every"]
    gan = loop.build_gan(TrainConfig.from_json(os.path.join(run_dir, "config.json")))
    assert loop.restore_latest(gan, os.path.join(run_dir, "ckpt")) == 4 * every
    assert int(gan.g_optimizer.iterations.numpy()) == 4 * every
    assert int(gan.d_optimizer.iterations.numpy()) == 4 * every
    # The resumed run trained (and saved) with the learning rate its flags asked for, not the restored one.
    np.testing.assert_allclose(float(gan.g_optimizer.learning_rate), resumed_run["base"].g_lr / 2, rtol=1e-6)
    np.testing.assert_allclose(float(gan.d_optimizer.learning_rate), resumed_run["base"].d_lr, rtol=1e-6)
    generator, _, step = runs.generator_from_run(run_dir)
    assert step == 4 * every
    for a, b in zip(gan.generator.weights, generator.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    # Adam's moments come back from the checkpoint (they are zeros in a fresh optimizer).
    reader = tf.train.load_checkpoint(os.path.join(run_dir, "ckpt"))
    moments = [(i, v) for i, v in enumerate(gan.g_optimizer.variables) if "momentum" in v.path or "velocity" in v.path]
    assert len(moments) == 2 * len(gan.generator.trainable_weights)
    for i, v in moments:
        stored = reader.get_tensor(f"g_optimizer/_variables/{i}/.ATTRIBUTES/VARIABLE_VALUE")
        np.testing.assert_array_equal(v.numpy(), stored)
    assert max(float(np.abs(v.numpy()).max()) for _, v in moments) > 0.0


def test_train_refuses_a_run_with_checkpoints_unless_resuming(resumed_run):
    base, run_dir = resumed_run["base"], resumed_run["run_dir"]
    with pytest.raises(ValueError, match="already has checkpoints"):
        loop.train(base, run_dir, log=lambda _: None)
    with pytest.raises(ValueError, match="generator settings differ"):
        loop.train(dataclasses.replace(base, base_filters=16), run_dir, resume=True, log=lambda _: None)
    assert _checkpoint_steps(run_dir)[-1] == 4 * resumed_run["every"]  # untouched
    # Resuming a finished run does nothing and says so.
    lines = []
    assert loop.train(dataclasses.replace(base, steps=4 * resumed_run["every"]), run_dir, resume=True,
                       log=lines.append) == 4 * resumed_run["every"]
    assert any("nothing to do" in line for line in lines)


def test_interrupted_run_saves_its_step_and_resumes_to_the_exact_step_count(smoke_records, tmp_path):
    """Ctrl-C (SIGINT) mid-interval saves a checkpoint at that step; --resume finishes that interval and goes on
    in whole intervals, ending exactly at --steps."""
    every = 50
    root = str(tmp_path)
    flags = [f"--{k}={v}" for k, v in TINY_CONFIG.items()]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tfnormals.train", f"--records_dir={smoke_records}", f"--checkpoint_root={root}",
         "--run_name=r", "--steps=5000", f"--checkpoint_every={every}", *flags],
        cwd=REPO, env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        preexec_fn=default_ctrl_c)
    run_dir = os.path.join(root, "r")
    history_path = os.path.join(run_dir, "history.csv")
    try:
        deadline = time.monotonic() + 300
        while not (os.path.isfile(history_path) and open(history_path).read().count("\n") >= 2):
            assert proc.poll() is None, proc.communicate()[0][-4000:]
            assert time.monotonic() < deadline, "no checkpoint interval finished in 300 s"
            time.sleep(0.1)
        time.sleep(0.7)  # into the second interval
        proc.send_signal(signal.SIGINT)
        output = proc.communicate(timeout=120)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0, output[-4000:]
    lines = [ln for ln in output.splitlines() if "interrupted: saved a checkpoint at step" in ln]
    assert lines, output[-4000:]
    stopped = int(lines[-1].rsplit(" ", 1)[1])
    print(f"\ninterrupted at step {stopped} (interval {every})")
    assert every < stopped < 5000
    assert _checkpoint_steps(run_dir)[-1] == stopped

    config = TrainConfig.from_json(os.path.join(run_dir, "config.json"))
    config.steps = (stopped // every + 2) * every
    log = []
    assert loop.train(config, run_dir, resume=True, log=log.append) == config.steps
    assert any(f"step {stopped} of {config.steps}" in line for line in log)
    history = read_history(run_dir)
    epochs = [int(row["epoch"]) for row in history]
    assert epochs == sorted(set(epochs)) and epochs[-1] == config.steps // every - 1
    assert [row["step"] for row in history] == [(e + 1) * every for e in epochs]
    # An interrupt that lands in an epoch's closing validation (its steps done, so the handler's
    # checkpoint is at the boundary) loses that epoch's history row, and only that.
    lost = {stopped // every - 1} if stopped % every == 0 else set()
    assert set(range(config.steps // every)) - set(epochs) <= lost
    assert _checkpoint_steps(run_dir)[-1] == config.steps


# ---------------------------------------------------------------- tf.distribute (acceptance 4)

MIRRORED_SCRIPT = """
import json, sys
from tfnormals.training import loop
from tfnormals.training.config import TrainConfig
config = TrainConfig.from_flat(json.loads(sys.argv[1]))
step = loop.train(config, sys.argv[2], log=lambda line: print(line, flush=True))
import tensorflow as tf
print("CPU devices:", len(tf.config.list_logical_devices("CPU")))
print("FINAL STEP", step)
"""


def test_mirrored_training_on_two_logical_cpus_learns(smoke_records, tmp_path):
    """strategy=mirrored over two logical CPU devices (set before TF starts, so in a fresh process)."""
    every = 30
    config = dict(TINY_CONFIG, records_dir=smoke_records, steps=3 * every, checkpoint_every=every,
                  strategy="mirrored", logical_devices=2)
    run_dir = str(tmp_path / "mirrored")
    proc = subprocess.run([sys.executable, "-c", MIRRORED_SCRIPT, json.dumps(config), run_dir], cwd=REPO,
                          env=subprocess_env(), capture_output=True, text=True, timeout=600)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]
    assert "2 replica(s)" in proc.stdout and "CPU devices: 2" in proc.stdout
    assert f"FINAL STEP {3 * every}" in proc.stdout
    history = read_history(run_dir)
    assert [row["step"] for row in history] == [every, 2 * every, 3 * every]
    first, last = history[0], history[-1]
    print(f"\nmirrored: angle {first['angle_deg']:.1f} -> {last['angle_deg']:.1f}, "
          f"g_loss {first['g_loss']:.1f} -> {last['g_loss']:.1f}")
    assert last["angle_deg"] < first["angle_deg"] - 5.0
    assert last["g_loss"] < 0.85 * first["g_loss"]
    # Its checkpoint loads outside the strategy, and predicts unit normals.
    out = NormalsModel(run_dir)(plates(1, 24, 40))
    np.testing.assert_allclose(np.linalg.norm(out, axis=-1), 1.0, atol=1e-5)
