"""TensorFlow's start-up messages, once, and no error line for a GPU that is not there.

TensorFlow 2.21 prints its start-up block (oneDNN, CPU features, "Could not find cuda drivers") once
per copy of its logging library, so twice, and on a machine without a GPU driver an error-level
line `failed call to cuInit: ... (303)`: a user sees errors where nothing failed. `install()` (called
by tfnormals.core.cli, so in every command) makes the first import of tensorflow run with file
descriptor 2 pointed at a temporary file, initializes the devices there (where cuInit is called),
and then writes that output back through `quiet`: repeated lines once, and the cuInit line dropped
when TensorFlow itself said there is no CUDA driver. Everything else is written as it came.
"""

import contextlib
import importlib.abc
import importlib.util
import os
import re
import sys
import tempfile

NO_DRIVER = "Could not find cuda drivers"
NO_DEVICE_ERROR = "failed call to cuInit"
_LOG_PREFIX = re.compile(r"^[IWEF]\d{4} [\d:.]+\s+\d+ [\w.]+:\d+\] ")  # absl/glog: level, time, thread, file:line


def quiet(text):
    """TensorFlow's start-up output without repeats (log prefixes aside) and, when it found no CUDA driver,
    without the error line of the cuInit call that follows."""
    seen, kept = set(), []
    no_driver = NO_DRIVER in text
    for line in text.splitlines():
        message = _LOG_PREFIX.sub("", line)
        if message in seen or (no_driver and NO_DEVICE_ERROR in message):
            continue
        seen.add(message)
        kept.append(line)
    return "".join(line + "\n" for line in kept)


@contextlib.contextmanager
def _stderr_through_quiet():
    """Send fd 2 to a temporary file for the block, then write quiet(what it got) to the real stderr."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            sys.stderr.write(quiet(captured.read().decode(errors="replace")))
            sys.stderr.flush()


class _QuietLoader(importlib.abc.Loader):
    """tensorflow's own loader, run inside _stderr_through_quiet with the devices initialized before it ends."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        with _stderr_through_quiet():
            self.loader.exec_module(module)
            module.config.list_physical_devices()  # cuInit happens here, inside the window


class _QuietFinder(importlib.abc.MetaPathFinder):
    """Finds `tensorflow` once, through the other finders, and wraps its loader."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


def install():
    """Quiet the first import of tensorflow in this process (no effect when it is already imported)."""
    if "tensorflow" not in sys.modules and not any(isinstance(f, _QuietFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietFinder())
