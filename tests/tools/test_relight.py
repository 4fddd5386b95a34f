"""relight: the wrapped-Lambert maths against hand-computed values, light parsing, masks, file formats
(EXR linear, PNG/TIFF sRGB), non-finite inputs and the command line."""

import json
import subprocess
import sys

import numpy as np
import pytest

from tfnormals.core import errors, image_io, normals, srgb
from tfnormals.tools import light_rigs, relighting


def sphere(size=64):
    """Analytic camera-space normals of a sphere filling the frame, and its mask."""
    y, x = np.mgrid[0:size, 0:size]
    u = (x + 0.5) / size * 2 - 1
    v = 1 - (y + 0.5) / size * 2  # row 0 is the top: +Y up
    r2 = u * u + v * v
    mask = (r2 < 1).astype(np.float32)
    n = np.stack([u, v, np.sqrt(np.clip(1 - r2, 0, 1))], -1) * mask[..., None]
    return n.astype(np.float32), mask


# Three pixels facing the camera, facing right, and in between (cos 0.8 with the camera axis).
HAND_NORMALS = np.array([[[0, 0, 1], [1, 0, 0], [0.6, 0, 0.8]]], np.float32)


def test_maths_matches_a_hand_computed_case():
    """relit = plate · (ambient + Σ intensity · colour · max(0, (n·l + w) / (1 + w))), worked out by hand."""
    plate = np.full((1, 3, 3), 0.2, np.float32)
    light = relighting.Light(direction=(0.0, 0.0, 2.0), color=(1.0, 0.5, 0.25), intensity=2.0)  # l normalized to +Z
    relit = relighting.relight(plate, HAND_NORMALS, [light], ambient=0.5)
    # cos = 1, 0, 0.8 → gain = 0.5 + 2 · colour · cos
    expected = 0.2 * np.array([[[0.5 + 2.0, 0.5 + 1.0, 0.5 + 0.5],
                                [0.5, 0.5, 0.5],
                                [0.5 + 1.6, 0.5 + 0.8, 0.5 + 0.4]]], np.float32)
    np.testing.assert_allclose(relit, expected, rtol=1e-6)
    soft = relighting.shading(HAND_NORMALS, relighting.Light(direction=(0, 0, 1), wrap=0.5))
    np.testing.assert_allclose(soft, [[1.0, 0.5 / 1.5, 1.3 / 1.5]], rtol=1e-6)
    away = relighting.shading(HAND_NORMALS, relighting.Light(direction=(-1, 0, 0)))
    np.testing.assert_allclose(away, [[0.0, 0.0, 0.0]], atol=1e-7)  # facing away: no light, never negative


def test_several_lights_add_up():
    """Two lights give the ambient plus the sum of each light's contribution."""
    plate = np.full((1, 3, 3), 0.5, np.float32)
    a, b = relighting.Light(direction=(0, 0, 1), intensity=0.5), relighting.Light(direction=(1, 0, 0), color=(0, 1, 0))
    both = relighting.relight(plate, HAND_NORMALS, [a, b], ambient=0.0)
    np.testing.assert_allclose(both, relighting.relight(plate, HAND_NORMALS, [a], ambient=0.0)
                               + relighting.relight(plate, HAND_NORMALS, [b], ambient=0.0), rtol=1e-6)


def test_parse_lights_per_light_or_once_for_all():
    lights = light_rigs.parse_lights(["-1,0,0.5", "1,0,0"], colors=["1,0.8,0.6"], intensities=["1.5", "0.25"],
                                  wraps=["0.3"])
    assert [l.direction for l in lights] == [(-1.0, 0.0, 0.5), (1.0, 0.0, 0.0)]
    assert [l.color for l in lights] == [(1.0, 0.8, 0.6)] * 2
    assert [l.intensity for l in lights] == [1.5, 0.25] and [l.wrap for l in lights] == [0.3, 0.3]
    assert light_rigs.parse_lights(["0,0,1"]) == [relighting.Light((0.0, 0.0, 1.0))]


@pytest.mark.parametrize("kwargs,words", [
    (dict(directions=[]), "--light_dir: at least one"),
    (dict(directions=["a,b"]), "--light_dir: expected 3"),
    (dict(directions=["1,2"]), "--light_dir: expected 3"),
    (dict(directions=["0,0,0"]), "--light_dir: 0,0,0 has no direction"),
    (dict(directions=["nan,0,1"]), "--light_dir"),
    (dict(directions=["0,0,1"], wraps=["-1"]), r"--wrap: must be in \[0, 1\)"),
    (dict(directions=["0,0,1"], wraps=["1"]), r"--wrap: must be in \[0, 1\)"),
    (dict(directions=["0,0,1"], intensities=["inf"]), "--light_intensity"),
    (dict(directions=["0,0,1"], colors=["1,-1,1"]), r"--light_color: must be in \[0, inf\)"),
    (dict(directions=["0,0,1"], intensities=["-3"]), r"--light_intensity: must be in \[0, inf\)"),
    (dict(directions=["0,0,1", "1,0,0", "0,1,0"], intensities=["1", "2"]), "once per --light_dir"),
])
def test_bad_light_values_name_the_flag(kwargs, words):
    with pytest.raises(errors.UsageError, match=words):
        light_rigs.parse_lights(**kwargs)


def test_sphere_lit_from_the_left_gets_brighter_on_its_left():
    n, mask = sphere()
    plate = np.full(n.shape, 0.18, np.float32)
    relit = relighting.relight(plate, n, [relighting.Light(direction=(-1.0, 0.0, 0.3))], ambient=1.0)
    row = relit[32]
    left, right = row[8:24].mean(), row[40:56].mean()
    assert left > 1.5 * right and right >= plate[32, 40:56].mean() - 1e-6
    lit_only = relighting.relight(plate, n, [relighting.Light(direction=(-1.0, 0.0, 0.3))], ambient=0.0)
    assert lit_only[32, 60].sum() == 0.0  # the far right faces away from the light: black


def test_wrap_softens_the_terminator_and_mask_blends():
    n, mask = sphere()
    plate = np.full(n.shape, 0.5, np.float32)
    light = relighting.Light(direction=(-1.0, 0.0, 0.0))
    hard = relighting.shading(n, light)
    soft = relighting.shading(n, relighting.Light(direction=(-1.0, 0.0, 0.0), wrap=0.5))
    terminator = (np.abs(n[..., 0]) < 0.05) & (mask > 0)
    assert hard[terminator].max() < 0.06 and soft[terminator].min() > 0.25
    masked = relighting.relight(plate, n, [light], ambient=0.0, mask=mask)
    np.testing.assert_array_equal(masked[mask == 0], plate[mask == 0])
    half = relighting.relight(plate, n, [light], ambient=0.0, mask=np.full(mask.shape, 0.5, np.float32))
    full = relighting.relight(plate, n, [light], ambient=0.0)
    np.testing.assert_allclose(half, 0.5 * (plate + full), rtol=1e-6)


@pytest.fixture
def files(tmp_path):
    """An sRGB plate PNG, the same plate as a linear EXR, and a sphere's normals as EXR and 16-bit PNG."""
    n, mask = sphere(24)
    rng = np.random.default_rng(0)
    plate_srgb = image_io.quantize(rng.uniform(0.2, 0.8, n.shape), 16).astype(np.float32) / 65535.0
    paths = {k: str(tmp_path / k) for k in ("plate.png", "plate.exr", "n.exr", "n.png", "mask.png")}
    image_io.write_png(paths["plate.png"], plate_srgb, bits=16)
    image_io.write_rgb_exr(paths["plate.exr"], srgb.srgb_to_linear(plate_srgb))
    image_io.write_rgb_exr(paths["n.exr"], n)
    image_io.write_png(paths["n.png"], normals.encode(n), bits=16)
    image_io.write_png(paths["mask.png"], mask)
    return dict(paths, normals=n, mask=mask, linear=srgb.srgb_to_linear(plate_srgb), tmp=tmp_path)


LIGHTS = [relighting.Light((-1.0, 0.2, 0.5), intensity=1.5, wrap=0.2)]


def test_exr_is_linear_png_and_tiff_are_srgb(files):
    """The same relight written as EXR (linear), PNG and TIFF (sRGB-encoded) round-trips; an sRGB PNG plate and
    its linear EXR twin relight alike."""
    expected = relighting.relight(files["linear"], files["normals"], LIGHTS, ambient=relighting.DEFAULT_AMBIENT["add"],
                                  mask=np.ones_like(files["mask"]))
    out = {ext: str(files["tmp"] / f"relit.{ext}") for ext in ("exr", "png", "tif")}
    for ext, path in out.items():
        summary = relighting.relight_file(relighting.RelightRequest(plate=files["plate.png"], normals=files["n.exr"],
                                                                    output=path, lights=LIGHTS))
        assert summary == {"output": path, "lights": 1, "mode": "add", "width": 24, "height": 24, "nonfinite": {}}
    np.testing.assert_allclose(image_io.read_image(out["exr"]), expected, rtol=1e-5, atol=1e-6)
    encoded = srgb.linear_to_srgb(expected)
    np.testing.assert_allclose(image_io.read_image(out["png"]), encoded, atol=0.6 / 255)
    np.testing.assert_allclose(image_io.read_image(out["tif"]), encoded, atol=0.6 / 65535)
    from_exr = str(files["tmp"] / "from_exr.exr")
    relighting.relight_file(relighting.RelightRequest(plate=files["plate.exr"], normals=files["n.png"], output=from_exr,
                                                      lights=LIGHTS))
    np.testing.assert_allclose(image_io.read_image(from_exr), expected, atol=2e-4)  # 16-bit normals quantization


def test_the_default_relight_looks_relit(files):
    """With the defaults (add mode, one light) a relit plate is darker than the plate where the surface faces away
    from the light and brighter where it faces it: not the plate brightened everywhere (ambient 1 did that)."""
    out = str(files["tmp"] / "default.exr")
    relighting.relight_file(relighting.RelightRequest(plate=files["plate.exr"], normals=files["n.exr"], output=out,
                                                      lights=[relighting.Light((-1.0, 0.4, 0.6))]))
    surface = files["mask"] > 0.5
    gain = (image_io.read_image(out)[surface] / files["linear"][surface]).mean(axis=-1)
    facing = files["normals"][surface] @ (np.array([-1.0, 0.4, 0.6]) / np.linalg.norm([-1.0, 0.4, 0.6]))
    assert np.mean(gain < 0.8) > 0.2 and np.mean(gain > 1.1) > 0.1, (gain.min(), gain.max())
    assert np.all(gain[facing < 0] < 0.5) and np.all(gain[facing > 0.8] > 1.1)


def test_mask_file_keeps_the_plate_outside(files):
    out = str(files["tmp"] / "masked.exr")
    relighting.relight_file(relighting.RelightRequest(plate=files["plate.exr"], normals=files["n.exr"], output=out,
                                                      lights=LIGHTS, ambient=0.0, mask=files["mask.png"]))
    relit = image_io.read_image(out)
    outside = files["mask"] == 0
    np.testing.assert_allclose(relit[outside], files["linear"][outside], rtol=1e-6)
    assert not np.allclose(relit[~outside], files["linear"][~outside])


def test_nonfinite_inputs_never_reach_the_output(files):
    """NaN/inf plate pixels are filled, NaN normals leave the plate unlit there; both are counted."""
    plate = files["linear"].copy()
    plate[3, 4] = np.nan
    plate[5, 6, 0] = np.inf
    n = files["normals"].copy()
    n[10, 10] = np.nan
    image_io.write_rgb_exr(files["plate.exr"], plate)
    image_io.write_rgb_exr(files["n.exr"], n)
    out = str(files["tmp"] / "out.exr")
    summary = relighting.relight_file(relighting.RelightRequest(plate=files["plate.exr"], normals=files["n.exr"],
                                                                output=out, lights=LIGHTS, ambient=0.5))
    assert summary["nonfinite"] == {files["plate.exr"]: 2, files["n.exr"]: 1}
    relit = image_io.read_image(out)
    assert np.all(np.isfinite(relit))
    np.testing.assert_allclose(relit[10, 10], plate[10, 10], rtol=1e-6)  # no surface to light: plate kept


def test_bad_files_are_named(files):
    small = str(files["tmp"] / "small.png")
    image_io.write_png(small, np.zeros((8, 8, 3), np.float32))
    with pytest.raises(errors.Failure, match=r"size mismatch: .*plate.png is 24x24, .*small.png is 8x8"):
        relighting.relight_file(relighting.RelightRequest(plate=files["plate.png"], normals=small,
                                                          output=str(files["tmp"] / "o.png"), lights=LIGHTS))
    with pytest.raises(errors.UsageError, match="--normals: .*missing.exr: no such file"):
        relighting.relight_file(relighting.RelightRequest(plate=files["plate.png"],
                                                          normals=str(files["tmp"] / "missing.exr"),
                                                          output=str(files["tmp"] / "o.png"), lights=LIGHTS))
    with pytest.raises(errors.UsageError, match="--output: .* must end in"):
        relighting.relight_file(relighting.RelightRequest(plate=files["plate.png"], normals=files["n.exr"],
                                                          output=str(files["tmp"] / "o.jpg"), lights=LIGHTS))
    with pytest.raises(errors.UsageError, match="--ambient"):
        relighting.relight_file(relighting.RelightRequest(plate=files["plate.png"], normals=files["n.exr"],
                                                          output=str(files["tmp"] / "o.png"), lights=LIGHTS,
                                                          ambient=-1))
    gray = str(files["tmp"] / "gray.png")
    image_io.write_png(gray, np.zeros((24, 24), np.float32))
    with pytest.raises(errors.Failure, match="needs 3 channels"):
        relighting.relight_file(relighting.RelightRequest(plate=files["plate.png"], normals=gray,
                                                          output=str(files["tmp"] / "o.png"), lights=LIGHTS))
    assert not (files["tmp"] / "o.png").exists()


@pytest.mark.slow
def test_cli_prints_a_json_summary(files):
    """The command: several --light_dir flags, a JSON summary alone on stdout, the file written."""
    out = str(files["tmp"] / "cli.png")
    proc = subprocess.run([sys.executable, "-m", "tfnormals.relight", f"--plate={files['plate.png']}",
                           f"--normals={files['n.png']}", f"--output={out}", "--light_dir=-1,0,0.2",
                           "--light_dir=1,0,0.2", "--light_intensity=2", "--wrap=0.1"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"output": out, "lights": 2, "mode": "add", "width": 24, "height": 24,
                                       "nonfinite": {}}
    assert image_io.read_image(out).shape == (24, 24, 3)
