"""Predict passes for plates: single files, folders, globs and frame sequences.

For each plate it writes, atomically, `<name>.normals.exr` (float R,G,B = camera-space X,Y,Z,
plus A from the plate's alpha if it has one) and `<name>.normals.png` (0.5·n + 0.5 preview).
A model trained for them also gives `<name>.depth.exr` (channel Z: distance along the view
axis), `<name>.position.exr` (P.X, P.Y, P.Z: camera-space points, OpenGL axes, so P.z < 0) and
`<name>.albedo.exr` (linear R, G, B), each with a PNG preview (see `preview`). With --combined,
`<name>.combined.exr` holds the plate (R,G,B[,A]) and every pass as Nuke-style layers: N.X/N.Y/N.Z,
depth.Z, P.X/P.Y/P.Z, albedo.R/G/B. Every EXR keeps the plate's data and display windows and its metadata (timecode,
camera attributes, pixel aspect: image_io.Frame). Frame names keep the frame number last
(plate.1001.exr → plate.normals.1001.exr).
Plates are predicted as a pyramid of passes fused coarse to fine (tfnormals.tools.fusion: the
global layout from a pass at the model's working size, detail from finer passes, edges guided by
the plate), or in the other modes fusion names; plates smaller than the model's stride are padded
(tfnormals.tools.inference).

Depth from one plate is relative. It comes out with a median of 1 unless `depth_scale`
multiplies it or `reference_distance` sets the median distance (scene units). Position needs
the camera's horizontal field of view: `hfov`, or `focal_mm` on a `sensor_width_mm` film back
(default a 35 mm lens on full frame, 54.4°).

Robust on a real job:
- Everything that can be checked before work starts is (settings, the output folder, two plates
  that would write the same outputs), as errors.UsageError naming the flag.
- A frame is skipped as done only when every output this run asks for exists, reads in full, and
  (every EXR's header keeps both) was made from a plate of the same full name with the same
  settings (run_settings: the model, colour space, mode and its settings, the temporal mode's, camera); outputs made
  from another plate of the same stem or with other settings fail the frame instead of being
  replaced, unless --overwrite (tfnormals.core.resume). An output path is never a plate's.
- One frame's outputs appear together or not at all (a failing frame leaves none), and runs
  predicting into one folder at once never predict the same frame twice (outputs.one_writer_each; in the
  temporal mode a frame another run holds is waited for, since the next frame follows from it).
- Non-finite plate pixels (NaN/inf) are replaced with image_io.NONFINITE_FILL before inference and
  the plate is named in a warning with the count; the pass is finite and unit length.
- Any failure of one frame is reported with the file and the reason; the others go on.
- Stale temporary files of killed runs are removed at the start; a run that writes nothing leaves
  no empty output folder.
"""

import dataclasses
import os

import numpy as np
from absl import logging

from tfnormals.core import camera, colorspaces, conventions, errors, image_io, normals, outputs, resume, srgb
from tfnormals.core.progress import Progress
from tfnormals.tools import fusion
from tfnormals.tools.inference import fingerprint

PASS_FILES = ("depth", "position", "albedo")  # outputs beside the normals, when the model has the pass
PREVIEW_PERCENTILES = (1.0, 99.0)  # the range a depth or position preview stretches to black..white
PASS_LAYERS = {"depth": ("depth.Z",), "position": ("P.X", "P.Y", "P.Z"), "albedo": ("albedo.R", "albedo.G", "albedo.B")}
PASS_CHANNELS = {"depth": ("Z",), "position": ("P.X", "P.Y", "P.Z"), "albedo": ("R", "G", "B")}
SOURCE_ATTRIBUTE = resume.SOURCE_ATTRIBUTE  # EXR headers: the plate's file name they were made from
RESUME_REMEDY = "use another --output, or --overwrite to replace it"
EXPECTED_FRAME_ERRORS = (image_io.ImageError, errors.Failure, OSError, MemoryError)


def output_stem(path, output_dir, suffix):
    """DIR/plate.normals for plate.png; DIR/plate.normals.1001 for plate.1001.exr."""
    stem = os.path.splitext(os.path.basename(path))[0]
    head, dot, frame = stem.rpartition(".")
    name = f"{head}.{suffix}.{frame}" if dot and frame.isdigit() else f"{stem}.{suffix}"
    return os.path.join(output_dir, name)


def plate_outputs(path, output_dir, combined=False, passes=("normals",)):
    """Every file predict writes for one plate: {'normals': .exr, 'preview': .png, ['depth', 'position',
    'albedo': .exr, 'depth_preview', 'position_preview', 'albedo_preview': .png,] ['combined': .exr]} — the extra
    passes when the model predicts them."""
    stem = output_stem(path, output_dir, "normals")
    files = {"normals": stem + ".exr", "preview": stem + ".png"}
    for kind in PASS_FILES:
        if (kind if kind != "position" else "depth") in passes:
            files[kind] = output_stem(path, output_dir, kind) + ".exr"
            files[f"{kind}_preview"] = output_stem(path, output_dir, kind) + ".png"
    if combined:
        files["combined"] = output_stem(path, output_dir, "combined") + ".exr"
    return files


def network_input(plate, path, colorspace="auto"):
    """The network's input (sRGB-encoded RGB in [0, 1]) from a plate as read from disk, whose colour space
    is `colorspace` (tfnormals.core.colorspaces: an OCIO name, an alias, or auto by file type)."""
    return colorspaces.to_network(image_io.to_rgb(plate), colorspace, path)


def alpha_of(plate):
    return plate[..., -1] if plate.shape[-1] in (2, 4) else None


def plate_passes(passes, settings):
    """The arrays predict writes, by output name: normals, and depth, position, albedo when predicted."""
    result = {"normals": passes["normals"]}
    if "depth" in passes:
        depth = settings.scale_depth(passes["depth"][..., 0])
        result["depth"] = depth[..., None]
        result["position"] = camera.position_from_depth(
            depth, camera.focal_pixels(depth.shape[1], settings.field_of_view()))
    if "albedo" in passes:
        result["albedo"] = passes["albedo"]
    return result


def preview(kind, array):
    """An 8-bit-ready [0, 1] picture of a pass: normals 0.5·n + 0.5; depth near-bright gray (1 / depth); position
    its X, Y, Z as R, G, B; albedo sRGB-encoded. Depth and position are stretched over PREVIEW_PERCENTILES of
    their values, since their scale is relative."""
    if kind == "normals":
        return normals.encode(array)
    if kind == "albedo":
        return srgb.linear_to_srgb(array)
    values = 1.0 / np.maximum(array[..., 0], 1e-6) if kind == "depth" else array
    axes = tuple(range(values.ndim - (kind == "position")))
    low, high = (np.percentile(values, q, axis=axes) for q in PREVIEW_PERCENTILES)
    return np.clip((values - low) / np.maximum(high - low, 1e-12), 0.0, 1.0)


def run_settings(model, *, colorspace="auto", inference=fusion.PassSettings(), settings=camera.CameraSettings()):
    """Everything besides the plate that decides its outputs, by flag: the model, colour space, how the network
    sees the plate (the mode and its settings, the working size the one used; the temporal mode's when on) and the
    camera. Stamped in every EXR and checked when a re-run resumes (tfnormals.core.resume)."""
    return {"--model": fingerprint(model.path), "--input_colorspace": colorspace,
            **{f"--{name}": value for name, value in inference.run_flags(model).items()},
            **{f"--{name}": value for name, value in dataclasses.asdict(settings).items()}}


def write_outputs(files, plate, passes, source, frame=None, settings=None):
    """Write one plate's outputs (plate_outputs()) together: all appear, the normals EXR last, or none does. The
    EXRs are stamped with the plate's name and the run's `settings` (run_settings()) and carry the plate's
    `frame` (image_io.read_frame: windows and metadata)."""
    with outputs.written_together(sorted(files.values(), key=lambda f: f == files["normals"])) as temporary:
        _write_each({kind: temporary[path] for kind, path in files.items()}, plate, passes,
                    resume.stamp(source, settings), frame)


def _write_each(files, plate, passes, stamp, frame):
    """Write each output to its path in `files` (write_outputs' temporaries), the EXRs with the `stamp` header."""
    alpha = alpha_of(plate)
    normal_map = passes["normals"]
    for kind, name in (("normals", "preview"),) + tuple((kind, f"{kind}_preview") for kind in PASS_FILES):
        if name in files:
            picture = preview(kind, passes[kind])
            picture = picture if picture.ndim == 3 else picture[..., None]
            if alpha is not None:
                picture = np.concatenate([picture, alpha[..., None]], -1)
            image_io.write_png(files[name], picture)
    for kind in PASS_FILES:
        if kind in files:
            image_io.write_exr(files[kind], _channels(passes[kind], PASS_CHANNELS[kind], alpha), attributes=stamp,
                               frame=frame)
    if "combined" in files:
        rgb = image_io.to_rgb(plate)
        both = _channels(rgb, "RGB", alpha)
        both.update(_channels(normal_map, conventions.NORMALS_LAYER_CHANNELS))
        for kind in PASS_FILES:
            if kind in passes:
                both.update(_channels(passes[kind], PASS_LAYERS[kind]))
        image_io.write_exr(files["combined"], both, attributes=stamp, frame=frame)
    image_io.write_exr(files["normals"], _channels(normal_map, conventions.NORMALS_EXR_CHANNELS, alpha),
                       attributes=stamp, frame=frame)


def _channels(array, names, alpha=None):
    """{channel name: H×W plane} of an H×W×C array, plus A when the plate has alpha."""
    layers = {name: array[..., i] for i, name in enumerate(names)}
    if alpha is not None:
        layers["A"] = alpha
    return layers


def check_request(paths, output_dir, *, combined=False, colorspace="auto", inference=fusion.PassSettings(),
                  settings=camera.CameraSettings()):
    """Raise errors.UsageError, naming the flag, for anything wrong with a run before it starts."""
    settings.check()
    colorspaces.check(colorspace)
    inference.check()
    outputs.check_writable_dir(output_dir, "--output")
    writers = {}
    for path in paths:
        for out in plate_outputs(path, output_dir, combined).values():
            outputs.check_not_input(out, {"--input": path}, "--output")
            if writers.setdefault(out, path) != path:
                raise errors.UsageError(f"--input: {writers[out]} and {path} would both write {out}; "
                                        "predict them into separate --output folders")


def predict_plate_file(model, path, files, *, colorspace="auto", inference=fusion.PassSettings(),
                       settings=camera.CameraSettings(), stamp_settings=None):
    """Read one plate, predict and write its outputs (stamped with `stamp_settings`, run_settings()); returns the
    number of non-finite pixels filled."""
    plate, nonfinite = image_io.fill_nonfinite(image_io.read_image(path))
    frame = image_io.read_frame(path)
    if nonfinite:
        logging.warning("%s: %d pixel(s) with NaN/inf values replaced before inference (%s)",
                        path, nonfinite, image_io.NONFINITE_FILL_TEXT)
    passes = inference.passes(model, network_input(plate, path, colorspace), plate=path)
    for name, value in passes.items():
        if not np.all(np.isfinite(value)):
            raise errors.Failure(f"{path}: the model returned non-finite {name}")
    write_outputs(files, plate, plate_passes(passes, settings), os.path.basename(path), frame, stamp_settings)
    return nonfinite


def predict_files(model, paths, output_dir, *, colorspace="auto", inference=fusion.PassSettings(), combined=False,
                  overwrite=False, missing=(), settings=camera.CameraSettings()):
    """Predict every plate in `paths` (what `python -m tfnormals.predict` does after expand_inputs).

    Args:
      model: what tfnormals.tools.model_io.load_model returns (its `passes` and `predict_passes`).
      paths: plate files.
      output_dir: where the outputs go (created if needed).
      inference: how the network runs on each plate (fusion.PassSettings: mode, working size, tiles; or
        temporal.SequencePasses, which blends each plate's passes with the plates before it).
      missing: sequence frames not on disk (from expand_inputs), carried into the result.
      Other arguments: as the command's flags.

    Returns:
      {'written': [normals EXR paths], 'skipped_existing': [plates], 'failed': {plate: reason},
       'missing': [frames], 'nonfinite': {plate: pixels filled}}.
    """
    options = dict(colorspace=colorspace, inference=inference, settings=settings)
    check_request(paths, output_dir, combined=combined, **options)
    result = {"written": [], "skipped_existing": [], "failed": {}, "missing": list(missing), "nonfinite": {}}
    for path in missing:
        logging.error("missing frame %s", path)
    with outputs.created_dirs_removed_if_empty(output_dir):
        for name in outputs.remove_stale_temps(output_dir):
            logging.info("removed %s, left by an interrupted run", os.path.join(output_dir, name))
        progress = Progress(len(paths), "predict", interval=5.0)
        stamp_settings = run_settings(model, **options)
        for path in outputs.one_writer_each(paths, lambda p: plate_outputs(p, output_dir)["normals"],
                                            in_order=inference.in_order):
            files = plate_outputs(path, output_dir, combined, model.passes)
            try:
                if not overwrite and resume.finished(list(files.values()), os.path.basename(path), stamp_settings,
                                                     RESUME_REMEDY):
                    result["skipped_existing"].append(path)
                    inference.follow(path, files)
                    progress.update()
                    continue
                nonfinite = predict_plate_file(model, path, files, stamp_settings=stamp_settings, **options)
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
