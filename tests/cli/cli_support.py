"""Helpers of the command-line tests: run a command as a user would, find leftovers, make sample pairs."""

import json
import os
import subprocess
import sys

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLE_SIZE = 16


def command_env():
    """The test's environment with the repository importable and TensorFlow's C++ logging reduced."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (REPO, env.get("PYTHONPATH", "")) if p)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def run_command(module, args, cwd, timeout=300):
    """`python -m module args` in `cwd`; returns the CompletedProcess (text stdout/stderr)."""
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, env=command_env(), capture_output=True,
                          text=True, timeout=timeout)


def leftovers(root):
    """Temporary files and empty folders anywhere under `root` (root itself excluded)."""
    found = []
    for folder, dirs, files in os.walk(root):
        found += [os.path.join(folder, n) for n in dirs + files if n.startswith(".tmp-")]
        if folder != str(root) and not dirs and not files:
            found.append(folder + "/ (empty)")
    return found


def sphere_pair(size, seed):
    """(linear beauty with alpha, camera-space normals, coverage mask) of a sphere, plus some noise."""
    c = (np.arange(size) + 0.5) / size * 2 - 1
    x, y = np.meshgrid(c, -c)
    inside = (x * x + y * y < 0.8).astype(np.float32)
    n = np.stack([x, y, np.sqrt(np.clip(1 - x * x - y * y, 0, 1))], -1) * inside[..., None]
    n = n / np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-6) * inside[..., None]
    rng = np.random.default_rng(seed)
    beauty = np.clip(0.2 + 0.6 * n[..., 2:3] + 0.05 * rng.random((size, size, 3)), 0, 1) * inside[..., None]
    return np.concatenate([beauty, inside[..., None]], -1).astype(np.float32), n.astype(np.float32), inside


def write_pairs(root, count, size=SAMPLE_SIZE, first=0):
    """`count` sample folders in the renderer's layout (beauty.exr, normals.exr, mask.png)."""
    from tfnormals.core import image_io, layout
    for i in range(first, first + count):
        folder = os.path.join(root, layout.sample_id(i))
        os.makedirs(folder, exist_ok=True)
        beauty, n, mask = sphere_pair(size, i)
        image_io.write_rgb_exr(os.path.join(folder, layout.BEAUTY_EXR), beauty[..., :3], alpha=beauty[..., 3])
        image_io.write_rgb_exr(os.path.join(folder, layout.NORMALS_EXR), n)
        image_io.write_png(os.path.join(folder, layout.MASK_PNG), mask)


def json_summary(stdout):
    """The one JSON line a command prints on stdout (and nothing else there)."""
    lines = stdout.splitlines()
    assert len(lines) == 1, f"stdout must be one JSON line, got: {stdout!r}"
    return json.loads(lines[0])
