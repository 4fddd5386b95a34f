"""relight on frame sequences (tfnormals.tools.relight_sequence): each frame relit from the passes of its number,
exactly as relight does it for one frame; missing and failing frames reported while the others are written; every
frame's request checked as relight checks one before anything is written."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from helpers import REPO, subprocess_env

from tfnormals.core import errors, image_io, normals
from tfnormals.tools import relight_sequence, relighting

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


LIGHTS = (relighting.Light(kind="point", position=(0.2, 0.3, -0.5), radius=0.4, intensity=2.0),
          relighting.Light(direction=(-1.0, 0.5, 0.5)))


def _request(plate, normals_pattern, output, **options):
    return relighting.RelightRequest(plate=plate, normals=normals_pattern, output=str(output),
                                     **dict(dict(lights=LIGHTS[1:]), **options))


def test_every_frame_is_relit_from_its_own_passes(tmp_path):
    plate, normals_pattern, depth = _write_frames(tmp_path)
    result = relight_sequence.relight_sequence(_request(plate, normals_pattern, tmp_path / "out" / "relit.####.exr",
                                                        depth=depth, lights=LIGHTS, ambient=0.3))
    assert result["written"] == [str(tmp_path / "out" / f"relit.{f}.exr") for f in FRAMES]
    assert (result["failed"], result["missing"], result["lights"], result["mode"]) == ({}, [], 2, "add")
    for frame in FRAMES:
        one = str(tmp_path / f"one.{frame}.exr")
        relighting.relight_file(relighting.RelightRequest(
            plate=str(tmp_path / f"plate.{frame}.exr"), normals=str(tmp_path / f"plate.normals.{frame}.exr"),
            output=one, lights=LIGHTS, ambient=0.3, depth=str(tmp_path / f"plate.depth.{frame}.exr")))
        np.testing.assert_array_equal(image_io.read_image(str(tmp_path / "out" / f"relit.{frame}.exr")),
                                      image_io.read_image(one))


def test_missing_and_failing_frames_are_reported_and_the_others_written(tmp_path):
    plate, normals_pattern, _ = _write_frames(tmp_path)
    os.remove(tmp_path / "plate.normals.1002.exr")
    result = relight_sequence.relight_sequence(_request(plate, normals_pattern, tmp_path / "relit.####.png"),
                                               frames="1001-1004")
    assert [os.path.basename(p) for p in result["written"]] == ["relit.1001.png", "relit.1003.png"]
    assert list(result["failed"]) == [str(tmp_path / "plate.1002.exr")]
    assert "plate.normals.1002.exr" in result["failed"][str(tmp_path / "plate.1002.exr")]
    assert result["missing"] == [str(tmp_path / "plate.1004.exr")]
    assert not os.path.exists(tmp_path / "relit.1002.png")


def test_a_sequence_needs_patterns_for_the_normals_and_the_output(tmp_path):
    plate, normals_pattern, _ = _write_frames(tmp_path, frames=(1001,))
    with pytest.raises(errors.UsageError, match="--output"):
        relight_sequence.relight_sequence(_request(plate, normals_pattern, tmp_path / "relit.png"))
    with pytest.raises(errors.UsageError, match="--normals"):
        relight_sequence.relight_sequence(_request(plate, str(tmp_path / "plate.normals.1001.exr"),
                                                   tmp_path / "r.####.png"))
    with pytest.raises(errors.UsageError, match="--plate: no frames"):
        relight_sequence.relight_sequence(_request(str(tmp_path / "other.####.exr"), normals_pattern,
                                                   tmp_path / "r.####.png"))


def test_no_frame_is_written_when_any_frame_would_write_over_an_input(tmp_path):
    """relight's protections hold for every frame, before any is written: frame 1002's output is the one mask every
    frame reads (writing it would destroy frame 1003's input), and an output pattern equal to a pass's destroys
    each frame's pass; the other settings are checked as relight checks them."""
    plate, normals_pattern, depth = _write_frames(tmp_path)
    mask = tmp_path / "relit.1002.png"
    image_io.write_png(str(mask), np.ones((24, 24, 1), np.float32))
    with pytest.raises(errors.UsageError, match=r"--output: .*relit\.1002\.png is the --mask file"):
        relight_sequence.relight_sequence(_request(plate, normals_pattern, tmp_path / "relit.####.png",
                                                   mask=str(mask)))
    assert not (tmp_path / "relit.1001.png").exists()
    with pytest.raises(errors.UsageError, match="is the --depth file"):
        relight_sequence.relight_sequence(_request(plate, normals_pattern, depth, depth=depth))
    with pytest.raises(errors.UsageError, match="--ambient"):
        relight_sequence.relight_sequence(_request(plate, normals_pattern, tmp_path / "r.####.png", ambient=-1.0))


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

