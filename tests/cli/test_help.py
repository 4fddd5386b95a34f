"""Every command's --help as a user runs it: exit 0 (not 1: nothing failed), the command's own docstring, every flag
the command takes (wherever it is declared) and no usage line joined from two; and a TensorFlow command's stderr
on a CPU-only machine: TensorFlow's start-up block once at most and no error-level line."""

import ast
import importlib.util
import os
import re
import subprocess
import sys

import pytest
from cli_support import REPO

pytestmark = pytest.mark.slow

COMMANDS = ["tfnormals.train", "tfnormals.export", "tfnormals.evaluate", "tfnormals.predict", "tfnormals.relight",
            "tfnormals.finetune", "data_tools.render", "data_tools.render_shots", "data_tools.render_references",
            "data_tools.make_records", "data_tools.stats", "data_tools.import_assets",
            "benchmarks", "benchmarks.run_all"] + [f"benchmarks.bench_{name}" for name in (
                "backends", "encoders", "finetune", "inference", "pipeline", "quality", "records", "render", "temporal",
                "train_step")]
# Flags a user of the command needs, many declared outside the command's module (issue 22's list; issue 18's
# sequences).
NEEDED = {"tfnormals.predict": ["input_colorspace", "list_colorspaces", "hfov", "focal_mm", "sensor_width_mm",
                                "depth_scale", "reference_distance", "mode", "working_size", "max_pass", "detail",
                                "tile", "overlap", "frames", "temporal", "temporal_warmup"],
          "tfnormals.relight": ["input_colorspace", "hfov", "light_dir", "ambient", "mode", "frames"],
          "tfnormals.train": ["run_name", "records_dir", "levels", "passes", "crop_size", "gamma_range",
                              "jpeg_quality_range", "dropout_blocks", "resume"],
          "tfnormals.evaluate": ["records", "pairs_dir", "beauty_pattern", "input_colorspace", "max_sample_side",
                                 "real_checks", "scale_checks", "shots", "temporal_checks", "temporal_plates"],
          "data_tools.make_records": ["input_dir", "num_shards", "normals_channels", "camera_to_world",
                                      "max_nonunit_fraction", "scene_pattern", "list_colorspaces"]}
FLAG_ENTRY = re.compile(r"^  --(?:\[no\])?(\w+) \(default: ", re.M)


def run(module, *args, env=None):
    return subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300, env=env or dict(os.environ, PYTHONPATH=REPO))


def usage_flags(doc, command):
    """The flags of the text's `<command> ...` example lines (and their backslash continuations), command being
    `python -m <module>` or `python <script>`."""
    found, continued = set(), False
    for line in doc.splitlines():
        if f"{command} " in line or continued:
            found |= set(re.findall(r"--([a-z]\w*)", line.split(command)[-1]))
        continued = line.rstrip().endswith("\\") and (continued or f"{command} " in line)
    return found - {"flagfile"}


def docstring(module):
    spec = importlib.util.find_spec(module)
    path = importlib.util.find_spec(module + ".__main__").origin if spec.submodule_search_locations else spec.origin
    with open(path, encoding="utf-8") as f:
        return ast.get_docstring(ast.parse(f.read()), clean=False)


@pytest.mark.parametrize("module", COMMANDS)
def test_help_exits_0_and_lists_every_flag(module):
    proc = run(module, "--help")
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = docstring(module)
    assert proc.stdout.startswith(doc.strip().splitlines()[0])
    listed = set(FLAG_ENTRY.findall(proc.stdout))
    shown = usage_flags(doc, f"python -m {module}")
    missing = {name for name in shown if name not in listed and not (name.startswith("no") and name[2:] in listed)}
    assert len(shown) >= 2 and missing == set(), "flags the usage shows but --help does not list"
    assert set(NEEDED.get(module, [])) - listed == set()
    joined = [line for line in doc.splitlines() if re.search(r"\S {3,}--", line)]
    assert joined == [], "usage lines joined by a backslash-newline"
    assert run(module, "-h").stdout == proc.stdout


def test_a_tensorflow_command_prints_its_startup_once_and_no_error_line(tmp_path):
    """`python -m tfnormals.train` with a usage mistake loads TensorFlow first (its modules import it): with
    TensorFlow's own log level untouched, stderr ends with the one-line error and holds no other error line."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = REPO
    proc = run("tfnormals.train", "--steps=0", f"--checkpoint_root={tmp_path}", env=env)
    assert proc.returncode == 2, proc.stderr[-3000:]
    lines = proc.stderr.splitlines()
    assert [line for line in lines if re.match(r"^[EF]\d{4} ", line)] == [], proc.stderr
    assert "cuInit" not in proc.stderr
    assert sum("oneDNN custom operations" in line for line in lines) <= 1, proc.stderr
    assert lines[-1] == "tfnormals.train: error: --steps: must be at least 1, got 0"


REFRESH_SCRIPT = os.path.join(REPO, "docs", "refresh.sh")


def test_the_docs_refresh_script_gives_its_commands_only_flags_they_take():
    """docs/refresh.sh runs after every ship and rarely otherwise: a flag renamed since, in a command or in one of
    the docs scripts it runs, would fail it half-way."""
    with open(REFRESH_SCRIPT, encoding="utf-8") as f:
        script = f.read()
    modules = sorted(set(re.findall(r"python -m ([\w.]+)", script)))
    assert {"tfnormals.evaluate", "data_tools.render_shots", "benchmarks"} <= set(modules)
    for module in modules:
        if module == "pytest":
            continue
        listed = set(FLAG_ENTRY.findall(run(module, "--help").stdout))
        assert usage_flags(script, f"python -m {module}") - listed == set(), module
    scripts = sorted(set(re.findall(r"python (docs/\w+\.py)", script)))
    assert scripts == ["docs/make_depth_tail.py", "docs/make_relit_gif.py"]
    for path in scripts:
        proc = subprocess.run([sys.executable, path, "--help"], cwd=REPO, capture_output=True, text=True,
                              timeout=300, env=dict(os.environ, PYTHONPATH=REPO))
        assert proc.returncode == 0, proc.stderr[-2000:]
        listed = set(FLAG_ENTRY.findall(proc.stdout))
        assert usage_flags(script, f"python {path}") - listed == set(), path
        assert [line for line in proc.stdout.splitlines() if re.search(r"\S {3,}--", line)] == [], \
            f"{path}: usage lines joined by a backslash-newline"
