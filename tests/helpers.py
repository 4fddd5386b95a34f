"""Plain numpy helpers shared by the tests (no TensorFlow, no Mitsuba).

The analytic sphere (`sphere_normal_map`) is the one reference normal map of the suite;
`write_synthetic_samples` turns it into sample folders laid out as data_tools.render lays
them out, so the fast tests exercise the real readers and record writer without a renderer.
"""

import json
import os
import shutil
import signal

import numpy as np

from tfnormals.core import image_io, layout, normals, resources, srgb
from tfnormals.tools import inference

# The repository root: commands run from here, and it is what a child process must be able to import.
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The session render (conftest.rendered_dir) and everything compared with it.
RESOLUTION = 32
SPP = 4
SEED = 7
NUM_SAMPLES = 5
SPLIT_FRACTIONS = (0.5, 0.25, 0.25)
# The session's synthetic sample folders (conftest.synthetic_dir).
SYNTHETIC_SAMPLES = 6


def shipped_metadata():
    """The shipped model's metadata (tfnormals.json)."""
    with open(os.path.join(resources.DEFAULT_MODEL_DIR, layout.MODEL_METADATA)) as f:
        return json.load(f)


def shipped_outputs():
    """The shipped model's outputs by pass (models from before the multi-pass heads list none: normals only)."""
    return shipped_metadata().get("outputs", {inference.OUTPUT_NAME: {"channels": 3}})


def shipped_passes():
    """The shipped model's passes in the loaders' order (normals first, then the others sorted)."""
    return list(inference.passes_from_names(shipped_outputs()))


def subprocess_env(**extra):
    """This process's environment for a child process: the repository importable (first on PYTHONPATH),
    TensorFlow's C++ chatter reduced, plus `extra` variables."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (REPO, env.get("PYTHONPATH", "")) if p)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.update(extra)
    return env


def default_ctrl_c():
    """preexec_fn for a child a test sends Ctrl-C (SIGINT): a shell started in the background (nohup CMD &) leaves
    SIGINT ignored, and children inherit that, so the child would never see the test's Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def view_directions(camera, resolution, offset=(0.5, 0.5)):
    """Unit camera-space directions of the rays through each pixel of a square image.

    `fov_deg` is the horizontal field of view; row 0 is the top of the image; `offset` is the
    position inside the pixel ((0.5, 0.5) = its centre, (0, 0) = its top-left corner).
    """
    tan_half = np.tan(np.radians(camera["fov_deg"]) / 2.0)
    rows, cols = np.meshgrid(np.arange(resolution), np.arange(resolution), indexing="ij")
    x = ((cols + offset[0]) / resolution * 2.0 - 1.0) * tan_half
    y = (1.0 - (rows + offset[1]) / resolution * 2.0) * tan_half
    d = np.stack([x, y, -np.ones_like(x)], -1)
    return d / np.linalg.norm(d, axis=-1, keepdims=True)


def camera_basis(camera):
    """3×3 matrix whose rows are the camera's +X, +Y, +Z axes in world space."""
    from data_tools import mitsuba_render  # numpy only; Mitsuba itself is imported by init()
    return np.stack(mitsuba_render.camera_axes(camera))


def read_sample(sample_dir):
    """A sample folder's files: beauty (linear RGB), alpha, normals and mask (float32)."""
    beauty = image_io.read_image(os.path.join(sample_dir, layout.BEAUTY_EXR))
    return {"beauty": beauty[..., :3], "alpha": beauty[..., 3],
            "normals": image_io.read_image(os.path.join(sample_dir, layout.NORMALS_EXR)),
            "mask": image_io.read_image(os.path.join(sample_dir, layout.MASK_PNG))[..., 0]}


def copy_sample(src_root, sample_id, dst_root, new_id=None):
    """Copy one sample folder into dst_root (optionally under a new id); returns the new folder."""
    dst = os.path.join(dst_root, new_id or sample_id)
    shutil.copytree(os.path.join(src_root, sample_id), dst)
    return dst


def mean_angle_deg(a, b, where):
    """Mean angle in degrees between two normal maps over the pixels selected by `where`."""
    return float(normals.angular_error_deg(a[where], b[where]).mean())


def camera_to_world_matrix(right, up, back, position=(0.0, 0.0, 0.0), scale=1.0):
    """4×4 camera transform as Maya/Houdini/Blender store it: columns are the camera axes in world space."""
    m = np.eye(4)
    m[:3, :3] = np.stack([right, up, back], axis=1) * scale
    m[:3, 3] = position
    return m


def sphere_normal_map(size, centre=(0.0, 0.0), radius=1.0):
    """Camera-space normals of a sphere seen head-on (orthographic) and its disc mask, float32.

    The frame spans [-1, 1] in x (left → right) and y (bottom → top), row 0 at the top; the
    sphere's outline is the disc of `radius` around `centre`. By default it fills the frame,
    so the map is symmetric under mirrors and 90° turns. Normals are zero outside the disc.
    """
    centres = (np.arange(size) + 0.5) / size * 2.0 - 1.0
    x, y = np.meshgrid((centres - centre[0]) / radius, (-centres - centre[1]) / radius)
    inside = x * x + y * y < 1.0
    n = np.stack([x, y, np.sqrt(np.clip(1.0 - x * x - y * y, 0.0, 1.0))], -1) * inside[..., None]
    return n.astype(np.float32), inside.astype(np.float32)


def ray_traced_sphere(side, hfov_deg, centre, background_depth=None):
    """A unit sphere at camera-space `centre` seen by a pinhole camera at the origin (OpenGL axes).

    Returns (depth H×W, position H×W×3, normals H×W×3, hit mask H×W); with background_depth, pixels
    that miss the sphere see a wall at that depth (normals then come from differencing the depth).
    """
    f = side / (2.0 * np.tan(np.radians(hfov_deg) / 2.0))
    rows, cols = np.mgrid[0:side, 0:side]
    d = np.stack([(cols + 0.5 - side / 2) / f, -(rows + 0.5 - side / 2) / f, -np.ones((side, side))], -1)
    d /= np.linalg.norm(d, axis=-1, keepdims=True)
    centre = np.asarray(centre, np.float64)
    b = d @ centre
    disc = b ** 2 - (centre @ centre - 1.0)
    hit = disc > 0
    t = np.where(hit, b - np.sqrt(np.maximum(disc, 0.0)), 0.0)
    if background_depth is not None:
        t = np.where(hit, t, background_depth / -d[..., 2])
    position = d * t[..., None]
    n = (position - centre) * hit[..., None]
    n /= np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-12)
    return (-position[..., 2]).astype(np.float32), position.astype(np.float32), n.astype(np.float32), hit


def plates(n, h, w, seed=0):
    """A batch of plate-like images: smooth colour gradients, a bright disc and noise, float32 in [0, 1]."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    disc = ((x - 0.6 * w) ** 2 + (y - 0.4 * h) ** 2 < (0.25 * min(h, w)) ** 2).astype(np.float32)
    base = np.stack([x / w, y / h, 0.3 + 0.5 * disc], -1)
    return np.clip(0.8 * base[None] + 0.2 * rng.random((n, h, w, 3)), 0.0, 1.0).astype(np.float32)


def synthetic_sample(size, seed):
    """One plausible sample without a renderer: a lit sphere on a sky gradient.

    Returns a dict of float32 arrays like a render result: beauty (linear RGB, H×W×3), alpha
    (H×W coverage, 0/1), normals (camera space), depth (camera Z distance, 0 off the sphere)
    and albedo (linear RGB). The sphere's place, size, colour and light come from `seed`.
    """
    rng = np.random.default_rng(seed)
    n, alpha = sphere_normal_map(size, centre=rng.uniform(-0.3, 0.3, 2), radius=rng.uniform(0.55, 0.85))
    light = normals.normalize(np.array([rng.uniform(-0.8, 0.8), rng.uniform(0.2, 0.9), 0.7]))
    base = rng.uniform(0.2, 0.9, 3).astype(np.float32)
    shading = 0.1 + 0.9 * np.clip(n @ light, 0.0, None)
    rows = np.linspace(1.0, 0.3, size, dtype=np.float32)[:, None, None]
    sky = np.broadcast_to(rows * np.float32([0.4, 0.6, 1.0]), n.shape)
    beauty = np.where(alpha[..., None] > 0, base * shading[..., None], sky)
    depth = np.where(alpha > 0, 3.0 - 0.5 * n[..., 2], 0.0)
    albedo = base * alpha[..., None]
    return {"beauty": beauty.astype(np.float32), "alpha": alpha, "normals": n,
            "depth": depth.astype(np.float32), "albedo": albedo.astype(np.float32)}


def write_synthetic_samples(root, count, size=RESOLUTION, seed=0):
    """Write `count` synthetic_sample()s as sample folders root/<sample_id>/ (tfnormals.core.layout names).

    The files and channels are those data_tools.render writes (beauty EXR with coverage alpha,
    camera-space normals EXR, mask PNG, depth Z, albedo EXR, PNG previews), so pairs.load_sample
    and make_records read them as they read renders. Returns the sample ids.
    """
    ids = []
    for index in range(count):
        sample = synthetic_sample(size, seed * 1000 + index)
        folder = os.path.join(root, layout.sample_id(index))
        os.makedirs(folder, exist_ok=True)
        path = lambda name: os.path.join(folder, name)  # noqa: E731
        image_io.write_rgb_exr(path(layout.BEAUTY_EXR), sample["beauty"], alpha=sample["alpha"])
        image_io.write_png(path(layout.BEAUTY_PNG), srgb.linear_to_srgb(sample["beauty"]))
        image_io.write_rgb_exr(path(layout.NORMALS_EXR), sample["normals"])
        image_io.write_png(path(layout.NORMALS_PNG), normals.encode(sample["normals"]))
        image_io.write_exr(path(layout.DEPTH_EXR), {"Z": sample["depth"]})
        image_io.write_rgb_exr(path(layout.ALBEDO_EXR), sample["albedo"])
        image_io.write_png(path(layout.MASK_PNG), sample["alpha"])
        with open(path(layout.SCENE_JSON), "w") as f:
            f.write(f'{{"synthetic": true, "seed": {seed}, "index": {index}}}\n')
        ids.append(layout.sample_id(index))
    return ids


def write_synthetic_shot(root, frames, size=RESOLUTION):
    """A shot's frames of synthetic_sample()s as render_shots names them (beauty.1001.exr, ...), with the normals
    file carrying the coverage as alpha, as a reference from geometry does; returns {frame: the sample}."""
    samples = {}
    for frame in frames:
        sample = synthetic_sample(size, frame)
        path = lambda name: os.path.join(root, layout.frame_file(name, frame))  # noqa: E731
        image_io.write_rgb_exr(path(layout.BEAUTY_EXR), sample["beauty"])
        image_io.write_rgb_exr(path(layout.NORMALS_EXR), sample["normals"], alpha=sample["alpha"])
        image_io.write_exr(path(layout.DEPTH_EXR), {"Z": sample["depth"]})
        image_io.write_rgb_exr(path(layout.ALBEDO_EXR), sample["albedo"])
        samples[frame] = sample
    return samples
