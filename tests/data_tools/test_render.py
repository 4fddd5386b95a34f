"""data_tools.render: sample folders, resuming, splitting across tasks, determinism, and the CLIs."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from helpers import RESOLUTION, SEED, SPP, copy_sample

from data_tools import render
from tfnormals.core import image_io, layout, normals, srgb
from tfnormals.data import pairs, schema

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def beauty_pixels(root, index):
    return image_io.read_image(os.path.join(root, layout.sample_id(index), layout.BEAUTY_EXR))


def test_sample_folders_hold_every_documented_file(rendered_dir):
    """Each sample folder has the required files plus normals preview and albedo, and a scene.json."""
    for name in sorted(os.listdir(rendered_dir)):
        folder = os.path.join(rendered_dir, name)
        assert render.is_complete(folder)
        for extra in (layout.NORMALS_PNG, layout.ALBEDO_EXR):
            assert os.path.isfile(os.path.join(folder, extra))
        with open(os.path.join(folder, layout.SCENE_JSON)) as f:
            scene = json.load(f)
        assert (scene["seed"], layout.sample_id(scene["index"])) == (SEED, name)
        assert scene["render"]["resolution"] == RESOLUTION and scene["render"]["spp"] == SPP
        beauty = image_io.read_image(os.path.join(folder, layout.BEAUTY_EXR))
        assert beauty.shape == (RESOLUTION, RESOLUTION, 4)
        mask = image_io.read_image(os.path.join(folder, layout.MASK_PNG))[..., 0]
        np.testing.assert_allclose(mask, beauty[..., 3], atol=0.5 / 255 + 1e-3)  # mask.png = 8-bit alpha
        # The 8-bit previews show the same images: sRGB beauty, 0.5 n + 0.5 normals (0 where empty).
        preview = image_io.read_image(os.path.join(folder, layout.BEAUTY_PNG))
        np.testing.assert_allclose(preview, srgb.linear_to_srgb(beauty[..., :3]), atol=1.0 / 255 + 2e-3)
        n = image_io.read_image(os.path.join(folder, layout.NORMALS_EXR))
        n_preview = image_io.read_image(os.path.join(folder, layout.NORMALS_PNG))
        np.testing.assert_allclose(n_preview, normals.encode(n) * (beauty[..., 3:] > 0), atol=0.5 / 255 + 1e-6)


def test_task_indices_partition_the_job():
    """Tasks own disjoint index sets (i % T == I) that together cover start..start+count-1."""
    assert render.task_indices(0, 10, 1, 3) == [1, 4, 7]
    owned = [render.task_indices(5, 11, t, 3) for t in range(3)]
    assert sorted(i for task in owned for i in task) == list(range(5, 16))
    assert all(i % 3 == t for t, task in enumerate(owned) for i in task)
    for bad in (-1, 3):
        with pytest.raises(ValueError):
            render.task_indices(0, 10, bad, 3)


def test_rendering_is_deterministic(rendered_dir, tmp_path):
    """Rendering the same seed and index again, in another folder, gives identical beauty pixels."""
    assert render.render_dataset(str(tmp_path), [1, 2], resolution=RESOLUTION, spp=SPP, seed=SEED) == (2, 0, [])
    for index in (1, 2):
        np.testing.assert_array_equal(beauty_pixels(tmp_path, index), beauty_pixels(rendered_dir, index))
    assert not np.array_equal(beauty_pixels(tmp_path, 1), beauty_pixels(tmp_path, 2))


def test_rerun_resumes_and_ignores_leftovers(rendered_dir, tmp_path):
    """A re-run skips complete samples, redoes incomplete ones, and a stale .tmp-* folder breaks nothing."""
    copy_sample(rendered_dir, layout.sample_id(0), tmp_path)
    partial = copy_sample(rendered_dir, layout.sample_id(1), tmp_path)
    os.remove(os.path.join(partial, layout.SCENE_JSON))  # interrupted before its last file
    stale = tmp_path / f".tmp-{layout.sample_id(2)}-99999"
    stale.mkdir()
    (stale / layout.BEAUTY_EXR).write_bytes(b"half-written")
    kept = os.stat(os.path.join(tmp_path, layout.sample_id(0), layout.BEAUTY_EXR)).st_mtime_ns

    assert render.render_dataset(str(tmp_path), [0, 1, 2], resolution=RESOLUTION, spp=SPP, seed=SEED) == (2, 1, [])
    assert os.stat(os.path.join(tmp_path, layout.sample_id(0), layout.BEAUTY_EXR)).st_mtime_ns == kept
    for index in (1, 2):
        assert render.is_complete(os.path.join(tmp_path, layout.sample_id(index)))
        np.testing.assert_array_equal(beauty_pixels(tmp_path, index), beauty_pixels(rendered_dir, index))
    samples = sorted(name for name in os.listdir(tmp_path) if not name.startswith("."))
    assert samples == [layout.sample_id(i) for i in range(3)]
    assert pairs.find_samples(str(tmp_path), pairs.PairFormat()) == samples  # make_records skips the leftover
    assert render.render_dataset(str(tmp_path), [0, 1, 2], resolution=RESOLUTION, spp=SPP, seed=SEED) == (0, 3, [])


def run_cli(module, **flags):
    """Run `python -m module --flag=value ...` from the repository; returns its parsed JSON summary line."""
    args = [sys.executable, "-m", module] + [f"--{k}={v}" for k, v in flags.items()]
    done = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def cli_outputs(tmp_path_factory):
    """Render two samples and write their records with the command-line tools, once."""
    samples = tmp_path_factory.mktemp("cli_samples")
    shards = tmp_path_factory.mktemp("cli_records")
    rendered = run_cli("data_tools.render", output_dir=samples, num_samples=2, resolution=32, spp=4, seed=7)
    written = run_cli("data_tools.make_records", input_dir=samples, output_dir=shards, num_shards=2, workers=1)
    return samples, shards, rendered, written


def test_render_cli_writes_sample_folders(cli_outputs, rendered_dir):
    """`python -m data_tools.render` writes DIR/<sample_id>/ with the documented files, same as in-process."""
    samples, _, summary, _ = cli_outputs
    assert summary == {"rendered": 2, "skipped_complete": 0, "failed": []}
    assert sorted(os.listdir(samples)) == [layout.sample_id(0), layout.sample_id(1)]
    for index in range(2):
        folder = os.path.join(samples, layout.sample_id(index))
        for name in (layout.BEAUTY_EXR, layout.BEAUTY_PNG, layout.NORMALS_EXR, layout.DEPTH_EXR,
                     layout.MASK_PNG, layout.SCENE_JSON):
            assert os.path.isfile(os.path.join(folder, name)), name
        # Same seed, index and settings as the session render (seed 7, 32 px, 4 spp): same pixels.
        np.testing.assert_array_equal(beauty_pixels(samples, index), beauty_pixels(rendered_dir, index))


def test_make_records_cli_writes_shards_and_index(cli_outputs):
    """`python -m data_tools.make_records` writes <split>-NNNNN-of-KKKKK.tfrecord shards and index.json."""
    _, shards, _, summary = cli_outputs
    with open(os.path.join(shards, "index.json")) as f:
        index = json.load(f)
    assert index["schema_version"] == schema.SCHEMA_VERSION
    assert index["skipped"] == [] and index["skipped_count"] == 0
    assert sum(index["counts"].values()) == 2
    assert summary == {"counts": index["counts"], "skipped": 0}
    for split in layout.SPLITS:
        assert index["splits"][split]["count"] == index["counts"][split]
        for k in range(2):
            assert os.path.isfile(os.path.join(shards, f"{split}-{k:05d}-of-00002.tfrecord"))


def test_render_falls_back_to_scalar_without_llvm(tmp_path, rendered_dir):
    """With no usable LLVM the renderer warns, uses scalar_rgb, and still writes a valid sample."""
    env = dict(os.environ, DRJIT_LIBLLVM_PATH=str(tmp_path / "no-such-libLLVM.so"))
    args = [sys.executable, "-m", "data_tools.render", f"--output_dir={tmp_path / 'out'}", "--num_samples=1",
            f"--resolution={RESOLUTION}", f"--spp={SPP}", f"--seed={SEED}"]
    done = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "falling back to scalar_rgb" in done.stderr
    folder = tmp_path / "out" / layout.sample_id(0)
    with open(folder / layout.SCENE_JSON) as f:
        assert json.load(f)["render"]["variant"] == "scalar_rgb"
    n = image_io.read_exr(str(folder / layout.NORMALS_EXR), ["R", "G", "B"])
    alpha = image_io.read_image(str(folder / layout.MASK_PNG))[..., 0]
    np.testing.assert_allclose(np.linalg.norm(n[alpha > 0], axis=-1), 1.0, atol=1e-3)
    # Same scene as the LLVM render of sample 0: the normals pass agrees (Monte Carlo noise aside).
    llvm = image_io.read_exr(os.path.join(rendered_dir, layout.sample_id(0), layout.NORMALS_EXR), ["R", "G", "B"])
    both = (alpha > 0.99) & (np.linalg.norm(llvm, axis=-1) > 0.5)
    cosine = np.sum(n[both] * llvm[both], axis=-1)
    assert np.median(cosine) > 0.99


def test_flag_validation_names_every_mistake(tmp_path):
    """render.validate turns user mistakes into one message (the command prints it and exits 2)."""
    good = dict(output_dir=str(tmp_path / "out"), num_samples=2, resolution=32, spp=4, start_index=0, task_index=0,
                num_tasks=1, families="object_study=1", denoise=False, threads=0)
    weights, problem = render.validate(**good)
    assert problem == "" and weights["object_study"] == 1.0
    a_file = tmp_path / "f"
    a_file.write_text("x")
    for change, word in [({"output_dir": str(a_file)}, "is a file"), ({"output_dir": ""}, "--output_dir"),
                         ({"num_samples": 0}, "--num_samples"), ({"resolution": 0}, "--resolution"),
                         ({"resolution": 100_000}, "--resolution"), ({"spp": -1}, "--spp"),
                         ({"task_index": 2, "num_tasks": 2}, "--task_index"), ({"families": "garden=1"}, "--families"),
                         ({"threads": -1}, "--threads"), ({"seed": -1}, "--seed")]:
        _, problem = render.validate(**dict(good, **change))
        assert word in problem and "\n" not in problem, (change, problem)
