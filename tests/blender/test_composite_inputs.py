"""tfnormals.blender.composite's checks that run before Blender does (no bpy needed): the rig and the EXR size."""

import json

import numpy as np
import pytest

from tfnormals.blender import composite
from tfnormals.core import errors, image_io

POINT = {"type": "point", "position": [0.1, 0.2, -1.0], "radius": 0.5, "color": [1, 0.5, 0.25], "wrap": 0.1}


def test_a_one_light_rig_reads_as_mode_ambient_and_light(tmp_path):
    path = tmp_path / "rig.json"
    path.write_text(json.dumps({"mode": "replace", "ambient": 0.25, "lights": [POINT]}))
    assert composite.read_rig(str(path)) == ("replace", 0.25, POINT)
    path.write_text(json.dumps({"mode": "add", "ambient": 1, "lights": [{"direction": [0, 0, 1]}]}))
    assert composite.read_rig(str(path)) == ("add", 1.0, {"type": "directional", "direction": [0, 0, 1]})


@pytest.mark.parametrize("rig,message", [
    ({"mode": "add", "lights": [POINT]}, "needs \"mode\" (add or replace) and \"ambient\""),
    ({"mode": "subtract", "ambient": 1, "lights": [POINT]}, "needs \"mode\""),
    ({"mode": "add", "ambient": 1, "lights": [POINT, POINT]}, "one key light"),
    ({"mode": "add", "ambient": 1, "lights": [dict(POINT, type="spot")]}, "got type 'spot'"),
    ({"mode": "add", "ambient": 1, "lights": [dict(POINT, cone_deg=20)]}, "fields cone_deg"),
    ({"mode": "add", "ambient": 1, "lights": [{"type": "point", "radius": 1}]}, "a point light needs \"position\""),
    ({"mode": "add", "ambient": 1, "lights": [{"direction": [0, 0, 0]}]}, "direction 0,0,0 has no direction"),
    ({"mode": "add", "ambient": 1, "lights": [dict(POINT, color=[1, 1])]}, "color must be 3 numbers"),
    ({"mode": "add", "ambient": 1, "lights": [dict(POINT, radius=-1)]}, "radius must be a number ≥ 0"),
])
def test_bad_rigs_name_the_file_and_what_is_wrong(tmp_path, rig, message):
    path = tmp_path / "rig.json"
    path.write_text(json.dumps(rig))
    with pytest.raises(errors.UsageError, match=f"--lights: {path}") as raised:
        composite.read_rig(str(path))
    assert message in str(raised.value)


def test_the_exr_size_comes_from_the_header(tmp_path):
    path = str(tmp_path / "plate.exr")
    image_io.write_exr(path, {"R": np.zeros((7, 11), np.float32), "N.X": np.zeros((7, 11), np.float32)})
    assert composite.exr_size(path) == (11, 7)
    png = str(tmp_path / "plate.png")
    image_io.write_png(png, np.zeros((7, 11, 3), np.float32))
    with pytest.raises(errors.Failure, match="not an OpenEXR file"):
        composite.exr_size(png)
    with open(path, "rb") as f:
        header = f.read(400)
    for cut in (40, header.index(b"dataWindow") + 20, header.index(b"dataWindow") + 30):
        with open(path, "wb") as f:
            f.write(header[:cut])
        with pytest.raises(errors.Failure, match="without a dataWindow"):
            composite.exr_size(path)
