"""relight on frame sequences (tfnormals.tools.relight_sequence): each frame relit from the passes of its number,
exactly as relight does it for one frame; missing and failing frames reported while the others are written."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from helpers import REPO, subprocess_env

from tfnormals.core import errors, image_io, normals
from tfnormals.tools import relight, relight_sequence

FRAMES = (1001, 1002, 1003)


def _write_frames(folder, frames=FRAMES, size=24):
    """Plates (linear EXR), normals and depth passes named as predict names them; returns the three patterns."""
    rng = np.random.default_rng(0)
    for frame in frames:
        plate = rng.uniform(0.1, 0.9, (size, size, 3)).astype(np.float32)
        n = normals.normalize(rng.normal(0.0, 0.3, (size, size, 3)) + [0.0, 0.0, 1.0])
        image_io.write_rgb_exr(str(folder / f"plate.{frame}.exr"), plate)
        image_io.write_exr(str(folder / f"plate.normals.{frame}.exr"), {c: n[..., i] for i, c in enumerate("RGB")})
        image_io.write_exr(str(folder / f"plate.depth.{frame}.exr"), {"Z": rng.uniform(1.0, 2.0, (size, size))})
    return str(folder / "plate.####.exr"), str(folder / "plate.normals.####.exr"), str(folder / "plate.depth.%04d.exr")


LIGHTS = [relight.Light(kind="point", position=(0.2, 0.3, -0.5), radius=0.4, intensity=2.0),
          relight.Light(direction=(-1.0, 0.5, 0.5))]


def test_every_frame_is_relit_from_its_own_passes(tmp_path):
    plate, normals_pattern, depth = _write_frames(tmp_path)
    result = relight_sequence.relight_sequence(plate, str(tmp_path / "out" / "relit.####.exr"),
                                               {"normals": normals_pattern, "depth": depth}, lights=LIGHTS,
                                               ambient=0.3)
    assert result["written"] == [str(tmp_path / "out" / f"relit.{f}.exr") for f in FRAMES]
    assert (result["failed"], result["missing"], result["lights"], result["mode"]) == ({}, [], 2, "add")
    for frame in FRAMES:
        one = str(tmp_path / f"one.{frame}.exr")
        relight.relight_file(str(tmp_path / f"plate.{frame}.exr"), str(tmp_path / f"plate.normals.{frame}.exr"), one,
                             LIGHTS, 0.3, depth_path=str(tmp_path / f"plate.depth.{frame}.exr"))
        np.testing.assert_array_equal(image_io.read_image(str(tmp_path / "out" / f"relit.{frame}.exr")),
                                      image_io.read_image(one))


def test_missing_and_failing_frames_are_reported_and_the_others_written(tmp_path):
    plate, normals_pattern, _ = _write_frames(tmp_path)
    os.remove(tmp_path / "plate.normals.1002.exr")
    result = relight_sequence.relight_sequence(plate, str(tmp_path / "relit.####.png"), {"normals": normals_pattern},
                                               frames="1001-1004", lights=LIGHTS[1:])
    assert [os.path.basename(p) for p in result["written"]] == ["relit.1001.png", "relit.1003.png"]
    assert list(result["failed"]) == [str(tmp_path / "plate.1002.exr")]
    assert "plate.normals.1002.exr" in result["failed"][str(tmp_path / "plate.1002.exr")]
    assert result["missing"] == [str(tmp_path / "plate.1004.exr")]
    assert not os.path.exists(tmp_path / "relit.1002.png")


def test_a_sequence_needs_patterns_for_the_normals_and_the_output(tmp_path):
    plate, normals_pattern, _ = _write_frames(tmp_path, frames=(1001,))
    with pytest.raises(errors.UsageError, match="--output"):
        relight_sequence.relight_sequence(plate, str(tmp_path / "relit.png"), {"normals": normals_pattern},
                                          lights=LIGHTS[1:])
    with pytest.raises(errors.UsageError, match="--normals"):
        relight_sequence.relight_sequence(plate, str(tmp_path / "r.####.png"),
                                          {"normals": str(tmp_path / "plate.normals.1001.exr")}, lights=LIGHTS[1:])
    with pytest.raises(errors.UsageError, match="--plate: no frames"):
        relight_sequence.relight_sequence(str(tmp_path / "other.####.exr"), str(tmp_path / "r.####.png"),
                                          {"normals": normals_pattern}, lights=LIGHTS[1:])


def test_frame_paths_follow_the_pattern():
    assert relight_sequence.frame_path("a/p.####.exr", 7) == "a/p.0007.exr"
    assert relight_sequence.frame_path("a/p.%05d.exr", 1001) == "a/p.01001.exr"
    assert relight_sequence.frame_path("a/mask.png", 1001) == "a/mask.png"
    assert relight_sequence.frame_number("a/p.####.exr", "a/p.1042.exr") == 1042


@pytest.mark.slow
def test_the_command_relights_a_sequence_and_exits_1_for_a_missing_frame(tmp_path):
    plate, normals_pattern, _ = _write_frames(tmp_path)
    args = [f"--plate={plate}", f"--normals={normals_pattern}", f"--output={tmp_path}/r.####.png", "--light_dir=0,0,1"]
    run = lambda extra: subprocess.run([sys.executable, "-m", "tfnormals.relight", *args, *extra], cwd=REPO,
                                       env=subprocess_env(), capture_output=True, text=True, timeout=300)
    done = run([])
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(json.loads(done.stdout)["written"]) == 3
    gap = run(["--frames=1002-1004"])
    assert gap.returncode == 1 and json.loads(gap.stdout)["missing"] == [str(tmp_path / "plate.1004.exr")]
    assert gap.stderr.strip().splitlines()[-1].startswith("tfnormals.relight: error: 0 frame(s) failed and 1 missing")

