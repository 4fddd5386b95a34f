"""JSON files named on a command line (light rigs), read with one-line errors naming the flag and the file.

Plain standard library: tfnormals.relight and the Blender scripts (Blender's Python has no absl, numpy 2 or
OpenImageIO) read rigs through it.
"""

import json

from tfnormals.core import errors


def load(path, flag):
    """The JSON value in `path`; errors.MissingPathError or errors.UsageError, naming `flag` and `path`, otherwise."""
    try:
        with open(path) as f:
            return json.load(f)
    except OSError as e:
        raise errors.MissingPathError(f"{flag}: {path}: {e.strerror or e}") from None
    except ValueError as e:
        raise errors.UsageError(f"{flag}: {path}: not valid JSON ({e})") from None
