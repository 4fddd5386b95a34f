"""Which plates a predict run reads: a file, a folder, a glob, or a frame sequence with its gaps.

Frame patterns mark the frame number with `####` (one # per digit) or printf-style `%04d`:
`shot/plate.####.exr` (tfnormals.core.frames parses them). `--frames=1001-1100` (or one frame, `1001`)
asks for a range; without it every frame on disk is taken and the holes between the first and the last
are reported as missing. Our own outputs (`*.normals.*`, `*.combined.*`, `*.depth.*`, …) found in a folder
or glob are never taken as plates, so predicting into the input folder does not feed the outputs back in.
"""

import collections
import glob
import os
import re

from tfnormals.core import colorspaces, errors, image_io
from tfnormals.core import frames as frame_numbers

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
    token = None if os.path.isdir(spec) else frame_numbers.frame_token(spec)
    if frames and not token:
        raise errors.UsageError(f"--frames: only applies to a frame pattern like plate.####.exr; --input {spec!r} "
                                "has no #### or %04d")
    if os.path.isdir(spec):
        return Plates(_images(glob.glob(os.path.join(glob.escape(spec), "*"))), [])
    if token:
        return _sequence(spec, frames)
    if any(c in spec for c in "*?["):
        return Plates(_images(glob.glob(spec)), [])
    if not os.path.exists(spec):
        raise errors.MissingPathError(f"--input: {spec}: no such file or folder")
    return Plates([spec], [])


def frame_files(spec, flag="--input"):
    """{frame number: file} of every file of a frame pattern on disk (digits of any width where the token is);
    errors.UsageError naming `flag` when two files are one frame (plate.1001.exr and plate.01001.exr)."""
    token = frame_numbers.frame_token(spec)
    directory, name = os.path.split(spec)
    head, tail = os.path.join(directory, name[:token.start()]), name[token.end():]
    pattern = re.compile(re.escape(os.path.basename(head)) + r"(\d+)" + re.escape(tail) + "$")
    found = {}
    for path in sorted(glob.glob(glob.escape(head) + "*" + glob.escape(tail))):
        match = pattern.match(os.path.basename(path))
        if not (match and os.path.isfile(path)):
            continue
        frame = int(match.group(1))
        if frame in found:
            raise errors.UsageError(f"{flag}: {found[frame]} and {path} are both frame {frame} of {spec}; remove or "
                                    "rename one")
        found[frame] = path
    return found


def _sequence(spec, frame_range):
    """Plates of a frame pattern (frame_files); missing: the frames of --frames, or between the first and the last
    found, that no file holds."""
    found = frame_files(spec)
    if frame_range:
        first, last = frame_numbers.parse_frames(frame_range)
    elif found:
        first, last = min(found), max(found)
    else:
        return Plates([], [])
    wanted = range(first, last + 1)
    return Plates([found[f] for f in wanted if f in found],
                  [frame_numbers.frame_path(spec, f) for f in wanted if f not in found])


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
