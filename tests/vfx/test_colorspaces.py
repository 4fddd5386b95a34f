"""tfnormals.core.colorspaces: OCIO colour spaces of the built-in ACES config or $OCIO, tfnormals' aliases,
conversions checked against published matrices, and relight writing an ACEScg plate back in ACEScg."""

import os

import numpy as np
import PyOpenColorIO as ocio
import pytest
from helpers import sphere_normal_map

from tfnormals.core import colorspaces, errors, image_io, srgb
from tfnormals.tools import relighting

# ACEScg (AP1, D60) → linear Rec.709 / sRGB primaries (D65, Bradford), as published with ACES.
AP1_TO_REC709 = np.array([[1.70505, -0.62179, -0.08326],
                          [-0.13026, 1.14080, -0.01055],
                          [-0.02400, -0.12897, 1.15297]])
REC709_TO_AP1 = np.linalg.inv(AP1_TO_REC709)


def linear_plate(h=8, w=10, seed=0):
    """Scene-linear Rec.709 values inside both gamuts (so no conversion clips)."""
    return (np.random.default_rng(seed).random((h, w, 3)) * 0.9 + 0.02).astype(np.float32)


def test_aliases_and_file_type_defaults():
    assert colorspaces.resolve("linear") == (colorspaces.BUILTIN_CONFIG, "Linear Rec.709 (sRGB)")
    assert colorspaces.resolve("srgb") == (colorspaces.BUILTIN_CONFIG, "sRGB Encoded Rec.709 (sRGB)")
    assert colorspaces.resolve("auto", "a.exr") == colorspaces.resolve("linear")
    for name in ("a.png", "a.tif", "a.dpx", "a.jpg"):
        assert colorspaces.resolve("auto", name) == colorspaces.resolve("srgb"), name
    assert colorspaces.resolve("lin_ap1")[1] == "ACEScg"  # OCIO's own aliases work too


def test_unknown_colorspace_is_a_usage_error_naming_the_flag():
    with pytest.raises(errors.UsageError, match=r"--input_colorspace: 'rec709' is not a colour space .*--list_col"):
        colorspaces.check("rec709")


def test_listing_names_the_spaces_the_issue_names():
    names = [line.split("\t")[0] for line in colorspaces.listing().splitlines()]
    assert names[:3] == ["auto", "linear", "srgb"]
    for name in ("ACEScg", "ARRI LogC4", "sRGB Encoded Rec.709 (sRGB)", "sRGB - Display", "Linear Rec.709 (sRGB)"):
        assert name in names


def test_acescg_to_network_input_matches_the_published_matrix():
    linear = linear_plate()
    acescg = linear @ REC709_TO_AP1.T
    expected = srgb.linear_to_srgb(linear)
    np.testing.assert_allclose(colorspaces.to_network(acescg, "ACEScg"), expected, atol=2e-4)
    np.testing.assert_allclose(colorspaces.to_working(acescg, "ACEScg"), linear, atol=1e-4)


def test_default_spaces_convert_exactly():
    """sRGB ↔ linear between tfnormals' own spaces is srgb.py's exact curve, as the training records used."""
    plate = linear_plate(seed=1)
    np.testing.assert_array_equal(colorspaces.to_working(plate, "auto", "p.png"), srgb.srgb_to_linear(plate))
    np.testing.assert_array_equal(colorspaces.to_network(plate, "auto", "p.exr"), srgb.linear_to_srgb(plate))


def test_ocio_environment_config(tmp_path, monkeypatch):
    """With $OCIO set, its colour spaces are accepted and reach tfnormals' spaces through the interchange role;
    the aliases keep meaning the built-in spaces."""
    config = ocio.Config.CreateRaw()
    reference = ocio.ColorSpace(ocio.REFERENCE_SPACE_SCENE, "ACES2065-1")
    half = ocio.ColorSpace(ocio.REFERENCE_SPACE_SCENE, "studio half ACES")  # values at half the ACES2065-1 level
    half.setTransform(ocio.MatrixTransform([2.0, 0, 0, 0, 0, 2.0, 0, 0, 0, 0, 2.0, 0, 0, 0, 0, 1.0]),
                      ocio.COLORSPACE_DIR_TO_REFERENCE)
    for space in (reference, half):
        config.addColorSpace(space)
    for role in ("aces_interchange", "scene_linear", "default"):
        config.setRole(role, "ACES2065-1")
    path = tmp_path / "studio.ocio"
    path.write_text(config.serialize())
    monkeypatch.setenv("OCIO", str(path))

    assert "studio half ACES" in colorspaces.listing()
    with pytest.raises(errors.UsageError, match="not a colour space of the OCIO config .*studio.ocio"):
        colorspaces.check("ACEScg")  # a built-in name, absent from this config
    values = linear_plate(seed=2)
    aces = colorspaces.convert(2.0 * values, (colorspaces.BUILTIN_CONFIG, "ACES2065-1"), colorspaces.resolve("linear"))
    np.testing.assert_allclose(colorspaces.to_working(values, "studio half ACES"), aces, atol=1e-5)
    np.testing.assert_array_equal(colorspaces.to_working(values, "srgb"), srgb.srgb_to_linear(values))


def test_bad_ocio_environment_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("OCIO", str(tmp_path / "missing.ocio"))
    with pytest.raises(errors.UsageError, match=r"^\$OCIO: .*missing\.ocio: not a usable OpenColorIO config") as e:
        colorspaces.check("ACEScg")
    assert "\n" not in str(e.value)


def test_relight_keeps_an_acescg_plate_in_acescg(tmp_path):
    """An ACEScg EXR plate relights like its Rec.709 twin and comes back in ACEScg, with the plate's windows;
    a PNG output is sRGB whatever the plate's space."""
    n, mask = sphere_normal_map(12)
    linear = linear_plate(12, 12, seed=3)
    frame = image_io.Frame((4, 2, 12, 12), (0, 0, 20, 16), {"PixelAspectRatio": ("float", 1.5)})
    paths = {name: str(tmp_path / name) for name in ("aces.exr", "rec709.exr", "n.exr", "out.exr", "out709.exr",
                                                     "out.png")}
    image_io.write_rgb_exr(paths["aces.exr"], linear @ REC709_TO_AP1.T, frame=frame)
    image_io.write_rgb_exr(paths["rec709.exr"], linear)
    image_io.write_rgb_exr(paths["n.exr"], n)
    lights = [relighting.Light((-1.0, 0.3, 0.6), intensity=1.2)]
    relighting.relight_file(relighting.RelightRequest(plate=paths["aces.exr"], normals=paths["n.exr"],
                                                      output=paths["out.exr"], lights=lights, colorspace="ACEScg"))
    relighting.relight_file(relighting.RelightRequest(plate=paths["rec709.exr"], normals=paths["n.exr"],
                                                      output=paths["out709.exr"], lights=lights))
    relighting.relight_file(relighting.RelightRequest(plate=paths["aces.exr"], normals=paths["n.exr"],
                                                      output=paths["out.png"], lights=lights, colorspace="ACEScg"))
    rec709 = image_io.read_image(paths["out709.exr"])
    np.testing.assert_allclose(image_io.read_image(paths["out.exr"]), rec709 @ REC709_TO_AP1.T, atol=2e-3)
    np.testing.assert_allclose(image_io.read_image(paths["out.png"]), srgb.linear_to_srgb(rec709), atol=1.0 / 255)
    out = image_io.read_frame(paths["out.exr"])
    assert (out.data_window, out.display_window, out.attribute("PixelAspectRatio")) == (
        frame.data_window, frame.display_window, 1.5)


@pytest.mark.slow
@pytest.mark.parametrize("module", ["tfnormals.predict", "tfnormals.relight", "data_tools.make_records"])
def test_list_colorspaces_command(module):
    """--list_colorspaces prints one `name<TAB>what` line per choice on stdout and exits 0, needing no other flag."""
    import subprocess
    import sys

    from helpers import REPO, subprocess_env
    proc = subprocess.run([sys.executable, "-m", module, "--list_colorspaces"], cwd=REPO, env=subprocess_env(),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert lines == colorspaces.listing().splitlines() and all("\t" in line for line in lines)


def test_studio_acescg_beauty_reads_like_our_linear_one(synthetic_dir, tmp_path):
    """make_records' pair reader with --input_colorspace=ACEScg: a sample whose beauty was delivered in ACEScg
    gives the network input of the same sample in linear Rec.709."""
    import shutil

    from tfnormals.core import layout
    from tfnormals.data import pairs
    sample = sorted(os.listdir(synthetic_dir))[0]
    shutil.copytree(synthetic_dir / sample, tmp_path / sample)
    beauty = image_io.read_image(str(tmp_path / sample / layout.BEAUTY_EXR))
    image_io.write_rgb_exr(str(tmp_path / sample / layout.BEAUTY_EXR), beauty[..., :3] @ REC709_TO_AP1.T,
                           alpha=beauty[..., 3])
    ours = pairs.load_sample(str(synthetic_dir), sample, pairs.PairFormat())[0]
    studio = pairs.load_sample(str(tmp_path), sample, pairs.PairFormat(beauty_colorspace="ACEScg"))[0]
    np.testing.assert_allclose(studio, ours, atol=2e-4)
    with pytest.raises(errors.UsageError, match="'Rec709' is not a colour space"):
        pairs.PairFormat(beauty_colorspace="Rec709")
