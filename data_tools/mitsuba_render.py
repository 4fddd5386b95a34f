"""Render a scene spec with Mitsuba 3: beauty plus camera-space normals, depth, albedo and coverage.

The fast `llvm_ad_rgb` variant needs LLVM ≥ 16 at run time; when it is missing we warn and
fall back to `scalar_rgb`, which gives the same images more slowly.
"""

import glob
import os
import sys
import warnings

import numpy as np

from data_tools import denoise as denoiser
from data_tools.scene import geometry, meshes, sampling
from tfnormals.core import camera as core_camera
from tfnormals.core import layout

FAST_VARIANT = "llvm_ad_rgb"
FALLBACK_VARIANT = "scalar_rgb"
LLVM_GLOBS = ("/usr/lib/x86_64-linux-gnu/libLLVM.so.*", "/usr/lib/x86_64-linux-gnu/libLLVM-*.so",
              "/usr/lib/llvm-*/lib/libLLVM*.so*", "/usr/lib64/libLLVM*.so*")
MIN_LLVM_MAJOR = 16
MAX_DEPTH = 4  # indirect light beyond three bounces is invisible at these exposures
ENV_SPP = 4
RR_DEPTH = 2  # Russian roulette from the second bounce on: -20% render time at 256², unbiased
EXPOSURE_PERCENTILE = 97.0
EXPOSURE_TARGET = 0.85  # linear value the chosen luminance percentile maps to
MAX_EXPOSURE = 256.0  # an almost black frame is not pushed into amplified noise

_mi = None
_dr = None


def _llvm_major(path):
    digits = "".join(ch if ch.isdigit() else " " for ch in os.path.basename(path)).split()
    return int(digits[0]) if digits else 0


def find_llvm():
    """Path of the newest libLLVM ≥ 16 on this machine, or None."""
    found = [p for pattern in LLVM_GLOBS for p in glob.glob(pattern) if _llvm_major(p) >= MIN_LLVM_MAJOR]
    return max(found, key=_llvm_major) if found else None


def init(variant=FAST_VARIANT, threads=0):
    """Import Mitsuba and select `variant`, falling back to the scalar variant with a warning.

    threads > 0 sets Dr.Jit's worker thread count (0 leaves its default, one per core).
    """
    global _mi, _dr
    if "drjit" not in sys.modules and "tensorflow" in sys.modules:
        raise RuntimeError("Mitsuba/Dr.Jit must be imported before TensorFlow in one process (loading it "
                           "after TensorFlow crashes); render in a separate process or import mitsuba first")
    if variant == FAST_VARIANT and "DRJIT_LIBLLVM_PATH" not in os.environ and find_llvm():
        os.environ["DRJIT_LIBLLVM_PATH"] = find_llvm()
    import drjit as dr
    import mitsuba as mi
    try:
        mi.set_variant(variant)
        mi.load_dict({"type": "sphere"})  # forces the backend (and LLVM) to initialize
    except Exception as e:  # Dr.Jit raises RuntimeError/ImportError variants when LLVM is absent.
        if variant == FALLBACK_VARIANT:
            raise
        warnings.warn(f"Mitsuba variant {variant} unavailable ({e}); falling back to {FALLBACK_VARIANT}, "
                      f"which is several times slower. Install LLVM >= {MIN_LLVM_MAJOR} (Debian: libllvm19).")
        mi.set_variant(FALLBACK_VARIANT)
    if threads > 0:
        dr.set_thread_count(threads)
    _mi, _dr = mi, dr
    return mi.variant()


def modules():
    """(mitsuba, drjit) as init() loaded them, for other scenes built with the same variant."""
    if _mi is None:
        raise RuntimeError("call mitsuba_render.init() first")
    return _mi, _dr


def camera_axes(camera):
    """Right, up and backward unit vectors (camera-space +X, +Y, +Z) in world space."""
    matrix = core_camera.look_at(camera["origin"], camera["target"], camera["up"])
    return matrix[:3, 0], matrix[:3, 1], matrix[:3, 2]


HIDDEN_TRIANGLE = meshes.Mesh(np.array([[0, -1000, 0], [1, -1000, 0], [0, -1000, 1]], np.float32),
                              np.tile(np.array([[0, 1, 0]], np.float32), (3, 1)),
                              np.zeros((3, 2), np.float32), np.array([[0, 2, 1]], np.int32))
SET_SLOTS = sampling.SET_SLOTS
OBJECT_SLOTS = sampling.MAX_OBJECTS
AREA_SLOTS = sampling.MAX_AREA_LIGHTS
AOVS = "nn:sh_normal,pp:position,alb:albedo"


def _empty_mesh(name, props, size=(3, 1)):
    return _mi.Mesh(name, size[0], size[1], props, True, True)


def _textured_bsdf(size):
    mi = _mi
    bitmap = lambda c: {"type": "bitmap", "bitmap": mi.Bitmap(np.full((size, size, c), 0.5, np.float32)),
                        "raw": True, "wrap_mode": "repeat"}
    return mi.load_dict({"type": "principled", "base_color": bitmap(3), "metallic": bitmap(1),
                         "roughness": bitmap(1), "specular": 0.5})


def _emissive():
    return _mi.load_dict({"type": "area", "radiance": {"type": "rgb", "value": 0.0}})


def _sensor(resolution, spp):
    return {"type": "perspective", "fov": 45.0, "fov_axis": "x",
            "film": {"type": "hdrfilm", "width": resolution, "height": resolution, "rfilter": {"type": "box"}},
            "sampler": {"type": "independent", "sample_count": spp}}


def _envmap():
    rows, cols = geometry.SKY_SIZE
    return {"type": "envmap", "bitmap": _mi.Bitmap(np.full((rows, cols, 3), 0.5, np.float32))}


def slot_ids(surface_slots, emitter_slots):
    """ID-pass value of every shape slot (tfnormals.core.layout's numbering)."""
    ids = {name: layout.ID_FIRST_SET + i for i, name in enumerate(surface_slots[:SET_SLOTS])}
    ids.update({name: layout.ID_FIRST_OBJECT + i for i, name in enumerate(surface_slots[SET_SLOTS:])})
    ids.update({name: layout.ID_LIGHTS for name in emitter_slots})
    return ids


class TemplateRenderer:
    """Renders specs through one Mitsuba scene with fixed slots, updating parameters per sample.

    Mitsuba compiles a kernel per scene structure; keeping the structure (slot counts, texture
    and film sizes) fixed and changing only opaque parameters reuses the compiled kernels, so
    each sample costs a render instead of a multi-second LLVM compile. Unused slots hold a
    hidden triangle; unused emitters get zero radiance and zero sampling weight.

    Args:
      resolution: square image side in pixels.
      spp: path-tracing samples per pixel of the beauty.
      denoise: run Open Image Denoise on the beauty (data_tools.denoise); the other passes never are.
    """

    def __init__(self, resolution, spp, denoise=True):
        if _mi is None:
            init()
        self.resolution, self.spp, self.denoise = resolution, spp, denoise
        self.surface_slots = [f"set_{i}" for i in range(SET_SLOTS)] + [f"object_{i}" for i in range(OBJECT_SLOTS)]
        self.emitter_slots = [f"area_{i}" for i in range(AREA_SLOTS)] + ["sun"]
        # Scalar variants compile nothing but cannot resize buffers: they rebuild per sample.
        self.rebuild_per_sample = _mi.variant().startswith("scalar")
        self.id_integrator = _mi.load_dict({"type": "aov", "aovs": "id:shape_index"})
        self._build({})
        self.background = _mi.load_dict({"type": "scene", "sensor": _sensor(resolution, ENV_SPP),
                                         "environment": _envmap(), "integrator": {"type": "path", "max_depth": 1}})
        self.background_params = _mi.traverse(self.background)

    def _build(self, sizes):
        """Create the slotted scene; `sizes` maps slot → (vertex count, face count), default a triangle."""
        mi = _mi
        scene = {"type": "scene", "sensor": _sensor(self.resolution, self.spp), "environment": _envmap(),
                 "integrator": {"type": "aov", "aovs": AOVS,
                                "integrator": {"type": "path", "max_depth": MAX_DEPTH, "rr_depth": RR_DEPTH,
                                               "hide_emitters": True}},
                 "point": {"type": "point", "position": [0.0, -1000.0, 0.0],
                           "intensity": {"type": "rgb", "value": 0.0}}}
        for name in self.surface_slots + self.emitter_slots:
            props = mi.Properties()
            if name in self.surface_slots:
                props["bsdf"] = _textured_bsdf(geometry.texture_size(self.resolution))
            else:
                props["emitter"] = _emissive()
            scene[name] = _empty_mesh(name, props, sizes.get(name, (3, 1)))
        self.scene = mi.load_dict(scene)
        self.params = mi.traverse(self.scene)
        self.id_lut = self._id_lut()
        if not sizes:
            # Give every slot real geometry once: otherwise the first render samples the lights differently
            # from every later one, so a sample's pixels would depend on whether it was rendered first.
            for name in self.surface_slots + self.emitter_slots:
                self._set_mesh(name, HIDDEN_TRIANGLE)
            self.params.update()

    def _id_lut(self):
        """Lookup table from Mitsuba's shape_index AOV value to the ID-pass value of that slot.

        JIT variants report a shape's registry index, scalar ones its 1-based position in the scene.
        """
        ids = slot_ids(self.surface_slots, self.emitter_slots)
        shapes = self.scene.shapes()
        if _mi.variant().startswith("scalar"):
            keys = range(1, len(shapes) + 1)
        else:
            keys = [int(_dr.reinterpret_array(_mi.UInt32, _mi.ShapePtr(s))[0]) for s in shapes]
        lut = np.zeros(max(keys) + 1, np.uint8)
        for key, shape in zip(keys, shapes):
            lut[key] = ids[shape.id()]
        return lut

    def _set_mesh(self, name, mesh):
        buffers = {"vertex_positions": mesh.vertices, "vertex_normals": mesh.normals,
                   "vertex_texcoords": mesh.uvs, "faces": mesh.faces.astype(np.uint32)}
        for key, array in buffers.items():
            key = f"{name}.{key}"
            self.params[key] = type(self.params[key])(array.ravel())  # the variant's own buffer type

    def _set_material(self, name, surface):
        for key, array in surface.textures.items():
            self.params[f"{name}.bsdf.{key}.data"] = _mi.TensorXf(array)
        self.params[f"{name}.bsdf.specular"] = _opaque(surface.specular)

    def _set_emitter(self, name, mesh, radiance):
        on = mesh is not None
        self._set_mesh(name, mesh if on else HIDDEN_TRIANGLE)
        self.params[f"{name}.emitter.radiance.value"] = radiance if on else [0.0, 0.0, 0.0]
        self.params[f"{name}.emitter.sampling_weight"] = 1.0 if on else 0.0

    def _set_camera(self, params, camera):
        matrix = _mi.ScalarTransform4f().look_at(origin=camera["origin"], target=camera["target"], up=camera["up"])
        to_world = _mi.Transform4f(matrix.matrix)
        _dr.make_opaque(to_world)  # otherwise the pose is baked into the kernel
        params["sensor.to_world"] = to_world
        params["sensor.x_fov"] = _opaque(camera["fov_deg"])

    def _set_environment(self, params, env, sky):
        # Mitsuba stores the map with extra columns repeating the first (periodic boundary).
        extra = params["environment.data"].shape[1] - sky.shape[1]
        params["environment.data"] = _mi.TensorXf(np.concatenate([sky, sky[:, :extra]], axis=1))
        params["environment.to_world"] = _mi.ScalarTransform4f().rotate([0, 1, 0], env["rotation_deg"])

    def load(self, spec):
        """Build the spec's geometry and textures in numpy and upload them; returns the ID table."""
        if spec["camera"]["resolution"] != self.resolution:
            raise ValueError(f"spec resolution {spec['camera']['resolution']} != renderer's {self.resolution}")
        set_surfaces = geometry.set_surfaces(spec, self.resolution)
        objects = [geometry.object_surface(obj, k, self.resolution) for k, obj in enumerate(spec["objects"])]
        if len(set_surfaces) > SET_SLOTS or len(objects) > OBJECT_SLOTS:
            raise ValueError(f"spec has {len(set_surfaces)} set pieces and {len(objects)} objects; the renderer "
                             f"has {SET_SLOTS} and {OBJECT_SLOTS} slots")
        slots = dict(zip(self.surface_slots[:SET_SLOTS], set_surfaces))
        slots.update(zip(self.surface_slots[SET_SLOTS:], objects))
        emitters = geometry.emitters(spec, AREA_SLOTS)
        if self.rebuild_per_sample:
            sizes = {name: (len(s.mesh.vertices), len(s.mesh.faces)) for name, s in slots.items()}
            sizes.update({name: (len(mesh.vertices), len(mesh.faces)) for name, (mesh, _) in emitters.items() if mesh})
            self._build(sizes)
        for name in self.surface_slots:
            if name in slots:
                self._set_mesh(name, slots[name].mesh)
                self._set_material(name, slots[name])
            else:
                self._set_mesh(name, HIDDEN_TRIANGLE)
        for name in self.emitter_slots:
            self._set_emitter(name, *emitters[name])
        point = geometry.point_light(spec)
        self.params["point.position"] = point[0] if point else [0.0, -1000.0, 0.0]
        self.params["point.intensity.value"] = point[1] if point else [0.0, 0.0, 0.0]
        sky = geometry.environment_map(spec)
        for params in (self.params, self.background_params):
            self._set_camera(params, spec["camera"])
            self._set_environment(params, spec["environment"], sky)
            params.update()
        self.object_meshes = [s.mesh for s in objects]  # where pose() moves them from
        self.ids = geometry.id_table(set_surfaces + objects)
        return self.ids

    def pose(self, camera, object_transforms=None):
        """Move the loaded scene's camera, and objects rigidly from where load() put them (a shot's frame).

        camera: a spec camera dict; object_transforms: {object index: 4×4 world transform of its loaded mesh}.
        """
        for k, matrix in (object_transforms or {}).items():
            self._set_mesh(self.surface_slots[SET_SLOTS + k], meshes.transform(self.object_meshes[k], matrix))
        for params in (self.params, self.background_params):
            self._set_camera(params, camera)
            params.update()

    def _render(self, scene, seed, spp, integrator=None):
        sensor = scene.sensors()[0]
        (integrator or scene.integrator()).render(scene, sensor, seed=seed, spp=spp)
        return {name: np.array(b, dtype=np.float32) for name, b in sensor.film().bitmap().split()}

    def render_layers(self, spec, seed=None):
        """Raw film layers ('integrator' RGBA, 'nn', 'pp', 'alb', 'id'), the background RGB and the ID table.

        seed: the sampler seed (default: the spec's index, so a sample is a function of its spec).
        """
        self.load(spec)
        return self.render_loaded(spec["index"] if seed is None else seed)

    def render_loaded(self, seed):
        """render_layers of the scene as loaded (and posed), with sampler seed `seed`."""
        seed = int(seed) % (2**31)
        # spp is always explicit: Mitsuba's render(spp=n) sets the sensor sampler's count for good, so
        # the 1-spp ID pass would otherwise leave every later beauty at one sample per pixel.
        layers = self._render(self.scene, seed, spp=self.spp)
        layers["background"] = self._render(self.background, seed, spp=ENV_SPP)["<root>"][..., :3]
        # The ID pass: one ray per pixel, so no pixel holds an average of two shapes' indices.
        layers["id"] = self._render(self.scene, seed, 1, self.id_integrator)["id"]
        layers["ids"] = self.ids
        return layers

    def render(self, spec):
        """Render a spec; returns float32 arrays in the project's conventions (DESIGN.md).

        Keys: beauty (H×W×3 linear, denoised unless disabled, exposed), alpha (H×W coverage),
        normals (H×W×3 camera space, unit where alpha > 0, zero elsewhere), depth (H×W camera Z
        distance, 0 where empty), albedo (H×W×3, premultiplied by coverage), ids (H×W uint8 ID
        pass, tfnormals.core.layout), id_names (ID → what it shows), exposure (beauty's scale).
        """
        return self.finish(spec, self.render_layers(spec), self.denoise)

    def finish(self, spec, layers, denoise=True, exposure=None):
        """Turn render_layers' output into render()'s passes; only the beauty depends on `denoise`.

        exposure: the beauty's scale (default: auto-exposed, times 2 ** the camera's exposure_bias).
        """
        alpha = np.clip(layers["integrator"][..., 3], 0.0, 1.0)
        covered = alpha > 0
        right, up, back = camera_axes(spec["camera"])
        world_n = layers["nn"]
        camera_n = np.stack([world_n @ right, world_n @ up, world_n @ back], -1)
        length = np.linalg.norm(camera_n, axis=-1, keepdims=True)
        normals = np.where(covered[..., None] & (length > 1e-6), camera_n / np.maximum(length, 1e-6), 0.0)
        surfaces = layers["integrator"][..., :3]
        if denoise:
            surfaces = denoiser.denoise(surfaces, layers["alb"], normals * alpha[..., None])
        beauty = surfaces + (1.0 - alpha[..., None]) * layers["background"]
        position = layers["pp"] / np.maximum(alpha, 1e-6)[..., None]
        depth = np.where(covered, (position - np.asarray(spec["camera"]["origin"])) @ -back, 0.0)
        if exposure is None:
            exposure = auto_exposure(beauty) * 2.0 ** spec["camera"]["exposure_bias"]
        ids = self.id_lut[np.clip(np.rint(layers["id"]).astype(np.int64), 0, len(self.id_lut) - 1)]
        return {"beauty": (beauty * exposure).astype(np.float32), "alpha": alpha.astype(np.float32),
                "normals": normals.astype(np.float32), "depth": depth.astype(np.float32),
                "albedo": layers["alb"].astype(np.float32), "ids": ids, "id_names": layers["ids"],
                "exposure": float(exposure)}


def auto_exposure(beauty):
    """Scale that maps the EXPOSURE_PERCENTILE luminance of a linear image to EXPOSURE_TARGET."""
    luminance = beauty @ np.array([0.2126, 0.7152, 0.0722])
    return min(EXPOSURE_TARGET / max(float(np.percentile(luminance, EXPOSURE_PERCENTILE)), 1e-9), MAX_EXPOSURE)


def _opaque(value):
    return _dr.opaque(_mi.Float, value)
