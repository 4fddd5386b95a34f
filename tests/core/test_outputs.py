"""tfnormals.core.outputs and tfnormals.core.resume: outputs that appear together or not at all, one writer per
output across processes, outputs that are inputs, and resume checks that read what is on disk."""

import os
import subprocess
import sys
import time

import numpy as np
import pytest

from tfnormals.core import errors, image_io, outputs, resume


def test_written_together_appear_in_order_or_not_at_all(tmp_path):
    paths = [str(tmp_path / "a.png"), str(tmp_path / "a.exr")]
    with pytest.raises(RuntimeError):
        with outputs.written_together(paths) as temporary:
            image_io.write_png(temporary[paths[0]], np.zeros((2, 2)))
            raise RuntimeError("the second output failed")
    assert os.listdir(tmp_path) == []
    with outputs.written_together(paths) as temporary:
        assert [os.path.splitext(temporary[p])[1] for p in paths] == [".png", ".exr"]
        image_io.write_png(temporary[paths[0]], np.zeros((2, 2)))
        image_io.write_rgb_exr(temporary[paths[1]], np.zeros((2, 2, 3), np.float32))
        assert not any(os.path.exists(p) for p in paths)
    assert sorted(os.listdir(tmp_path)) == ["a.exr", "a.png"]
    assert os.stat(paths[0]).st_mtime_ns <= os.stat(paths[1]).st_mtime_ns  # renamed in the order given


HOLD = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(float(sys.argv[2]))
os.remove(sys.argv[1])
"""


def test_an_output_claimed_by_another_process_comes_last_once_released(tmp_path):
    """Item b's claim is held by another process: a and c are yielded first, b once that process lets go."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path / ".tmp-claim-b.exr"), "0.5"],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    start, order = time.monotonic(), []
    for item in outputs.one_writer_each("abc", lambda item: str(tmp_path / f"{item}.exr")):
        order.append((item, time.monotonic() - start))
        assert os.path.exists(tmp_path / f".tmp-claim-{item}.exr")  # held while the caller works on it
    holder.wait()
    assert [item for item, _ in order] == ["a", "c", "b"]
    assert order[2][1] > 0.4  # b only once the holder let go (it held b for 0.5 s after saying so)
    assert os.listdir(tmp_path) == []  # every claim file removed


def test_in_order_waits_for_an_output_claimed_by_another_process(tmp_path):
    """Work that depends on the items before it (temporal predict): b's claim is held elsewhere, so the items
    come in their order, b once the holder lets go."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path / ".tmp-claim-b.exr"), "0.5"],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    start, order = time.monotonic(), []
    for item in outputs.one_writer_each("abc", lambda item: str(tmp_path / f"{item}.exr"), in_order=True):
        order.append((item, time.monotonic() - start))
    holder.wait()
    assert [item for item, _ in order] == ["a", "b", "c"]
    assert order[1][1] > 0.4
    assert os.listdir(tmp_path) == []


def test_stale_claims_go_held_ones_stay(tmp_path):
    stale = tmp_path / ".tmp-claim-x.exr"
    stale.write_bytes(b"")  # left by a killed run: nobody holds its lock
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path / ".tmp-claim-y.exr"), "2"],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    try:
        assert outputs.remove_stale_temps(str(tmp_path)) == [stale.name]
        assert os.listdir(tmp_path) == [".tmp-claim-y.exr"]
    finally:
        holder.kill()
        holder.wait()


def test_an_output_that_is_an_input_is_refused(tmp_path):
    (tmp_path / "plate.exr").write_bytes(b"x")
    os.symlink(tmp_path / "plate.exr", tmp_path / "link.exr")
    for output in (tmp_path / "plate.exr", tmp_path / "sub" / ".." / "plate.exr", tmp_path / "link.exr"):
        with pytest.raises(errors.UsageError, match="is the --plate file"):
            outputs.check_not_input(str(output), {"--plate": str(tmp_path / "plate.exr"), "--mask": ""}, "--output")
    outputs.check_not_input(str(tmp_path / "new.exr"), {"--plate": str(tmp_path / "plate.exr")}, "--output")


def test_resume_reads_what_is_on_disk(tmp_path):
    settings = {"--model": "abc", "--tile": 512}
    done, preview = str(tmp_path / "a.normals.exr"), str(tmp_path / "a.normals.png")
    image_io.write_exr(done, {c: np.full((64, 64), 0.5, np.float32) for c in "RGB"},
                       attributes=resume.stamp("a.png", settings))
    image_io.write_png(preview, np.full((64, 64, 3), 0.5))
    remedy = "use another --output"
    assert resume.finished([done, preview], "a.png", settings, remedy)
    assert not resume.finished([done, preview, str(tmp_path / "a.combined.exr")], "a.png", settings, remedy)
    with pytest.raises(errors.Failure, match="a.normals.exr was made from a.png, not a.jpg; use another --output"):
        resume.finished([done], "a.jpg", settings, remedy)
    with pytest.raises(errors.Failure, match=r"made with other settings \(--model, --overlap\)"):
        resume.finished([done], "a.png", {"--model": "def", "--tile": 512, "--overlap": 64}, remedy)
    with open(preview, "r+b") as f:  # a file server's crash: the preview's data cut short, its name final
        f.truncate(os.path.getsize(preview) // 2)
    assert not resume.finished([done, preview], "a.png", settings, remedy)
