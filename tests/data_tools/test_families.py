"""Scene specs by family (pure numpy, no Mitsuba): ranges the issue sets, framing, weights, IDs, baking."""

import json

import numpy as np
import pytest

from data_tools.scene import bake, camera, families, geometry, materials, meshes, sampling, sets, shapes
from tfnormals.core import layout

SPECS_PER_FAMILY = 12


def family_specs(family, count=SPECS_PER_FAMILY, resolution=64):
    return [sampling.sample_scene(5, i, resolution, {family: 1.0}) for i in range(count)]


@pytest.mark.parametrize("family", families.FAMILIES)
def test_family_specs_are_json_and_in_range(family):
    """Every choice is recorded (JSON round trip); cameras, objects and lights stay within the issue's ranges."""
    for spec in family_specs(family):
        assert json.loads(json.dumps(spec)) == spec
        assert spec["family"] == family and spec["generator"] == sampling.GENERATOR_VERSION
        cam = spec["camera"]
        assert camera.FOCAL_RANGE_MM[0] - 1e-6 <= cam["focal_mm"] <= camera.FOCAL_RANGE_MM[1] + 1e-6
        assert cam["fov_deg"] == pytest.approx(camera.fov_deg(cam["focal_mm"]), abs=1e-3)
        assert abs(cam["roll_deg"]) <= camera.MAX_ROLL_DEG
        assert camera.ELEVATION_RANGE_DEG[0] <= cam["elevation_deg"] <= camera.ELEVATION_RANGE_DEG[1]
        assert 1 <= len(spec["objects"]) <= sampling.MAX_OBJECTS
        assert sum(light["kind"] == "area" for light in spec["lights"]) <= sampling.MAX_AREA_LIGHTS
        assert spec["set"]["kind"] in sets.KINDS
        for obj in spec["objects"]:
            assert obj["shape"] in shapes.KINDS and min(obj["dims"]) > 0
        if family == "object_study":
            assert 1 <= len(spec["objects"]) <= 3 and spec["set"]["kind"] in ("table", "cyc", "cloth")


def test_object_study_framing_fills_the_frame():
    """An object study's camera sees the objects' tight sphere at `fill` of the frame, from outside every object."""
    for spec in family_specs("object_study", 30):
        cam = spec["camera"]
        centre, radius = families.group_sphere(spec["objects"])
        distance = np.linalg.norm(np.asarray(cam["origin"]) - centre)
        disc = np.tan(np.arcsin(min(radius / distance, 1.0))) ** 2 * np.pi / 4
        frame = np.tan(np.radians(cam["fov_deg"]) / 2) ** 2
        assert disc / frame <= cam["fill"] + 1e-3  # pulled back only, never closer
        assert 0.3 <= cam["fill"] <= 0.95
        for c, r in families.obstacles(spec["objects"]):
            assert np.linalg.norm(np.asarray(cam["origin"]) - c) > r
        assert cam["origin"][1] >= spec["set"]["support_height"]


def test_ground_views_graze_a_textured_plane():
    """Ground scenes: a camera at most 2 m above its surface, looking at most 30° down, over a paving material."""
    for spec in family_specs("ground", 30):
        cam, surface = spec["camera"], spec["set"]
        xz = [cam["origin"][0], cam["origin"][2]]
        height = cam["origin"][1] - max(surface["support_height"], float(sets.ground_height(surface, xz)[0]))
        assert 0.0 < height <= 2.0 + 1e-6
        assert -20.0 - 1e-6 <= cam["elevation_deg"] <= 30.0 + 1e-6
        assert surface["material"]["paving"] in materials.PAVINGS
    kinds = {spec["set"]["kind"] for spec in family_specs("ground", 30)}
    assert kinds == {"ground", "room", "table"}


def test_default_weights_make_object_studies_the_largest_family():
    counts = {}
    for i in range(300):
        family = sampling.sample_scene(1, i, 32)["family"]
        counts[family] = counts.get(family, 0) + 1
    assert set(counts) == set(families.FAMILIES)
    assert counts["object_study"] / 300 >= 0.3


def test_family_weights_parse_and_reject_mistakes():
    weights = sampling.parse_family_weights("object_study=2, outdoor=1")
    assert weights["object_study"] == 2 and weights["tabletop"] == 0
    assert sampling.parse_family_weights(sampling.format_family_weights(weights)) == weights
    for bad in ("garden=1", "object_study", "object_study=-1", "outdoor=0", ""):
        with pytest.raises(ValueError):
            sampling.parse_family_weights(bad)


def test_specs_are_a_function_of_seed_and_index():
    assert sampling.sample_scene(3, 12, 64) == sampling.sample_scene(3, 12, 64)
    assert sampling.sample_scene(3, 13, 64) != sampling.sample_scene(3, 12, 64)
    assert sampling.sample_scene(4, 12, 64) != sampling.sample_scene(3, 12, 64)


def test_surfaces_carry_the_layout_ids():
    """Set pieces are numbered from ID_FIRST_SET, objects from ID_FIRST_OBJECT in spec order; all named."""
    spec = family_specs("tabletop", 1, 32)[0]
    surfaces = geometry.surfaces(spec, 32)
    set_ids = [s.id for s in surfaces if s.id < layout.ID_FIRST_OBJECT]
    assert set_ids == list(range(layout.ID_FIRST_SET, layout.ID_FIRST_SET + len(set_ids)))
    assert max(set_ids) < layout.ID_LIGHTS
    object_ids = [s.id for s in surfaces if s.id >= layout.ID_FIRST_OBJECT]
    assert object_ids == [layout.ID_FIRST_OBJECT + k for k in range(len(spec["objects"]))]
    table = geometry.id_table(surfaces)
    assert table[str(layout.ID_BACKGROUND)] == "background" and str(layout.ID_LIGHTS) in table
    assert all(table[str(layout.ID_FIRST_OBJECT + k)].endswith(o["shape"]) for k, o in enumerate(spec["objects"]))


def test_sharpness_finds_convex_edges_and_creases():
    """On a box, edges are convex (negative) and faces flat; inside an L of two boxes the crease is positive."""
    box = meshes.box((1.0, 1.0, 1.0), cells_per_unit=8)
    s = bake.sharpness(box)
    on_edge = (np.isclose(np.abs(box.vertices), 0.5, atol=1e-6).sum(1) >= 2)
    assert s[on_edge].max() < -0.1 and np.abs(s[~on_edge]).max() < 1e-6
    sheet = meshes.plane(2.0, 2.0, 21, 21)
    v = sheet.vertices.copy()
    v[:, 1] = np.abs(v[:, 0])  # a V-shaped valley along z: a crease at x = 0
    valley = meshes.Mesh(v, meshes.vertex_normals(v, sheet.faces), sheet.uvs, sheet.faces, False, sheet.grids)
    sv = bake.sharpness(valley)
    assert sv[np.isclose(v[:, 0], 0.0) & (np.abs(v[:, 2]) < 0.9)].min() > 0.1


def test_atlas_tiles_are_disjoint_and_inside():
    obj = families.make_object(np.random.default_rng(2), "chair", 0.5, 0.0)
    mesh = shapes.object_mesh(obj, 32)
    side = 128
    rects = bake.atlas_layout(mesh, side)
    assert len(rects) == len(mesh.grids)
    cover = np.zeros((side, side), int)
    for x, y, w, h in rects:
        assert x >= 0 and y >= 0 and x + w <= side and y + h <= side
        cover[y:y + h, x:x + w] += 1
    assert cover.max() == 1
    worn = dict(obj["material"], wear=dict(obj["material"]["wear"], edge=1.0, dirt=1.0))
    baked_mesh, textures = bake.bake(mesh, worn, {"base_color": np.full((8, 8, 3), 0.5, np.float32),
                                                  "metallic": np.zeros((8, 8, 1), np.float32),
                                                  "roughness": np.full((8, 8, 1), 0.3, np.float32)}, side)
    assert baked_mesh.uvs.min() > 0 and baked_mesh.uvs.max() < 1
    assert textures["base_color"].shape == (side, side, 3)
    assert textures["roughness"].max() > 0.3, "worn edges or dirt roughen the surface somewhere"
