"""Relight a frame sequence: relight's file flags as frame patterns, one relit frame per plate frame.

`--plate=shot/plate.####.exr --normals=out/plate.normals.####.exr --output=relit/plate.####.png` (with
`--frames=1001-1100`, or every plate frame on disk) relights each frame from the passes of the same number
(tfnormals.tools.relight.relight_file); the other passes (--position, --depth, --albedo, --mask) are patterns
too, or one file for every frame. Frames are named as in predict: `####` (one # per digit) or `%04d`.
A frame whose plate is missing is reported; one that fails (a pass missing or unreadable, sizes that differ)
is reported with the reason and the others go on. Outputs are written atomically and replaced on a re-run (a
relight is cheap, and a re-run usually means a new rig).
"""

import os

from absl import logging

from tfnormals.core import errors, image_io
from tfnormals.core.progress import Progress
from tfnormals.tools import plates, relight

PASS_FLAGS = ("normals", "position", "depth", "albedo", "mask")  # relight_file's inputs besides the plate


def is_pattern(path):
    """Whether a path names frames (plate.####.exr, plate.%04d.exr)."""
    return bool(path) and bool(plates.FRAME_TOKEN.search(os.path.basename(path)))


def frame_path(pattern, frame):
    """The file of `frame` in a frame pattern (a plain path names the same file for every frame)."""
    directory, name = os.path.split(pattern)
    token = plates.FRAME_TOKEN.search(name)
    if not token:
        return pattern
    width = len(token.group(0)) if token.group(0).startswith("#") else int(token.group(1) or 1)
    return os.path.join(directory, f"{name[:token.start()]}{frame:0{width}d}{name[token.end():]}")


def frame_number(pattern, path):
    """The frame number of `path`, a file of frame pattern `pattern`."""
    name = os.path.basename(pattern)
    token = plates.FRAME_TOKEN.search(name)
    return int(os.path.basename(path)[token.start():len(os.path.basename(path)) - (len(name) - token.end())])


def relight_sequence(plate, output, passes, frames="", **relight_args):
    """Relight every frame of a plate pattern (what `python -m tfnormals.relight --plate=p.####.exr` does).

    Args:
      plate, output: frame patterns of the plates and of the relit frames.
      passes: {'normals': pattern, and any of 'position', 'depth', 'albedo', 'mask': pattern or one file}.
      frames: '1001-1100' (default: every plate frame on disk, the holes between them reported missing).
      relight_args: relight_file's other arguments (lights, ambient, mode, settings, colorspace).

    Returns {'written': [outputs], 'failed': {plate: reason}, 'missing': [plates], 'lights', 'mode',
    'nonfinite': {file: pixels}}. Raises errors.UsageError for flags wrong for every frame.
    """
    for flag, path in (("output", output), ("normals", passes["normals"])):
        if not is_pattern(path):
            raise errors.UsageError(f"--{flag}: {path!r} names one file; a sequence (--plate={plate}) needs a frame "
                                    "pattern like name.####.exr")
    found = plates.expand_inputs(plate, frames)
    if not found.paths and not found.missing:
        raise errors.UsageError(f"--plate: no frames match {plate!r}")
    result = {"written": [], "failed": {}, "missing": list(found.missing), "nonfinite": {},
              "lights": len(relight_args["lights"]), "mode": relight_args.get("mode", "add")}
    progress = Progress(len(found.paths), "relight", interval=5.0)
    for path in found.paths:
        frame = frame_number(plate, path)
        files = {f"{kind}_path": frame_path(pattern, frame) for kind, pattern in passes.items() if pattern}
        out = frame_path(output, frame)
        try:
            summary = relight.relight_file(path, files.pop("normals_path"), out, **files, **relight_args)
        except (errors.MissingPathError, errors.Failure, image_io.ImageError, OSError) as e:
            reason = errors.one_line(e)[:500]
            logging.error("skipping %s: %s", path, reason)
            result["failed"][path] = reason
            progress.update(failed=True)
            continue
        result["written"].append(out)
        result["nonfinite"].update(summary["nonfinite"])
        progress.update()
    return result
