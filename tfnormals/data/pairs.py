"""Find and load paired samples: our renderer's folders or a studio's beauty/normals files.

A PairFormat says where each sample's files are (patterns with an `{id}` placeholder,
relative to the input folder) and how to read them: colour space of the beauty, which
EXR channels hold the normals (and the optional depth and albedo passes), world or camera
space, axis flips.
"""

import dataclasses
import glob
import json
import os
import re

import numpy as np

from tfnormals.core import colorspaces, conventions, dataclass_flags, errors, image_io, layout, normals, srgb

_field = dataclass_flags.field
NORMALS_SPACES = ("camera", "world")


class SampleError(ValueError):
    """A sample that cannot be used, with the file and the reason in the message."""


# Fields renamed after records were first made, by the name records' index.json and sidecars store them under:
# kept as first written, so that a folder of records made before the rename still resumes and merges.
STORED_NAMES = {"max_sample_side": "max_side"}


@dataclasses.dataclass(frozen=True)
class PairFormat:
    """Where a sample's files are and how to interpret them.

    Args:
      beauty_pattern: path pattern of the beauty, e.g. "{id}/beauty.exr" (our renderer) or
        "shot010/beauty.{id}.exr" where {id} matches a frame number. One directory level per "*".
      normals_pattern: path pattern of the normals file.
      mask_pattern: path pattern of a mask; "" derives it from the beauty's alpha, or else
        from where the normals are non-zero.
      normals_channels: EXR channel names holding X, Y, Z (e.g. ("N.X", "N.Y", "N.Z")); empty
        means R, G, B.
      beauty_colorspace: the beauty's colour space (tfnormals.core.colorspaces): "auto" (EXR is linear,
        others sRGB), "linear", "srgb", or any colour space of the OCIO config, e.g. "ACEScg".
      normals_space: "camera" (OpenGL camera axes) or "world".
      camera_to_world: 16 numbers, row-major 4×4, for world-space normals shared by all samples.
      camera_pattern: per-sample JSON file with a "camera_to_world" 4×4 list (overrides the above).
      flip_axes: axes to negate after loading, e.g. "y" for DirectX-style normal maps, "z" for
        camera spaces whose +Z points away from the viewer.
      max_sample_side: downscale (integer box filter) so neither side exceeds this; 0 keeps the size.
      max_nonunit_fraction: a sample is rejected if more than this fraction of masked pixels
        has a normal length off by more than conventions.UNIT_NORMAL_TOLERANCE.
      depth_pattern: optional depth pass (camera-space distance along the view axis); a sample
        whose file is missing simply has no depth. "" = never.
      depth_channels: EXR channel holding depth (default Z, else the file's single channel).
      albedo_pattern: optional linear albedo pass; missing file = no albedo. "" = never.
      albedo_channels: EXR channels holding albedo R, G, B (default R, G, B).
      albedo_premultiplied: albedo was multiplied by coverage (our renders); divided back out.
      scene_pattern: optional JSON describing the sample (our renders' scene.json); its
        camera.fov_deg is the horizontal field of view. "" = never.
    """

    beauty_pattern: str = _field("{id}/" + layout.BEAUTY_EXR, "Beauty path pattern with {id}.")
    normals_pattern: str = _field("{id}/" + layout.NORMALS_EXR, "Normals path pattern with {id}.")
    mask_pattern: str = _field("{id}/" + layout.MASK_PNG, "Mask path pattern with {id}; empty = the beauty's alpha, "
                               "else non-zero normals.")
    normals_channels: tuple[str, ...] = _field((), "EXR channels holding normals X,Y,Z (default R,G,B).")
    beauty_colorspace: str = _field(colorspaces.AUTO, f"Of the beauty. {colorspaces.FLAG_HELP}",
                                    flag="input_colorspace", aliases=("beauty_colorspace",))
    normals_space: str = _field("camera", "Space the normals are stored in.", choices=NORMALS_SPACES)
    camera_to_world: tuple[float, ...] = _field((), "Row-major 4x4 camera-to-world matrix (16 numbers) for "
                                                "world-space normals.")
    camera_pattern: str = _field("", "Per-sample JSON with a camera_to_world 4x4 (world-space normals).")
    flip_axes: str = _field("", "Normal axes to negate, e.g. y for DirectX-style maps.")
    max_sample_side: int = _field(0, "Downscale samples so no side exceeds this (0 = keep).", aliases=("max_side",))
    max_nonunit_fraction: float = _field(0.01, "Reject a sample when more than this fraction of its surface pixels "
                                         "has non-unit normals.")
    depth_pattern: str = _field("{id}/" + layout.DEPTH_EXR, "Optional depth pass path pattern with {id} "
                                "(camera-space distance); empty = none.")
    depth_channels: tuple[str, ...] = _field(("Z",), "EXR channel holding depth.")
    albedo_pattern: str = _field("{id}/" + layout.ALBEDO_EXR, "Optional linear albedo pass path pattern with {id}; "
                                 "empty = none.")
    albedo_channels: tuple[str, ...] = _field((), "EXR channels holding albedo R,G,B (default R,G,B).")
    albedo_premultiplied: bool = _field(True, "The albedo pass is premultiplied by coverage (divide it back out).")
    scene_pattern: str = _field("{id}/" + layout.SCENE_JSON, "Optional scene JSON path pattern with {id} (its "
                                "camera.fov_deg is the field of view); empty = none.")

    def __post_init__(self):
        for name in ("beauty_pattern", "normals_pattern"):
            if "{id}" not in getattr(self, name):
                raise ValueError(f"{name} {getattr(self, name)!r} must contain '{{id}}'")
        colorspaces.check(self.beauty_colorspace)  # errors.UsageError, a ValueError
        if self.normals_space not in NORMALS_SPACES:
            raise ValueError(f"normals_space must be camera or world, not {self.normals_space!r}")
        if self.camera_to_world and len(self.camera_to_world) != 16:
            raise ValueError(f"camera_to_world needs 16 numbers, got {len(self.camera_to_world)}")
        if self.normals_space == "world" and not (self.camera_to_world or self.camera_pattern):
            raise ValueError("world-space normals need camera_to_world or camera_pattern")
        if set(self.flip_axes) - set("xyz"):
            raise ValueError(f"flip_axes may only contain x, y, z, not {self.flip_axes!r}")

    def stored_settings(self):
        """The fields as records' index.json and shard sidecars store them (see STORED_NAMES), tuples as lists."""
        return {STORED_NAMES.get(f.name, f.name): list(v) if isinstance(v, tuple) else v
                for f in dataclasses.fields(self) for v in [getattr(self, f.name)]}

    def path(self, input_dir, role, sample_id):
        pattern = getattr(self, f"{role}_pattern")
        return os.path.join(input_dir, pattern.replace("{id}", sample_id)) if pattern else ""


# The fields that say how pass files are stored, whatever finds them.
CONVENTION_FIELDS = ("normals_channels", "normals_space", "camera_to_world", "camera_pattern", "flip_axes",
                     "depth_channels", "albedo_channels", "albedo_premultiplied")
ROLES = tuple(f.name.removesuffix("_pattern") for f in dataclasses.fields(PairFormat)
              if f.name.endswith("_pattern"))  # the files a PairFormat locates


def sample_files(input_dir, sample_id, pair_format):
    """Every file one sample is read from (one per pattern the format sets), whether or not it exists."""
    return [path for path in (pair_format.path(input_dir, role, sample_id) for role in ROLES) if path]


def find_samples(input_dir, pair_format):
    """Sorted ids of every sample whose beauty file matches the format's beauty pattern."""
    if not os.path.isdir(input_dir):
        raise FileNotFoundError(f"{input_dir}: no such folder")
    before, after = pair_format.beauty_pattern.split("{id}", 1)
    regex = re.compile(re.escape(before) + r"(.+?)" + re.escape(after) + r"$")
    ids = []
    for path in glob.glob(os.path.join(glob.escape(input_dir), pair_format.beauty_pattern.replace("{id}", "*"))):
        match = regex.match(os.path.relpath(path, input_dir).replace(os.sep, "/"))
        if match:
            ids.append(match.group(1))
    return sorted(ids)


def downscale_factor(shape, max_side):
    """Integer box-filter factor that brings the longer side to at most max_side (1 = keep)."""
    return int(np.ceil(max(shape) / max_side)) if max_side and max(shape) > max_side else 1


def pass_factor(path, shape, mask_shape, max_side):
    """The downscale factor of a pass of `shape` (H, W) beside a beauty whose coverage, after load_sample's downscale,
    is `mask_shape`; SampleError naming `path` when the pass is of another size than the beauty."""
    factor = downscale_factor(shape, max_side)
    if tuple(n // factor for n in shape) != tuple(mask_shape):
        raise SampleError(f"{path}: {shape[1]}x{shape[0]} does not match the beauty "
                          f"({mask_shape[1] * factor}x{mask_shape[0] * factor})")
    return factor


def _box_downscale(array, factor):
    h, w = (array.shape[0] // factor) * factor, (array.shape[1] // factor) * factor
    a = array[:h, :w]
    return a.reshape(h // factor, factor, w // factor, factor, -1).mean(axis=(1, 3))


def camera_to_world(camera_path, pair_format):
    """The 4×4 camera-to-world matrix of world-space normals: from the sample's camera JSON (`camera_path`, when the
    format has a camera_pattern) or the format's shared camera_to_world."""
    if pair_format.camera_pattern:
        try:
            with open(camera_path) as f:
                matrix = np.asarray(json.load(f)["camera_to_world"], np.float64)
        except (OSError, KeyError, ValueError) as e:
            raise SampleError(f"{camera_path}: cannot read camera_to_world ({e})") from e
    else:
        matrix = np.asarray(pair_format.camera_to_world, np.float64).reshape(4, 4)
    if matrix.shape != (4, 4):
        raise SampleError(f"camera_to_world of {camera_path or 'the pair format'} must be 4×4, got {matrix.shape}")
    return matrix


def read_normals(path, pair_format):
    """A normals file as stored, float32 H×W×C: the format's channels (normals_channels) or the whole image
    (alpha included); 8/16-bit files are decoded from 0.5·n + 0.5 (their alpha is kept as stored)."""
    if pair_format.normals_channels:
        if not os.path.isfile(path):
            raise SampleError(f"{path}: missing normals file")
        try:
            normal_map = image_io.read_exr(path, list(pair_format.normals_channels))
        except image_io.ImageError as e:
            raise SampleError(str(e)) from e
    else:
        normal_map = _read(path, "normals")
    if normal_map.shape[-1] < 3:
        raise SampleError(f"{path}: normals need 3 channels, file has {normal_map.shape[-1]}")
    if not image_io.is_float_file(path):
        normal_map = np.concatenate([normals.decode(normal_map[..., :3]), normal_map[..., 3:]], axis=-1)
    return normal_map


def to_camera_space(normal_map, camera_path, pair_format):
    """Normals in the format's space and axes (world space, flipped axes) brought to the project's camera space
    (not renormalized unless they were world space)."""
    if pair_format.normals_space == "world":
        normal_map = normals.world_to_camera(normal_map, camera_to_world(camera_path, pair_format))
    for axis in pair_format.flip_axes:
        normal_map[..., "xyz".index(axis)] *= -1.0
    return normal_map


def _read(path, role):
    if not os.path.isfile(path):
        raise SampleError(f"{path}: missing {role} file")
    try:
        return image_io.read_image(path)
    except image_io.ImageError as e:
        raise SampleError(str(e)) from e


def load_sample(input_dir, sample_id, pair_format):
    """Read, convert and validate one sample.

    Returns (beauty, normal_map, mask, beauty_path): beauty float32 H×W×3 sRGB-encoded in
    [0, 1]; normal_map float32 H×W×3 camera space, unit where mask > 0 and zero elsewhere;
    mask float32 H×W in [0, 1]. Raises SampleError naming the file and the problem.
    """
    beauty_path = pair_format.path(input_dir, "beauty", sample_id)
    normals_path = pair_format.path(input_dir, "normals", sample_id)
    beauty = _read(beauty_path, "beauty")
    normal_map = read_normals(normals_path, pair_format)[..., :3]

    if pair_format.mask_pattern:
        mask_path = pair_format.path(input_dir, "mask", sample_id)
        mask_image = _read(mask_path, "mask")
        mask = mask_image[..., 3] if mask_image.shape[-1] == 4 else mask_image[..., 0]
    elif beauty.shape[-1] in (2, 4):
        mask_path, mask = beauty_path + " (alpha)", beauty[..., -1]
    else:
        mask_path = normals_path + " (non-zero normals)"
        mask = (np.linalg.norm(normal_map, axis=-1) > conventions.MIN_NORMAL_LENGTH).astype(np.float32)

    shapes = {beauty_path: beauty.shape[:2], normals_path: normal_map.shape[:2], mask_path: mask.shape[:2]}
    if len(set(shapes.values())) != 1:
        sizes = ", ".join(f"{p}: {h}x{w}" for p, (h, w) in shapes.items())
        raise SampleError(f"size mismatch between files ({sizes})")
    for path, array in ((beauty_path, beauty), (normals_path, normal_map), (mask_path, mask)):
        if not np.all(np.isfinite(array)):
            raise SampleError(f"{path}: contains NaN or inf values")
    valid = mask >= conventions.MASK_THRESHOLD
    if not np.any(valid):
        raise SampleError(f"{mask_path}: mask is empty (no surface pixels)")
    # Lengths are checked as stored: downscaling shortens silhouette normals, world_to_camera renormalizes.
    length = np.linalg.norm(normal_map[valid], axis=-1)
    off = np.mean(np.abs(1.0 - length) > conventions.UNIT_NORMAL_TOLERANCE)
    if off > pair_format.max_nonunit_fraction:
        raise SampleError(f"{normals_path}: {100 * off:.1f}% of surface pixels have non-unit normals "
                          f"(|1 - |n|| > {conventions.UNIT_NORMAL_TOLERANCE})")

    rgb = colorspaces.to_working(image_io.to_rgb(beauty), pair_format.beauty_colorspace, beauty_path)
    factor = downscale_factor(mask.shape, pair_format.max_sample_side)
    if factor > 1:
        rgb = _box_downscale(rgb, factor)
        normal_map = _box_downscale(normal_map, factor)
        mask = _box_downscale(mask[..., None], factor)[..., 0]

    normal_map = to_camera_space(normal_map, pair_format.path(input_dir, "camera", sample_id), pair_format)

    normal_map = normals.normalize(normal_map) * (mask[..., None] > conventions.NO_COVERAGE)
    return srgb.linear_to_srgb(rgb), normal_map.astype(np.float32), mask.astype(np.float32), beauty_path


def read_channels(path, channels, role):
    """A pass file as float32 H×W×C: the named EXR channels, or the whole image for other formats; SampleError
    naming the role and the file when it cannot be read."""
    try:
        if channels and image_io.is_float_file(path):
            return image_io.read_exr(path, list(channels))
        return image_io.read_image(path)
    except (image_io.ImageError, OSError) as e:
        raise SampleError(f"{role}: {errors.one_line(e)}") from e


def load_scene_info(input_dir, sample_id, pair_format):
    """{'hfov': the camera's horizontal field of view in degrees, 'family': the scene family} from the
    sample's scene JSON; None for what is unknown (no JSON, or a studio's file without those keys)."""
    info = {"hfov": None, "family": None}
    path = pair_format.path(input_dir, "scene", sample_id)
    if not path or not os.path.isfile(path):
        return info
    try:
        with open(path) as f:
            scene = json.load(f)
    except (OSError, ValueError):
        return info
    if not isinstance(scene, dict):
        return info
    fov = (scene.get("camera") or {}).get("fov_deg") if isinstance(scene.get("camera"), dict) else None
    if isinstance(fov, (int, float)) and 0 < fov < 180:
        info["hfov"] = float(fov)
    if isinstance(scene.get("family"), str) and scene["family"]:
        info["family"] = scene["family"]
    return info


def load_passes(input_dir, sample_id, pair_format, mask):
    """The optional depth (H×W) and linear albedo (H×W×3) passes of a sample, None where absent,
    the camera's field of view ('hfov', degrees) and the scene family ('family'), None when unknown.

    `mask` is the coverage load_sample returned (after any downscale): passes are checked
    against its size and brought to it with the same box filter. Depth is 0 where the pass has
    no surface; albedo is divided by coverage when the format says it is premultiplied.
    """
    passes = {"depth": None, "albedo": None}
    for role in passes:
        path = pair_format.path(input_dir, role, sample_id)
        if not path or not os.path.isfile(path):
            continue
        array = read_channels(path, getattr(pair_format, f"{role}_channels"), role)
        factor = pass_factor(path, array.shape[:2], mask.shape, pair_format.max_sample_side)
        if not np.all(np.isfinite(array)):
            raise SampleError(f"{path}: contains NaN or inf values")
        if role == "depth":
            depth = np.where(array[..., 0] > 0, array[..., 0], 0.0)
            if factor > 1:  # average depth over the covered sub-pixels only
                covered = _box_downscale((depth > 0).astype(np.float32)[..., None], factor)[..., 0]
                depth = _box_downscale(depth[..., None], factor)[..., 0] / np.maximum(covered, 1e-6)
            passes["depth"] = depth.astype(np.float32)
        else:
            albedo = image_io.to_rgb(array)
            albedo = _box_downscale(albedo, factor) if factor > 1 else albedo
            if pair_format.albedo_premultiplied:
                albedo = albedo / np.maximum(mask, 1e-3)[..., None]
            covered = mask[..., None] > conventions.NO_COVERAGE
            passes["albedo"] = np.clip(albedo * covered, 0.0, 1.0).astype(np.float32)
    return dict(passes, **load_scene_info(input_dir, sample_id, pair_format))


def define_pair_format_flags(flag_values=None, *, only=None, **defaults):
    """absl flags for the PairFormat fields (for the commands that read pass files), generated from the fields:
    --beauty_pattern, ..., --input_colorspace (alias --beauty_colorspace), --max_sample_side, ...; `only` names the
    fields wanted (CONVENTION_FIELDS for a command that finds its files by other means), `defaults` overrides
    PairFormat's by field name."""
    from absl import flags
    dataclass_flags.define(PairFormat, flags.FLAGS if flag_values is None else flag_values, only=only,
                           defaults=defaults)


def pair_format_from_flags(values, *, only=None, **fields):
    """The PairFormat described by the flags of define_pair_format_flags(only=...), plus `fields` (its others);
    errors.UsageError when they contradict."""
    try:
        return PairFormat(**dataclass_flags.values(PairFormat, values, only=only), **fields)
    except (ValueError, TypeError) as e:
        raise errors.UsageError(f"pair format flags: {e}") from None
