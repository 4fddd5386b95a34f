"""Turn a scene spec into numpy geometry, textures and a sky map (no renderer needed).

Mesh density follows the render resolution so displaced detail stays near one pixel.
"""

import numpy as np

from data_tools.scene import meshes, procedural

TEXTURE_SIZE = 256
SKY_SIZE = (128, 256)  # lat-long rows (zenith → nadir) × columns


def rotation_matrix(yaw_deg, tilt_deg=(0.0, 0.0)):
    """4×4 rotation: tilt about X then Z, then yaw about Y."""
    a, b, c = np.radians([tilt_deg[0], tilt_deg[1], yaw_deg])
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    rz = np.array([[np.cos(b), -np.sin(b), 0], [np.sin(b), np.cos(b), 0], [0, 0, 1]])
    ry = np.array([[np.cos(c), 0, np.sin(c)], [0, 1, 0], [-np.sin(c), 0, np.cos(c)]])
    m = np.eye(4)
    m[:3, :3] = ry @ rz @ rx
    return m


def translation_matrix(offset):
    m = np.eye(4)
    m[:3, 3] = offset
    return m


def scale_matrix(scale):
    return np.diag(list(np.broadcast_to(np.asarray(scale, np.float64), (3,))) + [1.0])


def _insets(uvs, extent, windows, depth):
    """Window-like rectangular recesses in a grid over a face."""
    nx, ny = windows
    fu = (uvs[:, 0] * nx) % 1.0
    fv = (uvs[:, 1] * ny) % 1.0
    margin = 0.18
    soft = 0.03
    inside_u = np.clip((np.minimum(fu, 1 - fu) - margin) / soft, 0, 1)
    inside_v = np.clip((np.minimum(fv, 1 - fv) - margin) / soft, 0, 1)
    return -depth * procedural.smoothstep(inside_u * inside_v)


def face_height_fn(displacement, rng):
    """Height function f(normal_axis, uv, extent, box_size) for hard-surface faces, or None.

    Window insets go only on the two largest faces (normal along the box's thinnest axis), so
    recesses on neighbouring faces cannot cut into each other.
    """
    kind, amplitude = displacement["kind"], displacement["amplitude"]
    if kind == "none":
        return None
    if kind == "insets":
        windows = displacement["windows"]
        return lambda axis, uvs, extent, size: (_insets(uvs, extent, windows, amplitude * 3.0)
                                                if axis == int(np.argmin(size)) else np.zeros(len(uvs), np.float32))
    if kind == "bricks":
        tile = procedural.bricks(rng, TEXTURE_SIZE) - 1.0
    elif kind == "cells":
        tile = -(1.0 - procedural.cells(rng, TEXTURE_SIZE, return_edges=True)[1]) ** 8
    else:
        tile = procedural.fbm(rng, TEXTURE_SIZE, base_cells=6) - 0.5
    return lambda axis, uvs, extent, size: amplitude * meshes.sample_pattern(tile, uvs * np.asarray(extent, np.float32))


def _detail(resolution):
    return max(resolution / 128.0, 0.5)


def _organic_mesh(obj, detail):
    kind, size, aspect = obj["shape"], obj["size"], np.asarray(obj["aspect"])
    rows, cols = int(64 * detail), int(128 * detail)
    if kind == "torus":
        mesh = meshes.torus(1.0, 0.2 + 0.2 * (aspect[0] - 0.5), rows, cols)
        mesh = meshes.transform(mesh, scale_matrix(size / 2.0))
    elif kind == "capsule":
        mesh = meshes.capsule(size * 0.25, size * 0.25 * aspect[1], rows + rows // 2, cols)
    else:  # sphere, blob, rock
        mesh = meshes.sphere(rows, cols)
        stretch = aspect if kind == "rock" else np.ones(3)
        mesh = meshes.transform(mesh, scale_matrix(size / 2.0 * stretch))
    d = obj["displacement"]
    amplitude = 0.0 if kind == "sphere" else d["amplitude"]
    heights = (amplitude * procedural.fbm_3d(mesh.vertices, d["seed"], d["frequency"])
               + d["fine_amplitude"] * procedural.fbm_3d(mesh.vertices, d["seed"] + 1, d["fine_frequency"]))
    return meshes.displace(mesh, heights)


def _box(size3, heights, detail):
    return meshes.box(size3, cells_per_unit=48 * detail, face_height=heights, max_cells=int(80 * detail))


def _hard_mesh(obj, rng, detail):
    kind, size, aspect = obj["shape"], obj["size"], np.asarray(obj["aspect"])
    heights = face_height_fn(obj["displacement"], rng)
    lift = lambda mesh, y: meshes.transform(mesh, translation_matrix([0.0, y, 0.0]))
    if kind == "box":
        dims = size * aspect
        return lift(_box(dims, heights, detail), dims[1] / 2)
    if kind == "slab":
        dims = size * np.array([1.5 * aspect[0], 0.12, aspect[2]])
        return lift(_box(dims, heights, detail), dims[1] / 2)
    if kind == "wall":
        dims = size * np.array([2.0 * aspect[0], 1.2 * aspect[1], 0.15])
        return lift(_box(dims, heights, detail), dims[1] / 2)
    if kind == "column":
        flutes = int(rng.choice([0, 8, 12, 16]))
        col = meshes.cylinder(size * 0.18, size * 1.5 * aspect[1], int(48 * detail), int(128 * detail),
                              flutes=flutes, flute_depth=0.08 if flutes else 0.0)
        base = lift(_box(size * np.array([0.5, 0.1, 0.5]), None, detail), size * 0.05)
        return meshes.merge([lift(col, size * 0.1), base])
    if kind == "stairs":
        steps, parts = int(rng.integers(3, 7)), []
        step_h, step_d, width = size * 0.15, size * 0.25, size * aspect[0]
        for i in range(steps):
            dims = np.array([width, step_h * (i + 1), step_d])
            parts.append(meshes.transform(_box(dims, heights, detail),
                                          translation_matrix([0.0, dims[1] / 2, i * step_d])))
        return meshes.merge(parts)
    # blocks: a stack of shrinking boxes
    parts, y = [], 0.0
    for _ in range(int(rng.integers(2, 5))):
        dims = size * aspect * rng.uniform(0.4, 0.8, 3)
        offset = rng.uniform(-0.15, 0.15, 2) * size
        parts.append(meshes.transform(_box(dims, heights, detail),
                                      translation_matrix([offset[0], y + dims[1] / 2, offset[1]])))
        y += dims[1]
    return meshes.merge(parts)


def object_mesh(obj, resolution):
    """World-space mesh of one spec object."""
    rng = np.random.default_rng(obj["seed"])
    detail = _detail(resolution)
    if obj["shape"] in ("blob", "sphere", "torus", "capsule", "rock"):
        mesh = _organic_mesh(obj, detail)
        lowest = float(mesh.vertices[:, 1].min())
        lift = -lowest + (obj["size"] * 0.6 if obj["floating"] else -0.02 * obj["size"])
        mesh = meshes.transform(mesh, translation_matrix([0.0, lift, 0.0]))
    else:
        mesh = _hard_mesh(obj, rng, detail)
    placement = translation_matrix(obj["position"]) @ rotation_matrix(obj["rotation_y"], obj["tilt"])
    return meshes.transform(mesh, placement)


def ground_meshes(ground, camera, resolution):
    """Floor (a detailed inner plane and a flat outer skirt) plus walls for a room."""
    rng = np.random.default_rng(ground["seed"])
    detail = _detail(resolution)
    target = np.asarray(camera["target"])
    inner_size = 14.0
    n = int(200 * detail)
    inner = meshes.plane(inner_size, inner_size, n, n)
    tile = face_height_fn(ground["displacement"], rng)
    if tile is not None and ground["displacement"]["kind"] != "insets":
        extent = (inner_size, inner_size)
        inner = meshes.displace(inner, tile(1, inner.uvs / inner_size, extent, extent + (1.0,)) * 0.5)
    shift = translation_matrix([target[0], 0.0, target[2]])
    parts = [meshes.transform(inner, shift),
             meshes.transform(meshes.plane(400.0, 400.0, 5, 5), shift @ translation_matrix([0, -0.01, 0]))]
    if ground["kind"] == "room":
        forward = target - np.asarray(camera["origin"])
        yaw = np.degrees(np.arctan2(forward[0], forward[2]))
        distance = float(rng.uniform(3.0, 6.0))
        height = float(rng.uniform(2.5, 4.0))
        heights = face_height_fn(ground["displacement"], rng)
        for turn in (0.0, float(rng.choice([-90.0, 90.0]))):
            wall = _box([12.0, height, 0.3], heights, detail)
            wall = meshes.transform(wall, translation_matrix([0.0, height / 2, distance]))
            parts.append(meshes.transform(wall, shift @ rotation_matrix(yaw + turn)))
    return parts


def material_textures(material, size=TEXTURE_SIZE):
    """Base colour (H×W×3 linear), metallic and roughness (H×W×1) textures of a spec material."""
    rng = np.random.default_rng(material["seed"])

    def channel(kind):
        return np.full((size, size), 0.5, np.float32) if kind == "plain" else procedural.pattern(rng, size, kind)

    mix = channel(material["color_pattern"])[..., None]
    c0, c1 = (np.asarray(c, np.float32) for c in material["colors"])
    base = c0 * (1.0 - mix) + c1 * mix
    metal = {"none": np.zeros((size, size), np.float32), "full": np.ones((size, size), np.float32)}.get(
        material["metal_mode"])
    if metal is None:
        metal = (channel(material["metal_pattern"]) > 0.5).astype(np.float32)
    lo, hi = material["roughness_range"]
    rough = lo + (hi - lo) * channel(material["roughness_pattern"])
    return {"base_color": base.astype(np.float32), "metallic": metal[..., None],
            "roughness": rough[..., None].astype(np.float32)}


def sky_map(env, size=SKY_SIZE):
    """Lat-long HDR environment (rows from zenith to nadir): sky or studio gradient with clouds.

    The sun is a separate emitter (see sun_disk) so its direction can change without a new map.
    """
    rows, cols = size
    rng = np.random.default_rng(env["seed"])
    elevation = np.radians(90.0 - 180.0 * (np.arange(rows) + 0.5) / rows)[:, None]
    up = np.clip(np.sin(elevation), 0.0, 1.0)[..., None]
    zenith, horizon, ground = (np.asarray(env[k], np.float32) for k in ("zenith", "horizon", "ground"))
    sky = horizon + (zenith - horizon) * np.sqrt(up)
    if env["clouds"] > 0:
        cloud = procedural.fbm(rng, cols, base_cells=4)[:rows][..., None]
        cover = np.clip((cloud - (1.0 - env["clouds"])) * 3.0, 0.0, 1.0) * (up > 0)
        sky = sky * (1 - cover) + cover * horizon.mean() * 1.2
    image = np.where(np.sin(elevation)[..., None] > 0, sky, ground * 0.5) * np.ones((1, cols, 1), np.float32)
    return (image * np.asarray(env["tint"]) * env["intensity"]).astype(np.float32)


SUN_DISTANCE = 500.0
SUN_COLOUR = (1.0, 0.95, 0.85)


def sun_emitter(env):
    """The sun as a far emissive square facing the scene, and its radiance (None when there is no sun)."""
    if env["sun_irradiance"] <= 0:
        return None, None
    elevation, azimuth = np.radians([env["sun_elevation_deg"], env["sun_azimuth_deg"]])
    direction = np.array([np.cos(elevation) * np.cos(azimuth), np.sin(elevation), np.cos(elevation) * np.sin(azimuth)])
    radius = SUN_DISTANCE * np.tan(np.radians(env["sun_size_deg"]) / 2.0)
    quad = meshes.transform(meshes.plane(2.0 * radius, 2.0 * radius, 2, 2), look_at_matrix(
        SUN_DISTANCE * direction, np.zeros(3)))
    solid_angle = 2.0 * np.pi * (1.0 - np.cos(np.radians(env["sun_size_deg"]) / 2.0))
    radiance = (env["sun_irradiance"] * env["intensity"] / solid_angle) * np.asarray(env["tint"]) * np.asarray(SUN_COLOUR)
    return quad, [float(r) for r in radiance]


def look_at_matrix(origin, target, up=(0.0, 1.0, 0.0)):
    """4×4 transform putting a +Y-facing XZ shape at `origin`, facing `target`."""
    forward = np.asarray(target, np.float64) - np.asarray(origin, np.float64)
    forward /= np.linalg.norm(forward)
    helper = np.asarray(up, np.float64) if abs(np.dot(forward, up)) < 0.99 else np.array([1.0, 0.0, 0.0])
    x = np.cross(helper, forward)
    x /= np.linalg.norm(x)
    z = np.cross(x, forward)
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = x, forward, z, origin
    return m


def area_light_quad(light):
    """A rectangle facing the light's target, sized by the spec."""
    w, h = light["size"]
    quad = meshes.plane(w, h, 2, 2)
    return meshes.transform(quad, look_at_matrix(light["position"], light["target"]))
