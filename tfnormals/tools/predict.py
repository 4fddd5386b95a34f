"""Predict a normals pass for plates: single files, folders, globs and frame sequences.

For each plate it writes, atomically, `<name>.normals.exr` (float R,G,B = camera-space X,Y,Z,
plus A from the plate's alpha if it has one) and `<name>.normals.png` (0.5·n + 0.5 preview);
with --combined also `<name>.combined.exr` holding the plate (R,G,B[,A]) and the normals as a
Nuke-style layer N.X, N.Y, N.Z. Frame names keep the frame number last
(plate.1001.exr → plate.normals.1001.exr). Frames whose outputs exist are skipped (resume);
unreadable frames are reported and skipped. Large plates are predicted in overlapping tiles.
"""

import glob
import os
import re

import numpy as np
from absl import logging

from tfnormals.core import colour, conventions, image_io, normals
from tfnormals.core.progress import Progress
from tfnormals.tools import tiling

FRAME_TOKEN = re.compile(r"#+|%0?(\d*)d")


def expand_inputs(spec, frames=""):
    """Files named by a path, folder, glob, or frame pattern (plate.####.exr, plate.%04d.exr)."""
    if os.path.isdir(spec):
        return sorted(p for p in glob.glob(os.path.join(glob.escape(spec), "*"))
                      if image_io.extension(p) in image_io.IMAGE_EXTENSIONS)
    token = FRAME_TOKEN.search(os.path.basename(spec))
    if token:
        width = len(token.group(0)) if token.group(0).startswith("#") else int(token.group(1) or 1)
        head = os.path.join(os.path.dirname(spec), os.path.basename(spec)[:token.start()])
        tail = os.path.basename(spec)[token.end():]
        if frames:
            first, _, last = frames.partition("-")
            return [f"{head}{frame:0{width}d}{tail}" for frame in range(int(first), int(last or first) + 1)]
        pattern = re.compile(re.escape(os.path.basename(head)) + r"(\d+)" + re.escape(tail) + "$")
        candidates = glob.glob(glob.escape(head) + "*" + glob.escape(tail))
        return sorted(p for p in candidates if pattern.match(os.path.basename(p)))
    if any(c in spec for c in "*?["):
        return sorted(glob.glob(spec))
    return [spec]


def output_stem(path, output_dir, suffix):
    """DIR/plate.normals for plate.png; DIR/plate.normals.1001 for plate.1001.exr."""
    stem = os.path.splitext(os.path.basename(path))[0]
    match = re.match(r"^(.*)\.(\d+)$", stem)
    name = f"{match.group(1)}.{suffix}.{match.group(2)}" if match else f"{stem}.{suffix}"
    return os.path.join(output_dir, name)


def network_input(plate, path, colorspace="auto"):
    """The network's input (sRGB-encoded RGB in [0, 1]) from a plate as read from disk."""
    rgb = image_io.to_rgb(plate)
    linear = colorspace == "linear" or (colorspace == "auto" and image_io.is_float_file(path))
    return colour.linear_to_srgb(rgb) if linear else np.clip(rgb, 0.0, 1.0)


def alpha_of(plate):
    return plate[..., -1] if plate.shape[-1] in (2, 4) else None


def write_outputs(stem, plate, normal_map, combined=False):
    """Write the normals EXR, the preview PNG and optionally the combined EXR of one plate."""
    alpha = alpha_of(plate)
    layers = {c: normal_map[..., i] for i, c in enumerate(conventions.NORMALS_EXR_CHANNELS)}
    if alpha is not None:
        layers["A"] = alpha
    image_io.write_exr(stem + ".exr", layers)
    preview = normals.encode(normal_map)
    image_io.write_png(stem + ".png", preview if alpha is None else np.concatenate([preview, alpha[..., None]], -1))
    if combined:
        rgb = image_io.to_rgb(plate)
        both = {c: rgb[..., i] for i, c in enumerate("RGB")}
        if alpha is not None:
            both["A"] = alpha
        both.update({c: normal_map[..., i] for i, c in enumerate(conventions.NORMALS_LAYER_CHANNELS)})
        image_io.write_exr(stem.replace(".normals", ".combined", 1) + ".exr", both)


def predict_files(model, paths, output_dir, colorspace="auto", tile=512, overlap=64, combined=False,
                  overwrite=False, max_side=0):
    """Predict every plate in `paths`; returns {'written': [...], 'skipped_existing': [...], 'failed': {...}}."""
    os.makedirs(output_dir, exist_ok=True)
    result = {"written": [], "skipped_existing": [], "failed": {}}
    progress = Progress(len(paths), "predict", interval=5.0)
    for path in paths:
        stem = output_stem(path, output_dir, "normals")
        if not overwrite and os.path.isfile(stem + ".exr") and os.path.isfile(stem + ".png"):
            result["skipped_existing"].append(path)
            progress.update()
            continue
        try:
            plate = image_io.read_image(path)
            normal_map = tiling.predict_plate(model, network_input(plate, path, colorspace), tile, overlap, max_side)
            write_outputs(stem, plate, normal_map, combined)
            result["written"].append(stem + ".exr")
            progress.update()
        except (image_io.ImageError, OSError) as e:
            logging.error("skipping %s: %s", path, e)
            result["failed"][path] = str(e)
            progress.update(failed=True)
    return result
