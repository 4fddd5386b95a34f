"""docs/make_depth_tail.py: the worst images of an evaluate report by depth AbsRel, drawn from the report's own
settings (model, images, mode), and one clear line for a file that is not a report or whose images are gone."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from cli_support import REPO, command_env
from helpers import RESOLUTION

from tfnormals.core import image_io

pytestmark = pytest.mark.slow
SCRIPT = os.path.join(REPO, "docs", "make_depth_tail.py")


def run(*args):
    return subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=600,
                          env=command_env())


def test_the_worst_images_of_a_report_are_drawn_in_its_order(rendered_dir, tmp_path):
    report_path = tmp_path / "renders.json"
    proc = run("-m", "tfnormals.evaluate", f"--pairs_dir={rendered_dir}", "--mode=fused",
               f"--output_json={report_path}", f"--triptych_dir={tmp_path / 'triptychs'}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    with open(report_path) as f:
        report = json.load(f)
    by_absrel = sorted(report["images"], key=lambda image: -image["depth"]["model"]["absrel_median"])
    picture = tmp_path / "tail.png"
    proc = run(SCRIPT, f"--report={report_path}", "--count=2", f"--output={picture}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    drawn = json.loads(proc.stdout.strip().splitlines()[-1])["images"]
    assert list(drawn) == [image["id"] for image in by_absrel[:2]]
    image = image_io.read_image(str(picture))
    assert image.shape[:2] == (2 * RESOLUTION, 4 * RESOLUTION)
    error_panel = image[:RESOLUTION, 3 * RESOLUTION:]
    assert np.mean(error_panel[..., 0]) > 0.02, "the worst image's error panel shows its error in red"


def test_a_file_that_is_not_a_report_gets_one_line(tmp_path):
    not_json = tmp_path / "notes.txt"
    not_json.write_text("not a report")
    proc = run(SCRIPT, f"--report={not_json}", f"--output={tmp_path / 'tail.png'}")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith(f"docs/make_depth_tail.py: error: --report: {not_json} ")
    assert not (tmp_path / "tail.png").exists()


def test_a_report_whose_images_are_gone_gets_one_line(tmp_path):
    report = {"settings": {"model": os.path.join(REPO, "tfnormals", "assets", "model"), "pairs_dir": str(tmp_path),
                           "records": ""},
              "images": [{"id": "0000000", "depth": {"model": {"absrel_median": 0.5}}}]}
    report_path = tmp_path / "moved.json"
    report_path.write_text(json.dumps(report))
    proc = run(SCRIPT, f"--report={report_path}", f"--output={tmp_path / 'tail.png'}")
    assert proc.returncode == 1
    last_line = proc.stderr.strip().splitlines()[-1]
    assert last_line.endswith(f"none of the report's worst images (0000000) is in {tmp_path} any more")
    assert not (tmp_path / "tail.png").exists()
