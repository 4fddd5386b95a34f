"""Frame numbers and frame patterns, one parser for every command.

On the command line `--frames=1001-1100` is a range and `--frames=1001,1040,1090` a list (its items may be
ranges). A frame pattern names a sequence's files, marking the frame number with `####` (one # per digit)
or printf-style `%04d`: `shot/plate.####.exr`.
"""

import os
import re

from tfnormals.core import errors

FRAME_RANGE = re.compile(r"^(\d+)(?:-(\d+))?$")
FRAME_TOKEN = re.compile(r"#+|%0?(\d*)d")


def parse_frames(text):
    """'1001-1100' → (1001, 1100); '1001' → (1001, 1001). Raises errors.UsageError naming --frames."""
    match = FRAME_RANGE.match(text.strip())
    if not match:
        raise errors.UsageError(f"--frames: expected FIRST-LAST (e.g. 1001-1100) or one frame number, got {text!r}")
    first, last = int(match.group(1)), int(match.group(2) or match.group(1))
    if last < first:
        raise errors.UsageError(f"--frames: the range {text!r} runs backwards; write {last}-{first}")
    return first, last


def parse_frame_list(text, flag="--frames"):
    """'1001,1040,1090' (items may be ranges, '1001-1003') → sorted distinct frame numbers; errors.UsageError naming
    the flag."""
    frames = set()
    for item in (part.strip() for part in text.split(",")):
        if not FRAME_RANGE.match(item):
            raise errors.UsageError(f"{flag}: expected frame numbers or ranges separated by commas (e.g. "
                                    f"1001,1040,1090), got {text!r}")
        first, last = parse_frames(item)
        frames.update(range(first, last + 1))
    return sorted(frames)


def frame_token(path):
    """The frame token (a re.Match) in a path's file name, or None."""
    return FRAME_TOKEN.search(os.path.basename(path)) if path else None


def is_frame_pattern(path):
    """Whether a path names frames (plate.####.exr, plate.%04d.exr) rather than one file or a folder."""
    return frame_token(path) is not None and not os.path.isdir(path)


def token_width(token):
    """Digits of a frame token's numbers: one per # of '####', or the d's width in '%04d' (1 for '%d')."""
    return len(token.group(0)) if token.group(0).startswith("#") else int(token.group(1) or 1)


def frame_path(pattern, frame):
    """The file of `frame` in a frame pattern, its number padded to the token's width (a plain path names the same
    file for every frame)."""
    token = frame_token(pattern)
    if token is None:
        return pattern
    directory, name = os.path.split(pattern)
    return os.path.join(directory, f"{name[:token.start()]}{frame:0{token_width(token)}d}{name[token.end():]}")


def frame_number(pattern, path):
    """The frame number of `path`, a file of frame pattern `pattern` (its digits where the token is)."""
    name, token = os.path.basename(pattern), frame_token(pattern)
    base = os.path.basename(path)
    return int(base[token.start():len(base) - (len(name) - token.end())])
