"""Relight a plate from its passes: the reason the passes exist.

Maths in linear light, with shading S = ambient + Σ intensity_i · colour_i · falloff_i · wrap_i(n · l_i):
- mode "add" (default): relit = plate · S — the plate keeps its own light and gains the rig's;
- mode "replace": relit = albedo · S — the rig replaces the plate's light (needs the albedo pass).
Wrapped Lambert wrap(x) = max(0, (x + w) / (1 + w)) (w = 0 is plain Lambert; larger w softens
the terminator). Everything is camera space (+X right, +Y up, +Z toward the camera):
- directional lights: `direction` points from the surface toward the light; falloff 1;
- point lights at `position` (needs the position pass, P, or depth + the field of view):
  l = normalize(position − P), falloff = 1 / (1 + (d / radius)²) — inverse-square beyond
  `radius`, 1 at the light;
- spot lights: a point light aimed at `target` (or along `direction`), times a cone factor that
  goes from 1 inside `cone_deg` · (1 − softness) to 0 at `cone_deg` (half angles, smoothstep).
Outside the mask the plate is kept. The plate is converted from its colour space
(tfnormals.core.colorspaces: auto = EXR linear, PNG/JPEG/TIFF sRGB; or any OCIO colour space, such
as ACEScg) to scene-linear Rec.709, relit, and written back: an EXR in the plate's colour space
when that is scene-linear (ACEScg in, ACEScg out; else in Linear Rec.709 (sRGB)) with the plate's
windows and metadata, a PNG/TIFF sRGB-encoded. A rig can come from a JSON file (see load_rig).

Bad inputs never reach the output: NaN/inf plate pixels are replaced with image_io.NONFINITE_FILL,
pixels whose normal is NaN/inf keep the plate as it is (no surface to light), NaN/inf mask values
count as 0; each is named in a warning with its pixel count and listed in the summary.
"""

import dataclasses
import math
import os

import numpy as np
from absl import logging

from tfnormals.core import camera, colorspaces, errors, image_io, normals, outputs, srgb

OUTPUT_EXTENSIONS = (".exr", ".png") + image_io.TIFF_EXTENSIONS
INPUT_FLAGS = ("plate", "normals", "mask", "position", "depth", "albedo")  # RelightRequest's files read, by flag


LIGHT_KINDS = ("directional", "point", "spot")
MODES = ("add", "replace")
# Ambient light by mode when neither the flags nor a rig give it. add keeps this share of the plate's own light, so
# surfaces turned away from the lights go darker than the plate and the result looks relit (keeping all of it, every
# pixel only gets brighter); replace has no plate light to keep.
DEFAULT_AMBIENT = {"add": 0.35, "replace": 0.0}


@dataclasses.dataclass(frozen=True)
class Light:
    """A light in camera space.

    Args:
      direction: directional lights: (x, y, z) toward the light; spot lights: the axis the spot
        points along (used when there is no target). Normalized on use.
      color: linear RGB.
      intensity: scale of the contribution.
      wrap: wrap-lighting softness in [0, 1).
      kind: 'directional', 'point' or 'spot'.
      position: point and spot lights: camera-space position (scene units of the position pass).
      radius: point and spot lights: distance at which the falloff halves.
      target: spot lights: a camera-space point the spot is aimed at.
      cone_deg: spot lights: half angle of the cone.
      softness: spot lights: fraction of the cone over which the edge fades.
    """

    direction: tuple = (0.0, 0.0, 1.0)
    color: tuple = (1.0, 1.0, 1.0)
    intensity: float = 1.0
    wrap: float = 0.0
    kind: str = "directional"
    position: tuple = (0.0, 0.0, 0.0)
    radius: float = 1.0
    target: tuple = ()
    cone_deg: float = 30.0
    softness: float = 0.2

    @property
    def needs_position(self):
        return self.kind != "directional"


def _wrapped(cosine, wrap):
    return np.maximum(0.0, (cosine + wrap) / (1.0 + wrap))


def shading(normal_map, light, position=None):
    """Per-pixel factor (H×W) of one light: wrapped Lambert × falloff × cone."""
    if not light.needs_position:
        l = normals.normalize(np.asarray(light.direction, np.float32))
        return _wrapped(np.tensordot(normal_map, l, axes=([-1], [0])), light.wrap).astype(np.float32)
    if position is None:
        raise errors.UsageError(f"a {light.kind} light needs the position pass (--position, or --depth with the "
                                "field of view)")
    to_light = np.asarray(light.position, np.float32) - position
    distance = np.linalg.norm(to_light, axis=-1)
    l = to_light / np.maximum(distance, 1e-9)[..., None]
    factor = _wrapped(np.sum(normal_map * l, axis=-1), light.wrap) / (1.0 + (distance / light.radius) ** 2)
    if light.kind == "spot":
        axis = (np.asarray(light.target, np.float32) - np.asarray(light.position, np.float32)
                if light.target else np.asarray(light.direction, np.float32))
        cos_angle = np.sum(-l * normals.normalize(axis), axis=-1)
        outer = math.cos(math.radians(light.cone_deg))
        inner = math.cos(math.radians(light.cone_deg * (1.0 - light.softness)))
        t = np.clip((cos_angle - outer) / max(inner - outer, 1e-6), 0.0, 1.0)
        factor = factor * t * t * (3.0 - 2.0 * t)
    return factor.astype(np.float32)


def relight(plate_linear, normal_map, lights, *, ambient=1.0, mask=None, position=None, albedo=None, mode="add"):
    """Relit linear RGB; the original plate where mask is 0.

    Args:
      plate_linear: H×W×3 linear RGB.
      normal_map: H×W×3 camera-space normals.
      lights: list of Light.
      ambient: add mode: share of the plate's own light kept (1 keeps it); replace mode: flat ambient light.
      mask: optional H×W coverage in [0, 1] blending relit over original.
      position: H×W×3 camera-space points, for point and spot lights.
      albedo: H×W×3 linear albedo, for replace mode.
      mode: 'add' (plate · shading) or 'replace' (albedo · shading).
    """
    for name, array in (("normals", normal_map), ("position", position), ("albedo", albedo)):
        if array is not None and plate_linear.shape[:2] != array.shape[:2]:
            raise ValueError(f"plate is {plate_linear.shape[1]}x{plate_linear.shape[0]} but {name} are "
                             f"{array.shape[1]}x{array.shape[0]}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    if mode == "replace" and albedo is None:
        raise errors.UsageError("--mode=replace needs the albedo pass (--albedo)")
    gain = np.full(plate_linear.shape[:2] + (3,), ambient, np.float32)
    for light in lights:
        colour = light.intensity * np.asarray(light.color, np.float32)
        gain += shading(normal_map, light, position)[..., None] * colour
    relit = (plate_linear if mode == "add" else albedo) * gain
    if mask is not None:
        relit = plate_linear + (relit - plate_linear) * mask[..., None]
    return relit.astype(np.float32)


# EXR channels each pass is read from, in order of preference: a combined EXR's layer, then a standalone file's.
PASS_CHANNEL_CHOICES = {
    "normals": (("N.X", "N.Y", "N.Z"), ("R", "G", "B")),
    "position": (("P.X", "P.Y", "P.Z"), ("R", "G", "B")),
    "depth": (("depth.Z",), ("Z",), ("R",), ("Y",)),
    "albedo": (("albedo.R", "albedo.G", "albedo.B"), ("R", "G", "B")),
}


def read_pass(path, kind):
    """A pass from an EXR (its layer in a combined file, or a standalone file's channels); normals and albedo
    may also be 8/16-bit files (0.5·n + 0.5; sRGB albedo). Returns H×W×C float32, NaN/inf as read."""
    if image_io.is_float_file(path):
        names = set(image_io.exr_channel_names(path))
        for channels in PASS_CHANNEL_CHOICES[kind]:
            if set(channels) <= names:
                return image_io.read_exr(path, list(channels))
        raise errors.Failure(f"{path}: no {kind} channels (looked for "
                             f"{' or '.join('/'.join(c) for c in PASS_CHANNEL_CHOICES[kind])}; has {sorted(names)})")
    if kind in ("position", "depth"):
        raise errors.Failure(f"{path}: a {kind} pass must be an EXR (float values)")
    image = image_io.read_image(path)
    if image.shape[-1] < 3:
        raise errors.Failure(f"{path}: a {kind} pass needs 3 channels; the file has {image.shape[-1]}")
    image = image[..., :3]
    return normals.decode(image) if kind == "normals" else srgb.srgb_to_linear(image)


def read_normals(path):
    """Normals from a float EXR (as stored) or an 8/16-bit file (0.5·n + 0.5); NaN/inf stay as read."""
    return read_pass(path, "normals")


def read_mask(path):
    """A mask image's coverage: its alpha when it has one, else its first channel."""
    m = image_io.read_image(path)
    return m[..., -1] if m.shape[-1] in (2, 4) else m[..., 0]


def _finite(array, path, what, nonfinite):
    """Replace NaN/inf (image_io.fill_nonfinite), warn naming the file and count them in `nonfinite`."""
    array, count = image_io.fill_nonfinite(array)
    if count:
        logging.warning("%s: %d pixel(s) with NaN/inf values %s", path, count, what)
        nonfinite[path] = count
    return array


def output_space(plate_space, output_path):
    """The resolved colour space relight writes to `output_path`: an EXR keeps a scene-linear plate's space, else
    WORKING_SPACE; PNG/TIFF are sRGB-encoded."""
    if not image_io.is_float_file(output_path):
        return colorspaces.resolve("srgb")
    return plate_space if colorspaces.encoding(plate_space) == "scene-linear" else colorspaces.resolve("linear")


@dataclasses.dataclass(frozen=True, kw_only=True)
class RelightRequest:
    """One relight job, as the command's flags describe it: files (paths; "" = not given), lights and mode.

    plate, normals, output: the plate, its normals pass and the file to write (.exr, .png or .tif).
    lights: Light list; ambient: see relight(); mode: 'add' or 'replace' (needs albedo).
    mask, position, depth, albedo: optional passes (position, or depth with `camera`, for point and spot lights).
    camera_settings: tfnormals.core.camera.CameraSettings for depth → position; colorspace: the plate's colour space.
    """

    plate: str
    normals: str
    output: str
    lights: tuple = ()
    ambient: float = DEFAULT_AMBIENT["add"]
    mode: str = "add"
    mask: str = ""
    position: str = ""
    depth: str = ""
    albedo: str = ""
    camera_settings: camera.CameraSettings = camera.CameraSettings()
    colorspace: str = "auto"

    def check(self):
        """Raise errors.UsageError, naming the flag, for anything wrong with the job before it starts."""
        for flag in INPUT_FLAGS:
            path = getattr(self, flag)
            if path and not os.path.isfile(path):
                kind = "a folder, not a file" if os.path.isdir(path) else "no such file"
                raise errors.MissingPathError(f"--{flag}: {path}: {kind}")
        self.check_settings()

    def check_settings(self):
        """check() but for the inputs being there: what a sequence checks of every frame before it starts."""
        colorspaces.check(self.colorspace)
        if image_io.extension(self.output) not in OUTPUT_EXTENSIONS:
            raise errors.UsageError(f"--output: {self.output} must end in one of {', '.join(OUTPUT_EXTENSIONS)}")
        outputs.check_not_input(self.output, {f"--{flag}": getattr(self, flag) for flag in INPUT_FLAGS}, "--output")
        outputs.check_writable_file(self.output, "--output")
        if not (math.isfinite(self.ambient) and self.ambient >= 0):
            raise errors.UsageError(f"--ambient: must be 0 or more, got {self.ambient:g}")
        if self.mode not in MODES:
            raise errors.UsageError(f"--mode: must be one of {', '.join(MODES)}, not {self.mode!r}")
        if self.mode == "replace" and not self.albedo:
            raise errors.UsageError("--mode=replace needs --albedo (the albedo pass)")
        if self.position and self.depth:
            raise errors.UsageError("--position and --depth: give one (position is computed from depth otherwise)")
        if any(light.needs_position for light in self.lights) and not (self.position or self.depth):
            raise errors.UsageError("point and spot lights need --position (P) or --depth with the field of view")
        self.camera_settings.check()


def relight_file(request):
    """Do a RelightRequest: read the plate and its passes, relight, and write the result (see output_space), keeping
    alpha. Position comes from `request.position` (P) or from `request.depth` and `request.camera_settings`.

    Returns the summary the command prints: {'output', 'lights', 'mode', 'width', 'height',
    'nonfinite': {file: pixels}}.
    """
    request.check()
    plate_path, normals_path, output_path = request.plate, request.normals, request.output
    mask_path, position_path, depth_path, albedo_path = request.mask, request.position, request.depth, request.albedo
    settings, lights = request.camera_settings, request.lights
    plate, normal_map = image_io.read_image(plate_path), read_pass(normals_path, "normals")
    # By pass, not by file: one combined EXR may be named for several passes (its N, P and albedo layers).
    pass_paths = {kind: path for kind, path in (("position", position_path), ("depth", depth_path),
                                                ("albedo", albedo_path)) if path}
    extra = {kind: read_pass(path, kind) for kind, path in pass_paths.items()}
    mask_image = read_mask(mask_path) if mask_path else None
    sizes = {plate_path: plate.shape[:2], normals_path: normal_map.shape[:2]}
    sizes.update({pass_paths[kind]: array.shape[:2] for kind, array in extra.items()})
    if mask_image is not None:
        sizes[mask_path] = mask_image.shape[:2]
    if len(set(sizes.values())) != 1:
        raise errors.Failure("size mismatch: " + ", ".join(f"{p} is {w}x{h}" for p, (h, w) in sizes.items()))
    nonfinite = {}
    plate = _finite(plate, plate_path, f"replaced ({image_io.NONFINITE_FILL_TEXT})", nonfinite)
    mask = np.all(np.isfinite(normal_map), axis=-1).astype(np.float32)
    normal_map = _finite(normal_map, normals_path, "left unlit (the plate is kept there)", nonfinite)
    for kind in extra:
        mask *= np.all(np.isfinite(extra[kind]), axis=-1)
        extra[kind] = _finite(extra[kind], pass_paths[kind], "left unlit (the plate is kept there)", nonfinite)
    if mask_image is not None:
        mask = mask * _finite(mask_image, mask_path, f"replaced ({image_io.NONFINITE_FILL_TEXT})", nonfinite)
    position = extra.get("position")
    if depth_path:
        depth = settings.scale_depth(extra["depth"][..., 0])
        position = camera.position_from_depth(depth, camera.focal_pixels(depth.shape[1], settings.field_of_view()))
    plate_space = colorspaces.resolve(request.colorspace, plate_path)
    linear = colorspaces.convert(image_io.to_rgb(plate), plate_space, colorspaces.resolve("linear"))
    relit = relight(linear, normal_map, lights, ambient=request.ambient, mask=mask, position=position,
                    albedo=extra.get("albedo"), mode=request.mode)
    relit = colorspaces.convert(relit, colorspaces.resolve("linear"), output_space(plate_space, output_path))
    alpha = plate[..., -1] if plate.shape[-1] in (2, 4) else None
    with outputs.created_dirs_removed_if_empty(os.path.dirname(os.path.abspath(output_path))):
        if image_io.is_float_file(output_path):
            in_plate_space = output_space(plate_space, output_path) == plate_space  # its colour metadata holds
            image_io.write_rgb_exr(output_path, relit, alpha=alpha,
                                   frame=image_io.read_frame(plate_path, colour=in_plate_space))
        else:
            out = np.clip(relit, 0.0, 1.0)
            out = out if alpha is None else np.concatenate([out, alpha[..., None]], -1)
            tiff = image_io.extension(output_path) in image_io.TIFF_EXTENSIONS
            (image_io.write_tiff if tiff else image_io.write_png)(output_path, out)
    return {"output": output_path, "lights": len(lights), "mode": request.mode, "width": int(plate.shape[1]),
            "height": int(plate.shape[0]), "nonfinite": nonfinite}
