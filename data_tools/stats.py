"""Statistics of a folder of rendered samples: how balanced the normals are, and what the frames show.

Usage:
  python -m data_tools.stats --input_dir=DIR [--output_json=FILE] [--max_samples=N] [--workers=N]

Prints a markdown table to stdout and writes the full figures as JSON (default DIR/stats.json);
progress goes to stderr. Over surface pixels (mask ≥ 0.5) of camera-space normals:

  dominant-plane share   per image, the fraction of surface pixels within 12° of the most common
                         normal (1.0 for a single flat plane); reported as the median over images;
  hemisphere coverage    over the whole set, the share of the 36 × 9 (azimuth × polar angle, 10°
                         bins) histogram bins holding at least 0.1% of all surface pixels; polar
                         angle is measured from +Z (facing the camera), normals with Z ≤ 0 fall
                         in the last (80–90°) ring;
  normalized entropy     Shannon entropy of that histogram over log(324) (1 = uniform over bins);
  object-pixel fraction  per image, the fraction of the frame whose ID-pass value is an object
                         (tfnormals.core.layout.ID_FIRST_OBJECT and up; needs ids.png);
  luminance / exposure   per image, mean Rec. 709 luma of the display-referred beauty (beauty.png)
                         and its clipped-pixel share; the exposure scale from scene.json in stops.
Samples per family come from scene.json's "family" (folders from older generators: "unknown").
Exit code 2 for a usage mistake (a missing or empty folder, a bad flag), 1 when a sample cannot be read.
"""

import contextlib
import json
import multiprocessing
import os

import numpy as np
from absl import flags, logging

from tfnormals.core import cli, conventions, errors, image_io, layout, outputs, srgb
from tfnormals.core.progress import Progress

FLAGS = flags.FLAGS
AZIMUTH_BINS, POLAR_BINS = 36, 9
MIN_BIN_SHARE = 0.001
DOMINANT_PLANE_DEG = 12.0
SEED_GRID = 8  # normals quantized to a 17³ lattice (~7° cells) to find candidate modes
SEED_CANDIDATES = 3
MEAN_SHIFT_STEPS = 3


def hemisphere_bin(normals):
    """Flat bin index in the AZIMUTH_BINS × POLAR_BINS histogram of (N, 3) camera-space normals."""
    azimuth = np.degrees(np.arctan2(normals[:, 1], normals[:, 0])) % 360.0
    polar = np.degrees(np.arccos(np.clip(normals[:, 2], 0.0, 1.0)))
    a = np.minimum((azimuth / (360.0 / AZIMUTH_BINS)).astype(np.int64), AZIMUTH_BINS - 1)
    p = np.minimum((polar / (90.0 / POLAR_BINS)).astype(np.int64), POLAR_BINS - 1)
    return p * AZIMUTH_BINS + a


def hemisphere_histogram(normals):
    """Pixel counts per bin (AZIMUTH_BINS × POLAR_BINS, flattened polar-major)."""
    return np.bincount(hemisphere_bin(normals), minlength=AZIMUTH_BINS * POLAR_BINS).astype(np.int64)


def coverage_and_entropy(histogram):
    """(share of bins with ≥ MIN_BIN_SHARE of the pixels, entropy / log(bins)) of a histogram."""
    total = histogram.sum()
    if total == 0:
        return float("nan"), float("nan")
    p = histogram / total
    nonzero = p[p > 0]
    return float(np.mean(p >= MIN_BIN_SHARE)), float(-(nonzero * np.log(nonzero)).sum() / np.log(len(p)))


def dominant_plane_share(normals, threshold_deg=DOMINANT_PLANE_DEG):
    """Largest fraction of (N, 3) unit normals within `threshold_deg` of one direction.

    Candidate directions are the densest cells of a coarse lattice; each is refined by a few
    mean-shift steps (the mean of the normals within the threshold), and the best is kept.
    """
    if len(normals) == 0:
        return float("nan")
    cos_t = np.cos(np.radians(threshold_deg))
    # One integer per lattice cell, in the lexicographic order of its (x, y, z) cell indices.
    side = 2 * SEED_GRID + 1
    cells = np.rint(normals * SEED_GRID).astype(np.int64) + SEED_GRID
    keys = (cells[:, 0] * side + cells[:, 1]) * side + cells[:, 2]
    all_counts = np.bincount(keys, minlength=side ** 3)
    occupied = np.flatnonzero(all_counts)
    counts = all_counts[occupied]
    best = 0.0
    for cell in np.argsort(counts)[::-1][:SEED_CANDIDATES]:
        direction = normals[keys == occupied[cell]].mean(0)
        for _ in range(MEAN_SHIFT_STEPS):
            direction /= max(np.linalg.norm(direction), 1e-9)
            near = normals @ direction >= cos_t
            if not near.any():
                break
            direction = normals[near].mean(0)
        direction /= max(np.linalg.norm(direction), 1e-9)
        best = max(best, float(np.mean(normals @ direction >= cos_t)))
    return best


def list_samples(input_dir):
    """Sample folders (those holding a normals EXR and a mask), sorted."""
    return sorted(name for name in os.listdir(input_dir) if not name.startswith(".")
                  and os.path.isfile(os.path.join(input_dir, name, layout.NORMALS_EXR))
                  and os.path.isfile(os.path.join(input_dir, name, layout.MASK_PNG)))


def image_stats(folder):
    """Per-image figures and the image's hemisphere histogram."""
    n = image_io.read_image(os.path.join(folder, layout.NORMALS_EXR))[..., :3]
    surface = image_io.read_image(os.path.join(folder, layout.MASK_PNG))[..., 0] >= conventions.MASK_THRESHOLD
    normals = n[surface]
    normals = normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-9)
    scene = {}
    if os.path.isfile(os.path.join(folder, layout.SCENE_JSON)):
        with open(os.path.join(folder, layout.SCENE_JSON)) as f:
            scene = json.load(f)
    row = {"sample": os.path.basename(folder), "family": scene.get("family", "unknown"),
           "surface_fraction": float(surface.mean()), "dominant_plane_share": dominant_plane_share(normals),
           "object_fraction": None, "luminance": None, "clipped_fraction": None, "exposure_stops": None}
    ids_path = os.path.join(folder, layout.IDS_PNG)
    if os.path.isfile(ids_path):
        ids = np.rint(image_io.read_image(ids_path)[..., 0] * 255.0)
        row["object_fraction"] = float(np.mean(ids >= layout.ID_FIRST_OBJECT))
    png = os.path.join(folder, layout.BEAUTY_PNG)
    if os.path.isfile(png):
        display = image_io.to_rgb(image_io.read_image(png))
        row["luminance"] = float(srgb.luminance(display).mean())
        row["clipped_fraction"] = float(np.mean(display.max(-1) >= 254.0 / 255.0))
    exposure = scene.get("render", {}).get("exposure")
    if exposure:
        row["exposure_stops"] = float(np.log2(exposure))
    return row, hemisphere_histogram(normals)


def _spread(values):
    values = np.asarray([v for v in values if v is not None and np.isfinite(v)], np.float64)
    if not len(values):
        return None
    p5, p50, p95 = np.percentile(values, [5, 50, 95])
    return {"median": float(p50), "p5": float(p5), "p95": float(p95), "mean": float(values.mean()),
            "std": float(values.std())}


def summarize(rows, histogram):
    """Set-level statistics (the issue's targets and spreads) from per-image rows and the summed histogram."""
    coverage, entropy = coverage_and_entropy(histogram)
    families = {}
    for family in sorted({r["family"] for r in rows}):
        mine = [r for r in rows if r["family"] == family]
        families[family] = {"samples": len(mine), "share": len(mine) / len(rows),
                            "dominant_plane_share": _spread(r["dominant_plane_share"] for r in mine),
                            "object_fraction": _spread(r["object_fraction"] for r in mine),
                            "luminance": _spread(r["luminance"] for r in mine)}
    return {"samples": len(rows), "dominant_plane_share": _spread(r["dominant_plane_share"] for r in rows),
            "hemisphere_coverage": coverage, "normalized_entropy": entropy,
            "object_fraction": _spread(r["object_fraction"] for r in rows),
            "luminance": _spread(r["luminance"] for r in rows),
            "clipped_fraction": _spread(r["clipped_fraction"] for r in rows),
            "exposure_stops": _spread(r["exposure_stops"] for r in rows), "families": families}


def collect(input_dir, max_samples=None, workers=1):
    """(summary, per-image rows, histogram) of the samples in `input_dir`, read by `workers` processes."""
    names = list_samples(input_dir)[:max_samples]
    if not names:
        raise errors.UsageError(f"--input_dir: {input_dir}: no sample folders (with {layout.NORMALS_EXR} and "
                                f"{layout.MASK_PNG})")
    histogram = np.zeros(AZIMUTH_BINS * POLAR_BINS, np.int64)
    rows = []
    progress = Progress(len(names), "stats")
    folders = [os.path.join(input_dir, name) for name in names]
    with contextlib.ExitStack() as stack:
        if workers > 1:
            pool = stack.enter_context(multiprocessing.get_context("spawn").Pool(workers))
            results = pool.imap(image_stats, folders, chunksize=8)
        else:
            results = map(image_stats, folders)
        for row, hist in results:
            rows.append(row)
            histogram += hist
            progress.update()
    return summarize(rows, histogram), rows, histogram


def _fmt(value, digits=2):
    return "–" if value is None else f"{value:.{digits}f}"


def _get(block, key):
    """block[key] of a spread dict that may be None (no data)."""
    return (block or {}).get(key)


def markdown(summary):
    """The summary as markdown tables (set-level figures, then one row per family)."""
    s = summary
    med = lambda key: _fmt(_get(s[key], "median"))
    spread = lambda key: (f"{med(key)} ({_fmt(_get(s[key], 'p5'))}–{_fmt(_get(s[key], 'p95'))})" if s[key] else "–")
    lines = ["| statistic | value |", "|---|---|",
             f"| samples | {s['samples']} |",
             f"| dominant-plane share, median over images | {med('dominant_plane_share')} |",
             f"| hemisphere coverage (36×9 bins ≥ 0.1%) | {_fmt(s['hemisphere_coverage'])} |",
             f"| normalized entropy | {_fmt(s['normalized_entropy'])} |",
             f"| object-pixel fraction, median (p5–p95) | {spread('object_fraction')} |",
             f"| display luminance, median (p5–p95) | {spread('luminance')} |",
             f"| clipped pixels, median | {med('clipped_fraction')} |",
             f"| exposure, stops: median (std) | {med('exposure_stops')} ({_fmt(_get(s['exposure_stops'], 'std'))}) |",
             "", "| family | samples | share | dominant-plane share (median) | object-pixel fraction (median) | "
             "luminance (median) |", "|---|---|---|---|---|---|"]
    for name, f in s["families"].items():
        cells = [_fmt(_get(f[key], "median")) for key in ("dominant_plane_share", "object_fraction", "luminance")]
        lines.append(f"| {name} | {f['samples']} | {f['share']:.2f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def define_flags():
    """Command-line flags (defined only when run as a program)."""
    flags.DEFINE_string("input_dir", None, "Folder of sample folders (data_tools.render output).")
    flags.DEFINE_string("output_json", None, "Where to write the JSON (default INPUT_DIR/stats.json).")
    flags.DEFINE_integer("max_samples", None, "Use only the first N samples (sorted by name; default all).")
    flags.DEFINE_integer("workers", os.cpu_count() or 1, "Parallel reader processes (1 = in this process).")


def check_request(input_dir, output_json, *, max_samples=None, workers=1):
    """Raise errors.UsageError, naming the flag, for anything wrong with a run before it starts."""
    if not input_dir or not os.path.isdir(input_dir):
        raise errors.MissingPathError(f"--input_dir: must be an existing folder (got {input_dir!r})")
    if max_samples is not None and max_samples < 1:
        raise errors.UsageError(f"--max_samples: must be at least 1 (leave it out for all samples), got {max_samples}")
    if workers < 1:
        raise errors.UsageError(f"--workers: must be at least 1, got {workers}")
    outputs.check_writable_file(output_json, "--output_json")
    inside = os.path.relpath(os.path.abspath(output_json), os.path.abspath(input_dir)).split(os.sep)
    if len(inside) > 1 and inside[0] != os.pardir:  # in a sample folder: it could be one of the files read
        raise errors.UsageError(f"--output_json: {output_json} is inside a sample folder of --input_dir; write it "
                                "beside the samples or elsewhere")


def main(argv):
    del argv
    out = FLAGS.output_json or os.path.join(FLAGS.input_dir or "", "stats.json")
    check_request(FLAGS.input_dir, out, max_samples=FLAGS.max_samples, workers=FLAGS.workers)
    summary, rows, histogram = collect(FLAGS.input_dir, FLAGS.max_samples, FLAGS.workers)
    with outputs.atomic_output(out) as tmp:
        with open(tmp, "w") as f:
            json.dump({"summary": summary, "histogram": histogram.tolist(), "images": rows}, f, indent=1)
    logging.info("wrote %s", out)
    cli.emit(markdown(summary))


if __name__ == "__main__":
    define_flags()
    cli.run(main, "data_tools.stats")
