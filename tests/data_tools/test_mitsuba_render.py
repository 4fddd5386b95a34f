"""The renderer's normals pass: unit length, facing the camera, and the right axes (analytic sphere)."""

import os

import numpy as np
import pytest
from helpers import NUM_SAMPLES, RESOLUTION, SEED, SPP, camera_basis, mean_angle_deg, read_sample, view_directions

from data_tools import mitsuba_render
from data_tools.scene import families, sampling, sets, shapes
from tfnormals.core import layout

pytestmark = pytest.mark.slow  # every test here renders with Mitsuba

SPHERE_RESOLUTION = 64
SPHERE_SPP = 8
# Largest dot(n, view) below zero accepted: interpolated vertex normals on a tessellated
# silhouette can lean slightly past perpendicular.
FACING_TOLERANCE = 0.1
WIDE_FOV_DEG = 60.0


def sphere_spec():
    """A random scene reduced to one undisplaced sphere on a flat floor, no area lights, known camera.

    The camera is rolled and aims to the right of the sphere, so the sphere sits off-centre in a
    tilted frame: a mirrored or flipped image or a wrong axis cannot match by symmetry.
    """
    spec = sampling.sample_scene(11, 0, SPHERE_RESOLUTION)
    rng = np.random.default_rng(0)
    sphere = families.make_object(rng, "sphere", 1.0, 0.0)
    sphere.update(dims=[1.0, 1.0, 1.0], rotation=[0.0, 0.0, 0.0], position=[0.0, 0.0, 0.0], lift=0.0)
    sphere["material"]["detail"]["height"] = None
    ground = sets.sample_set(rng, "ground")
    ground.update(terrain=0.0)
    ground["displacement"]["kind"] = "none"
    spec.update(objects=[sphere], lights=[], set=ground)
    spec["camera"].update(origin=[0.9, 1.5, 2.6], target=[0.45, 0.35, 0.0], up=[0.2, 1.0, 0.0], fov_deg=40.0)
    return spec


def analytic_sphere_normals(camera, centre, radius, resolution):
    """Camera-space normals of the exact sphere per pixel centre, and which pixels are safely inside it.

    A pixel is inside when the rays through its centre and its four corners all hit the sphere
    above the floor (y > 0.05), so its whole footprint sees the sphere and nothing else.
    """
    basis = camera_basis(camera)  # rows: camera X, Y, Z in world space
    origin = np.asarray(camera["origin"], np.float64)

    def hit(offset):
        d = view_directions(camera, resolution, offset) @ basis  # world-space directions
        oc = origin - centre
        b = d @ oc
        disc = b * b - (oc @ oc - radius * radius)
        t = -b - np.sqrt(np.maximum(disc, 0.0))
        point = origin + t[..., None] * d
        return disc > 0, point

    inside, point = hit((0.5, 0.5))
    inside &= point[..., 1] > 0.05
    for corner in ((0, 0), (1, 0), (0, 1), (1, 1)):
        corner_hit, corner_point = hit(corner)
        inside &= corner_hit & (corner_point[..., 1] > 0.05)
    normal_world = (point - centre) / radius
    return normal_world @ basis.T, inside


@pytest.fixture(scope="module")
def sphere_render():
    spec = sphere_spec()
    mesh = shapes.object_mesh(spec["objects"][0], SPHERE_RESOLUTION)
    # The mesh's exact placement: the bounding-box middle is the centre (the vertex mean is biased
    # by the duplicated seam column of a UV sphere), the mean vertex distance the radius.
    centre = (mesh.vertices.min(0) + mesh.vertices.max(0)).astype(np.float64) / 2.0
    radius = float(np.linalg.norm(mesh.vertices - centre, axis=1).mean())
    result = mitsuba_render.TemplateRenderer(SPHERE_RESOLUTION, SPHERE_SPP).render(spec)
    expected, inside = analytic_sphere_normals(spec["camera"], centre, radius, SPHERE_RESOLUTION)
    result["touched"] = sphere_touches(spec["camera"], centre, radius, SPHERE_RESOLUTION)
    return spec, result, expected, inside


def sphere_touches(camera, centre, radius, resolution):
    """Pixels where any of the rays through the centre and the four corners hits the sphere."""
    basis = camera_basis(camera)
    origin = np.asarray(camera["origin"], np.float64)
    touched = np.zeros((resolution, resolution), bool)
    for offset in ((0.5, 0.5), (0, 0), (1, 0), (0, 1), (1, 1)):
        d = view_directions(camera, resolution, offset) @ basis
        oc = origin - centre
        b = d @ oc
        touched |= b * b - (oc @ oc - radius * radius) > 0
    return touched


def check_normals_pass(normal_map, alpha, camera):
    """Unit length where alpha > 0, zero elsewhere, facing the camera along each pixel's ray.

    Z > 0 is only a tendency under perspective (grazing walls at a wide fov's edge face their
    rays with Z < 0), so it is checked as a share of pixels, and only for fields of view up to
    WIDE_FOV_DEG (an interior at 18-35 mm sees whole side walls that way) and cameras looking
    level or down (looking up, the floor under the camera has Z < 0); facing holds for all.
    """
    covered = alpha > 0
    assert covered.any()
    length = np.linalg.norm(normal_map, axis=-1)
    np.testing.assert_allclose(length[covered], 1.0, atol=1e-3)
    assert np.all(normal_map[~covered] == 0.0)
    towards_camera = -view_directions(camera, normal_map.shape[0])
    facing = np.sum(normal_map * towards_camera, -1)[covered]
    assert facing.min() > -FACING_TOLERANCE, f"normal facing away from the camera: {facing.min():.3f}"
    view = np.asarray(camera["target"], np.float64) - np.asarray(camera["origin"], np.float64)
    if camera["fov_deg"] <= WIDE_FOV_DEG and view[1] <= 0:
        assert np.mean(normal_map[covered][:, 2] > 0) > 0.95


@pytest.mark.parametrize("index", range(NUM_SAMPLES))
def test_random_scene_normals_are_unit_and_face_the_camera(rendered_dir, index):
    """Every pixel with coverage of a random rendered sample has a unit normal pointing at the camera."""
    sample_dir = os.path.join(rendered_dir, layout.sample_id(index))
    sample = read_sample(sample_dir)
    camera = sampling.sample_scene(SEED, index, sample["alpha"].shape[0])["camera"]
    check_normals_pass(sample["normals"], sample["alpha"], camera)


def test_sphere_normals_are_unit_and_face_the_camera(sphere_render):
    """The sphere scene's normals pass obeys the same unit-length and facing rules."""
    spec, result, _, _ = sphere_render
    check_normals_pass(result["normals"], result["alpha"], spec["camera"])


def test_sphere_normals_match_the_analytic_sphere(sphere_render):
    """Rendered normals agree with ray-traced analytic sphere normals in camera space (+X right, +Y up)."""
    _, result, expected, inside = sphere_render
    inside &= result["alpha"] == 1.0
    assert inside.sum() > 150, "the sphere should cover a good part of the frame"
    error = mean_angle_deg(result["normals"], expected, inside)
    assert error < 2.0, f"mean angular error {error:.2f} deg"
    # The comparison is sensitive to the conventions it checks: a mirrored X, a flipped Y or an
    # image stored bottom-up would all be far off.
    mirrored = result["normals"] * np.array([-1.0, 1.0, 1.0], np.float32)
    flipped = result["normals"] * np.array([1.0, -1.0, 1.0], np.float32)
    upside_down = result["normals"][::-1]
    for wrong in (mirrored, flipped, upside_down):
        assert mean_angle_deg(wrong, expected, inside) > 10.0


def test_id_pass_matches_the_geometry(sphere_render):
    """The ID pass holds the sphere's ID wherever the analytic sphere covers a pixel, the floor's where no
    ray of the pixel can reach the sphere, and the background's where nothing was hit."""
    spec, result, _, inside = sphere_render
    ids, alpha = result["ids"], result["alpha"]
    assert np.all(ids[inside] == layout.ID_FIRST_OBJECT)
    floor = (alpha == 1.0) & ~result["touched"]
    assert floor.sum() > 100 and np.all((ids[floor] >= layout.ID_FIRST_SET) & (ids[floor] < layout.ID_LIGHTS))
    assert np.all(ids[alpha == 0] == layout.ID_BACKGROUND)
    assert result["id_names"][str(layout.ID_FIRST_OBJECT)] == "object 0: sphere"
    for value in np.unique(ids):
        assert str(value) in result["id_names"]


def test_denoiser_touches_only_the_beauty(sphere_render):
    """Denoising changes the beauty only: normals, depth, coverage, albedo and IDs are bit-identical, and the
    denoised beauty is closer to a many-sample render than the noisy one."""
    spec = sphere_render[0]
    renderer = mitsuba_render.TemplateRenderer(SPHERE_RESOLUTION, 2)
    layers = renderer.render_layers(spec)
    noisy, clean = renderer.finish(spec, layers, denoise=False), renderer.finish(spec, layers, denoise=True)
    for key in ("normals", "depth", "alpha", "albedo", "ids"):
        np.testing.assert_array_equal(noisy[key], clean[key], err_msg=key)
    reference = mitsuba_render.TemplateRenderer(SPHERE_RESOLUTION, 256, denoise=False)
    ref = reference.finish(spec, reference.render_layers(spec, seed=12345), denoise=False)
    linear = lambda r: r["beauty"] / r["exposure"]
    error = lambda r: float(np.mean((linear(r) - linear(ref)) ** 2))
    assert error(clean) < 0.5 * error(noisy)
    np.testing.assert_array_equal(renderer.render(spec)["beauty"], clean["beauty"])  # render() = layers + finish


def test_camera_is_never_inside_an_object():
    """A close-up camera must not sit inside an object (the frame would be all back faces).

    Seed 1, index 110 once put the camera inside a column. Over a scan of scenes, pixels whose
    normal faces away from the camera must stay rare (smooth shading normals may tilt slightly
    past a silhouette; from inside an object nearly every pixel would face away).
    """
    renderer = mitsuba_render.TemplateRenderer(RESOLUTION, SPP)
    for index in [110] + list(range(200, 212)):
        spec = sampling.sample_scene(1, index, RESOLUTION)
        result = renderer.render(spec)
        covered = result["alpha"] > 0
        facing = np.sum(result["normals"] * -view_directions(spec["camera"], RESOLUTION), -1)[covered]
        assert np.mean(facing < -FACING_TOLERANCE) < 0.01, (index, np.mean(facing < -FACING_TOLERANCE))
