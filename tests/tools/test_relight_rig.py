"""relight with positions: point and spot lights on a ray-traced sphere, replace mode, JSON rigs."""

import json

import numpy as np
import pytest
from helpers import ray_traced_sphere

from tfnormals.core import camera, errors, image_io
from tfnormals.tools import light_rigs, relighting

SIDE = 64
HFOV = 40.0
CENTRE = np.array([0.0, 0.0, -4.0])


def _sphere():
    """A unit sphere at CENTRE seen by a camera at the origin: depth, position, normals, hit mask."""
    return ray_traced_sphere(SIDE, HFOV, CENTRE)


def _sides(image, hit):
    """Mean of an H×W(×C) image over the sphere's left and right thirds."""
    third = SIDE // 3
    left, right = hit.copy(), hit.copy()
    left[:, third:] = False
    right[:, :-third] = False
    return float(image[left].mean()), float(image[right].mean())


def test_a_point_light_lights_the_near_side_and_falls_off_with_distance():
    _, position, n, hit = _sphere()
    near = relighting.Light(kind="point", position=(-1.5, 0.0, -3.5), radius=0.5)
    lit = relighting.shading(n, near, position)
    left, right = _sides(lit, hit)
    assert left > 5 * right and right < 0.02
    far = relighting.Light(kind="point", position=(-3.0, 0.0, -3.5), radius=0.5)
    assert _sides(relighting.shading(n, far, position), hit)[0] < left


def test_a_spot_light_is_dark_outside_its_cone():
    _, position, n, hit = _sphere()
    spot = relighting.Light(kind="spot", position=(0.0, 0.0, 0.0), target=(0.0, 0.0, -4.0), cone_deg=6.0, softness=0.0)
    lit = relighting.shading(n, spot, position)
    centre = lit[SIDE // 2, SIDE // 2]
    assert centre > 0.0
    angles = np.degrees(np.arccos(np.clip(-position[..., 2] / np.maximum(np.linalg.norm(position, axis=-1), 1e-9),
                                          -1.0, 1.0)))
    assert np.all(lit[hit & (angles > 6.01)] == 0.0)
    assert np.all(lit[hit & (angles < 5.9)] > 0.0)
    with pytest.raises(errors.UsageError, match="position pass"):
        relighting.shading(n, spot, None)


def test_replace_mode_uses_albedo_inside_the_mask_and_keeps_the_plate_outside():
    _, position, n, hit = _sphere()
    plate = np.full((SIDE, SIDE, 3), 0.3, np.float32)
    albedo = np.full((SIDE, SIDE, 3), 0.5, np.float32)
    key = relighting.Light(direction=(0.0, 0.0, 1.0), intensity=2.0)
    out = relighting.relight(plate, n, [key], ambient=0.1, mask=hit.astype(np.float32), albedo=albedo, mode="replace")
    front = SIDE // 2, SIDE // 2
    assert out[front] == pytest.approx(0.5 * (0.1 + 2.0 * n[front][2]), rel=1e-4)
    assert np.all(out[~hit] == 0.3)
    with pytest.raises(errors.UsageError, match="albedo"):
        relighting.relight(plate, n, [key], mode="replace")


def test_depth_with_the_field_of_view_relights_like_the_position_pass(tmp_path):
    depth, position, n, hit = _sphere()
    files = {"plate.exr": np.full((SIDE, SIDE, 3), 0.25, np.float32)}
    image_io.write_rgb_exr(str(tmp_path / "plate.exr"), files["plate.exr"])
    image_io.write_rgb_exr(str(tmp_path / "n.exr"), n)
    image_io.write_exr(str(tmp_path / "p.exr"), {"P.X": position[..., 0], "P.Y": position[..., 1],
                                                 "P.Z": position[..., 2]})
    image_io.write_exr(str(tmp_path / "d.exr"), {"Z": depth})
    lights = [relighting.Light(kind="point", position=(1.0, 1.0, -2.5), radius=1.0, intensity=3.0)]
    by_p = relighting.relight_file(relighting.RelightRequest(plate=str(tmp_path / "plate.exr"),
                                                             normals=str(tmp_path / "n.exr"),
                                                             output=str(tmp_path / "a.exr"), lights=lights, ambient=0.0,
                                                             position=str(tmp_path / "p.exr")))
    settings = camera.CameraSettings(hfov=HFOV)
    relighting.relight_file(relighting.RelightRequest(plate=str(tmp_path / "plate.exr"),
                                                      normals=str(tmp_path / "n.exr"), output=str(tmp_path / "b.exr"),
                                                      lights=lights, ambient=0.0, depth=str(tmp_path / "d.exr"),
                                                      camera_settings=settings))
    a, b = image_io.read_image(str(tmp_path / "a.exr")), image_io.read_image(str(tmp_path / "b.exr"))
    assert by_p["mode"] == "add"
    assert np.allclose(a[hit], b[hit], atol=1e-5) and a[hit].max() > 0.1
    with pytest.raises(errors.UsageError, match="need --position"):
        relighting.relight_file(relighting.RelightRequest(plate=str(tmp_path / "plate.exr"),
                                                          normals=str(tmp_path / "n.exr"),
                                                          output=str(tmp_path / "c.exr"), lights=lights))


def test_one_combined_exr_gives_every_pass(tmp_path):
    """predict --combined's file named for --normals, --position and --albedo at once: each flag reads its own layer."""
    _, position, n, hit = _sphere()
    plate = np.full((SIDE, SIDE, 3), 0.25, np.float32)
    albedo = np.stack([np.full((SIDE, SIDE), v, np.float32) for v in (0.8, 0.5, 0.3)], -1)
    layers = {"R": plate[..., 0], "G": plate[..., 1], "B": plate[..., 2]}
    for prefix, array, channels in (("N", n, "XYZ"), ("P", position, "XYZ"), ("albedo", albedo, "RGB")):
        layers.update({f"{prefix}.{c}": array[..., i] for i, c in enumerate(channels)})
    combined = str(tmp_path / "plate.combined.exr")
    image_io.write_exr(combined, layers)
    lights = [relighting.Light(kind="point", position=(-1.5, 0.5, -3.0), radius=0.8, intensity=3.0)]
    relighting.relight_file(relighting.RelightRequest(
        plate=combined, normals=combined, output=str(tmp_path / "relit.exr"), lights=lights, ambient=0.1,
        position=combined, albedo=combined, mode="replace"))
    expected = relighting.relight(plate, n, lights, ambient=0.1, mask=np.ones((SIDE, SIDE), np.float32),
                                  position=position, albedo=albedo, mode="replace")
    relit = image_io.read_image(str(tmp_path / "relit.exr"))
    assert np.abs(relit - expected).max() < 1e-5 and expected[hit].max() > 0.5


def test_a_rig_file_loads_every_kind_of_light(tmp_path):
    rig = {"mode": "replace", "ambient": 0.2, "lights": [
        {"type": "directional", "direction": [-1, 0.5, 0.6], "color": [1, 0.9, 0.8], "intensity": 1.5},
        {"type": "point", "position": [0.5, 0.3, -2.0], "radius": 0.5, "intensity": 4},
        {"type": "spot", "position": [-1, 1, -1], "target": [0, 0, -3], "cone_deg": 25, "softness": 0.3}]}
    path = tmp_path / "rig.json"
    path.write_text(json.dumps(rig))
    lights, ambient, mode = light_rigs.load_rig(str(path))
    assert (ambient, mode) == (0.2, "replace")
    assert [light.kind for light in lights] == ["directional", "point", "spot"]
    assert lights[1].position == (0.5, 0.3, -2.0) and lights[2].target == (0.0, 0.0, -3.0)


@pytest.mark.parametrize("rig,message", [
    ({"lights": []}, "non-empty"),
    ({"lights": [{"type": "laser"}]}, "light 0: type"),
    ({"lights": [{"type": "point"}]}, "light 0: position must be 3 numbers"),
    ({"lights": [{"type": "directional", "direction": [0, 0, 0]}]}, "has no direction"),
    ({"lights": [{"type": "spot", "position": [0, 0, 0], "target": [0, 0, -1], "cone_deg": 120}]}, "cone_deg"),
    ({"lights": [{"direction": [0, 0, 1], "colour": [1, 1, 1]}]}, "unknown field"),
    ({"mode": "multiply", "lights": [{"direction": [0, 0, 1]}]}, "mode must be"),
])
def test_bad_rigs_name_the_file_and_the_light(tmp_path, rig, message):
    path = tmp_path / "rig.json"
    path.write_text(json.dumps(rig))
    with pytest.raises(errors.UsageError, match=message) as caught:
        light_rigs.load_rig(str(path))
    assert str(path) in str(caught.value)
