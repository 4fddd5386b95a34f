"""Predict a normals pass for plates: single files, folders, globs and frame sequences.

For each plate it writes, atomically, `<name>.normals.exr` (float R,G,B = camera-space X,Y,Z,
plus A from the plate's alpha if it has one) and `<name>.normals.png` (0.5·n + 0.5 preview);
with --combined also `<name>.combined.exr` holding the plate (R,G,B[,A]) and the normals as a
Nuke-style layer N.X, N.Y, N.Z. Frame names keep the frame number last
(plate.1001.exr → plate.normals.1001.exr). Large plates are predicted in overlapping tiles;
plates smaller than the model's stride are padded (tfnormals.tools.model_io).

Robust on a real job:
- Everything that can be checked before work starts is (settings, the output folder, two plates
  that would write the same outputs), as errors.UsageError naming the flag.
- A frame is skipped as done only when every output this run asks for exists and the normals EXR
  was made from a plate of the same full name (its header keeps it); outputs made from another
  plate of the same stem are not overwritten without --overwrite.
- Non-finite plate pixels (NaN/inf) are replaced with image_io.NONFINITE_FILL before inference and
  the plate is named in a warning with the count; the pass is finite and unit length.
- Any failure of one frame is reported with the file and the reason; the others go on.
- Stale temporary files of killed runs are removed at the start; a run that writes nothing leaves
  no empty output folder.
"""

import os

import numpy as np
from absl import logging

from tfnormals.core import colour, conventions, errors, image_io, normals, outputs
from tfnormals.core.progress import Progress
from tfnormals.tools import tiling

COLORSPACES = ("auto", "linear", "srgb")
SOURCE_ATTRIBUTE = "tfnormalsSource"  # normals EXR header: the plate's file name it was made from
EXPECTED_FRAME_ERRORS = (image_io.ImageError, errors.Failure, OSError, MemoryError)


def output_stem(path, output_dir, suffix):
    """DIR/plate.normals for plate.png; DIR/plate.normals.1001 for plate.1001.exr."""
    stem = os.path.splitext(os.path.basename(path))[0]
    head, dot, frame = stem.rpartition(".")
    name = f"{head}.{suffix}.{frame}" if dot and frame.isdigit() else f"{stem}.{suffix}"
    return os.path.join(output_dir, name)


def plate_outputs(path, output_dir, combined=False):
    """Every file predict writes for one plate: {'normals': .exr, 'preview': .png[, 'combined': .exr]}."""
    stem = output_stem(path, output_dir, "normals")
    files = {"normals": stem + ".exr", "preview": stem + ".png"}
    if combined:
        files["combined"] = output_stem(path, output_dir, "combined") + ".exr"
    return files


def network_input(plate, path, colorspace="auto"):
    """The network's input (sRGB-encoded RGB in [0, 1]) from a plate as read from disk."""
    rgb = image_io.to_rgb(plate)
    linear = colorspace == "linear" or (colorspace == "auto" and image_io.is_float_file(path))
    return colour.linear_to_srgb(rgb) if linear else np.clip(rgb, 0.0, 1.0)


def alpha_of(plate):
    return plate[..., -1] if plate.shape[-1] in (2, 4) else None


def write_outputs(files, plate, normal_map, source):
    """Write one plate's outputs (plate_outputs(); the normals EXR last, stamped with the plate's name)."""
    alpha = alpha_of(plate)
    preview = normals.encode(normal_map)
    image_io.write_png(files["preview"], preview if alpha is None else np.concatenate([preview, alpha[..., None]], -1))
    if "combined" in files:
        rgb = image_io.to_rgb(plate)
        both = {c: rgb[..., i] for i, c in enumerate("RGB")}
        if alpha is not None:
            both["A"] = alpha
        both.update({c: normal_map[..., i] for i, c in enumerate(conventions.NORMALS_LAYER_CHANNELS)})
        image_io.write_exr(files["combined"], both, attributes={SOURCE_ATTRIBUTE: source})
    layers = {c: normal_map[..., i] for i, c in enumerate(conventions.NORMALS_EXR_CHANNELS)}
    if alpha is not None:
        layers["A"] = alpha
    image_io.write_exr(files["normals"], layers, attributes={SOURCE_ATTRIBUTE: source})


def check_request(paths, output_dir, combined=False, colorspace="auto", tile=512, overlap=64, max_side=0):
    """Raise errors.UsageError, naming the flag, for anything wrong with a run before it starts."""
    if colorspace not in COLORSPACES:
        raise errors.UsageError(f"--input_colorspace: must be one of {', '.join(COLORSPACES)}, not {colorspace!r}")
    for name, value in (("tile", tile), ("overlap", overlap), ("max_side", max_side)):
        if value < 0:
            raise errors.UsageError(f"--{name}: must be 0 or more, got {value}")
    if tile and overlap >= tile:
        raise errors.UsageError(f"--overlap: must be smaller than --tile ({tile}), got {overlap}")
    outputs.check_writable_dir(output_dir, "--output")
    writers = {}
    for path in paths:
        for out in plate_outputs(path, output_dir, combined).values():
            if writers.setdefault(out, path) != path:
                raise errors.UsageError(f"--input: {writers[out]} and {path} would both write {out}; "
                                        "predict them into separate --output folders")


def _finished(path, files, overwrite):
    """True when every requested output exists and was made from this plate. Raises errors.Failure when the
    outputs were made from another plate of the same name stem (so they are not silently replaced)."""
    if overwrite or not all(os.path.isfile(f) for f in files.values()):
        return False
    try:
        source = image_io.exr_header(files["normals"]).get(SOURCE_ATTRIBUTE)
    except image_io.ImageError:
        return False  # unreadable: predict it again
    if source is not None and source != os.path.basename(path):
        raise errors.Failure(f"{files['normals']} was predicted from {source}, not {os.path.basename(path)}; "
                             "use another --output, or --overwrite to replace it")
    return True


def predict_plate_file(model, path, files, colorspace="auto", tile=512, overlap=64, max_side=0):
    """Read one plate, predict and write its outputs; returns the number of non-finite pixels filled."""
    plate, nonfinite = image_io.fill_nonfinite(image_io.read_image(path))
    if nonfinite:
        logging.warning("%s: %d pixel(s) with NaN/inf values replaced before inference (%s)",
                        path, nonfinite, image_io.NONFINITE_FILL_TEXT)
    normal_map = tiling.predict_plate(model, network_input(plate, path, colorspace), tile, overlap, max_side)
    if not np.all(np.isfinite(normal_map)):
        raise errors.Failure(f"{path}: the model returned non-finite normals")
    write_outputs(files, plate, normal_map, os.path.basename(path))
    return nonfinite


def predict_files(model, paths, output_dir, colorspace="auto", tile=512, overlap=64, combined=False,
                  overwrite=False, max_side=0, missing=()):
    """Predict every plate in `paths` (what `python -m tfnormals.predict` does after expand_inputs).

    Args:
      model: a batch predictor, e.g. tfnormals.tools.model_io.NormalsModel.
      paths: plate files.
      output_dir: where the outputs go (created if needed).
      missing: sequence frames not on disk (from expand_inputs), carried into the result.
      Other arguments: as the command's flags.

    Returns:
      {'written': [normals EXR paths], 'skipped_existing': [plates], 'failed': {plate: reason},
       'missing': [frames], 'nonfinite': {plate: pixels filled}}.
    """
    check_request(paths, output_dir, combined, colorspace, tile, overlap, max_side)
    result = {"written": [], "skipped_existing": [], "failed": {}, "missing": list(missing), "nonfinite": {}}
    for path in missing:
        logging.error("missing frame %s", path)
    with outputs.created_dirs_removed_if_empty(output_dir):
        for name in outputs.remove_stale_temps(output_dir):
            logging.info("removed %s, left by an interrupted run", os.path.join(output_dir, name))
        progress = Progress(len(paths), "predict", interval=5.0)
        for path in paths:
            files = plate_outputs(path, output_dir, combined)
            try:
                if _finished(path, files, overwrite):
                    result["skipped_existing"].append(path)
                    progress.update()
                    continue
                nonfinite = predict_plate_file(model, path, files, colorspace, tile, overlap, max_side)
                if nonfinite:
                    result["nonfinite"][path] = nonfinite
                result["written"].append(files["normals"])
                progress.update()
            except Exception as e:  # one frame's failure, whatever it is, must not end the batch
                reason = errors.one_line(e)[:500]
                if not isinstance(e, EXPECTED_FRAME_ERRORS):
                    reason = f"{type(e).__name__}: {reason}"
                    logging.exception("%s failed", path)
                logging.error("skipping %s: %s", path, reason)
                result["failed"][path] = reason if path in reason else f"{path}: {reason}"
                progress.update(failed=True)
    return result


def summary(result):
    """The command's JSON summary: counts under the result's keys, and the frames that need attention."""
    counts = {key: len(value) for key, value in result.items()}
    return dict(counts, failed_frames=result["failed"], missing_frames=result["missing"],
                nonfinite_frames=result["nonfinite"])
