"""Inside a real compositor: Blender relights tfnormals' passes with the shipped node group, as tfnormals.relight does.

`predict --combined` (the shipped model) writes one EXR of a small plate; Blender (its `bpy` module) appends the
"tfnormals Relight" group into a fresh scene, wires the EXR's layers to it and renders in background mode
(tfnormals.blender.composite). The render must equal `python -m tfnormals.relight` given the same light on every
pixel within 1e-3, in add and replace mode, with a directional and with a point light. Blender must see every layer
with its socket type and its values, and the shipped .blend must hold what build_asset builds.

Blender's Python: $TFNORMALS_BLENDER_PYTHON (.ci/run makes one), else this interpreter if it has bpy. bpy 5.0 needs
numpy < 2 and OpenImageIO 3.2 numpy ≥ 2, so it normally lives in an environment of its own.
With TFNORMALS_UPDATE_DOCS=1 the test also copies its PNG render to docs/ (README "Use in Blender").
"""

import importlib.util
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import PIL.Image
import pytest
from helpers import REPO, subprocess_env

from tfnormals.blender import composite, scripting
from tfnormals.core import image_io, resources, srgb

pytestmark = pytest.mark.slow

TOLERANCE = 1e-3
WIDTH, HEIGHT = 192, 144  # not square: a swapped axis shows
PLATE = "plate.exr"
# Every light parameter spelled out, so the comparison does not depend on either side's defaults.
KEY = {"color": [1.0, 0.8, 0.6], "intensity": 1.6, "wrap": 0.2}
# The key grazes the plate from the right, so its light varies across the shipped model's normals (a frontal key
# lit the scene-layout model's smooth normals nearly evenly: 5th to 95th percentile 0.33 to 0.88).
LIGHTS = {"directional": {"type": "directional", "direction": [1.0, 0.5, 0.3], **KEY},
          "point": {"type": "point", "position": [0.35, 0.3, -0.5], "radius": 0.45, **KEY}}
AMBIENT = {"add": 0.3, "replace": 0.2}
CASES = [(mode, light) for mode in AMBIENT for light in LIGHTS]
SCREENSHOT = os.path.join(REPO, "docs", "blender_relight.png")
# What Blender shows for predict --combined's layers: the Image node's outputs and their socket types.
LAYER_TYPES = {"Combined": "RGBA", "Alpha": "VALUE", "N": "VECTOR", "P": "VECTOR", "albedo": "RGBA", "depth": "VALUE"}
LAYER_CHANNELS = {"Combined": ["R", "G", "B", "A"], "Alpha": ["A"], "N": ["N.X", "N.Y", "N.Z"],
                  "P": ["P.X", "P.Y", "P.Z"], "albedo": ["albedo.R", "albedo.G", "albedo.B"], "depth": ["depth.Z"]}


@pytest.fixture(scope="module")
def blender_python():
    configured = os.environ.get("TFNORMALS_BLENDER_PYTHON")
    if configured:
        assert os.access(configured, os.X_OK), f"TFNORMALS_BLENDER_PYTHON={configured} is not an executable"
        return configured
    if importlib.util.find_spec("bpy") is not None:
        return sys.executable
    pytest.skip("needs Blender's Python module bpy 5.0 (pip install bpy==5.0.* into a Python 3.11 environment of its "
                "own, then TFNORMALS_BLENDER_PYTHON=<its python>; .ci/run does this)")


def run(args, python=sys.executable, timeout=300):
    """Run a Python module or script from the repository; stdout of a successful run."""
    proc = subprocess.run([python, *args], cwd=REPO, env=subprocess_env(), capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(args)} exited {proc.returncode}:\n{(proc.stdout + proc.stderr)[-3000:]}"
    return proc.stdout


def last_json(stdout, prefix=""):
    return json.loads([line for line in stdout.splitlines() if line.startswith(prefix)][-1][len(prefix):])


@pytest.fixture(scope="module")
def combined(blender_python, tmp_path_factory):
    """predict --combined on a WIDTH×HEIGHT linear EXR plate (the astronaut; alpha not all 1), where Blender runs."""
    folder = tmp_path_factory.mktemp("blender")
    with PIL.Image.open(resources.EXAMPLE_PLATE) as photo:
        small = photo.convert("RGB").crop((0, 64, 512, 448)).resize((WIDTH, HEIGHT), PIL.Image.LANCZOS)
    small = np.asarray(small, np.float32) / 255.0
    alpha = np.ones(small.shape[:2], np.float32)
    alpha[:40, :40] = np.linspace(0.0, 1.0, 40)[None, :]  # a ramp in one corner
    image_io.write_rgb_exr(str(folder / PLATE), srgb.srgb_to_linear(small), alpha=alpha)
    run(["-m", "tfnormals.predict", f"--input={folder / PLATE}", f"--output={folder}", "--combined"])
    path = folder / "plate.combined.exr"
    missing = {"P.X", "albedo.R", "depth.Z"} - set(image_io.exr_channel_names(str(path)))
    assert not missing, f"the shipped model must predict depth and albedo; {path} lacks {missing}"
    return path


@pytest.fixture(scope="module")
def renders(blender_python, combined):
    """{(mode, light): (Blender's render, tfnormals.relight's result, composite's summary, PNG path)}."""
    out = {}
    for mode, light in CASES:
        stem = combined.parent / f"{mode}_{light}"
        rig = f"{stem}.rig.json"
        with open(rig, "w") as f:
            json.dump({"mode": mode, "ambient": AMBIENT[mode], "lights": [LIGHTS[light]]}, f)
        run(["-m", "tfnormals.relight", f"--plate={combined}", f"--normals={combined}", f"--position={combined}",
             f"--albedo={combined}", f"--lights={rig}", f"--ambient={AMBIENT[mode]}", f"--mode={mode}",
             f"--output={stem}.relight.exr"])
        summary = last_json(run(["-m", "tfnormals.blender.composite", f"--combined={combined}", f"--lights={rig}",
                                 f"--output={stem}.blender.exr", f"--png={stem}.blender.png"], python=blender_python))
        out[mode, light] = (image_io.read_image(f"{stem}.blender.exr"), image_io.read_image(f"{stem}.relight.exr"),
                            summary, f"{stem}.blender.png")
    return out


@pytest.mark.parametrize("mode,light", CASES)
def test_blender_relights_as_tfnormals_relight(renders, combined, mode, light):
    blender, reference, summary, _ = renders[mode, light]
    assert (summary["mode"], summary["light"]) == (mode, light)
    assert blender.shape == reference.shape == (HEIGHT, WIDTH, 4)
    difference = np.abs(blender - reference).max(axis=-1)
    print(f"{mode} {light}: max |Blender − tfnormals.relight| = {difference.max():.3g}")
    assert difference.max() < TOLERANCE, f"{np.sum(difference >= TOLERANCE)} pixels differ by ≥ {TOLERANCE}"
    plate = image_io.read_image(str(combined))
    base = plate[..., :3] if mode == "add" else image_io.read_exr(str(combined), ["albedo.R", "albedo.G", "albedo.B"])
    visible = base[..., 0] > 0.05
    key = (reference[..., 0] - AMBIENT[mode] * base[..., 0])[visible] / base[..., 0][visible]  # red: colour 1
    low, high = np.percentile(key, [5, 95])
    # Not vacuous: normals that did not vary (or a key that did not use them) give low == high. The bound does not
    # ask for more contrast than a model's smooth normals give under one key (0.21 to 1.03 with the model of step
    # 21,500 in add mode).
    assert high > 0.5 and low < 0.5 * high, f"the key's light should vary across the plate ({low:.3g} to {high:.3g})"
    assert np.array_equal(blender[..., 3], plate[..., 3]) and plate[..., 3].min() == 0.0


def test_blender_sees_every_layer_with_its_type_and_values(combined, blender_python, renders, tmp_path):
    script = os.path.join(REPO, "tests", "blender", "blender_side.py")
    types = last_json(run([script, "layers", str(combined), str(tmp_path)], python=blender_python), "RESULT ")
    assert types == LAYER_TYPES
    assert all(summary["layers"] == LAYER_TYPES for *_, summary, _ in renders.values())
    for layer, channels in LAYER_CHANNELS.items():
        seen = image_io.read_image(str(tmp_path / f"{layer}.exr"))
        expected = image_io.read_exr(str(combined), channels)
        if len(channels) == 1:  # a value socket shown as grey
            expected = np.repeat(expected, 3, axis=-1)
        assert np.abs(seen[..., :expected.shape[-1]] - expected).max() < 1e-6, layer


def test_the_shipped_blend_holds_what_build_asset_builds(blender_python):
    script = os.path.join(REPO, "tests", "blender", "blender_side.py")
    descriptions = last_json(run([script, "asset"], python=blender_python), "RESULT ")
    shipped, built = descriptions["shipped"], descriptions["built"]
    assert shipped == built, "the shipped .blend is stale: python -m tfnormals.blender.build_asset"
    assert len(shipped["nodes"]) > 20 and len(shipped["links"]) > 30
    assert {node["type"].split("Node")[0] for node in shipped["nodes"].values()} <= {"Shader", "Compositor", ""}


def display(linear):
    return srgb.linear_to_srgb(np.clip(linear[..., :3], 0.0, 1.0))


def test_the_pngs_are_blenders_renders_in_srgb(renders):
    for blender, _, summary, png in renders.values():
        assert summary["png"] == png
        assert np.abs(image_io.read_image(png) - display(blender)).max() < 1.5 / 255


def test_blender_renders_the_readmes_sheet_from_the_tests_renders(renders, combined, blender_python, tmp_path):
    """Plate | directional | point over albedo | directional | point (add above, replace below), composed and rendered
    by Blender; TFNORMALS_UPDATE_DOCS=1 copies it to docs/ for the README."""
    exr = {case: os.path.splitext(png)[0] + ".exr" for case, (*_, png) in renders.items()}
    tiles = [f"{combined}:Combined", exr["add", "directional"], exr["add", "point"],
             f"{combined}:albedo", exr["replace", "directional"], exr["replace", "point"]]
    png = str(tmp_path / "sheet.png")
    script = os.path.join(REPO, "tests", "blender", "blender_side.py")
    run([script, "sheet", png, "3", *tiles], python=blender_python)
    sheet = image_io.read_image(png)
    assert sheet.shape == (2 * HEIGHT, 3 * WIDTH, 3)
    plate = image_io.read_image(str(combined))
    sources = [plate, renders["add", "directional"][0], renders["add", "point"][0],
               image_io.read_exr(str(combined), ["albedo.R", "albedo.G", "albedo.B"]),
               renders["replace", "directional"][0], renders["replace", "point"][0]]
    for i, source in enumerate(sources):
        tile = sheet[i // 3 * HEIGHT:(i // 3 + 1) * HEIGHT, i % 3 * WIDTH:(i % 3 + 1) * WIDTH]
        assert np.abs(tile - display(source)).max() < 1.5 / 255, f"tile {i}"
    if os.environ.get("TFNORMALS_UPDATE_DOCS"):
        shutil.copyfile(png, SCREENSHOT)


def test_composite_names_the_flag_or_file_of_a_mistake(combined, blender_python, tmp_path):
    rig = tmp_path / "two.json"
    rig.write_text(json.dumps({"mode": "add", "ambient": 1, "lights": [LIGHTS["point"], LIGHTS["directional"]]}))
    args = ["-m", "tfnormals.blender.composite", f"--combined={combined}", f"--output={tmp_path / 'x.exr'}"]
    cases = [([f"--lights={rig}"], 2, f"--lights: {rig}: the node group has one key light"),
             ([f"--lights={tmp_path / 'none.json'}"], 2, "--lights:"),
             ([f"--lights={rig}", "--png=x.jpg"], 2, "--png: x.jpg must end in .png")]
    flat = tmp_path / "flat.exr"
    image_io.write_rgb_exr(str(flat), np.zeros((4, 6, 3), np.float32))
    one = tmp_path / "one.json"
    one.write_text(json.dumps({"mode": "add", "ambient": 1, "lights": [LIGHTS["point"]]}))
    cases.append(([f"--lights={one}", f"--combined={flat}"], 1, f"{flat}: no Combined, N, P layer"))
    for extra, code, message in cases:
        proc = subprocess.run([blender_python, *args, *extra], cwd=REPO, env=subprocess_env(), capture_output=True,
                              text=True, timeout=300)
        last = proc.stderr.strip().splitlines()[-1]
        assert (proc.returncode, last.startswith(f"{composite.NAME}: error: ")) == (code, True), proc.stderr[-2000:]
        assert message in last and not (tmp_path / "x.exr").exists()


def test_a_killed_runs_temporaries_are_removed(combined, blender_python, tmp_path):
    (tmp_path / ".tmp-killed.exr").write_bytes(b"half an EXR")
    rig = tmp_path / "rig.json"
    rig.write_text(json.dumps({"mode": "add", "ambient": 1, "lights": [LIGHTS["directional"]]}))
    run(["-m", "tfnormals.blender.composite", f"--combined={combined}", f"--lights={rig}",
         f"--output={tmp_path / 'relit.exr'}"], python=blender_python)
    assert sorted(os.listdir(tmp_path)) == ["relit.exr", "rig.json"]


def test_without_bpy_the_scripts_say_what_to_install(tmp_path):
    """In tfnormals' own environment (no bpy) the Blender scripts fail in one line naming the fix."""
    if importlib.util.find_spec("bpy") is not None:
        pytest.skip("this interpreter has bpy")
    proc = subprocess.run([sys.executable, "-m", "tfnormals.blender.build_asset", f"--output={tmp_path / 'x.blend'}"],
                          cwd=REPO, env=subprocess_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == f"tfnormals.blender.build_asset: error: {scripting.BPY_MISSING}"
