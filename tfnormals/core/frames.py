"""Frame numbers on the command line: `--frames=1001-1100` (a range) or `--frames=1001,1040,1090` (a list)."""

import re

from tfnormals.core import errors

FRAME_RANGE = re.compile(r"^(\d+)(?:-(\d+))?$")


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
