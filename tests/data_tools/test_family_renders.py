"""Every scene family renders at a tiny size, and its sample folder holds a consistent ID pass."""

import json
import os

import numpy as np
import pytest
from scipy import ndimage

from data_tools import mitsuba_render, render
from data_tools.scene import families, sampling
from tfnormals.core import image_io, layout

pytestmark = pytest.mark.slow  # renders with Mitsuba

RESOLUTION = 24
SPP = 2
SAMPLES_PER_FAMILY = 2


def away_from_edges(mask):
    """Pixels of the mask whose whole 3×3 neighbourhood is in the mask too."""
    return ndimage.binary_erosion(mask, np.ones((3, 3)), border_value=1)


@pytest.fixture(scope="module")
def renderer():
    return mitsuba_render.TemplateRenderer(RESOLUTION, SPP)


@pytest.mark.parametrize("family", families.FAMILIES)
def test_every_family_renders(renderer, family, tmp_path):
    """Each family's scenes render to valid passes; written folders are complete and name the family."""
    for index in range(SAMPLES_PER_FAMILY):
        spec = sampling.sample_scene(9, index, RESOLUTION, {family: 1.0})
        result = renderer.render(spec)
        covered = result["alpha"] > 0
        assert covered.mean() > 0.2, "the camera sees the scene"
        np.testing.assert_allclose(np.linalg.norm(result["normals"][covered], axis=-1), 1.0, atol=1e-3)
        assert np.all(np.isfinite(result["beauty"])) and result["beauty"].min() >= 0.0
        assert np.all(result["depth"][covered] > 0)
        # The ID pass: one ray per pixel; away from coverage edges (where the ID ray and the few
        # coverage samples may disagree) full pixels show a surface and empty ones the background.
        ids = result["ids"]
        assert np.all(ids[away_from_edges(result["alpha"] == 1.0)] != layout.ID_BACKGROUND)
        assert np.all(ids[away_from_edges(result["alpha"] == 0.0)] == layout.ID_BACKGROUND)
        assert {str(v) for v in np.unique(ids)} <= set(result["id_names"])
        if family == "object_study":
            assert np.any(ids >= layout.ID_FIRST_OBJECT), "an object study shows its objects"
        folder = tmp_path / layout.sample_id(index)
        render.write_sample(str(folder), spec, result, {"resolution": RESOLUTION, "spp": SPP})
        assert render.is_complete(str(folder))
        stored = np.rint(image_io.read_image(str(folder / layout.IDS_PNG))[..., 0] * 255).astype(np.uint8)
        np.testing.assert_array_equal(stored, ids)
        with open(folder / layout.SCENE_JSON) as f:
            scene = json.load(f)
        assert scene["family"] == family and scene["ids"] == result["id_names"]
        assert os.path.isfile(folder / layout.ALBEDO_EXR)
