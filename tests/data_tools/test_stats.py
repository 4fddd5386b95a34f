"""data_tools.stats: the known answers on tiny hand-made sample folders, and the command line."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from helpers import sphere_normal_map

from data_tools import stats
from tfnormals.core import image_io, layout

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SIZE = 16


def write_sample(root, name, normals, mask=None, ids=None, family="object_study", exposure=2.0):
    """A sample folder holding what stats reads: normals, mask, optional IDs, beauty preview, scene.json."""
    folder = os.path.join(root, name)
    os.makedirs(folder)
    mask = np.ones(normals.shape[:2], np.float32) if mask is None else mask
    image_io.write_rgb_exr(os.path.join(folder, layout.NORMALS_EXR), normals.astype(np.float32))
    image_io.write_png(os.path.join(folder, layout.MASK_PNG), mask)
    image_io.write_png(os.path.join(folder, layout.BEAUTY_PNG), np.full(normals.shape, 0.5, np.float32))
    if ids is not None:
        image_io.write_png(os.path.join(folder, layout.IDS_PNG), ids.astype(np.float32) / 255.0)
    with open(os.path.join(folder, layout.SCENE_JSON), "w") as f:
        json.dump({"family": family, "render": {"exposure": exposure}}, f)
    return folder


def plane(normal, size=SIZE):
    n = np.asarray(normal, np.float32)
    return np.broadcast_to(n / np.linalg.norm(n), (size, size, 3)).copy()


def test_one_flat_plane_is_all_dominant_and_one_bin(tmp_path):
    """A single tilted plane: dominant-plane share 1.0, one histogram bin: coverage 1/324, entropy 0."""
    write_sample(tmp_path, "0000000", plane([0.3, -0.2, 0.9]))
    summary, rows, histogram = stats.collect(str(tmp_path))
    assert rows[0]["dominant_plane_share"] == 1.0
    assert summary["dominant_plane_share"]["median"] == 1.0
    assert np.count_nonzero(histogram) == 1
    assert summary["hemisphere_coverage"] == pytest.approx(1 / 324)
    assert summary["normalized_entropy"] == pytest.approx(0.0)


def test_two_planes_and_the_mask(tmp_path):
    """Two planes 30° apart, 3:1 by area: share 0.75; pixels under mask 0.5 do not count."""
    n = plane([0.0, 0.0, 1.0])
    n[: SIZE // 4] = plane([0.0, 0.5, np.sqrt(0.75)])[: SIZE // 4]
    mask = np.ones((SIZE, SIZE), np.float32)
    n[:, :2] = plane([1.0, 0.0, 0.0])[:, :2]  # a third direction, but outside the mask
    mask[:, :2] = 0.4
    write_sample(tmp_path, "0000000", n, mask)
    row = stats.collect(str(tmp_path))[1][0]
    assert row["dominant_plane_share"] == pytest.approx(0.75)
    assert row["surface_fraction"] == pytest.approx(1 - 2 / SIZE)


def test_hemisphere_bins():
    """Azimuth from +X towards +Y in 10° steps, polar angle from +Z in 10° rings; back-facing in the last ring."""
    normals = np.array([[0, 0, 1], [1, 0, 0.001], [0, 1, 0.001], [-1, -1, 0], [0.05, 0.05, -1]], np.float64)
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    bins = stats.hemisphere_bin(normals)
    assert list(bins) == [0, 8 * 36 + 0, 8 * 36 + 9, 8 * 36 + 22, 8 * 36 + 4]


def test_a_sphere_spreads_over_the_hemisphere(tmp_path):
    """A sphere filling the frame: no dominant plane, every azimuth, high entropy; the ID pass gives objects."""
    n, inside = sphere_normal_map(64)
    ids = np.where(inside > 0, layout.ID_FIRST_OBJECT, layout.ID_BACKGROUND)
    write_sample(tmp_path, "0000000", n, inside, ids)
    write_sample(tmp_path, "0000001", plane([0.0, 0.7, 0.7], 64), family="outdoor",
                 ids=np.full((64, 64), layout.ID_FIRST_SET))
    summary, rows, histogram = stats.collect(str(tmp_path))
    assert rows[0]["dominant_plane_share"] < 0.1
    assert rows[0]["object_fraction"] == pytest.approx(inside.mean())
    assert rows[1]["object_fraction"] == 0.0
    hist = histogram.reshape(stats.POLAR_BINS, stats.AZIMUTH_BINS)
    assert np.all(hist[1:].sum(0) > 0), "every azimuth is present"
    sphere_only = stats.coverage_and_entropy(stats.hemisphere_histogram(n[inside > 0]))[1]
    assert sphere_only > 0.7 and summary["normalized_entropy"] < sphere_only  # the plane's one bin lowers it
    assert summary["families"]["object_study"]["samples"] == 1
    assert summary["families"]["outdoor"]["share"] == 0.5
    assert summary["exposure_stops"]["median"] == pytest.approx(1.0)


def test_parallel_workers_give_the_same_figures_in_the_same_order(tmp_path):
    n, inside = sphere_normal_map(48)
    write_sample(tmp_path, "0000000", n, inside)
    write_sample(tmp_path, "0000001", plane([0.0, 0.7, 0.7], 48), family="outdoor")
    write_sample(tmp_path, "0000002", plane([0.3, 0.0, 0.95], 48), family="interior")
    serial = stats.collect(str(tmp_path), workers=1)
    parallel = stats.collect(str(tmp_path), workers=2)
    assert [r["sample"] for r in parallel[1]] == ["0000000", "0000001", "0000002"]
    assert parallel[1] == serial[1] and np.array_equal(parallel[2], serial[2]) and parallel[0] == serial[0]


def test_folders_without_an_id_pass_or_scene_family(tmp_path):
    """Older renders (no ids.png, no family) still give the normals statistics."""
    folder = write_sample(tmp_path, "0000000", plane([0, 0, 1]))
    with open(os.path.join(folder, layout.SCENE_JSON), "w") as f:
        json.dump({"seed": 1}, f)
    summary, rows, _ = stats.collect(str(tmp_path))
    assert rows[0]["object_fraction"] is None and rows[0]["family"] == "unknown"
    assert summary["object_fraction"] is None
    assert "| samples | 1 |" in stats.markdown(summary)


@pytest.mark.slow
def test_command_prints_a_table_and_writes_json(tmp_path):
    """`python -m data_tools.stats` prints the table on stdout, writes JSON; a bad folder is one line and exit 2."""
    samples = tmp_path / "samples"
    samples.mkdir()
    write_sample(samples, "0000000", plane([0, 0, 1]))
    out = tmp_path / "s.json"
    done = subprocess.run([sys.executable, "-m", "data_tools.stats", f"--input_dir={samples}", f"--output_json={out}"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "| dominant-plane share, median over images | 1.00 |" in done.stdout
    assert json.loads(out.read_text())["summary"]["samples"] == 1
    for bad in (tmp_path / "missing", tmp_path / "empty"):
        if bad.name == "empty":
            bad.mkdir()
        done = subprocess.run([sys.executable, "-m", "data_tools.stats", f"--input_dir={bad}"], cwd=REPO,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert done.stderr.strip().splitlines()[-1].startswith("data_tools.stats: error: --input_dir")
