"""A non-editable install works: a wheel built from the source carries the shipped model and the
assets, and `python -m tfnormals.predict` runs from it with its defaults (the example plate and
the shipped model, both package data found through importlib.resources).

The wheel goes into a fresh virtual environment that sees the site-packages of the interpreter running
the tests (a `.pth` file naming them), so TensorFlow and the other dependencies come from there and
nothing is downloaded — whether the tests run in a virtual environment or not (`--system-site-packages`
would mean the *base* interpreter's packages when the tests run inside a venv). The editable install of
this checkout is not among them (its finder lives in a .pth file those folders hold, which a path in our
.pth does not process), and the test checks that tfnormals is imported from the wheel's copy.
"""

import json
import os
import shutil
import subprocess
import sys
import zipfile

import pytest
from helpers import REPO

from tfnormals.core import layout

# Not part of a source distribution: VCS data, build output, caches, local runs.
SKIP = shutil.ignore_patterns(".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", "outputs",
                              "checkpoints", "tests", ".venv")

pytestmark = pytest.mark.slow


def run(args, cwd, env=None, timeout=600):
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    output = (proc.stdout + proc.stderr)[-4000:]
    assert proc.returncode == 0, f"{' '.join(map(str, args))} exited {proc.returncode}:\n{output}"
    return proc


def clean_env():
    """This process's environment without anything that would make the checkout importable."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    return env


def site_packages_of_this_interpreter():
    """Every site-packages folder of the interpreter running the tests (its venv's, and the base's when that venv
    was made with --system-site-packages), in the order it searches them."""
    import site
    folders = site.getsitepackages() + ([site.getusersitepackages()] if site.ENABLE_USER_SITE else [])
    return [f for f in dict.fromkeys(folders) if os.path.isdir(f)]


def package_files(package, folder):
    """Paths (as stored in a wheel) of every file below package/folder in the source tree."""
    root = os.path.join(REPO, package, folder)
    return {os.path.relpath(os.path.join(d, f), REPO).replace(os.sep, "/")
            for d, _, files in os.walk(root) for f in files if "__pycache__" not in d}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """A wheel of a copy of the source tree (pip wheel --no-deps, no build isolation: nothing downloaded)."""
    source = tmp_path_factory.mktemp("sdist") / "tfnormals-src"
    shutil.copytree(REPO, source, ignore=SKIP)
    out = tmp_path_factory.mktemp("wheel")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", str(out),
         str(source)], cwd=str(out), env=clean_env())
    (path,) = [os.path.join(out, f) for f in os.listdir(out) if f.endswith(".whl")]
    assert os.path.isdir(source / "build"), "pip built in the copy"  # so the checkout is left as it was
    return path


def test_the_wheel_holds_the_code_the_model_and_the_assets(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
    assert {"tfnormals/predict.py", "tfnormals/core/resources.py", "data_tools/render.py",
            "data_tools/scene/procedural.py"} <= names
    expected = package_files("tfnormals", "assets") | package_files("data_tools", "assets")
    assert f"tfnormals/assets/model/{layout.SAVEDMODEL_PB}" in expected
    assert expected - names == set(), "package data missing from the wheel"
    assert not any(n.startswith(("tests/", "benchmarks/", "configs/")) for n in names)


def test_predict_runs_from_an_installed_wheel(wheel, tmp_path):
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)], cwd=str(tmp_path), env=clean_env())
    python = str(venv / "bin" / "python")
    venv_site = run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=str(tmp_path),
                    env=clean_env()).stdout.strip()
    with open(os.path.join(venv_site, "test_interpreter_packages.pth"), "w") as f:
        f.write("\n".join(site_packages_of_this_interpreter()) + "\n")
    run([python, "-m", "pip", "install", "--no-deps", "--no-index", "--quiet", wheel], cwd=str(tmp_path),
        env=clean_env())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    where = run([python, "-c", "import json, tfnormals, data_tools; from tfnormals.core import resources; "
                 "print(json.dumps([tfnormals.__file__, data_tools.__file__, resources.DEFAULT_MODEL_DIR, "
                 "resources.EXAMPLE_PLATE]))"], cwd=str(elsewhere), env=clean_env())
    for path in json.loads(where.stdout.strip().splitlines()[-1]):
        assert path.startswith(str(venv)), f"{path} is not the installed copy"
        assert os.path.exists(path)

    proc = run([python, "-m", "tfnormals.predict", "--output=out"], cwd=str(elsewhere), env=clean_env())
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["written"] == 1 and summary["failed"] == 0, summary
    outputs = sorted(os.listdir(elsewhere / "out"))
    assert outputs == [f"astronaut.{kind}.{ext}" for kind in ("albedo", "depth", "normals", "position")
                       for ext in ("exr", "png")], outputs  # the shipped model's passes, each with a preview
