"""Plates as a VFX pipeline delivers them, through predict: EXR data windows (overscan and crops) and metadata
kept by every pass; ACEScg EXR and log DPX plates give the normals of their sRGB twin (the shipped model)."""

import os

import numpy as np
import pytest
from helpers import mean_angle_deg

from tfnormals.core import colorspaces, image_io, resources, srgb
from tfnormals.tools import prediction
from tfnormals.tools.model_io import NormalsModel

pytestmark = pytest.mark.slow  # exports a model or runs the shipped one

REC709_TO_AP1 = np.linalg.inv([[1.70505, -0.62179, -0.08326], [-0.13026, 1.14080, -0.01055],
                               [-0.02400, -0.12897, 1.15297]])  # ACES' published AP1 → Rec.709, inverted
PASS_FILES = ("normals", "depth", "position", "albedo", "combined")


@pytest.fixture(scope="module")
def multipass_model(multipass):
    return NormalsModel(multipass.savedmodel)


@pytest.mark.parametrize("data_window, display_window", [
    ((-8, -4, 52, 40), (0, 0, 36, 32)),   # overscan: pixels beyond the frame on every side
    ((10, 6, 20, 17), (0, 0, 48, 27)),    # a crop: pixels inside part of the frame
])
def test_every_pass_keeps_the_plates_windows_and_metadata(tmp_path, multipass_model, data_window, display_window):
    frame = image_io.Frame(data_window, display_window, {
        "smpte:TimeCode": ("timecode", (0x10002003, 0)), "PixelAspectRatio": ("float", 2.0),
        "worldToCamera": ("matrix", tuple(float(i % 5) for i in range(16))), "cameraModel": ("string", "ALEXA 35")})
    w, h = data_window[2:]
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    plate = np.stack([x, y, 0.5 * (x + y), np.ones_like(x)], -1).astype(np.float32)
    path = str(tmp_path / "plate.1001.exr")
    image_io.write_exr(path, {c: plate[..., i] for i, c in enumerate("RGBA")}, half=True, frame=frame)

    result = prediction.predict_files(multipass_model, [path], str(tmp_path / "out"), combined=True)
    assert result["failed"] == {} and len(result["written"]) == 1
    files = prediction.plate_outputs(path, str(tmp_path / "out"), True, multipass_model.passes)
    assert set(PASS_FILES) <= set(files)
    for kind in PASS_FILES:
        out = image_io.read_frame(files[kind])
        assert (out.data_window, out.display_window) == (data_window, display_window), kind
        assert {name: out.attribute(name) for name in frame.attributes} == {
            name: value for name, (_, value) in frame.attributes.items()}, kind
        assert image_io.read_exr(files[kind], image_io.exr_channel_names(files[kind])[:1]).shape[:2] == (h, w)
    assert image_io.read_image(files["preview"]).shape[:2] == (h, w)  # the PNG preview: the data window's pixels


def _astronaut(h=160, w=224):
    """A crop of the bundled photograph: sRGB-encoded, in [0, 1]."""
    return image_io.to_rgb(image_io.read_image(resources.EXAMPLE_PLATE))[:h, :w]


@pytest.fixture(scope="module")
def shipped_model():
    return NormalsModel(resources.DEFAULT_MODEL_DIR)


def _normals(model, path, out_dir, colorspace="auto"):
    result = prediction.predict_files(model, [path], str(out_dir), colorspace=colorspace)
    assert result["failed"] == {}, result["failed"]
    return image_io.read_image(result["written"][0])[..., :3]


def _angles(a, b):
    return np.degrees(np.arccos(np.clip(np.sum(a * b, -1), -1.0, 1.0)))


def test_acescg_plate_gives_the_normals_of_its_srgb_twin(tmp_path, shipped_model):
    """The same photograph as a 16-bit sRGB PNG and as an ACEScg EXR (converted with ACES' published matrix, not
    OCIO) predicts the same normals: every pixel within 1°."""
    photo = _astronaut()
    image_io.write_png(str(tmp_path / "plate.png"), photo, bits=16)
    acescg = srgb.srgb_to_linear(image_io.quantize(photo, 16) / 65535.0) @ REC709_TO_AP1.T
    image_io.write_rgb_exr(str(tmp_path / "plate_acescg.exr"), acescg.astype(np.float32))
    reference = _normals(shipped_model, str(tmp_path / "plate.png"), tmp_path / "a")
    aces = _normals(shipped_model, str(tmp_path / "plate_acescg.exr"), tmp_path / "b", "ACEScg")
    angles = _angles(reference, aces)
    assert angles.max() < 1.0, (angles.max(), angles.mean())
    # and the colour space matters: the same ACEScg values read as linear Rec.709 give other normals
    wrong = _normals(shipped_model, str(tmp_path / "plate_acescg.exr"), tmp_path / "c", "linear")
    assert _angles(reference, wrong).mean() > 3 * angles.mean() + 0.1


def test_log_dpx_plate_works_end_to_end(tmp_path, shipped_model):
    """An ARRI LogC4 10-bit DPX plate with a timecode, read with --input_colorspace="ARRI LogC4": normals close to
    its sRGB twin's (10-bit log quantization is all that differs) and EXR outputs carry the timecode."""
    photo = _astronaut()
    image_io.write_png(str(tmp_path / "plate.png"), photo, bits=16)
    logc4 = colorspaces.convert(srgb.srgb_to_linear(photo), colorspaces.resolve("linear"),
                                colorspaces.resolve("ARRI LogC4"))
    frame = image_io.Frame((0, 0, photo.shape[1], photo.shape[0]), (0, 0, photo.shape[1], photo.shape[0]),
                           {"smpte:TimeCode": ("timecode", (0x01000000, 0))})
    dpx = str(tmp_path / "plate.1001.dpx")
    image_io.write_image(dpx, logc4, bits=10, frame=frame)
    reference = _normals(shipped_model, str(tmp_path / "plate.png"), tmp_path / "a")
    log = _normals(shipped_model, dpx, tmp_path / "b", "ARRI LogC4")
    assert np.median(_angles(reference, log)) < 1.0
    out = os.path.join(tmp_path / "b", "plate.normals.1001.exr")
    assert image_io.read_frame(out).attribute("smpte:TimeCode") == (0x01000000, 0)
    assert mean_angle_deg(reference, log, np.ones(log.shape[:2], bool)) < 1.0
