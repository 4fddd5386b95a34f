"""The two kinds of expected failure every command tells apart (tfnormals.core.cli maps them to exit codes).

- UsageError: the command line is wrong — a flag is missing, malformed or out of range, or a
  path it names does not exist or is the wrong kind. Nothing was done; exit code 2.
- Failure: the work was attempted and failed — an input could not be read, a shard is damaged,
  frames failed. Exit code 1.

Messages name the flag or the file and say what is wrong, on one line. Anything else that
escapes a command is a bug in tfnormals.
"""


class UsageError(ValueError):
    """A flag value, or a path a flag names, that cannot be used."""


class MissingPathError(UsageError, FileNotFoundError):
    """A path named on the command line that does not exist (also a FileNotFoundError)."""


class Failure(RuntimeError):
    """Work that was attempted and failed for a reason outside tfnormals (bad input data, a damaged file)."""


def one_line(error):
    """An exception's message on one line (OSError as 'file: reason')."""
    if isinstance(error, OSError) and error.strerror and not isinstance(error, UsageError):
        text = f"{error.filename}: {error.strerror}" if error.filename else error.strerror
    else:
        text = str(error) or type(error).__name__
    return " ".join(text.split())
