"""predict: every plate format and size in, unit normals of the right size out; sequences, missing and bad
frames, non-finite pixels, resume keyed to every output and the plate's full name, temporaries."""

import os
import re

import numpy as np
import pytest

from tfnormals.core import conventions, errors, image_io, normals, outputs, resources
from tfnormals.tools import fusion, plates, prediction, tiling
from tfnormals.tools.model_io import NormalsModel


def _plate(h, w, channels=3, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    base = np.stack([x, y, 0.5 * (x + y)], -1) * 0.8 + 0.1 * rng.random((h, w, 3))
    if channels == 1:
        return base[..., :1]
    if channels == 4:
        return np.concatenate([base, (x > 0.3)[..., None].astype(np.float32)], -1)
    return base.astype(np.float32)


def _check_normals(stem, h, w):
    n = image_io.read_exr(stem + ".exr", list(conventions.NORMALS_EXR_CHANNELS))
    assert n.shape == (h, w, 3)
    np.testing.assert_allclose(np.linalg.norm(n, axis=-1), 1.0, atol=1e-4)
    preview = image_io.read_image(stem + ".png")
    assert preview.shape[:2] == (h, w)
    return n


@pytest.mark.parametrize("name,writer,channels", [
    ("plate.png", lambda p, a: image_io.write_png(p, a, bits=8), 3),
    ("plate16.tif", lambda p, a: image_io.write_tiff(p, a, bits=16), 3),
    ("plate.exr", lambda p, a: image_io.write_rgb_exr(p, a), 3),
    ("rgba.png", lambda p, a: image_io.write_png(p, a, bits=16), 4),
    ("gray.png", lambda p, a: image_io.write_png(p, a, bits=8), 1),
])
def test_formats_give_unit_normals_of_plate_size(tmp_path, tiny_model, name, writer, channels):
    """PNG, 16-bit TIFF, linear EXR, RGBA and grayscale plates of odd sizes all predict."""
    path = str(tmp_path / name)
    writer(path, _plate(45, 70, channels))
    result = prediction.predict_files(tiny_model, [path], str(tmp_path / "out"))
    assert len(result["written"]) == 1 and not result["failed"]
    stem = prediction.output_stem(path, str(tmp_path / "out"), "normals")
    _check_normals(stem, 45, 70)
    if channels == 4:  # the plate's alpha rides along
        assert "A" in image_io.exr_channel_names(stem + ".exr")


def test_linear_exr_is_converted_to_srgb(tmp_path, tiny_model):
    """An EXR plate is scene-linear: predicting it equals predicting its sRGB encoding."""
    from tfnormals.core import srgb
    linear = _plate(40, 40) ** 2.2
    image_io.write_rgb_exr(str(tmp_path / "lin.exr"), linear)
    image_io.write_png(str(tmp_path / "enc.png"), srgb.linear_to_srgb(linear), bits=16)
    prediction.predict_files(tiny_model, [str(tmp_path / "lin.exr"), str(tmp_path / "enc.png")], str(tmp_path / "o"))
    a = image_io.read_exr(str(tmp_path / "o" / "lin.normals.exr"), ["R", "G", "B"])
    b = image_io.read_exr(str(tmp_path / "o" / "enc.normals.exr"), ["R", "G", "B"])
    np.testing.assert_allclose(a, b, atol=2e-3)


def test_sequence_with_corrupt_frame_and_resume(tmp_path, tiny_model):
    """A 3-frame sequence predicts frame by frame; a corrupt frame is skipped and named; reruns resume."""
    shot = tmp_path / "shot"
    shot.mkdir()
    for frame in (1001, 1002, 1003):
        image_io.write_rgb_exr(str(shot / f"plate.{frame}.exr"), _plate(33, 50, seed=frame))
    (shot / "plate.1004.exr").write_bytes(b"not an exr at all")
    found = plates.expand_inputs(str(shot / "plate.####.exr"))
    assert [os.path.basename(p) for p in found.paths] == [f"plate.{f}.exr" for f in (1001, 1002, 1003, 1004)]
    assert found.missing == []
    assert plates.expand_inputs(str(shot / "plate.%04d.exr"), "1002-1003").paths == [
        str(shot / "plate.1002.exr"), str(shot / "plate.1003.exr")]
    out = str(tmp_path / "out")
    result = prediction.predict_files(tiny_model, found.paths, out, combined=True)
    assert len(result["written"]) == 3
    assert list(result["failed"]) == [str(shot / "plate.1004.exr")]
    assert "plate.1004.exr" in result["failed"][str(shot / "plate.1004.exr")]
    for frame in (1001, 1002, 1003):
        _check_normals(os.path.join(out, f"plate.normals.{frame}"), 33, 50)
        combined = os.path.join(out, f"plate.combined.{frame}.exr")
        assert set(image_io.exr_channel_names(combined)) == {"R", "G", "B", "N.X", "N.Y", "N.Z"}
    again = prediction.predict_files(tiny_model, found.paths[:3], out)
    assert again["written"] == [] and len(again["skipped_existing"]) == 3


def test_missing_frames_are_reported(tmp_path):
    """Holes in a sequence are missing frames, with or without --frames; --frames mistakes are usage errors."""
    for frame in (7, 8, 11):
        image_io.write_png(str(tmp_path / f"p.{frame:03d}.png"), _plate(4, 4))
    found = plates.expand_inputs(str(tmp_path / "p.###.png"))
    assert [os.path.basename(p) for p in found.paths] == ["p.007.png", "p.008.png", "p.011.png"]
    assert [os.path.basename(p) for p in found.missing] == ["p.009.png", "p.010.png"]
    ranged = plates.expand_inputs(str(tmp_path / "p.###.png"), "6-8")
    assert [os.path.basename(p) for p in ranged.missing] == ["p.006.png"] and len(ranged.paths) == 2
    with pytest.raises(errors.UsageError, match="--frames"):
        plates.expand_inputs(str(tmp_path / "p.007.png"), "1-2")
    with pytest.raises(FileNotFoundError, match="--input"):
        plates.expand_inputs(str(tmp_path / "nope.png"))


@pytest.mark.parametrize("h,w", [(1, 1), (1, 40), (23, 2), (7, 9)])
def test_plates_of_any_size_predict(tmp_path, tiny_model, h, w):
    """Sides far below the model's stride are padded before inference and cropped back."""
    path = str(tmp_path / "small.png")
    image_io.write_png(path, _plate(h, w))
    result = prediction.predict_files(tiny_model, [path], str(tmp_path / "out"))
    assert not result["failed"], result
    _check_normals(prediction.output_stem(path, str(tmp_path / "out"), "normals"), h, w)


def test_nonfinite_pixels_are_filled_and_reported(tmp_path, tiny_model):
    """NaN and inf plate pixels are replaced before inference: the pass is finite and unit length everywhere."""
    plate = _plate(64, 64)
    plate[10, 12] = np.nan
    plate[40, 3, 1] = np.inf
    plate[50:52, 50] = -np.inf
    path = str(tmp_path / "bad.exr")
    image_io.write_rgb_exr(path, plate)
    result = prediction.predict_files(tiny_model, [path], str(tmp_path / "out"), combined=True)
    assert result["nonfinite"] == {path: 4} and not result["failed"]
    stem = prediction.output_stem(path, str(tmp_path / "out"), "normals")
    n = _check_normals(stem, 64, 64)
    assert np.all(np.isfinite(n))
    combined = image_io.read_exr(str(tmp_path / "out" / "bad.combined.exr"), ["R", "G", "B"])
    assert np.all(np.isfinite(combined))
    assert prediction.summary(result)["nonfinite_frames"] == {path: 4}


def test_resume_is_keyed_to_every_requested_output(tmp_path, tiny_model):
    """A re-run with --combined writes the combined EXRs a first run without it did not; a second is a no-op."""
    path = str(tmp_path / "a.png")
    image_io.write_png(path, _plate(20, 20))
    out = str(tmp_path / "out")
    assert len(prediction.predict_files(tiny_model, [path], out)["written"]) == 1
    assert len(prediction.predict_files(tiny_model, [path], out, combined=True)["written"]) == 1
    assert os.path.isfile(os.path.join(out, "a.combined.exr"))
    assert prediction.predict_files(tiny_model, [path], out, combined=True)["skipped_existing"] == [path]
    os.remove(os.path.join(out, "a.normals.png"))  # a lost preview is redone
    assert len(prediction.predict_files(tiny_model, [path], out, combined=True)["written"]) == 1


def test_resume_is_keyed_to_how_the_network_saw_the_plate(tmp_path, tiny_model):
    """Outputs are stamped with the inference settings (fusion.PassSettings): a re-run in another mode, or with
    another setting of the mode, fails the frame and keeps them; the model's own working size given explicitly is
    the same run; overwrite=True replaces them, stamped with the new settings."""
    path = str(tmp_path / "a.png")
    image_io.write_png(path, _plate(20, 20))
    out = str(tmp_path / "out")
    normals_exr = os.path.join(out, "a.normals.exr")
    assert len(prediction.predict_files(tiny_model, [path], out)["written"]) == 1
    first = image_io.read_image(normals_exr)
    own = fusion.PassSettings(working_size=tiny_model.working_size)
    assert prediction.predict_files(tiny_model, [path], out, inference=own)["skipped_existing"] == [path]
    for other, named in ((fusion.PassSettings(mode="tiled"), "--mode"), (fusion.PassSettings(detail=0.25), "--detail"),
                         (fusion.PassSettings(max_pass=16, tile=256, overlap=32), "--max_pass, --overlap, --tile")):
        result = prediction.predict_files(tiny_model, [path], out, inference=other)
        assert list(result["failed"]) == [path] and f"made with other settings ({named})" in result["failed"][path]
        np.testing.assert_array_equal(image_io.read_image(normals_exr), first)
    tiled = fusion.PassSettings(mode="tiled")
    assert len(prediction.predict_files(tiny_model, [path], out, inference=tiled, overwrite=True)["written"]) == 1
    assert prediction.predict_files(tiny_model, [path], out, inference=tiled)["skipped_existing"] == [path]


def test_same_stem_plates_never_share_outputs(tmp_path, tiny_model):
    """shot.png and shot.jpg in one run are refused up front; across runs the outputs of one are not taken
    for the other's, nor overwritten without overwrite=True."""
    png, jpg = str(tmp_path / "shot.png"), str(tmp_path / "shot.jpg")
    image_io.write_png(png, _plate(16, 16))
    from PIL import Image
    Image.fromarray((_plate(16, 16) * 255).astype(np.uint8)).save(jpg)
    out = str(tmp_path / "out")
    with pytest.raises(errors.UsageError, match="would both write"):
        prediction.predict_files(tiny_model, [jpg, png], out)
    assert not os.path.exists(out)
    prediction.predict_files(tiny_model, [png], out)
    second = prediction.predict_files(tiny_model, [jpg], out)
    assert list(second["failed"]) == [jpg] and "made from shot.png" in second["failed"][jpg]
    assert len(prediction.predict_files(tiny_model, [jpg], out, overwrite=True)["written"]) == 1
    assert image_io.exr_header(os.path.join(out, "shot.normals.exr"))[prediction.SOURCE_ATTRIBUTE] == "shot.jpg"


def test_outputs_in_the_input_folder_are_not_read_back(tmp_path, tiny_model):
    """Predicting a folder into itself twice: the second run finds the same plates, all done."""
    for name in ("a.png", "b.1001.exr"):
        writer = image_io.write_png if name.endswith(".png") else image_io.write_rgb_exr
        writer(str(tmp_path / name), _plate(12, 12))
    first = plates.expand_inputs(str(tmp_path))
    prediction.predict_files(tiny_model, first.paths, str(tmp_path), combined=True)
    second = plates.expand_inputs(str(tmp_path))
    assert second.paths == first.paths == [str(tmp_path / "a.png"), str(tmp_path / "b.1001.exr")]
    assert plates.expand_inputs(str(tmp_path / "*")).paths == first.paths
    result = prediction.predict_files(tiny_model, second.paths, str(tmp_path), combined=True)
    assert result["skipped_existing"] == second.paths
    assert plates.is_output_name("x.normals.1001.exr") and not plates.is_output_name("normals.exr")


def _absurd_png(path, width, height):
    """A PNG whose header claims width×height (no pixel data worth reading)."""
    import struct
    import zlib

    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                + chunk(b"IEND", b""))


class _FailsOnWidth:
    """The tiny model, except that plates of one width raise an unexpected error (a stand-in for any bug)."""

    def __init__(self, model, width):
        self.model, self.width = model, width
        self.path = model.path

    @property
    def passes(self):
        return self.model.passes

    @property
    def working_size(self):
        return self.model.working_size

    def predict_passes(self, images):
        if images.shape[2] == self.width:
            raise RuntimeError("boom")
        return self.model.predict_passes(images)


def test_one_bad_frame_never_ends_the_batch(tmp_path, tiny_model):
    """An absurdly large frame and a frame whose prediction raises fail alone; the others are written."""
    _absurd_png(str(tmp_path / "f.0001.png"), 40000, 40000)
    image_io.write_png(str(tmp_path / "f.0002.png"), _plate(10, 13))
    image_io.write_png(str(tmp_path / "f.0003.png"), _plate(10, 10))
    paths = plates.expand_inputs(str(tmp_path / "f.####.png")).paths
    result = prediction.predict_files(_FailsOnWidth(tiny_model, 13), paths, str(tmp_path / "out"))
    assert len(result["written"]) == 1
    # the size guard: ours (image_io.check_size, "40000x40000 is too large") or OIIO's, which refuses this header
    # first ("png header claims a 4577 MB image from a 69 byte file")
    assert re.search(r"40000x40000 is too large|claims a 4577 MB image", result["failed"][paths[0]])
    assert "RuntimeError: boom" in result["failed"][paths[1]]
    assert not [n for n in os.listdir(tmp_path / "out") if n.startswith(".tmp-")]


def test_stale_temporaries_go_and_empty_runs_leave_no_folder(tmp_path, tiny_model):
    """Temp files of dead writers are removed at the start, a live writer's are kept; a run in which every
    plate fails creates no output folder."""
    out = tmp_path / "out"
    out.mkdir()
    dead = out / f".tmp-{outputs._HOST}-999999999-abc.exr"
    old_style = out / ".tmp-x1y2.png"
    live = out / f".tmp-{outputs._HOST}-{os.getpid()}-abc.exr"
    for f in (dead, old_style, live):
        f.write_bytes(b"partial")
    image_io.write_png(str(tmp_path / "a.png"), _plate(8, 8))
    prediction.predict_files(tiny_model, [str(tmp_path / "a.png")], str(out))
    assert sorted(n for n in os.listdir(out) if n.startswith(".tmp-")) == [live.name]
    (tmp_path / "junk.png").write_bytes(b"junk")
    result = prediction.predict_files(tiny_model, [str(tmp_path / "junk.png")], str(tmp_path / "new" / "deeper"))
    assert list(result["failed"]) == [str(tmp_path / "junk.png")]
    assert not (tmp_path / "new").exists()


def test_bad_settings_and_models_are_named(tmp_path):
    """Settings and model paths are checked before work, with the flag or the file in the message."""
    (tmp_path / "file").write_bytes(b"x")
    for kwargs, words in [(dict(inference=fusion.PassSettings(tile=-1)), "--tile"),
                          (dict(inference=fusion.PassSettings(tile=64, overlap=64)), "--overlap"),
                          (dict(inference=fusion.PassSettings(working_size=-5)), "--working_size"),
                          (dict(inference=fusion.PassSettings(mode="pyramid")), "--mode"),
                          (dict(colorspace="xyz"), "--input_colorspace")]:
        with pytest.raises(errors.UsageError, match=words):
            prediction.check_request([], str(tmp_path / "o"), **kwargs)
    with pytest.raises(errors.UsageError, match="is a file"):
        prediction.check_request([], str(tmp_path / "file"))
    with pytest.raises(errors.UsageError, match="is a file"):
        prediction.check_request([], str(tmp_path / "file" / "sub"))
    with pytest.raises(FileNotFoundError, match="no such model"):
        NormalsModel(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(errors.UsageError, match="not a model"):
        NormalsModel(str(tmp_path / "empty"))
    (tmp_path / "corrupt").mkdir()
    (tmp_path / "corrupt" / "saved_model.pb").write_bytes(b"\x00garbage")
    with pytest.raises(errors.Failure, match="cannot load"):
        NormalsModel(str(tmp_path / "corrupt"))


def test_tile_starts_cover_every_pixel():
    """Tiles cover the axis, overlap by at least the margin and end flush with the edge."""
    for length, tile, overlap in [(1000, 256, 64), (257, 256, 32), (100, 256, 64), (512, 128, 0)]:
        starts = tiling.tile_starts(length, tile, overlap)
        size = min(tile, length)
        covered = np.zeros(length, bool)
        for s in starts:
            covered[s:s + size] = True
        assert covered.all() and starts[-1] + size == length
        assert all(b - a <= size - overlap for a, b in zip(starts, starts[1:]))


SEAM_MARGIN = 64  # predict's default overlap


def _mean_step_between_neighbours(normal_map, axis):
    """Per row (axis 0) or column (axis 1) boundary: mean angle between a line of pixels and the next."""
    length = normal_map.shape[axis]
    a, b = np.take(normal_map, range(1, length), axis), np.take(normal_map, range(length - 1), axis)
    return normals.angular_error_deg(a, b).mean(axis=1 - axis)


@pytest.mark.slow
def test_tiled_matches_whole_without_seams_on_the_shipped_model():
    """The shipped model on a real photo, with predict's default tiles (512, overlap 64; 2 tiles here): the
    result stays close to one whole-image pass, and feathered blending leaves no seam — no step between columns
    inside the plate is more than 10% sharper than the whole-image result's sharpest. (Within the
    overlap of the plate's edges a tile ends where the plate does, and steps there differ by border
    effects, not blending. Smaller tiles see less context and come out rougher: BUILD_NOTES.md. The model's
    global-context block pools each tile's own scene features, so a tile differs from the whole image by a
    median 1.5°, not only at seams.)"""
    model = NormalsModel(resources.DEFAULT_MODEL_DIR)
    plate = image_io.to_rgb(image_io.read_image(resources.MONITOR_IMAGE))  # 400×600 photo
    whole = tiling.predict_tiled(model.predict_passes, plate, tile=0)["normals"]
    default = tiling.predict_tiled(model.predict_passes, plate, tile=512, overlap=64, batch=2)["normals"]
    angle = normals.angular_error_deg(whole, default)
    assert default.shape == whole.shape == plate.shape
    assert np.median(angle) < 2.0 and np.mean(angle) < 5.0, (np.median(angle), np.mean(angle))
    # The two tiles split the width, not the height: a seam can only be a step between columns (the steps between
    # rows differ from the whole pass's by what each tile sees, not by blending).
    assert plate.shape[0] <= 512 < plate.shape[1]
    inner = slice(SEAM_MARGIN, -SEAM_MARGIN)
    sharpest_whole = _mean_step_between_neighbours(whole, 1)[inner].max()
    assert _mean_step_between_neighbours(default, 1)[inner].max() <= 1.1 * sharpest_whole
