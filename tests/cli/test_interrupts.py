"""Fault injection: kill -9 predict and make_records in the middle of a run, re-run, and check the outputs are
complete, readable, not duplicated, and that no temporary file is left; two predicts into one folder at once
share the frames instead of predicting each twice."""

import glob
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
from cli_support import command_env, json_summary, leftovers, run_command, write_pairs

from tfnormals.core import image_io

FRAMES = 24
SAMPLES = 48


def kill_when(args, cwd, ready, timeout=180):
    """Start `python -m args`, SIGKILL it as soon as ready() is true; returns its pid. Fails if it ends first."""
    proc = subprocess.Popen([sys.executable, "-m", *args], cwd=cwd, env=command_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    try:
        while not ready():
            if proc.poll() is not None:
                pytest.fail(f"{args[0]} finished (exit {proc.returncode}) before it could be interrupted")
            if time.monotonic() > deadline:
                pytest.fail(f"{args[0]} never reached the point to interrupt")
            time.sleep(0.005)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    return proc.pid


def plant_stale_temp(folder, pid, suffix):
    """What a writer killed mid-file leaves, in case the kill fell between two files."""
    host = socket.gethostname().replace("-", "_")
    if not glob.glob(os.path.join(folder, ".tmp-*")):
        with open(os.path.join(folder, f".tmp-{host}-{pid}-killed{suffix}"), "wb") as f:
            f.write(b"half written")


@pytest.mark.slow
def test_predict_killed_mid_run_resumes_cleanly(cli_data, tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "in").mkdir()
    for frame in range(1001, 1001 + FRAMES):
        image_io.write_png(str(tmp_path / "in" / f"plate.{frame}.png"), rng.random((192, 256, 3)))
    out = tmp_path / "out"
    args = ["tfnormals.predict", "--input=in/plate.####.png", "--output=out", f"--model={cli_data.model}",
            "--combined", "--tile=96", "--overlap=16"]
    done = lambda: len(glob.glob(str(out / "*.normals.*.exr"))) >= 2  # noqa: E731
    pid = kill_when(args, tmp_path, done)

    finished = sorted(glob.glob(str(out / "*.exr")) + glob.glob(str(out / "*.png")))
    assert len(glob.glob(str(out / "*.normals.*.exr"))) < FRAMES, "killed too late to test anything"
    for path in finished:  # whatever the kill left under a final name is complete
        assert image_io.read_image(path).shape[:2] == (192, 256), path
    plant_stale_temp(str(out), pid, ".exr")

    proc = run_command(args[0], args[1:], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json_summary(proc.stdout)
    assert summary["written"] + summary["skipped_existing"] == FRAMES and summary["failed"] == 0
    assert leftovers(tmp_path) == []
    expected = {f"plate.{kind}.{frame}.{ext}" for frame in range(1001, 1001 + FRAMES)
                for kind, ext in (("normals", "exr"), ("normals", "png"), ("combined", "exr"))}
    assert set(os.listdir(out)) == expected
    for frame in range(1001, 1001 + FRAMES):
        n = image_io.read_exr(str(out / f"plate.normals.{frame}.exr"), ["R", "G", "B"])
        np.testing.assert_allclose(np.linalg.norm(n, axis=-1), 1.0, atol=1e-4)
        assert image_io.read_image(str(out / f"plate.combined.{frame}.exr")).shape == (192, 256, 3)


@pytest.mark.slow
def test_two_predicts_into_one_folder_predict_each_frame_once(cli_data, tmp_path):
    """Two runs of one command started together: every frame is written by one of them and skipped as done by the
    other (its claim held while it is predicted); both succeed and leave no temporary or claim file."""
    rng = np.random.default_rng(1)
    (tmp_path / "in").mkdir()
    for frame in range(1001, 1001 + FRAMES):
        image_io.write_png(str(tmp_path / "in" / f"plate.{frame}.png"), rng.random((192, 256, 3)))
    args = [sys.executable, "-m", "tfnormals.predict", "--input=in/plate.####.png", "--output=out",
            f"--model={cli_data.model}", "--tile=96", "--overlap=16"]
    runs = [subprocess.Popen(args, cwd=tmp_path, env=command_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for _ in range(2)]
    ended = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [err[-2000:] for _, err in ended]
    summaries = [json_summary(out) for out, _ in ended]
    assert sum(s["written"] for s in summaries) == FRAMES, summaries
    assert sum(s["skipped_existing"] for s in summaries) == FRAMES, summaries
    assert leftovers(tmp_path) == []
    for frame in range(1001, 1001 + FRAMES):
        n = image_io.read_exr(str(tmp_path / "out" / f"plate.normals.{frame}.exr"), ["R", "G", "B"])
        np.testing.assert_allclose(np.linalg.norm(n, axis=-1), 1.0, atol=1e-4)


@pytest.mark.slow
def test_make_records_killed_mid_run_resumes_without_duplicates(tmp_path):
    import tensorflow as tf

    from tfnormals.data import schema
    write_pairs(str(tmp_path / "in"), SAMPLES, size=48)
    out = tmp_path / "out"
    args = ["data_tools.make_records", "--input_dir=in", "--output_dir=out", "--num_shards=4", "--workers=1",
            "--split_fractions=0.5,0.25,0.25"]
    shards = lambda: glob.glob(str(out / "*.tfrecord"))  # noqa: E731
    pid = kill_when(args, tmp_path, lambda: len(shards()) >= 2)
    assert not (out / "index.json").exists(), "killed too late to test anything"
    plant_stale_temp(str(out), pid, ".tfrecord")

    proc = run_command(args[0], args[1:], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json_summary(proc.stdout)
    assert sum(summary["counts"].values()) == SAMPLES and summary["skipped"] == 0
    assert leftovers(tmp_path) == []
    assert len(shards()) == 3 * 4
    ids = []
    for shard in sorted(shards()):
        ids += [schema.decode_example(r)["id"].numpy().decode() for r in tf.data.TFRecordDataset(shard)]
    assert len(ids) == len(set(ids)) == SAMPLES
