"""tfnormals.core.image_io over OpenImageIO: DPX and multi-part EXR round trips, plate frames (data/display
windows, timecode, camera attributes, pixel aspect) written back, and one-line errors for bad files."""

import numpy as np
import OpenImageIO as oiio
import pytest

from tfnormals.core import image_io

H, W = 6, 9


def ramp(channels, seed=0):
    return np.random.default_rng(seed).random((H, W, channels)).astype(np.float32)


# A plate's frame as a camera department delivers it: overscan (data window larger than the display window,
# starting left of and above it), SMPTE timecode, anamorphic pixel aspect, camera matrix and make, frame rate.
OVERSCAN = image_io.Frame(
    data_window=(-2, -1, W, H), display_window=(0, 0, 5, 4),
    attributes={"smpte:TimeCode": ("timecode", (0x01000412, 0)),  # 01:00:04:12
                "PixelAspectRatio": ("float", 2.0),
                "FramesPerSecond": ("rational2i", (24, 1)),
                "worldToCamera": ("matrix", tuple(float(i) for i in range(16))),
                "cameraMake": ("string", "ARRI")})


@pytest.mark.parametrize("bits", [10, 12, 16])
def test_dpx_round_trip_keeps_values_and_timecode(tmp_path, bits):
    """DPX at 10, 12 and 16 bits reads back as float within half a step (plus OIIO's rounding through 16 bits),
    with the plate's timecode."""
    path = str(tmp_path / "plate.1001.dpx")
    image = ramp(3)
    frame = image_io.Frame((0, 0, W, H), (0, 0, W, H), {"smpte:TimeCode": OVERSCAN.attributes["smpte:TimeCode"]})
    image_io.write_image(path, image, bits=bits, frame=frame)
    back = image_io.read_image(path)
    assert back.shape == (H, W, 3) and back.dtype == np.float32
    step = 1.0 / (2 ** bits - 1)
    np.testing.assert_allclose(back, image, atol=0.5 * step + 1.0 / 65535)
    assert image_io.read_frame(path).attribute("smpte:TimeCode") == (0x01000412, 0)


def test_multipart_exr_round_trip(tmp_path):
    """Parts keep their names and channels; named channels are found in whichever part holds them; read_image
    reads the part with R,G,B(,A), wherever it is."""
    path = str(tmp_path / "multi.exr")
    rgba, n, z = ramp(4, 1) * 4.0, ramp(3, 2) * 2.0 - 1.0, ramp(1, 3)[..., 0] * 50.0
    image_io.write_exr_parts(path, {"rgba": {c: rgba[..., i] for i, c in enumerate("RGBA")},
                                    "normals": {c: n[..., i] for i, c in enumerate(["N.X", "N.Y", "N.Z"])},
                                    "depth": {"depth.Z": z}})
    assert image_io.exr_channel_names(path) == sorted(["R", "G", "B", "A", "N.X", "N.Y", "N.Z", "depth.Z"])
    np.testing.assert_array_equal(image_io.read_image(path), rgba)
    np.testing.assert_array_equal(image_io.read_exr(path, ["N.X", "N.Y", "N.Z"]), n)
    np.testing.assert_array_equal(image_io.read_exr(path, ["depth.Z", "R"]), np.stack([z, rgba[..., 0]], -1))
    reader = oiio.ImageInput.open(path)  # the parts, as another OIIO program (Nuke, oiiotool) sees them
    names = []
    while reader.seek_subimage(len(names), 0):
        names.append(reader.spec().getattribute("name"))
    reader.close()
    assert names == ["rgba", "normals", "depth"]
    with pytest.raises(image_io.ImageError, match="missing channels"):
        image_io.read_exr(path, ["P.X"])
    depth_first = str(tmp_path / "depth_first.exr")  # chosen by name, not position: not the depth part
    image_io.write_exr_parts(depth_first, {"depth": {"Z": z}, "rgba": {c: rgba[..., i] for i, c in enumerate("RGBA")}})
    np.testing.assert_array_equal(image_io.read_image(depth_first), rgba)
    with pytest.raises(image_io.ImageError, match="no R,G,B or Y channels"):
        image_io.write_exr_parts(str(tmp_path / "no_image.exr"), {"depth": {"Z": z}, "normals": {"N.X": z}})
        image_io.read_image(str(tmp_path / "no_image.exr"))


def test_exr_keeps_the_frame(tmp_path):
    """An EXR written with a plate's Frame has its data and display windows and every carried attribute; the
    storage details (compression, chunking) are not carried."""
    plate, out = str(tmp_path / "plate.exr"), str(tmp_path / "pass.exr")
    image_io.write_rgb_exr(plate, ramp(3), frame=OVERSCAN, half=True)
    frame = image_io.read_frame(plate)
    assert frame.data_window == OVERSCAN.data_window and frame.display_window == OVERSCAN.display_window
    for name, (_, value) in OVERSCAN.attributes.items():
        assert frame.attribute(name) == value, name
    assert not [name for name in frame.attributes if name.startswith(("compression", "oiio:", "openexr:"))]
    image_io.write_exr(out, {"Z": ramp(1)[..., 0]}, frame=frame, attributes={"tfnormalsSource": "plate.exr"})
    again = image_io.read_frame(out)
    assert (again.data_window, again.display_window) == (frame.data_window, frame.display_window)
    assert {k: again.attributes[k] for k in frame.attributes} == frame.attributes
    assert image_io.exr_header(out)["tfnormalsSource"] == "plate.exr"
    np.testing.assert_array_equal(image_io.read_image(out)[..., 0], ramp(1)[..., 0])


def test_frame_must_fit_the_pixels(tmp_path):
    with pytest.raises(image_io.ImageError, match="data window is 9x6"):
        image_io.write_exr(str(tmp_path / "x.exr"), {"Z": np.zeros((3, 3), np.float32)}, frame=OVERSCAN)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("name, bits", [("x.dpx", 7), ("x.png", 10), ("x.jpg", 16), ("x.gif", 8)])
def test_unwritable_depths_are_refused(tmp_path, name, bits):
    with pytest.raises(image_io.ImageError, match=f"cannot write {bits}-bit"):
        image_io.write_image(str(tmp_path / name), ramp(3), bits=bits)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("name, data", [("garbage.dpx", b"not a dpx" * 40), ("truncated.dpx", None)])
def test_bad_dpx_names_the_file(tmp_path, name, data):
    path = tmp_path / name
    if data is None:
        image_io.write_image(str(path), ramp(3), bits=10)
        data = path.read_bytes()[:-60]
    path.write_bytes(data)
    with pytest.raises(image_io.ImageError, match="not a readable DPX file") as error:
        image_io.read_image(str(path))
    assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_outputs_carry_the_pipelines_metadata_and_tfnormals_stamp_not_the_plates_software_notes(tmp_path):
    """A plate's timecode, frame rate, camera and studio attributes go on; its software, comments and authorship
    do not (each output says Software: tfnormals); colour metadata goes on only when asked (same colour space)."""
    plate, out = str(tmp_path / "plate.exr"), str(tmp_path / "pass.exr")
    notes = {"Software": ("string", "Adobe Photoshop 5.0"),
             "Comment": ("string", "File written by Adobe Photoshop 5.0"),
             "ImageDescription": ("string", "retouched"), "Artist": ("string", "someone")}
    colour = {"chromaticities": ("float[8]", (0.713, 0.293, 0.165, 0.83, 0.128, 0.044, 0.32168, 0.33767))}
    needed = dict(OVERSCAN.attributes, shotName=("string", "sh010"))
    image_io.write_rgb_exr(plate, ramp(3), frame=image_io.Frame(OVERSCAN.data_window, OVERSCAN.display_window,
                                                                dict(needed, **notes, **colour)))
    header = image_io.exr_header(plate)
    assert header["Comment"] == "File written by Adobe Photoshop 5.0" and "chromaticities" in header  # really there
    frame = image_io.read_frame(plate)
    assert set(needed) <= set(frame.attributes) and not (set(notes) | set(colour)) & set(frame.attributes)
    image_io.write_exr(out, {"Z": ramp(1)[..., 0]}, frame=frame)
    written = image_io.exr_header(out)
    assert written["Software"] == image_io.SOFTWARE and image_io.SOFTWARE.startswith("tfnormals ")
    assert not {"Comment", "ImageDescription", "Artist", "chromaticities"} & set(written)
    assert written["shotName"] == "sh010" and written["smpte:TimeCode"] == header["smpte:TimeCode"]
    same_space = image_io.read_frame(plate, colour=True)
    assert same_space.attribute("chromaticities") == pytest.approx(colour["chromaticities"][1])
