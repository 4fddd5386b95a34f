"""Read and write the image files a pipeline meets, through OpenImageIO: EXR (multi-part, multi-layer,
half and float, data and display windows), DPX and Cineon, TIFF, PNG, JPEG and what else OIIO reads.

Integer images come back as float32 in [0, 1] (OIIO normalizes 8, 10, 12 and 16-bit samples);
float images (EXR, HDR, float TIFF) come back as stored. Every failure raises ImageError naming the
file and the problem, including images over MAX_IMAGE_PIXELS (checked from the header, before any
pixel is decoded). Writers are atomic (tfnormals.core.outputs.atomic_output).

A plate's `Frame` (read_frame) is what its passes inherit: the data window (where the stored
pixels sit, which may be larger than the frame for overscan or smaller for a crop), the display
window, and the metadata a compositor relies on (timecode, camera and lens attributes, pixel
aspect, frame rate). write_exr(..., frame=) writes both windows and that metadata back.
"""

import dataclasses
import os
import struct
import zlib

import numpy as np
import OpenImageIO as oiio

from tfnormals import __version__
from tfnormals.core.outputs import atomic_output  # noqa: F401  (part of this module's API)

EXR_EXTENSIONS = (".exr",)
TIFF_EXTENSIONS = (".tif", ".tiff")
DPX_EXTENSIONS = (".dpx", ".cin")
# Float formats: scene-linear by default (tfnormals.core.colorspaces); the others are 8/10/12/16-bit.
FLOAT_EXTENSIONS = EXR_EXTENSIONS + (".hdr",)
IMAGE_EXTENSIONS = FLOAT_EXTENSIONS + DPX_EXTENSIONS + TIFF_EXTENSIONS + (".png", ".jpg", ".jpeg", ".bmp", ".tga")
# Bit depths each integer format can write.
WRITE_BITS = {".png": (8, 16), ".tif": (8, 16), ".tiff": (8, 16), ".dpx": (8, 10, 12, 16), ".jpg": (8,), ".jpeg": (8,)}

# Largest image read, in pixels: 16384 x 10240 (a 16K panorama). Larger "images" are almost always
# corrupt headers, and would exhaust memory.
MAX_IMAGE_PIXELS = 16384 * 10240

# The documented fill for non-finite pixel values (fill_nonfinite): NaN and -inf become 0, +inf
# becomes 1 (a blown-out highlight in linear light; white once encoded).
NONFINITE_FILL = {"nan": 0.0, "posinf": 1.0, "neginf": 0.0}
NONFINITE_FILL_TEXT = "NaN, -inf -> 0; +inf -> 1"

# Plate metadata that outputs do not inherit: how the plate was stored (compression, chunking, the reader's
# bookkeeping, format-specific packing), what made it and notes about that (software, comments, authorship:
# an output is made by tfnormals, which stamps SOFTWARE), and what its pixel values mean (COLOUR_ATTRIBUTES:
# a normals or depth pass is data, not colour). Timecode, frame rate, pixel aspect, camera and lens attributes
# and a studio's own attributes are carried.
_NOT_CARRIED = ("oiio:", "openexr:", "dpx:", "tiff:", "png:", "jpeg:", "exif:", "Exif:", "IPTC:", "ICCProfile",
                "compression", "planarconfig", "Orientation", "name", "DateTime", "Software", "Comment",
                "ImageDescription", "Artist", "Copyright", "HostComputer", "DocumentName", "XMP", "photoshop:",
                "XResolution", "YResolution", "ResolutionUnit", "cineon:", "targa:", "bmp:")
# What the pixel values mean: carried only to images written in the plate's own colour space (read_frame(colour=)).
COLOUR_ATTRIBUTES = ("chromaticities", "whiteLuminance", "adoptedNeutral")
SOFTWARE = f"tfnormals {__version__}"  # the Software attribute of every image written with a plate's Frame


# Pixels as stored: no premultiplying of PNG/TIFF/TGA alpha (OIIO's default), as the files hold it.
_READ_CONFIG = oiio.ImageSpec()
_READ_CONFIG.attribute("oiio:UnassociatedAlpha", 1)


class ImageError(ValueError):
    """An image file that cannot be read or written, with the file named."""


@dataclasses.dataclass(frozen=True)
class Frame:
    """Where an image's pixels sit in its frame, and the metadata outputs made from it carry.

    Args:
      data_window: (x, y, width, height) of the stored pixels.
      display_window: (x, y, width, height) of the frame (EXR's displayWindow; equal to the data
        window for formats without one).
      attributes: {name: (OIIO type name, value)} of the carried metadata, e.g. smpte:TimeCode,
        PixelAspectRatio, worldToCamera, FramesPerSecond, cameraMake.
    """

    data_window: tuple
    display_window: tuple
    attributes: dict = dataclasses.field(default_factory=dict)

    def attribute(self, name):
        """The value of a carried attribute, or None."""
        return self.attributes.get(name, (None, None))[1]


def extension(path):
    return os.path.splitext(str(path))[1].lower()


def is_float_file(path):
    """True for formats that hold scene-linear floats (EXR, Radiance HDR)."""
    return extension(path) in FLOAT_EXTENSIONS


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


def _one_line(text, limit=300):
    """A library's error text on one line, without the repeats OIIO accumulates, at most `limit` characters."""
    lines = [" ".join(line.split()) for line in str(text).splitlines()]
    text = "; ".join(dict.fromkeys(line for line in lines if line)) or "unknown error"
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _kind(path):
    """EXR, PNG, TIFF, DPX, JPEG, ...: what a file should be, from its extension."""
    ext = extension(path)
    return {".tif": "TIFF", ".jpg": "JPEG", ".cin": "Cineon"}.get(ext, ext[1:].upper())


class _Reader:
    """An open image file: its parts (OIIO subimages) and their specs. Use as a context manager."""

    def __init__(self, path):
        self.path = str(path)
        if not os.path.isfile(self.path):
            raise ImageError(f"{self.path}: no such file")
        if extension(self.path) not in IMAGE_EXTENSIONS:
            raise ImageError(f"{self.path}: unsupported extension {extension(self.path)!r}; expected one of "
                             f"{', '.join(IMAGE_EXTENSIONS)}")
        self.input = oiio.ImageInput.open(self.path, _READ_CONFIG)
        if self.input is None:
            raise ImageError(f"{self.path}: not a readable {_kind(self.path)} file ({_one_line(oiio.geterror())})")
        self.specs = []
        while self.input.seek_subimage(len(self.specs), 0):
            spec = self.input.spec()
            check_size(self.path, spec.height, spec.width)
            self.specs.append(spec)
        self.input.geterror()  # clears "could not seek to subimage N", how the loop above finds the last part

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.input.close()

    def channel_names(self):
        return [name for spec in self.specs for name in spec.channelnames]

    def read(self, part, channels=None):
        """float32 H×W×C of a part's channels (all, or the named ones in that order).

        A read that OIIO reports an error for fails even when it returned pixels: a truncated JPEG
        comes back whole, its missing rows filled with gray, and only the error says so.
        """
        spec = self.specs[part]
        pixels = self.input.read_image(part, 0, 0, spec.nchannels, "float")
        problem = self.input.geterror()
        if pixels is None or problem:
            raise ImageError(f"{self.path}: not a readable {_kind(self.path)} file: corrupt or truncated "
                             f"({_one_line(problem)})")
        pixels = np.asarray(pixels, np.float32).reshape(spec.height, spec.width, spec.nchannels)
        if channels is None:
            return pixels
        names = list(spec.channelnames)
        return pixels[..., [names.index(c) for c in channels]]

    def read_channels(self, channels):
        """The named channels, wherever they are among the parts (all of one size)."""
        planes = {}
        for part, spec in enumerate(self.specs):
            wanted = [c for c in channels if c in spec.channelnames and c not in planes]
            if wanted:
                planes.update(zip(wanted, np.moveaxis(self.read(part, wanted), -1, 0)))
        shapes = {plane.shape for plane in planes.values()}
        if len(shapes) > 1:
            raise ImageError(f"{self.path}: channels {list(channels)} lie in parts of different sizes")
        return np.stack([planes[c] for c in channels], axis=-1)

    def image_part(self):
        """(part, channels) of the image read_image returns, chosen by channel name, never by position: the
        first part with R,G,B(,A), else the first with Y(,A); only a single-part file may instead be a lone
        channel or up to 4 unnamed-layer channels."""
        for wanted in (["R", "G", "B"], ["Y"]):
            for part, spec in enumerate(self.specs):
                names = list(spec.channelnames)
                if all(c in names for c in wanted):
                    return part, wanted + (["A"] if "A" in names else [])
        names = list(self.specs[0].channelnames)
        if len(self.specs) == 1 and (len(names) == 1 or (len(names) <= 4 and not any("." in n for n in names))):
            return 0, names
        raise ImageError(f"{self.path}: no R,G,B or Y channels; has {sorted(self.channel_names())}")


def read_image(path):
    """Read any supported image as float32 H×W×C (C in 1..4): the data window of its image part (the part
    with R,G,B or Y channels of a multi-part EXR: _Reader.image_part)."""
    with _Reader(path) as reader:
        return reader.read(*reader.image_part())


def read_exr(path, channels=None):
    """Read named channels (of any part of a multi-part EXR, or of any image) as float32 H×W×C.

    Args:
      path: file to read.
      channels: channel names in order; default as read_image.
    """
    if channels is None:
        return read_image(path)
    with _Reader(path) as reader:
        names = reader.channel_names()
        missing = [c for c in channels if c not in names]
        if missing:
            raise ImageError(f"{path}: missing channels {missing}; has {sorted(names)}")
        return reader.read_channels(list(channels))


def check_readable(path):
    """Decode every part of an image in full; ImageError naming the file when any pixel cannot be read (a
    truncated or corrupt file whose header still reads)."""
    with _Reader(path) as reader:
        for part in range(len(reader.specs)):
            reader.read(part)


def exr_channel_names(path):
    """Names of every channel in an image (every part of a multi-part EXR), sorted."""
    with _Reader(path) as reader:
        return sorted(reader.channel_names())


def _value(attribute):
    value = attribute.value
    return value.item() if isinstance(value, np.generic) else value


def read_frame(path, colour=False):
    """The Frame of an image (its windows and carried metadata) from its image part, read_image's, or the first
    part of a file of named layers only (a position pass: P.X, P.Y, P.Z); reads no pixels.

    colour: also carry COLOUR_ATTRIBUTES (chromaticities, ...), for an output in the plate's own colour space.
    """
    with _Reader(path) as reader:
        try:
            part = reader.image_part()[0]
        except ImageError:
            part = 0
        spec = reader.specs[part]
        attributes = {a.name: (str(a.type), _value(a)) for a in spec.extra_attribs
                      if not a.name.startswith(_NOT_CARRIED)
                      and (colour or not a.name.startswith(COLOUR_ATTRIBUTES))}
        return Frame((spec.x, spec.y, spec.width, spec.height),
                     (spec.full_x, spec.full_y, spec.full_width, spec.full_height), attributes)


def exr_header(path):
    """An image's header attributes as {name: value} (reads no pixels), e.g. a stamp written by write_exr."""
    with _Reader(path) as reader:
        return {a.name: _value(a) for a in reader.specs[0].extra_attribs}


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


def _spec(height, width, names, sample_type, frame=None, attributes=None):
    spec = oiio.ImageSpec(width, height, len(names), sample_type)
    spec.channelnames = tuple(names)
    if frame is not None:
        (x, y, w, h), (fx, fy, fw, fh) = frame.data_window, frame.display_window
        if (w, h) != (width, height):
            raise ImageError(f"the frame's data window is {w}x{h}, the pixels {width}x{height}")
        spec.x, spec.y = x, y
        spec.full_x, spec.full_y, spec.full_width, spec.full_height = fx, fy, fw, fh
        for name, (type_name, value) in frame.attributes.items():
            try:
                spec.attribute(name, oiio.TypeDesc(type_name), value)
            except (TypeError, ValueError, RuntimeError):  # a type this binding cannot set: metadata, not pixels
                continue
        spec.attribute("Software", SOFTWARE)
    for name, value in (attributes or {}).items():
        spec.attribute(name, value)
    return spec


def _write(path, parts):
    """Write [(ImageSpec, H×W×C float32 pixels)] as the parts of one file, atomically."""
    with atomic_output(path) as tmp:
        out = oiio.ImageOutput.create(tmp)
        if out is None:
            raise ImageError(f"{path}: cannot write this format ({_one_line(oiio.geterror())})")
        try:
            for i, (spec, pixels) in enumerate(parts):
                opened = out.open(tmp, [s for s, _ in parts]) if i == 0 else out.open(tmp, spec, "AppendSubimage")
                if not (opened and out.write_image(np.ascontiguousarray(pixels, np.float32))):
                    raise ImageError(f"{path}: cannot write ({_one_line(out.geterror())})")
        finally:
            out.close()


def write_exr_parts(path, parts, half=False, attributes=None, frame=None):
    """Write a multi-part EXR (ZIP compressed), atomically: one part per entry of `parts`.

    Args:
      path: output file.
      parts: {part name: {channel name: H×W array}}; one part named "" writes a single-part file.
      half: store 16-bit half floats instead of 32-bit.
      attributes: extra header attributes (name → str/int/float), read back with exr_header().
      frame: a plate's Frame (read_frame): its data/display windows and metadata are written too.
    """
    written = []
    for name, layers in parts.items():
        planes = [np.asarray(a, np.float32) for a in layers.values()]
        height, width = planes[0].shape
        spec = _spec(height, width, list(layers), "half" if half else "float", frame,
                     dict(attributes or {}, compression="zip"))
        if name:
            spec.attribute("name", name)
        written.append((spec, np.stack(planes, axis=-1)))
    _write(path, written)


def write_exr(path, layers, half=False, attributes=None, frame=None):
    """Write named H×W float channels to one EXR part, e.g. {"R": r, "G": g, "B": b, "N.X": nx}
    (see write_exr_parts for the arguments)."""
    write_exr_parts(path, {"": layers}, half, attributes, frame)


def write_rgb_exr(path, rgb, alpha=None, half=False, frame=None):
    """Write an H×W×3 array (plus optional H×W alpha) as R,G,B(,A)."""
    layers = {c: rgb[..., i] for i, c in enumerate("RGB")}
    if alpha is not None:
        layers["A"] = alpha
    write_exr(path, layers, half=half, frame=frame)


def write_image(path, array, bits=8, frame=None):
    """Write a [0, 1] float image (H×W, H×W×1..4) to an integer format chosen by the extension
    (PNG, TIFF, DPX, JPEG; WRITE_BITS lists the depths), rounded to `bits`, atomically."""
    ext = extension(path)
    if bits not in WRITE_BITS.get(ext, ()):
        raise ImageError(f"{path}: cannot write {bits}-bit {ext or 'files without an extension'} "
                         f"({', '.join(f'{e}: {b}' for e, b in WRITE_BITS.items())})")
    array = np.asarray(array, np.float32)
    if array.ndim == 2:
        array = array[..., None]
    levels = 2 ** bits - 1
    pixels = np.round(np.clip(array, 0.0, 1.0) * levels) / levels  # OIIO converts these exactly
    names = {1: ["Y"], 2: ["Y", "A"], 3: ["R", "G", "B"], 4: ["R", "G", "B", "A"]}[array.shape[-1]]
    spec = _spec(array.shape[0], array.shape[1], names, "uint8" if bits == 8 else "uint16", frame)
    spec.attribute("oiio:UnassociatedAlpha", 1)  # the alpha is coverage beside unpremultiplied colour
    if bits not in (8, 16):
        spec.attribute("oiio:BitsPerSample", bits)
    _write(path, [(spec, pixels)])


def write_png(path, array, bits=8):
    """Write a [0, 1] float image as an 8- or 16-bit PNG, atomically."""
    write_image(path, array, bits)


def write_tiff(path, array, bits=16):
    """Write a [0, 1] float image as an 8- or 16-bit TIFF, atomically."""
    write_image(path, array, bits)


def encode_png(array, bits=16, level=3):
    """PNG bytes of a [0, 1] float H×W×C image (C in 1..4) at 8 or 16 bits per sample.

    The TFRecord payloads need bytes in memory, which OIIO's Python binding cannot produce (it
    writes files); zlib writes the three chunks directly.
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
