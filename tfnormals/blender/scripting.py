"""What the Blender scripts share with tfnormals' commands, without absl (absent from Blender's Python).

Same contract as tfnormals.core.cli: a usage mistake is one line `<command>: error: <what>` on stderr and
exit 2, failed work exit 1, stdout only the JSON result (Blender's own log lines go to stderr).
"""

import argparse
import json
import os
import sys

from tfnormals.core import errors

EXIT_FAILED = 1
EXIT_USAGE = 2
BPY_MISSING = ("needs Blender's Python module: run it with a Python 3.11 that has `pip install bpy==5.0.*` "
               "(README \"Use in Blender\")")


class Parser(argparse.ArgumentParser):
    """argparse whose mistakes are one line and exit 2, like every tfnormals command."""

    def error(self, message):
        _exit(self.prog, EXIT_USAGE, message)


def run(parser, work):
    """Call work() with stdout pointed at stderr, print its result dict as one JSON line, map errors to exit codes."""
    sys.stdout.flush()
    result_stream = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    try:
        result = work()
    except errors.UsageError as e:
        _exit(parser.prog, EXIT_USAGE, errors.one_line(e))
    except errors.Failure as e:
        _exit(parser.prog, EXIT_FAILED, errors.one_line(e))
    except ModuleNotFoundError as e:
        if e.name != "bpy":
            raise
        _exit(parser.prog, EXIT_FAILED, BPY_MISSING)
    result_stream.write(json.dumps(result) + "\n")
    result_stream.flush()


def _exit(name, code, message):
    sys.stderr.write(f"{name}: error: {' '.join(str(message).split())}\n")
    sys.stderr.flush()
    sys.exit(code)
