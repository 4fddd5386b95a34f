"""Temporal checks: how much predicted passes flicker along a sequence, per-frame vs the temporal mode.

- Rendered shots with truth (data_tools.render_shots; `python -m tfnormals.evaluate --shots=DIR`): per frame
  the accuracy (mean angular error of the normals over the frame's surfaces) and between consecutive frames
  the flicker: frame t's predicted normals carried to t + 1 by the true correspondence and rotation
  (tfnormals.core.shots) against t + 1's prediction there, the mean angle over the pixels both frames see,
  less the same figure for the true normals (the interpolation's own share). Depth flicker alike: the change
  of log depth the prediction makes between corresponding pixels against the true change of that point's
  depth (so a scale that jumps or drifts counts), in percent, less the truth's own residual.
- Footage without truth (`--temporal_checks`): 8-frame sequences made from one plate, a still frame with
  fresh film grain each frame (σ = GRAIN_SIGMA in sRGB) and a slow pan (PAN_PX_PER_FRAME, light grain);
  the figure is the mean angle between consecutive frames' normals (the pan's frames aligned first). The
  truth does not change between those frames at all, so all of it is flicker. scikit-image's astronaut and
  coffee and the Middlebury motorcycle, or any plate.
"""

import dataclasses
import glob
import json
import os

import numpy as np

from tfnormals.core import errors, image_io, layout, normals, outputs, shots
from tfnormals.tools import fusion, prediction, temporal

GRAIN_SIGMA = 0.02       # film grain of the still sequence, sRGB
PAN_GRAIN_SIGMA = 0.005  # light grain of the pan
PAN_PX_PER_FRAME = 1
SEQUENCE_FRAMES = 8
CHECK_PHOTOS = ("astronaut", "coffee", "motorcycle")
MATCHMOVE = "temporal_matchmove"  # the temporal mode given each shot's recorded cameras (evaluate --temporal_matchmove)
MATTES = "temporal_matchmove_mattes"  # and mattes of its moving objects too (evaluate --temporal_mattes)
MATTE_GROW = 0.03  # the mattes are the moving objects' own pixels grown by this share of the frame's longer side


def predicted_sequences(model, images, inference, blending=temporal.Blending(), cameras=None, mattes=None):
    """{'per_frame': [passes], 'temporal': [passes]} of a list of network inputs, each frame predicted once; with
    `cameras` (a core.shots.FrameCamera per frame) also 'temporal_matchmove', the temporal mode given those cameras
    (predict --matchmove), and with `mattes` (H×W bool per frame) 'temporal_matchmove_mattes', given those mattes
    too (predict --matchmove_mattes)."""
    histories = {"temporal": temporal.History(blending)}
    if cameras is not None:
        histories[MATCHMOVE] = temporal.History(blending)
        if mattes is not None:
            histories[MATTES] = temporal.History(blending)
    sequences = {"per_frame": [], **{method: [] for method in histories}}
    for index, image in enumerate(images):
        passes = inference.passes(model, image)
        sequences["per_frame"].append(passes)
        for method, history in histories.items():
            camera = cameras[index] if method != "temporal" else None
            matte = mattes[index] if method == MATTES else None
            sequences[method].append(history.update(image, passes, camera, matte)[0])
    return sequences


# --- Rendered shots with truth.

def shot_frames(shot):
    """Network inputs and truth ({'normals', 'depth', 'mask'}) of every frame of a rendered shot."""
    images, truths = [], []
    for frame in shot.frames:
        path = shot.path(layout.BEAUTY_EXR, frame)
        images.append(prediction.network_input(image_io.read_image(path), path))
        depth = image_io.read_image(shot.path(layout.DEPTH_EXR, frame))[..., 0]
        coverage = image_io.read_image(shot.path(layout.MASK_PNG, frame))[..., 0]
        truths.append({"normals": normals.normalize(image_io.read_image(shot.path(layout.NORMALS_EXR, frame))[..., :3]),
                       "depth": depth, "mask": (coverage > 0.5) & (depth > 0)})
    return images, truths


def _log(depth):
    return np.log(np.maximum(depth, 1e-6))


def pair_changes(match, predicted_a, predicted_b, truth_a, truth_b, moving_ids=()):
    """Flicker between frames a and b (match: their shots.Correspondence): {'normals_deg', 'depth_pct'}, each the
    prediction's change beyond the truth's own over the pixels both frames see (module docstring); with
    `moving_ids` (the moving objects' IDs) also 'moving_normals_deg' and 'still_normals_deg', the same over a's
    pixels on those objects and over the others, where there are any."""
    valid = match.valid & truth_a["mask"]
    if not np.any(valid):
        return None
    change = (normals.angular_error_deg(match.transfer_normals(predicted_a["normals"]),
                                        match.sample(predicted_b["normals"]))
              - normals.angular_error_deg(match.transfer_normals(truth_a["normals"]), match.sample(truth_b["normals"])))
    result = {"normals_deg": float(change[valid].mean())}
    if len(moving_ids):
        on_moving = np.isin(match.ids, list(moving_ids))
        for key, where in (("moving_normals_deg", valid & on_moving), ("still_normals_deg", valid & ~on_moving)):
            if np.any(where):
                result[key] = float(change[where].mean())
    if "depth" in predicted_a:
        true_step = _log(match.depth) - _log(truth_a["depth"])
        step = _log(match.sample(predicted_b["depth"][..., 0])) - _log(predicted_a["depth"][..., 0])
        residual = np.abs(_log(match.sample(truth_b["depth"])) - _log(match.depth))
        result["depth_pct"] = 100.0 * float(np.abs(step - true_step)[valid].mean() - residual[valid].mean())
    return result


def shot_report(shot, sequences, truths):
    """Per method ('per_frame', 'temporal'): mean accuracy over the frames and mean flicker over the pairs (each
    flicker figure over the pairs that have its pixels), and the moving objects' share of the pixels compared."""
    matches = [shot.correspondence(a, b) for a, b in zip(shot.frames, shot.frames[1:])]
    moving_ids = shot.moving_ids
    report = {}
    for method, predicted in sequences.items():
        accuracy = [float(normals.angular_error_deg(out["normals"], truth["normals"])[truth["mask"]].mean())
                    for out, truth in zip(predicted, truths) if truth["mask"].any()]
        changes = [pair_changes(match, predicted[i], predicted[i + 1], truths[i], truths[i + 1], moving_ids)
                   for i, match in enumerate(matches)]
        changes = [c for c in changes if c]
        keys = dict.fromkeys(key for c in changes for key in c)
        report[method] = {"accuracy_deg": float(np.mean(accuracy)),
                          **{f"flicker_{key}": float(np.mean([c[key] for c in changes if key in c])) for key in keys}}
    if moving_ids:
        compared = [match.valid & truth["mask"] for match, truth in zip(matches, truths)]
        report["moving_share"] = float(sum(np.sum(v & np.isin(m.ids, moving_ids)) for v, m in zip(compared, matches))
                                       / max(1, sum(np.sum(v) for v in compared)))
    report["moving_objects"] = bool(moving_ids)
    report["camera_path"] = shot.info.get("camera_path", {}).get("kind")
    report["frames"] = len(shot.frames)
    return report


def moving_mattes(shot):
    """Mattes of a shot's moving objects, one H×W bool per frame: their ID pass's pixels grown by MATTE_GROW of the
    frame (a loose roto, as a compositor draws it for a camera solve)."""
    import cv2
    mattes = []
    for frame in shot.frames:
        ids = shots.read_ids(shot.path(layout.IDS_PNG, frame))
        grow = max(1, round(MATTE_GROW * max(ids.shape)))
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1))
        mattes.append(cv2.dilate(np.isin(ids, shot.moving_ids).astype(np.uint8), kernel) > 0)
    return mattes


def shots_report(model, folders, inference, blending=temporal.Blending(), matchmove=False, mattes=False):
    """{shot folder: shot_report} for every shot folder in `folders` (shot_folders); with `matchmove` also the
    temporal mode with the shot's own recorded cameras (the shot.json's, as predict --matchmove=shot.json has them),
    and with `mattes` that mode given mattes of its moving objects too (moving_mattes)."""
    report = {}
    for folder in folders:
        shot = shots.read_shot(folder)
        images, truths = shot_frames(shot)
        cameras = [shot.camera(frame) for frame in shot.frames] if matchmove else None
        frame_mattes = moving_mattes(shot) if matchmove and mattes else None
        report[folder] = shot_report(shot, predicted_sequences(model, images, inference, blending, cameras,
                                                               frame_mattes), truths)
    return report


def shot_folders(folders):
    """The shot folders named by --shots: each a shot (holding shot.json) or a folder of shots; errors.UsageError
    naming --shots for a folder with none."""
    found = []
    for folder in folders:
        if os.path.isfile(os.path.join(folder, layout.SHOT_JSON)):
            found.append(folder)
            continue
        inside = sorted(os.path.dirname(p) for p in glob.glob(os.path.join(glob.escape(folder), layout.SHOT_GLOB,
                                                                             layout.SHOT_JSON)))
        if not os.path.isdir(folder):
            raise errors.MissingPathError(f"--shots: {folder}: no such folder")
        if not inside:
            raise errors.UsageError(f"--shots: {folder}: no {layout.SHOT_JSON} in it or in its shot folders")
        found += inside
    return found


# --- Footage without truth: grain and pan sequences made from one plate.

def grain_sequence(plate, frames=SEQUENCE_FRAMES, sigma=GRAIN_SIGMA, seed=0):
    """The still plate (network input, sRGB in [0, 1]) with fresh Gaussian grain of `sigma` every frame."""
    rng = np.random.default_rng(seed)
    return [np.clip(plate + rng.normal(0.0, sigma, plate.shape), 0.0, 1.0).astype(np.float32) for _ in range(frames)]


def pan_sequence(plate, frames=SEQUENCE_FRAMES, step=PAN_PX_PER_FRAME, sigma=PAN_GRAIN_SIGMA, seed=1):
    """A slow pan across the plate: frame t is the plate's window starting `step`·t pixels to the right (the
    picture moves left), with light grain; every frame is (frames − 1)·step pixels narrower than the plate."""
    width = plate.shape[1] - (frames - 1) * step
    windows = [plate[:, t * step:t * step + width] for t in range(frames)]
    return [grain_sequence(window, 1, sigma, seed + t)[0] for t, window in enumerate(windows)]


def consecutive_change_deg(outputs, step=0):
    """Mean angle (degrees) between consecutive frames' normals, frame t + 1 shifted back by `step` pixels (a
    pan's frames aligned) and compared where both frames see the picture."""
    angles = []
    for a, b in zip(outputs, outputs[1:]):
        a, b = a["normals"], b["normals"]
        if step:
            a, b = a[:, step:], b[:, :-step]
        angles.append(float(normals.angular_error_deg(a, b).mean()))
    return float(np.mean(angles))


def plate_checks(model, plate, inference, blending=temporal.Blending()):
    """{'grain': {'per_frame', 'temporal'}, 'pan': {...}}: the mean consecutive change in degrees of one plate's
    grain and pan sequences, predicted per frame and in the temporal mode."""
    report = {}
    for name, frames, step in (("grain", grain_sequence(plate), 0), ("pan", pan_sequence(plate), PAN_PX_PER_FRAME)):
        sequences = predicted_sequences(model, frames, inference, blending)
        report[name] = {method: consecutive_change_deg(outputs, step) for method, outputs in sequences.items()}
    return report


def check_plates():
    """The bundled check plates by name (scikit-image's astronaut and coffee, the Middlebury motorcycle)."""
    from tfnormals.tools import real_checks
    plates = {name: real_checks.photo(name) for name in CHECK_PHOTOS if name != "motorcycle"}
    plates["motorcycle"] = real_checks.motorcycle_truth()["plate"]
    return plates


def plates_report(model, plates, inference, blending=temporal.Blending()):
    """{name: plate_checks} for {name: network input}."""
    return {name: plate_checks(model, plate, inference, blending) for name, plate in plates.items()}


def read_plates(paths):
    """{file name: network input} of the plates given by --temporal_plates (colour space by file type)."""
    plates = {}
    for path in paths:
        if not os.path.isfile(path):
            raise errors.MissingPathError(f"--temporal_plates: {path}: no such file")
        plate, _ = image_io.fill_nonfinite(image_io.read_image(path))
        plates[os.path.basename(path)] = prediction.network_input(plate, path)
    return plates


def check_model(model_path, output_json, *, shot_dirs=(), plate_paths=(), bundled=False,
                inference=fusion.PassSettings(), matchmove=False, mattes=False):
    """What `python -m tfnormals.evaluate --shots=DIR` and `--temporal_checks` do: the shots' flicker and accuracy,
    the grain and pan checks of the plates (the bundled ones with `bundled`), per frame and temporal (with
    `matchmove`, the shots also with their recorded cameras); writes the JSON report and returns it."""
    from tfnormals.tools.model_io import load_model
    if matchmove and not shot_dirs:
        raise errors.UsageError("--temporal_matchmove: runs on rendered shots (their recorded cameras); give --shots")
    if mattes and not matchmove:
        raise errors.UsageError("--temporal_mattes: gives the matchmove mattes of the moving objects; give "
                                "--temporal_matchmove too")
    if not os.path.exists(model_path):
        raise errors.MissingPathError(f"--model: {model_path}: no such model")
    outputs.check_writable_file(output_json, "--output_json")
    folders, plates = shot_folders(shot_dirs), read_plates(plate_paths)
    if bundled:
        plates.update(check_plates())
    model = load_model(model_path)
    report = {"model": model_path, "settings": dataclasses.asdict(inference),
              "blending": dataclasses.asdict(temporal.Blending())}
    if folders:
        report["shots"] = shots_report(model, folders, inference, matchmove=matchmove, mattes=mattes)
    if plates:
        report["plates"] = plates_report(model, plates, inference)
    with image_io.atomic_output(output_json) as tmp:
        with open(tmp, "w") as f:
            json.dump(report, f, indent=1)
    return report


METHODS = ("per_frame", "temporal")
METHOD_NAMES = {"per_frame": "per-frame", "temporal": "temporal", MATCHMOVE: "matchmove",
                MATTES: "matchmove + mattes"}


def _shot_row(name, rows, methods):
    mean = {m: {k: float(np.mean([r[m][k] for r in rows])) for k in rows[0][m] if all(k in r[m] for r in rows)}
            for m in methods}
    flicker = [mean[m]["flicker_normals_deg"] for m in methods]
    cells = [name] + [f"{mean[m]['accuracy_deg']:.2f}" for m in methods] + [f"{f:.2f}" for f in flicker]
    cells += [f"{flicker[0] / f:.1f}×" if f > 0 else "–" for f in flicker[1:]]
    if "flicker_depth_pct" in mean["per_frame"]:
        cells += [f"{mean[m]['flicker_depth_pct']:.2f}" for m in methods]
    return "| " + " | ".join(cells) + " |"


def _shot_name(folder, row):
    moving = ", moving objects" if row["moving_objects"] else ""
    name = os.path.join(os.path.basename(os.path.dirname(os.path.abspath(folder))), os.path.basename(folder))
    return f"{name} ({row['camera_path']}{moving})"


def _where_table(shots_found, methods):
    """Markdown: the normals' flicker on the moving objects' own pixels and on the still ones, per shot with moving
    objects and their mean; '' when no shot has them."""
    rows = {folder: row for folder, row in shots_found.items() if "moving_share" in row}
    if not rows:
        return ""
    names = [METHOD_NAMES[m] for m in methods]
    headers = (["shot", "moving objects' pixels"] + [f"on moving objects, {n} °" for n in names]
               + [f"on still surfaces, {n} °" for n in names])
    lines = ["| " + " | ".join(headers) + " |", "|---" * len(headers) + "|"]

    def cells(name, share, group):
        figures = [np.mean([r[m][f"flicker_{where}_normals_deg"] for r in group if f"flicker_{where}_normals_deg"
                            in r[m]] or [np.nan]) for where in ("moving", "still") for m in methods]
        return "| " + " | ".join([name, f"{100 * share:.0f}%"] + [f"{f:.2f}" for f in figures]) + " |"

    lines += [cells(_shot_name(folder, row), row["moving_share"], [row]) for folder, row in rows.items()]
    lines.append(cells(f"**mean of {len(rows)}**", np.mean([r["moving_share"] for r in rows.values()]),
                       list(rows.values())))
    return "Where the normals flicker, in the shots with moving objects:\n\n" + "\n".join(lines)


def format_table(report):
    """Markdown: per shot and over the shots (all, with moving objects), where the flicker is in the shots with
    moving objects, then per plate."""
    parts = []
    if "shots" in report:
        shots_found = report["shots"]
        first = next(iter(shots_found.values()))
        methods = [m for m in METHOD_NAMES if m in first]
        names = [METHOD_NAMES[m] for m in methods]
        headers = (["shot"] + [f"accuracy {n} °" for n in names] + [f"flicker {n} °" for n in names]
                   + [f"flicker lower by ({n})" for n in names[1:]])
        if "flicker_depth_pct" in first["per_frame"]:
            headers += [f"depth flicker {n} %" for n in names]
        lines = ["| " + " | ".join(headers) + " |", "|---" * len(headers) + "|"]
        for folder, row in shots_found.items():
            lines.append(_shot_row(_shot_name(folder, row), [row], methods))
        rows = list(shots_found.values())
        lines.append(_shot_row(f"**all {len(rows)} shots**", rows, methods))
        moving = [r for r in rows if r["moving_objects"]]
        if moving:
            lines.append(_shot_row(f"**{len(moving)} with moving objects**", moving, methods))
        parts += [text for text in ("\n".join(lines), _where_table(shots_found, methods)) if text]
    if "plates" in report:
        lines = ["| plate | grain per-frame ° | grain temporal ° | pan per-frame ° | pan temporal ° |",
                 "|---" * 5 + "|"]
        lines += [f"| {name} | " + " | ".join(f"{checks[kind][m]:.2f}" for kind in ("grain", "pan") for m in METHODS)
                  + " |" for name, checks in report["plates"].items()]
        parts.append("\n".join(lines) + f"\n\nmean angle between consecutive frames' normals over {SEQUENCE_FRAMES} "
                     f"frames: grain σ = {GRAIN_SIGMA} (sRGB) on a still plate; pan {PAN_PX_PER_FRAME} px/frame with "
                     f"grain σ = {PAN_GRAIN_SIGMA}, frames aligned")
    return "\n\n".join(parts)
