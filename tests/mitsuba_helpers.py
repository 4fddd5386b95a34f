"""A minimal Mitsuba scene that renders only a normals pass of arbitrary numpy meshes.

Independent of data_tools.mitsuba_render.TemplateRenderer (no materials, lights or slots),
so tests can check the renderer's conventions against a second, plain use of Mitsuba.
Imports Mitsuba, so only slow tests import this module, inside the test: tests/conftest.py
initialises Mitsuba (before TensorFlow) when slow tests are selected.
"""

import mitsuba as mi
import numpy as np
from helpers import camera_basis


def _mitsuba_mesh(name, mesh):
    """An mi.Mesh holding a data_tools.meshes.Mesh's vertices, vertex normals and faces."""
    result = mi.Mesh(name, len(mesh.vertices), len(mesh.faces), mi.Properties(), True, False)
    params = mi.traverse(result)
    params["vertex_positions"] = mi.Float(mesh.vertices.ravel())
    params["vertex_normals"] = mi.Float(mesh.normals.ravel())
    params["faces"] = mi.UInt32(mesh.faces.ravel().astype(np.uint32))
    params.update()
    return result


def render_normals(mesh_list, camera, resolution, spp, seed=0):
    """Render camera-space shading normals and coverage of `mesh_list` seen by `camera`.

    Args:
      mesh_list: data_tools.meshes.Mesh objects in world space.
      camera: dict with origin, target, up and fov_deg (horizontal), as in a scene spec.
      resolution: side of the square image.
      spp: samples per pixel (box pixel filter).

    Returns:
      (normals H×W×3 float32 in camera space, unit where covered, zero elsewhere;
       alpha H×W float32 coverage).
    """
    scene = {
        "type": "scene",
        "integrator": {"type": "aov", "aovs": "nn:sh_normal",
                       "integrator": {"type": "path", "max_depth": 1}},  # nested only for alpha
        "sensor": {"type": "perspective", "fov": float(camera["fov_deg"]), "fov_axis": "x",
                   "to_world": mi.ScalarTransform4f().look_at(origin=camera["origin"], target=camera["target"],
                                                              up=camera["up"]),
                   "film": {"type": "hdrfilm", "width": resolution, "height": resolution,
                            "pixel_format": "rgba", "rfilter": {"type": "box"}},
                   "sampler": {"type": "independent", "sample_count": spp}},
    }
    for i, mesh in enumerate(mesh_list):
        scene[f"mesh_{i}"] = _mitsuba_mesh(f"mesh_{i}", mesh)
    scene = mi.load_dict(scene)
    sensor = scene.sensors()[0]
    scene.integrator().render(scene, sensor, seed=seed)
    layers = {name: np.array(b, dtype=np.float32) for name, b in sensor.film().bitmap().split()}
    alpha = layers["<root>"][..., 3]
    world = layers["nn"]
    camera_n = world @ camera_basis(camera).T
    length = np.linalg.norm(camera_n, axis=-1, keepdims=True)
    normals = np.where((alpha[..., None] > 0) & (length > 1e-6), camera_n / np.maximum(length, 1e-6), 0.0)
    return normals.astype(np.float32), alpha
