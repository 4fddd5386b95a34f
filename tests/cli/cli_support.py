"""Helpers of the command-line tests: run a command as a user would, find leftovers, make sample pairs, and the
table-driven harness (Case, run_case) that the case files (test_cli_cases.py and its siblings) share."""

import dataclasses
import json
import os
import re
import subprocess
import sys
import typing

import numpy as np
import pytest

from tfnormals.core import image_io

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


PREDICT, RELIGHT, RECORDS = "tfnormals.predict", "tfnormals.relight", "data_tools.make_records"
EVALUATE, EXPORT, TRAIN, RENDER = "tfnormals.evaluate", "tfnormals.export", "tfnormals.train", "data_tools.render"
STATS, RENDER_SHOTS = "data_tools.stats", "data_tools.render_shots"
FINETUNE, REFERENCES = "tfnormals.finetune", "data_tools.render_references"


@dataclasses.dataclass
class Case:
    """One row of a case table: a command line, what it must do, and what it must leave."""
    id: str
    module: str
    args: list                     # "{model}", "{pairs}", "{records}", "{unwritable}" are filled in
    code: int
    message: str = ""              # regex searched in the final "<module>: error: ..." line
    setup: typing.Callable = None  # setup(folder, data)
    before: list = ()              # [(module, args[, exit code, 0 unless given])] run first
    between: typing.Callable = None  # between(folder, data): after `before`, e.g. repairs what they failed on
    absent: tuple = ()             # paths (relative to the folder) that must not exist afterwards
    check: typing.Callable = None  # check(folder, summary dict or None)
    marks: tuple = ()


def rgb(h, w, seed=0):
    """A random float32 h×w RGB image in [0.1, 0.9]."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0.1, 0.9, (h, w, 3)).astype(np.float32)


def png(path, h=20, w=20, seed=0):
    """Write an 8-bit PNG plate (rgb()), making its folder."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    image_io.write_png(path, rgb(h, w, seed))


def exr(path, array):
    """Write an RGB EXR, making its folder."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    image_io.write_rgb_exr(path, array)


def sphere_normals(f, size=32, name="in/n.exr"):
    """Write the camera-space normals of a sphere filling a size×size frame (an EXR under the case folder `f`)."""
    c = (np.arange(size) + 0.5) / size * 2 - 1
    x, y = np.meshgrid(c, -c)
    exr(f"{f}/{name}", np.stack([x, y, np.sqrt(np.clip(1 - x * x - y * y, 0, 1))], -1).astype(np.float32))


def relight_inputs(f, d=None, plate=None, size=32):
    """A setup writing relight's inputs: in/p.exr (the plate, random unless given) and in/n.exr (sphere_normals)."""
    exr(f"{f}/in/p.exr", rgb(size, size) if plate is None else plate)
    sphere_normals(f)


def text_file(path):
    """A setup that writes a small text file at `path` (relative to the case folder)."""
    def setup(f, d=None):
        os.makedirs(os.path.dirname(f"{f}/{path}"), exist_ok=True)
        open(f"{f}/{path}", "w").write("x")
    return setup


def both(*setups):
    """A setup running `setups` in order."""
    def setup(f, d):
        for s in setups:
            s(f, d)
    return setup


def case_params(cases):
    """pytest parameters of a table of Cases, with their ids and marks."""
    return [pytest.param(c, id=c.id, marks=c.marks) for c in cases]


def run_case(case, cli_data, tmp_path, request):
    """Run one Case in a fresh folder under `tmp_path` and assert everything test_cli_cases.py's docstring lists."""
    folder = tmp_path / "case"
    folder.mkdir()
    values = {"model": cli_data.model, "pairs": cli_data.pairs, "records": cli_data.records}
    if any("{unwritable}" in a for a in case.args):
        values["unwritable"] = request.getfixturevalue("unwritable")
    fill = lambda args: [a.format(**values) for a in args]  # noqa: E731
    if case.setup:
        case.setup(str(folder), cli_data)
    for module, args, *code in case.before:
        first = run_command(module, fill(args), folder)
        assert first.returncode == (code or [0])[0], first.stderr[-3000:]
    if case.between:
        case.between(str(folder), cli_data)
    proc = run_command(case.module, fill(case.args), folder)
    report = f"exit {proc.returncode}\nstdout:\n{proc.stdout[-2000:]}\nstderr:\n{proc.stderr[-4000:]}"
    assert proc.returncode == case.code, report
    assert "Traceback" not in proc.stderr, report
    last = (proc.stderr.strip().splitlines() or [""])[-1]
    if case.message:
        assert last.startswith(f"{case.module}: error: "), report
        assert re.search(case.message, last), report
    else:
        assert ": error: " not in last, report
    if case.module == EVALUATE:
        summary = proc.stdout  # the metrics table
    else:
        summary = json_summary(proc.stdout) if proc.stdout.strip() or case.code == 0 else None
    assert leftovers(folder) == [], report
    for path in case.absent:
        assert not os.path.exists(folder / path), (path, report)
    if case.check:
        assert case.check(str(folder), summary) is not False, report
