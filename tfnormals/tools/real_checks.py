"""Checks on real photographs: the quality measurements renders alone cannot give.

- Middlebury motorcycle (scikit-image's `stereo_motorcycle`: a real photo with ground-truth
  disparity, quarter resolution): normals and depth from the back-projected points, compared
  with the model and the flat / best-constant / luminance-gradient baselines (the baselines'
  constant and strength are fitted on this very ground truth, so they are optimistic floors).
- Label-free checks on freely licensed photos that scikit-image ships: flip equivariance
  (predict the mirrored photo, mirror back and negate X: mean angle to the direct prediction)
  and scale consistency (the ½× prediction against the 1× prediction brought to ½×).
- A gallery PNG, one row per photo: photo | normals | relit.

scikit-image (and SciPy, which it needs) provide the photos; install with the `eval` extra.
The motorcycle is for validation only, never for training or tuning.
"""

import json
import os

import numpy as np

from tfnormals.core import camera, conventions, errors, image_io, normals, outputs, srgb
from tfnormals.tools import baselines, evaluation, fusion, relighting, tiling

# Middlebury 2014 "Motorcycle" calibration at scikit-image's quarter resolution.
MOTORCYCLE_FOCAL_PX = 994.978
MOTORCYCLE_CENTRE = (311.193, 254.877)
MOTORCYCLE_DOFFS = 31.086
MOTORCYCLE_BASELINE_MM = 193.001
TRUTH_SMOOTH_SIGMA = 2.0      # pixels of Gaussian smoothing of the ground-truth depth before differencing
TRUTH_MAX_RELATIVE_STEP = 0.02  # a pixel next to a depth change larger than this (relative) is a jump
TRUTH_ERODE = 3               # pixels dropped around holes and jumps

# Real photos scikit-image ships with free licences (its docstrings: public domain or CC0).
GALLERY_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "camera", "coins", "clock", "brick")
GALLERY_LIGHT = relighting.Light(direction=(-1.0, 0.6, 0.5), color=(1.0, 0.62, 0.3), intensity=1.6)
GALLERY_AMBIENT = relighting.DEFAULT_AMBIENT["add"]  # what relight does by default
GALLERY_SIDE = 256


def _skimage_data():
    try:
        import skimage.data
    except ImportError as e:
        raise ImportError("real-photo checks need scikit-image (pip install -e '.[eval]')") from e
    return skimage.data


def as_plate(image):
    """A uint8 (grey or RGB) photo as the network's input: float32 H×W×3 sRGB in [0, 1]."""
    image = np.asarray(image, np.float32) / 255.0
    return image_io.to_rgb(image[..., None] if image.ndim == 2 else image)


def photo(name):
    """One of scikit-image's sample photos by name, as a plate."""
    return as_plate(getattr(_skimage_data(), name)())


def motorcycle_truth():
    """The motorcycle plate and its ground truth: dict(plate, depth [mm], normals, mask).

    Depth is baseline · f / (disparity + doffs); holes (infinite disparity), depth jumps and a
    margin around them are masked out; normals come from the smoothed back-projected points.
    """
    from scipy import ndimage
    left, _, disparity = _skimage_data().stereo_motorcycle()
    known = np.isfinite(disparity) & (disparity > 0)
    depth = np.where(known, MOTORCYCLE_BASELINE_MM * MOTORCYCLE_FOCAL_PX
                     / (np.where(known, disparity, 1.0) + MOTORCYCLE_DOFFS), 0.0)
    weight = ndimage.gaussian_filter(known.astype(np.float64), TRUTH_SMOOTH_SIGMA)
    smooth = ndimage.gaussian_filter(depth, TRUTH_SMOOTH_SIGMA) / np.maximum(weight, 1e-6)
    step = np.maximum(np.abs(np.diff(depth, axis=0, append=depth[-1:])),
                      np.abs(np.diff(depth, axis=1, append=depth[:, -1:])))
    smooth_step = ndimage.maximum_filter(step / np.maximum(depth, 1e-6), size=3)
    mask = known & (smooth_step < TRUTH_MAX_RELATIVE_STEP)
    mask = ndimage.binary_erosion(mask, iterations=TRUTH_ERODE)
    centre = (MOTORCYCLE_CENTRE[0] + 0.5, MOTORCYCLE_CENTRE[1] + 0.5)  # Middlebury pixel centres are integers
    position = camera.position_from_depth(np.where(mask, smooth, 0.0), MOTORCYCLE_FOCAL_PX, centre)
    normal_map = camera.normals_from_position(position, mask)
    mask &= np.linalg.norm(normal_map, axis=-1) > conventions.MIN_NORMAL_LENGTH
    return {"plate": as_plate(left), "depth": np.where(mask, depth, 0.0).astype(np.float32),
            "normals": normal_map, "mask": mask}


def motorcycle_report(predict_passes, truth=None):
    """Normals (and depth when predicted) metrics on the motorcycle for the model and the baselines."""
    truth = truth or motorcycle_truth()
    plate, target, mask = truth["plate"], truth["normals"], truth["mask"]
    outputs = predict_passes(plate)
    fitted_constant = baselines.mean_normal([target], [mask.astype(np.float32)])
    strength = baselines.fit_gradient_strength([plate], [target], [mask.astype(np.float32)])
    methods = {"model": outputs["normals"], "flat": baselines.flat(plate.shape),
               "best_constant": baselines.constant(plate.shape, fitted_constant),
               "luminance_gradient": baselines.luminance_gradient(plate, strength)}
    report = {m: normals.angular_metrics(normals.angular_error_deg(p, target)[mask]) for m, p in methods.items()}
    report["pixels"] = int(mask.sum())
    if "depth" in outputs:
        report["depth"] = camera.depth_metrics(outputs["depth"][..., 0], truth["depth"], mask)
        report["depth_constant"] = camera.depth_metrics(np.ones_like(truth["depth"]), truth["depth"], mask)
        report["depth_contrast"] = camera.depth_contrast_metrics(outputs["depth"][..., 0], truth["depth"], mask)
    return report


def flip_equivariance(predict_normals, plates):
    """Mean angle (degrees) between each plate's normals and the mirrored plate's, mirrored back."""
    angles = []
    for plate in plates:
        direct = predict_normals(plate)
        mirrored = predict_normals(plate[:, ::-1])[:, ::-1] * np.array([-1.0, 1.0, 1.0], np.float32)
        angles.append(float(normals.angular_error_deg(direct, mirrored).mean()))
    return float(np.mean(angles))


def scale_consistency(predict_normals, plates):
    """Mean angle (degrees) between the ½× plate's normals and the 1× normals downsampled to ½×."""
    angles = []
    for plate in plates:
        h, w = plate.shape[0] // 2, plate.shape[1] // 2
        half = predict_normals(tiling.resize(plate, h, w))
        full = normals.normalize(tiling.resize(predict_normals(plate), h, w))
        angles.append(float(normals.angular_error_deg(half, full).mean()))
    return float(np.mean(angles))


def gallery(predict_normals, plates, light=GALLERY_LIGHT, side=GALLERY_SIDE):
    """One image of rows photo | normals | relit, each panel `side` wide (rows as tall as their photo).

    The relit panel keeps GALLERY_AMBIENT of the photo's own light and adds a warm key from the upper
    left, so wrong normals show as light on the wrong side.
    """
    rows = []
    for plate in plates:
        height = max(1, round(plate.shape[0] * side / plate.shape[1]))
        small = tiling.resize(plate, height, side)
        normal_map = predict_normals(small)
        relit = srgb.linear_to_srgb(relighting.relight(srgb.srgb_to_linear(small), normal_map, [light],
                                                      ambient=GALLERY_AMBIENT))
        rows.append(np.concatenate([small, normals.encode(normal_map), np.clip(relit, 0.0, 1.0)], axis=1))
    return np.concatenate(rows, axis=0)


def run_checks(predict_passes, gallery_path=""):
    """Every real-photo check for one model: the motorcycle report, flip and scale consistency,
    and (with gallery_path) the gallery PNG. predict_passes: plate H×W×3 → {'normals', ...}."""
    predict_normals = lambda plate: predict_passes(plate)["normals"]
    plates = [photo(name) for name in GALLERY_PHOTOS]
    report = {"motorcycle": motorcycle_report(predict_passes),
              "flip_equivariance_deg": flip_equivariance(predict_normals, plates),
              "scale_consistency_deg": scale_consistency(predict_normals, plates),
              "photos": list(GALLERY_PHOTOS)}
    if gallery_path:
        image_io.write_png(gallery_path, gallery(predict_normals, plates))
        report["gallery"] = gallery_path
    return report


def check_model(model_path, output_json, gallery_path="", settings=fusion.PassSettings()):
    """What `python -m tfnormals.evaluate --real_checks` does: run every check, write the JSON report.

    The checks run through predict's default (tfnormals.tools.fusion: the photo seen whole at the model's
    working size, or `settings`' own, finer passes fused), as a user gets the passes; "native" repeats the
    motorcycle, flip and scale figures with the network at each photo's own resolution (predict's tiled mode),
    the model alone.
    """
    from tfnormals.tools.model_io import load_model
    if not os.path.exists(model_path):
        raise errors.MissingPathError(f"--model: {model_path}: no such model")
    outputs.check_writable_file(output_json, "--output_json")
    if gallery_path:
        outputs.check_writable_file(gallery_path, "--gallery")
    _skimage_data()
    model = load_model(model_path)
    report = dict(run_checks(lambda plate: settings.passes(model, plate), gallery_path),
                  model=model_path, working_size=settings.working_size or model.working_size)
    native = run_checks(lambda plate: tiling.predict_tiled(model.predict_passes, plate))
    report["native"] = {"motorcycle_mean_deg": native["motorcycle"]["model"]["mean"],
                        "flip_equivariance_deg": native["flip_equivariance_deg"],
                        "scale_consistency_deg": native["scale_consistency_deg"]}
    with image_io.atomic_output(output_json) as tmp:
        with open(tmp, "w") as f:
            json.dump(report, f, indent=1)
    return report


def format_table(report):
    """Markdown: the motorcycle table (model and baselines), its depth row, and the label-free checks."""
    keys = ["mean", "median"] + [normals.threshold_key(t) for t in conventions.ANGLE_THRESHOLDS_DEG]
    moto = report["motorcycle"]
    lines = ["| motorcycle normals | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    lines += [f"| {m} | " + " | ".join(f"{moto[m][k]:.2f}" for k in keys) + " |"
              for m in ("model", "flat", "best_constant", "luminance_gradient")]
    text = "\n".join(lines) + f"\n\n{moto['pixels']} ground-truth pixels (baselines fitted on them: optimistic)"
    if "depth" in moto:
        text += (f"\n\nmotorcycle depth AbsRel (median-scaled): model {moto['depth']['absrel_median']:.3f}, "
                 f"constant {moto['depth_constant']['absrel_median']:.3f}; "
                 f"δ<1.25: model {moto['depth']['delta125_median']:.3f}, "
                 f"constant {moto['depth_constant']['delta125_median']:.3f}")
        text += "\n\nmotorcycle " + evaluation.format_contrast_line(moto["depth_contrast"])
    text += (f"\n\nflip equivariance {report['flip_equivariance_deg']:.2f}° mean, scale consistency "
             f"{report['scale_consistency_deg']:.2f}° mean, over {len(report['photos'])} photos")
    if "native" in report:
        native = report["native"]
        text += (f"\n\nthe network at each photo's own resolution (predict --mode=tiled): motorcycle "
                 f"{native['motorcycle_mean_deg']:.2f}°, flip equivariance {native['flip_equivariance_deg']:.2f}°, "
                 f"scale consistency {native['scale_consistency_deg']:.2f}°")
    return text
