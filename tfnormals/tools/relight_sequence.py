"""Relight a frame sequence: relight's file flags as frame patterns, one relit frame per plate frame.

`--plate=shot/plate.####.exr --normals=out/plate.normals.####.exr --output=relit/plate.####.png` (with
`--frames=1001-1100`, or every plate frame on disk) relights each frame from the passes of the same number
(tfnormals.tools.relighting.relight_file); the other passes (--position, --depth, --albedo, --mask) are patterns
too, or one file for every frame. Frames are named as in predict: `####` (one # per digit) or `%04d`.
Before any frame is written, every frame's request is checked as relight checks one (RelightRequest.check_settings:
an output is never one of the inputs, of its frame or any other; the settings and lights are sound): a mistake is
a usage error naming the flag. A frame whose plate is missing is reported; one that fails (a pass missing or
unreadable, sizes that differ) is reported with the reason and the others go on. Outputs are written atomically
and replaced on a re-run (a relight is cheap, and a re-run usually means a new rig).
"""

import dataclasses

from absl import logging

from tfnormals.core import errors, image_io
from tfnormals.core.frames import frame_number, frame_path, is_frame_pattern
from tfnormals.core.progress import Progress
from tfnormals.tools import plates, relighting

PATTERN_FLAGS = ("output", "normals")  # a sequence's RelightRequest fields that must be frame patterns


def frame_request(request, plate, frame):
    """One frame's RelightRequest from a sequence's (its paths frame patterns or single files): plate file `plate`
    and every other path at `frame`."""
    paths = {flag: frame_path(getattr(request, flag), frame) for flag in relighting.INPUT_FLAGS + ("output",)}
    return dataclasses.replace(request, **dict(paths, plate=plate))


def relight_sequence(request, *, frames=""):
    """Relight every frame of a plate pattern (what `python -m tfnormals.relight --plate=p.####.exr` does).

    Args:
      request: relighting.RelightRequest whose plate, normals and output are frame patterns (the other passes
        patterns or one file for every frame).
      frames: '1001-1100' (default: every plate frame on disk, the holes between them reported missing).

    Returns {'written': [outputs], 'failed': {plate: reason}, 'missing': [plates], 'lights', 'mode',
    'nonfinite': {file: pixels}}. Raises errors.UsageError, naming the flag, for a mistake in any frame's request.
    """
    for flag in PATTERN_FLAGS:
        if not is_frame_pattern(getattr(request, flag)):
            raise errors.UsageError(f"--{flag}: {getattr(request, flag)!r} names one file; a sequence "
                                    f"(--plate={request.plate}) needs a frame pattern like name.####.exr")
    found = plates.expand_inputs(request.plate, frames)
    if not found.paths and not found.missing:
        raise errors.UsageError(f"--plate: no frames match {request.plate!r}")
    requests = [frame_request(request, path, frame_number(request.plate, path)) for path in found.paths]
    for each in requests:
        each.check_settings()
    result = {"written": [], "failed": {}, "missing": list(found.missing), "nonfinite": {},
              "lights": len(request.lights), "mode": request.mode}
    progress = Progress(len(requests), "relight", interval=5.0)
    for each in requests:
        try:
            summary = relighting.relight_file(each)
        except (errors.MissingPathError, errors.Failure, image_io.ImageError, OSError) as e:
            reason = errors.one_line(e)[:500]
            logging.error("skipping %s: %s", each.plate, reason)
            result["failed"][each.plate] = reason
            progress.update(failed=True)
            continue
        result["written"].append(each.output)
        result["nonfinite"].update(summary["nonfinite"])
        progress.update()
    return result
