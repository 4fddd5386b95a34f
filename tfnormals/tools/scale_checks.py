"""The scale check: how predict's modes hold up as plates grow (python -m tfnormals.evaluate --scale_checks).

- The Middlebury motorcycle upscaled (bicubic) ×1, ×2, ×4, ×6: each mode's normals are brought back to
  the truth's 741×500 and compared there (real_checks' ground truth), so every scale is judged on the
  same pixels.
- Renders of the same scenes at several resolutions (folders of pairs, e.g. 256², 1024², 2048² of one
  seed: real fine detail, not upsampled): the error at each folder's own resolution and after bringing
  prediction and truth down to the smallest folder's resolution.
- An edge figure beside each mean: the error within EDGE_BAND_PX of the truth's creases and silhouettes,
  where a soft upsampling fails (while a tiled pass without context fails the mean).
"""

import dataclasses
import json
import os

import numpy as np
from PIL import Image

from tfnormals.core import conventions, errors, image_io, normals, outputs
from tfnormals.data import pairs
from tfnormals.tools import fusion, real_checks, tiling

MOTORCYCLE_FACTORS = (1, 2, 4, 6)
GALLERY_HEIGHT = 320
EDGE_BAND_PX = 3
CREASE_DEG = 25.0  # neighbouring true normals further apart than this mark a crease


def upscale(plate, factor):
    """A plate enlarged `factor` times with bicubic interpolation (per channel, float)."""
    if factor == 1:
        return plate
    h, w = plate.shape[:2]
    planes = [np.asarray(Image.fromarray(np.ascontiguousarray(plate[..., c]), mode="F")
                         .resize((w * factor, h * factor), Image.BICUBIC)) for c in range(plate.shape[-1])]
    return np.clip(np.stack(planes, -1), 0.0, 1.0).astype(np.float32)


def edge_band(truth, valid, width=EDGE_BAND_PX):
    """Valid pixels within `width` px of a silhouette (the valid mask's border) or a crease of the true normals."""
    from scipy import ndimage
    edges = valid ^ ndimage.binary_erosion(valid, border_value=1)
    right = (normals.angular_error_deg(truth[:, :-1], truth[:, 1:]) > CREASE_DEG) & valid[:, :-1] & valid[:, 1:]
    down = (normals.angular_error_deg(truth[:-1], truth[1:]) > CREASE_DEG) & valid[:-1] & valid[1:]
    edges[:, :-1] |= right
    edges[:, 1:] |= right
    edges[:-1] |= down
    edges[1:] |= down
    return ndimage.binary_dilation(edges, iterations=width) & valid


def errors_of(prediction, truth, valid):
    """{'mean': over valid pixels, 'edge': within the edge band} in degrees."""
    error = normals.angular_error_deg(prediction, truth)
    band = edge_band(truth, valid)
    return {"mean": float(error[valid].mean()), "edge": float(error[band].mean()) if band.any() else None}


def down_to(prediction, truth, mask, height, width):
    """Prediction, truth and valid mask brought to height×width (area-like resampling, renormalized)."""
    small = lambda n: normals.normalize(tiling.resize(n, height, width))
    coverage = tiling.resize(mask.astype(np.float32)[..., None], height, width)[..., 0]
    return small(prediction), small(truth), coverage >= conventions.MASK_THRESHOLD


def motorcycle_scales(model, modes, factors=MOTORCYCLE_FACTORS, settings=fusion.PassSettings()):
    """{'x<f>': {mode: {'mean', 'edge'}}} on the motorcycle upscaled by each factor."""
    truth = real_checks.motorcycle_truth()
    plate, target, mask = truth["plate"], truth["normals"], truth["mask"]
    h, w = mask.shape
    report = {}
    for factor in factors:
        big = upscale(plate, factor)
        row = {}
        for mode in modes:
            predicted = dataclasses.replace(settings, mode=mode).passes(model, big)["normals"]
            back = normals.normalize(tiling.resize(predicted, h, w))
            row[mode] = errors_of(back, target, mask)
        report[f"x{factor}"] = row
    return report


def render_scales(model, folders, modes, settings=fusion.PassSettings(), limit=0):
    """{folder: {'resolution', 'images', mode: {'mean', 'edge', 'mean_at_<r>'}}} on folders of pairs.

    Only the samples every folder holds are used (one seed's renders at several sizes: the same scenes), or each
    folder's own when they share none. Errors are pixel-weighted over each folder's images; 'mean_at_<r>'
    compares at the smallest folder's resolution r.
    """
    pair_format = pairs.PairFormat()
    found = {folder: pairs.find_samples(folder, pair_format) for folder in folders}
    shared = set.intersection(*(set(ids) for ids in found.values()))  # the same scenes in every folder
    samples = {folder: [i for i in ids if i in shared or not shared][:limit or None] for folder, ids in found.items()}
    loaded = {folder: [pairs.load_sample(folder, s, pair_format) for s in ids] for folder, ids in samples.items()}
    smallest = min(min(sample[2].shape) for samples in loaded.values() for sample in samples)
    report = {}
    for folder, examples in loaded.items():
        sums = {mode: {"mean": [0.0, 0], "edge": [0.0, 0], f"mean_at_{smallest}": [0.0, 0]} for mode in modes}
        for beauty, target, mask, _ in examples:
            valid = mask >= conventions.MASK_THRESHOLD
            band = edge_band(target, valid)
            small_target, small_valid = None, None
            for mode in modes:
                predicted = dataclasses.replace(settings, mode=mode).passes(model, beauty)["normals"]
                error = normals.angular_error_deg(predicted, target)
                small_pred, small_target, small_valid = down_to(predicted, target, valid, smallest, smallest)
                small_error = normals.angular_error_deg(small_pred, small_target)
                for key, values in (("mean", error[valid]), ("edge", error[band]),
                                    (f"mean_at_{smallest}", small_error[small_valid])):
                    sums[mode][key][0] += float(values.sum())
                    sums[mode][key][1] += values.size
        report[folder] = {"resolution": int(examples[0][2].shape[0]) if examples else 0, "images": len(examples),
                          **{mode: {k: (s / n if n else None) for k, (s, n) in keys.items()}
                             for mode, keys in sums.items()}}
    return report


def format_table(report):
    """Markdown: motorcycle rows by factor, render rows by folder; a column per mode (mean / edge)."""
    modes = [m for m in fusion.MODES if m in next(iter(report["motorcycle"].values()))]
    head = "| | " + " | ".join(f"{m}: mean / edge °" for m in modes) + " |\n" + "|---" * (len(modes) + 1) + "|"
    cell = lambda r: f"{r['mean']:.2f} / " + ("–" if r["edge"] is None else f"{r['edge']:.2f}")
    lines = [head] + [f"| motorcycle {factor} | " + " | ".join(cell(row[m]) for m in modes) + " |"
                      for factor, row in report["motorcycle"].items()]
    for folder, row in report.get("renders", {}).items():
        at = next(k for k in row[modes[0]] if k.startswith("mean_at_"))
        lines.append(f"| renders {row['resolution']}² ({row['images']}) | "
                     + " | ".join(cell(row[m]) + f" ({at[5:]}: {row[m][at]:.2f})" for m in modes) + " |")
    return "\n".join(lines)


def resolution_gallery(model, plate, height=GALLERY_HEIGHT, crop=None):
    """One image: the plate and its fused normals (scaled to `height`, at most the plate's shorter side), then a
    `height`² crop at the plate's own resolution of the plate, the fused normals and the tiled normals, labelled.

    crop: (y, x) of the crop's top-left corner (default: the plate's centre).
    """
    from PIL import ImageDraw
    h, w = plate.shape[:2]
    height = min(height, h, w)
    fused = fusion.PassSettings().passes(model, plate)["normals"]
    tiled = fusion.PassSettings(mode="tiled").passes(model, plate)["normals"]
    y, x = crop or ((h - height) // 2, (w - height) // 2)
    window = (slice(max(y, 0), max(y, 0) + height), slice(max(x, 0), max(x, 0) + height))
    width = max(1, round(w * height / h))
    panels = [("plate", tiling.resize(plate, height, width)), ("normals, fused", normals.encode(
        normals.normalize(tiling.resize(fused, height, width)))), ("plate 1:1", plate[window]),
              ("fused 1:1", normals.encode(fused[window])), ("tiled 1:1", normals.encode(tiled[window]))]
    sheet = np.concatenate([np.pad(p, ((0, height - p.shape[0]), (0, 0), (0, 0))) for _, p in panels], axis=1)
    image = Image.fromarray((np.clip(sheet, 0, 1) * 255 + 0.5).astype(np.uint8))
    draw, left = ImageDraw.Draw(image), 0
    for label, panel in panels:
        draw.rectangle((left, 0, left + 8 + 7 * len(label), 16), fill=(0, 0, 0))
        draw.text((left + 4, 2), label, fill=(255, 255, 255))
        left += panel.shape[1]
    return np.asarray(image, np.float32) / 255.0


@dataclasses.dataclass(frozen=True)
class ScaleRequest:
    """What to measure: motorcycle factors, render folders, predict modes (and the passes' other settings), and
    an optional gallery of one large plate (gallery: PNG to write; gallery_plate: the plate file)."""

    factors: tuple = MOTORCYCLE_FACTORS
    renders: tuple = ()
    modes: tuple = fusion.MODES
    settings: fusion.PassSettings = fusion.PassSettings()
    gallery: str = ""
    gallery_plate: str = ""


def request_from_flags(flag_values):
    """The ScaleRequest of the evaluate command's flags; errors.UsageError naming a bad flag."""
    try:
        factors = tuple(int(f) for f in flag_values.scale_factors)
    except ValueError:
        raise errors.UsageError(f"--scale_factors: whole numbers, got {','.join(flag_values.scale_factors)}") from None
    if not factors or min(factors) < 1:
        raise errors.UsageError(f"--scale_factors: give factors of at least 1, got {factors}")
    modes = tuple(flag_values.scale_modes)
    if not modes or set(modes) - set(fusion.MODES):
        raise errors.UsageError(f"--scale_modes: choose among {', '.join(fusion.MODES)}, got {','.join(modes)}")
    for folder in flag_values.scale_renders:
        if not os.path.isdir(folder):
            raise errors.MissingPathError(f"--scale_renders: {folder}: no such folder")
    if bool(flag_values.scale_gallery) != bool(flag_values.scale_gallery_plate):
        raise errors.UsageError("--scale_gallery and --scale_gallery_plate: give both (the PNG to write and its plate)")
    if flag_values.scale_gallery_plate and not os.path.isfile(flag_values.scale_gallery_plate):
        raise errors.MissingPathError(f"--scale_gallery_plate: {flag_values.scale_gallery_plate}: no such file")
    if flag_values.scale_gallery:
        outputs.check_writable_file(flag_values.scale_gallery, "--scale_gallery")
    return ScaleRequest(factors, tuple(flag_values.scale_renders), modes, gallery=flag_values.scale_gallery,
                        gallery_plate=flag_values.scale_gallery_plate)


def check_model(model_path, output_json, request=ScaleRequest()):
    """What `python -m tfnormals.evaluate --scale_checks` does: measure, write the JSON report, return it."""
    from tfnormals.tools.model_io import load_model
    if not os.path.exists(model_path):
        raise errors.MissingPathError(f"--model: {model_path}: no such model")
    outputs.check_writable_file(output_json, "--output_json")
    model = load_model(model_path)
    report = {"model": model_path, "working_size": model.working_size, "settings": dataclasses.asdict(request.settings),
              "motorcycle": motorcycle_scales(model, request.modes, request.factors, request.settings)}
    if request.renders:
        report["renders"] = render_scales(model, request.renders, request.modes, request.settings)
    if request.gallery:
        from tfnormals.tools import prediction
        plate = image_io.fill_nonfinite(image_io.read_image(request.gallery_plate))[0]
        image_io.write_png(request.gallery, resolution_gallery(model, prediction.network_input(
            plate, request.gallery_plate)))
        report["gallery"] = request.gallery
    with image_io.atomic_output(output_json) as tmp:
        with open(tmp, "w") as f:
            json.dump(report, f, indent=1)
    return report
