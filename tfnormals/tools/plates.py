"""Which plates a predict run reads: a file, a folder, a glob, or a frame sequence with its gaps.

Frame patterns mark the frame number with `####` (one # per digit) or printf-style `%04d`:
`shot/plate.####.exr`. `--frames=1001-1100` (or one frame, `1001`) asks for a range; without
it every frame on disk is taken and the holes between the first and the last are reported as
missing. Our own outputs (`*.normals.*`, `*.combined.*`, `*.depth.*`, …) found in a folder or glob are never
taken as plates, so predicting into the input folder does not feed the outputs back in.
"""

import collections
import glob
import os
import re

from tfnormals.core import colorspaces, errors, image_io
from tfnormals.core.frames import parse_frames

FRAME_TOKEN = re.compile(r"#+|%0?(\d*)d")
OUTPUT_KINDS = ("normals", "combined", "depth", "position", "albedo")  # the words in predict's output names
_OUTPUT_NAME = re.compile(r"\.(?:" + "|".join(OUTPUT_KINDS) + r")(?:\.\d+)?\.[A-Za-z]+$")

Plates = collections.namedtuple("Plates", ["paths", "missing"])
Plates.__doc__ = "Plates to read (paths, in order) and requested sequence frames not on disk (missing)."


def is_output_name(path):
    """True for a file named like one of predict's outputs (plate.normals.exr, plate.combined.1001.exr)."""
    return bool(_OUTPUT_NAME.search(os.path.basename(path)))


def _images(paths):
    return sorted(p for p in paths if os.path.isfile(p) and image_io.extension(p) in image_io.IMAGE_EXTENSIONS
                  and not is_output_name(p))


def frame_path(pattern, frame, flag):
    """The file of `frame` in a frame pattern (plate.####.exr, plate.%04d.exr); errors.UsageError naming the flag
    when the pattern has no frame token."""
    token = FRAME_TOKEN.search(os.path.basename(pattern))
    if not token:
        raise errors.UsageError(f"{flag}: {pattern!r} is not a frame pattern (mark the frame number with #### or "
                                "%04d)")
    start = len(pattern) - len(os.path.basename(pattern)) + token.start()
    return f"{pattern[:start]}{frame:0{_width(token)}d}{pattern[start + len(token.group(0)):]}"


def _width(token):
    """Digits of a frame token's numbers: one per # of '####', or the d's width in '%04d'."""
    return len(token.group(0)) if token.group(0).startswith("#") else int(token.group(1) or 1)


def expand_inputs(spec, frames=""):
    """The plates named by a path, folder, glob or frame pattern (plate.####.exr, plate.%04d.exr).

    Args:
      spec: what --input says.
      frames: optional range for a frame pattern, '1001-1100'.

    Returns:
      Plates(paths, missing). Raises errors.UsageError for a malformed --frames, --frames without a
      frame pattern, or a plain path that does not exist.
    """
    if not spec:
        raise errors.UsageError("--input: empty; give a plate file, folder, glob or frame pattern")
    token = None if os.path.isdir(spec) else FRAME_TOKEN.search(os.path.basename(spec))
    if frames and not token:
        raise errors.UsageError(f"--frames: only applies to a frame pattern like plate.####.exr; --input {spec!r} "
                                "has no #### or %04d")
    if os.path.isdir(spec):
        return Plates(_images(glob.glob(os.path.join(glob.escape(spec), "*"))), [])
    if token:
        return _sequence(spec, token, frames)
    if any(c in spec for c in "*?["):
        return Plates(_images(glob.glob(spec)), [])
    if not os.path.exists(spec):
        raise errors.MissingPathError(f"--input: {spec}: no such file or folder")
    return Plates([spec], [])


def _sequence(spec, token, frames):
    width = _width(token)
    directory, name = os.path.split(spec)
    head, tail = os.path.join(directory, name[:token.start()]), name[token.end():]
    if frames:
        first, last = parse_frames(frames)
        wanted = [frame_path(spec, frame, "--input") for frame in range(first, last + 1)]
        return Plates([p for p in wanted if os.path.isfile(p)], [p for p in wanted if not os.path.isfile(p)])
    pattern = re.compile(re.escape(os.path.basename(head)) + r"(\d+)" + re.escape(tail) + "$")
    found = {}
    for path in glob.glob(glob.escape(head) + "*" + glob.escape(tail)):
        match = pattern.match(os.path.basename(path))
        if match and os.path.isfile(path):
            found[int(match.group(1))] = path
    if not found:
        return Plates([], [])
    missing = [f"{head}{frame:0{width}d}{tail}" for frame in range(min(found), max(found) + 1) if frame not in found]
    return Plates([found[f] for f in sorted(found)], missing)


def square_plates(paths, colorspace="auto"):
    """Each plate's centred largest square as network input (read as predict reads a plate; NaN/inf filled)."""
    squares = []
    for path in paths:
        plate, _ = image_io.fill_nonfinite(image_io.read_image(path))
        plate = colorspaces.to_network(image_io.to_rgb(plate), colorspace, path)
        h, w = plate.shape[:2]
        short = min(h, w)
        top, left = (h - short) // 2, (w - short) // 2
        squares.append(plate[top:top + short, left:left + short])
    return squares
