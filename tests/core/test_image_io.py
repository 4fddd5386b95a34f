"""tfnormals.core.image_io: EXR/PNG/TIFF round trips at every bit depth, and errors that name the file."""

import os

import numpy as np
import pytest

from tfnormals.core import image_io

H, W = 5, 7  # not square, so a swapped height and width shows


def ramp(channels, seed=0):
    """Values in [0, 1] finer than 8-bit steps, so a 16-bit path that truncates to 8 bits fails."""
    return np.random.default_rng(seed).random((H, W, channels)).astype(np.float32)


def test_exr_named_channels_round_trip(tmp_path):
    """A multi-layer EXR keeps every named channel (R, G, B, A, N.X, N.Y, N.Z) exactly."""
    path = tmp_path / "plate.exr"
    rgba, n = ramp(4, 1) * 8.0, ramp(3, 2) * 2.0 - 1.0  # EXR holds scene-linear values above 1
    layers = {c: rgba[..., i] for i, c in enumerate("RGBA")}
    layers.update({c: n[..., i] for i, c in enumerate(["N.X", "N.Y", "N.Z"])})
    image_io.write_exr(path, layers)
    assert image_io.exr_channel_names(path) == sorted(layers)
    np.testing.assert_array_equal(image_io.read_exr(path, ["N.X", "N.Y", "N.Z"]), n)
    np.testing.assert_array_equal(image_io.read_image(path), rgba)  # default: R, G, B, A
    with pytest.raises(image_io.ImageError, match="missing channels"):
        image_io.read_exr(path, ["P.X"])


def test_exr_half_and_single_channel(tmp_path):
    """Half-float EXRs store float16 values; a lone Z channel reads back as H×W×1."""
    rgb = ramp(3) * 4.0
    image_io.write_rgb_exr(tmp_path / "half.exr", rgb, half=True)
    np.testing.assert_array_equal(image_io.read_image(tmp_path / "half.exr"), rgb.astype(np.float16).astype(np.float32))
    depth = ramp(1)[..., 0] * 100.0
    image_io.write_exr(tmp_path / "depth.exr", {"Z": depth})
    np.testing.assert_array_equal(image_io.read_image(tmp_path / "depth.exr"), depth[..., None])


@pytest.mark.parametrize("extension, bits", [(".png", 8), (".png", 16), (".tif", 8), (".tif", 16)])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_integer_images_round_trip(tmp_path, extension, bits, channels):
    """Gray, RGB and RGBA at 8 and 16 bits come back as float [0, 1] within half a quantization step."""
    path = tmp_path / f"image{extension}"
    image = ramp(channels)
    (image_io.write_png if extension == ".png" else image_io.write_tiff)(path, image, bits=bits)
    back = image_io.read_image(path)
    assert back.shape == (H, W, channels) and back.dtype == np.float32
    step = 1.0 / (2**bits - 1)
    np.testing.assert_allclose(back, image, atol=0.5 * step + 1e-7)


def test_to_rgb_and_quantize():
    """to_rgb expands gray and drops alpha; quantize rounds and clips."""
    gray = ramp(1)
    np.testing.assert_array_equal(image_io.to_rgb(gray), np.repeat(gray, 3, -1))
    np.testing.assert_array_equal(image_io.to_rgb(ramp(4)), ramp(4)[..., :3])
    np.testing.assert_array_equal(image_io.quantize(np.array([-0.5, 0.5, 2.0]), 8), [0, 128, 255])
    assert image_io.quantize(np.array([1.0]), 16).dtype == np.uint16


def _truncated_png(path):
    data = image_io.encode_png(ramp(3), bits=16)
    path.write_bytes(data[: len(data) // 2])


def _truncated_exr(path):
    image_io.write_rgb_exr(path, ramp(3))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 3 // 4])


def _truncated_jpeg(path):
    """A JPEG cut in half: OIIO returns the whole image (the missing rows gray) and reports the error aside."""
    image_io.write_image(path, np.random.default_rng(0).random((64, 64, 3)))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize("name, make", [
    ("garbage.exr", lambda p: p.write_bytes(b"not an exr at all" * 8)),
    ("truncated.jpg", _truncated_jpeg),
    ("truncated.exr", _truncated_exr),
    ("garbage.png", lambda p: p.write_bytes(b"not a png at all" * 8)),
    ("truncated16.png", _truncated_png),
    ("garbage.tif", lambda p: p.write_bytes(b"not a tiff at all" * 8)),
    ("garbage.jpg", lambda p: p.write_bytes(b"not a jpeg at all" * 8)),
    ("missing.png", lambda p: None),
    ("image.webm", lambda p: p.write_bytes(b"video")),
])
def test_bad_files_raise_image_error_naming_the_file(tmp_path, name, make):
    """Every unreadable file raises ImageError whose message contains the file's path."""
    path = tmp_path / name
    make(path)
    with pytest.raises(image_io.ImageError) as error:
        image_io.read_image(path)
    assert str(path) in str(error.value)


def test_failed_write_leaves_no_file(tmp_path):
    """atomic_output: a writer that fails leaves neither the target nor a temporary file behind."""
    target = tmp_path / "out.png"
    with pytest.raises(RuntimeError):
        with image_io.atomic_output(target) as tmp:
            with open(tmp, "wb") as f:
                f.write(b"partial")
            raise RuntimeError("interrupted")
    assert os.listdir(tmp_path) == []
