"""Render reference passes of a mesh through a matchmoved camera: what tfnormals.finetune learns a shot from.

Usage:
  python -m data_tools.render_references --mesh=hero.obj --cameras=shot_camera.json --output_dir=refs \
      [--transform=16 numbers, row-major object-to-world] [--frames=1001,1040,1090] [--resolution=1920,1080] \
      [--focal_mm=35 --sensor_width_mm=36] [--rotation_order=ZXY] [--spp=16]

The mesh (OBJ, PLY or binary glTF; its own vertex normals when the file has them, else smooth ones) is placed
by --transform and rendered with Mitsuba's aov integrator through each frame's camera (--cameras: a JSON of
camera_to_world matrices with focal lengths, a render_shots shot.json, or a Nuke .chan file; see
tfnormals.core.camera_files). For every frame, DIR holds (names as render_shots writes them):
  normals.####.exr  R, G, B = camera-space normals (project convention), A = coverage; zero off the mesh
  depth.####.exr    Z = distance along the view axis; 0 off the mesh
  alpha.####.exr    A = coverage (the mesh's share of each pixel)
so `tfnormals.finetune --references=DIR/normals.####.exr --depth_references=DIR/depth.####.exr` reads them
(the alpha marks what the reference knows). Files are written under temporary names and renamed; frames
whose three files exist are skipped on a re-run. stdout is one JSON line.
"""

import os
import time

import numpy as np
from absl import flags

from data_tools import import_assets, mitsuba_render
from data_tools.scene import meshes
from tfnormals.core import camera, camera_files, cli, errors, image_io, layout, outputs
from tfnormals.core import frames as frame_numbers
from tfnormals.core.progress import Progress

FLAGS = flags.FLAGS
REFERENCE_FILES = (layout.NORMALS_EXR, layout.DEPTH_EXR, layout.ALPHA_EXR)  # the alpha last: it marks a complete frame
DEFAULT_SPP = 16
AOVS = "nn:sh_normal,pp:position"


def load_mesh(path, object_to_world=None):
    """A meshes.Mesh of an OBJ/PLY/glTF file placed by a 4×4 object-to-world matrix: the file's vertex normals (moved
    with it), or area-weighted smooth normals when it has none."""
    vertices, faces, vertex_normals = import_assets.read_mesh(path, with_normals=True)
    if not len(faces):
        raise ValueError(f"{path}: no faces")
    vertices = vertices.astype(np.float32)
    faces = faces.astype(np.int32)
    if vertex_normals is None:
        vertex_normals = meshes.vertex_normals(vertices, faces, weld=True)
    vertex_normals = vertex_normals / np.maximum(np.linalg.norm(vertex_normals, axis=1, keepdims=True), 1e-12)
    mesh = meshes.Mesh(vertices, vertex_normals.astype(np.float32), np.zeros((len(vertices), 2), np.float32), faces)
    return mesh if object_to_world is None else meshes.transform(mesh, object_to_world)


class ReferenceRenderer:
    """One mesh in an otherwise empty Mitsuba scene, rendered per camera as normals, depth and coverage.

    The camera is an opaque parameter, so every frame reuses the compiled kernels. Call
    mitsuba_render.init() first (in a process without TensorFlow).
    """

    def __init__(self, mesh, width, height, spp=DEFAULT_SPP):
        mi, _ = mitsuba_render.modules()
        self.spp = spp
        shape = mi.Mesh("reference", len(mesh.vertices), len(mesh.faces), mi.Properties(), True, False)
        params = mi.traverse(shape)
        params["vertex_positions"] = mi.Float(mesh.vertices.ravel())
        params["vertex_normals"] = mi.Float(mesh.normals.ravel())
        params["faces"] = mi.UInt32(mesh.faces.ravel().astype(np.uint32))
        params.update()
        self.scene = mi.load_dict({
            "type": "scene", "mesh": shape,
            # The nested path integrator (one bounce, no lights) only supplies the coverage alpha.
            "integrator": {"type": "aov", "aovs": AOVS, "integrator": {"type": "path", "max_depth": 1}},
            "sensor": {"type": "perspective", "fov": 45.0, "fov_axis": "x",
                       "film": {"type": "hdrfilm", "width": int(width), "height": int(height),
                                "pixel_format": "rgba", "rfilter": {"type": "box"}},
                       "sampler": {"type": "independent", "sample_count": spp}}})
        self.params = mi.traverse(self.scene)

    def render(self, frame_camera, seed=0):
        """{'normals': H×W×3 camera space (unit where covered, else 0), 'depth': H×W (0 off the mesh), 'alpha': H×W}."""
        mi, dr = mitsuba_render.modules()
        origin, target, up = camera_files.look_at_of(frame_camera.camera_to_world)
        to_world = mi.Transform4f(mi.ScalarTransform4f().look_at(origin=origin, target=target, up=up).matrix)
        dr.make_opaque(to_world)
        self.params["sensor.to_world"] = to_world
        self.params["sensor.x_fov"] = dr.opaque(mi.Float, frame_camera.fov_deg)
        self.params.update()
        sensor = self.scene.sensors()[0]
        self.scene.integrator().render(self.scene, sensor, seed=int(seed) % 2**31, spp=self.spp)
        layers = {name: np.array(b, dtype=np.float32) for name, b in sensor.film().bitmap().split()}
        alpha = np.clip(layers["<root>"][..., 3], 0.0, 1.0)
        matrix = np.asarray(frame_camera.camera_to_world, np.float64)
        axes = matrix[:3, :3] / np.linalg.norm(matrix[:3, :3], axis=0, keepdims=True)  # right, up, back
        camera_n = layers["nn"] @ axes
        length = np.linalg.norm(camera_n, axis=-1, keepdims=True)
        covered = alpha > 0
        normal_map = np.where(covered[..., None] & (length > 1e-6), camera_n / np.maximum(length, 1e-6), 0.0)
        position = layers["pp"] / np.maximum(alpha, 1e-6)[..., None]
        depth = np.where(covered, (position - matrix[:3, 3]) @ -axes[:, 2], 0.0)
        return {"normals": normal_map.astype(np.float32), "depth": depth.astype(np.float32), "alpha": alpha}


def frame_complete(output_dir, frame):
    return all(os.path.isfile(os.path.join(output_dir, layout.frame_file(name, frame))) for name in REFERENCE_FILES)


def write_frame(output_dir, frame, passes):
    """The three files of one frame (each atomically; the alpha last)."""
    normals_path, depth_path, alpha_path = (os.path.join(output_dir, layout.frame_file(name, frame))
                                            for name in REFERENCE_FILES)
    image_io.write_rgb_exr(normals_path, passes["normals"], alpha=passes["alpha"])
    image_io.write_exr(depth_path, {"Z": passes["depth"]})
    image_io.write_exr(alpha_path, {"A": passes["alpha"]})


def render_references(mesh, cameras, output_dir, spp=DEFAULT_SPP):
    """Render every frame of `cameras` ({frame: FrameCamera}, one resolution) not already complete in output_dir;
    returns (rendered frames, skipped frames)."""
    sizes = {(c.width, c.height) for c in cameras.values()}
    if len(sizes) != 1:
        raise ValueError(f"the cameras' resolutions differ ({sorted(sizes)}); give --resolution")
    os.makedirs(output_dir, exist_ok=True)
    outputs.remove_stale_temps(output_dir)
    todo = [f for f in sorted(cameras) if not frame_complete(output_dir, f)]
    skipped = sorted(set(cameras) - set(todo))
    if todo:
        renderer = ReferenceRenderer(mesh, *sizes.pop(), spp)
        progress = Progress(len(todo), "render_references")
        for frame in todo:
            write_frame(output_dir, frame, renderer.render(cameras[frame], seed=frame))
            progress.update()
    return todo, skipped


def define_flags():
    """Command-line flags (defined only when run as a program)."""
    flags.DEFINE_string("mesh", None, "The mesh: OBJ, PLY or binary glTF (.glb).")
    flags.DEFINE_list("transform", [], "Row-major 4x4 object-to-world matrix, 16 numbers (default: identity).")
    flags.DEFINE_string("cameras", None, "Per-frame cameras: a JSON (camera_to_world, focal_mm or fov_deg per "
                        "frame; a render_shots shot.json works) or a Nuke .chan file.")
    flags.DEFINE_string("output_dir", None, "Folder for normals.####.exr, depth.####.exr, alpha.####.exr.")
    flags.DEFINE_string("frames", "", "Frames to render, e.g. 1001,1040,1090 (default: every camera frame).")
    flags.DEFINE_list("resolution", [], "Width,height in pixels (default: the camera file's).")
    flags.DEFINE_float("focal_mm", camera.DEFAULT_FOCAL_MM, "Focal length for frames whose camera gives none.")
    flags.DEFINE_float("sensor_width_mm", camera.DEFAULT_SENSOR_WIDTH_MM, "Film back width (36 = full frame).")
    flags.DEFINE_enum("rotation_order", camera_files.NUKE_ROTATION_ORDER, list(camera_files.ROTATION_ORDERS),
                      ".chan rotation order (Nuke's default ZXY: about Z first).")
    flags.DEFINE_integer("spp", DEFAULT_SPP, "Samples per pixel (antialiasing of the edges).")
    flags.DEFINE_integer("threads", 0, "Dr.Jit render threads (0 = one per core).")
    flags.DEFINE_enum("variant", mitsuba_render.FAST_VARIANT, [mitsuba_render.FAST_VARIANT,
                      mitsuba_render.FALLBACK_VARIANT], "Mitsuba variant.")


def main(argv):
    del argv
    for name in ("mesh", "cameras", "output_dir"):
        if not getattr(FLAGS, name):
            raise errors.UsageError(f"--{name} is required")
    for name in ("mesh", "cameras"):
        if not os.path.isfile(getattr(FLAGS, name)):
            raise errors.MissingPathError(f"--{name}: {getattr(FLAGS, name)}: no such file")
    try:
        transform = np.asarray([float(v) for v in FLAGS.transform], np.float64).reshape(4, 4) if FLAGS.transform \
            else None
        resolution = tuple(int(v) for v in FLAGS.resolution) if FLAGS.resolution else None
        if resolution is not None and (len(resolution) != 2 or min(resolution) < 1):
            raise ValueError("--resolution: expected width,height")
    except ValueError as e:
        raise errors.UsageError(f"--transform or --resolution: {e}") from None
    if FLAGS.spp < 1:
        raise errors.UsageError(f"--spp: must be at least 1, got {FLAGS.spp}")
    outputs.check_writable_dir(FLAGS.output_dir, "--output_dir")
    try:
        cameras = camera_files.read_cameras(FLAGS.cameras, resolution, FLAGS.focal_mm, FLAGS.sensor_width_mm,
                                            FLAGS.rotation_order)
    except (OSError, camera_files.CameraFileError) as e:
        raise errors.UsageError(f"--cameras: {errors.one_line(e)}") from None
    if FLAGS.frames:
        wanted = frame_numbers.parse_frame_list(FLAGS.frames)
        missing = sorted(set(wanted) - set(cameras))
        if missing:
            raise errors.UsageError(f"--frames: {FLAGS.cameras} has no camera for frame(s) {missing}")
        cameras = {f: cameras[f] for f in wanted}
    try:
        mesh = load_mesh(FLAGS.mesh, transform)
    except (OSError, ValueError, KeyError, IndexError) as e:
        raise errors.Failure(f"--mesh: {FLAGS.mesh}: cannot read it ({errors.one_line(e)})") from None
    mitsuba_render.init(FLAGS.variant, FLAGS.threads)
    start = time.monotonic()
    rendered, skipped = render_references(mesh, cameras, FLAGS.output_dir, FLAGS.spp)
    cli.emit({"output_dir": FLAGS.output_dir, "rendered": rendered, "skipped_complete": skipped,
              "faces": int(len(mesh.faces)), "seconds": round(time.monotonic() - start, 1)})


if __name__ == "__main__":
    define_flags()
    cli.run(main, "data_tools.render_references")
