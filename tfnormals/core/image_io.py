"""Read and write the image files a pipeline meets: EXR, PNG and TIFF (8/16-bit), JPEG.

Integer images come back as float32 in [0, 1]; EXR images come back as stored
(linear floats). Every failure raises ImageError naming the file and the problem, including
images over MAX_IMAGE_PIXELS (checked from the header, before any pixel is decoded). Writers are
atomic (tfnormals.core.outputs.atomic_output).
"""

import os
import struct
import warnings
import zlib

import numpy as np
import OpenEXR
import tifffile
from PIL import Image

from tfnormals.core.outputs import atomic_output  # noqa: F401  (part of this module's API)

EXR_EXTENSIONS = (".exr",)
TIFF_EXTENSIONS = (".tif", ".tiff")
PILLOW_EXTENSIONS = (".jpg", ".jpeg", ".bmp", ".png")
IMAGE_EXTENSIONS = EXR_EXTENSIONS + TIFF_EXTENSIONS + PILLOW_EXTENSIONS

# Largest image read, in pixels: 16384 x 10240 (a 16K panorama), under Pillow's decompression-bomb
# guard. Larger "images" are almost always corrupt headers, and would exhaust memory.
MAX_IMAGE_PIXELS = 16384 * 10240

# The documented fill for non-finite pixel values (fill_nonfinite): NaN and -inf become 0, +inf
# becomes 1 (a blown-out highlight in linear light; white once encoded).
NONFINITE_FILL = {"nan": 0.0, "posinf": 1.0, "neginf": 0.0}
NONFINITE_FILL_TEXT = "NaN, -inf -> 0; +inf -> 1"


class ImageError(ValueError):
    """An image file that cannot be read or written, with the file named."""


def extension(path):
    return os.path.splitext(str(path))[1].lower()


def is_float_file(path):
    """True for formats that hold scene-linear floats (EXR)."""
    return extension(path) in EXR_EXTENSIONS


def check_size(path, height, width):
    """Raise ImageError if an image of height×width is empty or over MAX_IMAGE_PIXELS."""
    if height < 1 or width < 1 or height * width > MAX_IMAGE_PIXELS:
        raise ImageError(f"{path}: image size {width}x{height} is {'empty' if height * width < 1 else 'too large'} "
                         f"(at most {MAX_IMAGE_PIXELS / 1e6:.0f} Mpx are read)")


def fill_nonfinite(array):
    """(array with NaN/inf replaced by NONFINITE_FILL, number of pixels that had any non-finite channel)."""
    array = np.asarray(array, np.float32)
    bad = ~np.isfinite(array)
    if not bad.any():
        return array, 0
    count = int(bad.any(axis=-1).sum()) if array.ndim == 3 else int(bad.sum())
    return np.nan_to_num(array, **NONFINITE_FILL).astype(np.float32), count


def exr_channel_names(path):
    """Names of every channel in an EXR file."""
    return sorted(_exr_channels(path))


def exr_header(path):
    """An EXR file's header attributes (a dict; reads no pixels)."""
    try:
        with OpenEXR.File(str(path), header_only=True) as exr:
            return dict(exr.header())
    except (RuntimeError, OSError, ValueError) as e:
        raise ImageError(f"{path}: not a readable EXR file ({e})") from e


def _exr_channels(path):
    (x0, y0), (x1, y1) = exr_header(path)["dataWindow"]
    check_size(path, int(y1) - int(y0) + 1, int(x1) - int(x0) + 1)
    try:
        with OpenEXR.File(str(path), separate_channels=True) as exr:
            return {name: np.asarray(ch.pixels, dtype=np.float32) for name, ch in exr.channels().items()}
    except (RuntimeError, OSError, ValueError) as e:  # a truncated file raises ValueError
        raise ImageError(f"{path}: not a readable EXR file ({e})") from e


def read_exr(path, channels=None):
    """Read an EXR as float32 H×W×C.

    Args:
      path: file to read.
      channels: channel names in order; default R,G,B(,A) if present, else Y, else
        the single channel the file holds.
    """
    layers = _exr_channels(path)
    if channels is None:
        if all(c in layers for c in "RGB"):
            channels = ["R", "G", "B"] + (["A"] if "A" in layers else [])
        elif "Y" in layers:
            channels = ["Y"]
        elif len(layers) == 1:
            channels = list(layers)
        else:
            raise ImageError(f"{path}: no R,G,B or Y channels; has {sorted(layers)}")
    missing = [c for c in channels if c not in layers]
    if missing:
        raise ImageError(f"{path}: missing channels {missing}; has {sorted(layers)}")
    return np.stack([layers[c] for c in channels], axis=-1)


def _png_bit_depth(path):
    """Bit depth from a PNG's IHDR (after checking the size it declares)."""
    with open(path, "rb") as f:
        head = f.read(25)
    if len(head) < 25 or head[:8] != b"\x89PNG\r\n\x1a\n":
        raise ImageError(f"{path}: not a PNG file")
    width, height = struct.unpack(">II", head[16:24])
    check_size(path, height, width)
    return head[24]


def _read_png(path):
    depth = _png_bit_depth(path)
    if depth <= 8:
        return _read_pillow(path)
    import tensorflow as tf  # Pillow cannot read 16-bit RGB PNG; TF can.
    try:
        data = tf.io.read_file(str(path))
        return tf.io.decode_png(data, dtype=tf.uint16).numpy().astype(np.float32) / 65535.0
    except tf.errors.OpError as e:
        raise ImageError(f"{path}: corrupt PNG ({e.message})") from e


def _integer_to_float(array, path):
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    if array.dtype == np.uint16:
        return array.astype(np.float32) / 65535.0
    if array.dtype.kind == "f":
        return array.astype(np.float32)
    raise ImageError(f"{path}: unsupported sample type {array.dtype}")


def _read_tiff(path):
    try:
        with tifffile.TiffFile(str(path)) as tif:
            shape = tif.series[0].shape
            if len(shape) >= 2:
                planar = len(shape) == 3 and shape[0] in (3, 4) and shape[-1] not in (3, 4)
                check_size(path, *(shape[1:3] if planar else shape[:2]))
            array = tif.asarray()
    except (ImageError, MemoryError):
        raise
    except Exception as e:  # tifffile raises many types for malformed files.
        raise ImageError(f"{path}: not a readable TIFF file ({e})") from e
    if array.ndim == 3 and array.shape[0] in (3, 4) and array.shape[-1] not in (3, 4):
        array = np.moveaxis(array, 0, -1)  # planar storage
    return _integer_to_float(array, path)


def _read_pillow(path):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # check_size is the guard
            with Image.open(path) as im:
                check_size(path, im.height, im.width)
                if im.mode not in ("L", "RGB", "RGBA", "LA"):
                    im = im.convert("RGBA" if "A" in im.getbands() else "RGB")
                return _integer_to_float(np.asarray(im), path)
    except (ImageError, MemoryError):
        raise
    except Image.DecompressionBombError as e:
        raise ImageError(f"{path}: image too large ({e})") from e
    except Exception as e:  # Pillow raises OSError, SyntaxError, ValueError... for malformed files.
        raise ImageError(f"{path}: not a readable image ({e})") from e


def read_image(path):
    """Read any supported image as float32 H×W×C (C in 1..4)."""
    path = str(path)
    if not os.path.isfile(path):
        raise ImageError(f"{path}: no such file")
    ext = extension(path)
    if ext in EXR_EXTENSIONS:
        array = read_exr(path)
    elif ext == ".png":
        array = _read_png(path)
    elif ext in TIFF_EXTENSIONS:
        array = _read_tiff(path)
    elif ext in PILLOW_EXTENSIONS:
        array = _read_pillow(path)
    else:
        raise ImageError(f"{path}: unsupported extension {ext!r}; expected one of {IMAGE_EXTENSIONS}")
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[-1] > 4 or min(array.shape[:2]) < 1:
        raise ImageError(f"{path}: unexpected image shape {array.shape}")
    return array


def to_rgb(array):
    """Drop alpha and expand grayscale so an H×W×C image becomes H×W×3."""
    channels = array.shape[-1]
    if channels in (1, 2):
        return np.repeat(array[..., :1], 3, axis=-1)
    return array[..., :3]


def quantize(array, bits):
    """Float [0, 1] → uint8 or uint16 with rounding."""
    scale, dtype = {8: (255.0, np.uint8), 16: (65535.0, np.uint16)}[bits]
    return np.round(np.clip(array, 0.0, 1.0) * scale).astype(dtype)


def write_exr(path, layers, half=False, attributes=None):
    """Write named H×W float channels to an EXR (ZIP compressed), atomically.

    Args:
      path: output file.
      layers: dict channel name → H×W array, e.g. {"R": r, "G": g, "B": b, "N.X": nx}.
      half: store 16-bit half floats instead of 32-bit.
      attributes: extra header attributes (name → str), read back with exr_header().
    """
    dtype = np.float16 if half else np.float32
    channels = {name: np.ascontiguousarray(np.asarray(a, dtype=dtype)) for name, a in layers.items()}
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage, **(attributes or {})}
    with atomic_output(path) as tmp:
        with OpenEXR.File(header, channels) as exr:
            exr.write(tmp)


def write_rgb_exr(path, rgb, alpha=None, half=False):
    """Write an H×W×3 array (plus optional H×W alpha) as R,G,B(,A)."""
    layers = {c: rgb[..., i] for i, c in enumerate("RGB")}
    if alpha is not None:
        layers["A"] = alpha
    write_exr(path, layers, half=half)


def encode_png(array, bits=16, level=3):
    """PNG bytes of a [0, 1] float H×W×C image (C in 1..4) at 8 or 16 bits per sample.

    Written with zlib directly because Pillow cannot store 16-bit RGB.
    """
    array = np.asarray(array, dtype=np.float32)
    if array.ndim == 2:
        array = array[..., None]
    height, width, channels = array.shape
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    data = quantize(array, bits)
    if bits == 16:
        data = data.astype(">u2")
    rows = np.concatenate([np.zeros((height, 1), np.uint8), data.reshape(height, -1).view(np.uint8)], axis=1)

    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", width, height, bits, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows.tobytes(), level)) + chunk(b"IEND", b""))


def write_png(path, array, bits=8):
    """Write a [0, 1] float image (H×W, H×W×1, ×3 or ×4) as an 8- or 16-bit PNG, atomically."""
    with atomic_output(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(encode_png(array, bits, level=6))


def write_tiff(path, array, bits=16):
    """Write a [0, 1] float image as an 8- or 16-bit TIFF, atomically."""
    with atomic_output(path) as tmp:
        data = quantize(np.asarray(array, dtype=np.float32), bits)
        rgb = data.ndim == 3 and data.shape[-1] in (3, 4)
        tifffile.imwrite(tmp, data, photometric="rgb" if rgb else "minisblack")
