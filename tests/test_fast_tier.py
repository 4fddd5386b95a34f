"""The fast tier (`python -m pytest -m "not slow" -q`) passes on a machine without the renderer's packages.

Runs the fast tier with a sitecustomize on PYTHONPATH that makes every Python process of the run (pytest and
the commands tests start) refuse `mitsuba`, `drjit` and `pyoidn`, as an install without the `render` extra
would, and records every attempt to import them. (Slow itself: it runs the whole fast tier once more.)"""

import os
import subprocess
import sys
import time

import pytest
from helpers import REPO

# Installed in every Python process of the run, child commands included, through PYTHONPATH: refuses the renderer's
# packages and appends each attempt to the file named by $BLOCKED_LOG.
SITECUSTOMIZE = """
import os, sys


class NoRenderer:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("mitsuba", "drjit", "pyoidn"):
            with open(os.environ["BLOCKED_LOG"], "a") as log:
                log.write(name + "\\n")
            raise ModuleNotFoundError(f"No module named {name!r} (blocked for this test)", name=name)
        return None


sys.meta_path.insert(0, NoRenderer())
"""


@pytest.mark.slow
def test_fast_tier_passes_without_the_renderer(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(SITECUSTOMIZE)
    log = tmp_path / "attempts.txt"
    log.write_text("")
    env = dict(os.environ, PYTHONPATH=str(blocker), BLOCKED_LOG=str(log))
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-m", "not slow", "-q", "-p", "no:randomly",
                           f"--basetemp={tmp_path / 'basetemp'}"], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=900)
    seconds = time.monotonic() - start
    summary = [ln for ln in proc.stdout.splitlines() if " passed" in ln or " failed" in ln or " error" in ln]
    print(f"\nfast tier without the renderer: {summary[-1] if summary else '?'} ({seconds:.0f} s wall in this run)")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    assert sorted(set(log.read_text().split())) == [], "fast tests (or commands they ran) imported the renderer"
