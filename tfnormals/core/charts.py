"""Line charts as PNG with Pillow only: a training run's curves, readable without TensorBoard."""

import csv
import math

from PIL import Image, ImageDraw

SERIES_COLOURS = ((31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14), (140, 86, 75),
                  (23, 190, 207), (127, 127, 127))  # distinct for up to 8 series (the six scene families)
PANEL_SIZE = (420, 240)
MARGIN = (56, 22, 12, 28)   # left, top, right, bottom: room for tick labels and the title

# The panels of a run's curves: (title, history columns, log-scale y).
RUN_PANELS = (
    ("normals: mean angle (deg)", ("angle_deg", "val_angle_deg"), False),
    ("depth: scale-invariant log loss", ("depth_si", "val_depth_si"), True),
    ("albedo: scale-invariant log loss", ("albedo_si", "val_albedo_si"), True),
    ("GAN: generator / discriminator", ("adversarial", "d_loss"), False),
)
FAMILY_PREFIX = "val_family_"  # history columns of the per-family validation (training.callbacks.FamilyValidation)


def _number(text):
    """A cell as a float; empty cells and Keras' 'NA' become NaN."""
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def read_history(path):
    """Columns of a run's history.csv (training.callbacks.HistoryLogger) as {name: [float, ...]} (empty and 'NA'
    cells become NaN)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    names = rows[0].keys() if rows else ()
    return {name: [_number(r.get(name)) for r in rows] for name in names}


def _usable(value, log_scale):
    return math.isfinite(value) and (value > 0 or not log_scale)


def _ticks(low, high, count=4):
    return [low + (high - low) * i / count for i in range(count + 1)]


def line_panel(title, x, series, log_scale=False):
    """One panel: each (label, ys) of `series` against `x`, with y ticks and a legend. Returns a PIL image."""
    image = Image.new("RGB", PANEL_SIZE, "white")
    draw = ImageDraw.Draw(image)
    left, top, right, bottom = MARGIN[0], MARGIN[1], PANEL_SIZE[0] - MARGIN[2], PANEL_SIZE[1] - MARGIN[3]
    draw.text((left, 4), title, fill="black")
    draw.rectangle((left, top, right, bottom), outline=(160, 160, 160))
    to_y = (lambda v: math.log10(v)) if log_scale else (lambda v: v)
    ys_all = [to_y(v) for _, ys in series for v in ys if _usable(v, log_scale)]
    xs = [v for v in x if math.isfinite(v)]
    if not ys_all or not xs:
        draw.text((left + 8, top + 8), "no data", fill="gray")
        return image
    y_low, y_high = min(ys_all), max(ys_all)
    if y_high - y_low < 1e-12:
        y_low, y_high = y_low - 0.5, y_high + 0.5
    x_low, x_high = min(xs), max(xs)
    x_span = max(x_high - x_low, 1e-12)

    def point(xv, yv):
        px = left + (xv - x_low) / x_span * (right - left) if x_high > x_low else (left + right) / 2
        return px, bottom - (to_y(yv) - y_low) / (y_high - y_low) * (bottom - top)

    for tick in _ticks(y_low, y_high):
        py = bottom - (tick - y_low) / (y_high - y_low) * (bottom - top)
        draw.line((left - 3, py, left, py), fill="black")
        draw.text((2, py - 6), f"{10 ** tick if log_scale else tick:.3g}", fill="black")
    draw.text((left, bottom + 6), f"step {x_low:.0f}", fill="black")
    draw.text((right - 70, bottom + 6), f"{x_high:.0f}", fill="black")
    for i, (label, ys) in enumerate(series):
        colour = SERIES_COLOURS[i % len(SERIES_COLOURS)]
        points = [point(xv, yv) for xv, yv in zip(x, ys) if math.isfinite(xv) and _usable(yv, log_scale)]
        if len(points) > 1:
            draw.line(points, fill=colour, width=2)
        if points:  # the latest value as a dot (the only mark when there is one point)
            px, py = points[-1]
            draw.ellipse((px - 2, py - 2, px + 2, py + 2), fill=colour)
        draw.text((right - 120, top + 4 + 12 * i), label, fill=colour)
    return image


def run_curves(history, x_column="step"):
    """The run's panels (those whose columns the history has) side by side in a 2-wide grid."""
    x = history.get(x_column) or list(range(len(next(iter(history.values()), []))))
    panels = [line_panel(title, x, [(c, history[c]) for c in columns if c in history], log_scale)
              for title, columns, log_scale in RUN_PANELS if any(c in history for c in columns)]
    by_family = [(c[len(FAMILY_PREFIX):], history[c]) for c in sorted(history) if c.startswith(FAMILY_PREFIX)]
    if by_family:
        panels.append(line_panel("val normals by family, whole scenes (deg)", x, by_family))
    if not panels:
        return line_panel("no curves", x, [])
    cols = min(2, len(panels))
    rows = math.ceil(len(panels) / cols)
    sheet = Image.new("RGB", (cols * PANEL_SIZE[0], rows * PANEL_SIZE[1]), "white")
    for i, panel in enumerate(panels):
        sheet.paste(panel, ((i % cols) * PANEL_SIZE[0], (i // cols) * PANEL_SIZE[1]))
    return sheet
