"""The fast tier (`python -m pytest -m "not slow" -q`) passes on a machine without Mitsuba.

Runs the fast tier in a child interpreter whose import system refuses `mitsuba` and `drjit`, as an
install without the `render` extra would, and records every attempt to import them. (Slow itself:
it runs the whole fast tier once more.)
"""

import json
import os
import subprocess
import sys
import time

import pytest
from helpers import REPO

BLOCKED_RUN = """
import json, sys

attempts = []


class NoMitsuba:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("mitsuba", "drjit"):
            attempts.append(name)
            raise ModuleNotFoundError(f"No module named {name!r} (blocked for this test)", name=name)
        return None


sys.meta_path.insert(0, NoMitsuba())
import pytest

code = pytest.main(["-m", "not slow", "-q", "-p", "no:randomly", f"--basetemp={sys.argv[1]}"])
print("@@BLOCKED", json.dumps({"exit": int(code), "attempts": sorted(set(attempts))}))
"""


@pytest.mark.slow
def test_fast_tier_passes_without_mitsuba(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", BLOCKED_RUN, str(tmp_path / "basetemp")], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=900)
    seconds = time.monotonic() - start
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("@@BLOCKED")]
    assert lines, (proc.stdout + proc.stderr)[-6000:]
    result = json.loads(lines[-1].split(" ", 1)[1])
    summary = [ln for ln in proc.stdout.splitlines() if " passed" in ln or " failed" in ln or " error" in ln]
    print(f"\nfast tier without Mitsuba: {summary[-1] if summary else '?'} ({seconds:.0f} s wall in this run)")
    assert result["exit"] == 0, proc.stdout[-6000:]
    assert result["attempts"] == [], "fast tests tried to import Mitsuba"
