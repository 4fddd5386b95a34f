"""Line charts of a run's history: values land where they should, gaps and bad values are skipped."""

import math

import numpy as np

from tfnormals.core import charts

FIRST_SERIES = charts.SERIES_COLOURS[0]


def _rows_of_colour(image, colour):
    """Row index of the colour's pixels in each plot column that has some (column → mean row)."""
    pixels = np.asarray(image)
    hit = np.all(pixels == colour, axis=-1)
    left, right = charts.MARGIN[0] + 2, charts.PANEL_SIZE[0] - charts.MARGIN[2] - 130  # clear of the legend
    return {c: np.nonzero(hit[:, c])[0].mean() for c in range(left, right) if hit[:, c].any()}


def test_a_falling_series_is_drawn_from_high_left_to_low_right():
    steps = [100.0 * i for i in range(1, 21)]
    panel = charts.line_panel("angle", steps, [("angle_deg", [40.0 - i for i in range(20)])])
    rows = _rows_of_colour(panel, FIRST_SERIES)
    columns = sorted(rows)
    assert len(columns) > 100  # a line across the plot, not a few dots
    assert rows[columns[0]] < rows[columns[-1]] - 100  # image rows grow downwards: high values near the top


def test_log_scale_spaces_decades_equally_and_skips_non_positive_values():
    steps = [1.0, 2.0, 3.0, 4.0]
    panel = charts.line_panel("loss", steps, [("loss", [1.0, 0.1, 0.0, 0.01])], log_scale=True)
    rows = _rows_of_colour(panel, FIRST_SERIES)
    columns = sorted(rows)
    first, last = rows[columns[0]], rows[columns[-1]]
    middle = rows[min(columns, key=lambda c: abs(c - (columns[0] + columns[-1]) / 2))]
    # 1 → 0.01 over the plot height; the 0.0 is skipped, so 0.1 sits half-way between them in log space.
    assert first < middle < last
    assert abs((middle - first) - (last - middle)) / (last - first) < 0.35


def test_history_with_gaps_reads_and_draws(tmp_path):
    path = tmp_path / "history.csv"
    path.write_text("epoch,angle_deg,step,val_angle_deg\n0,40,500,\n1,35,1000,38\n2,30,1500,NA\n3,28,2000,33\n")
    history = charts.read_history(path)
    assert history["step"] == [500.0, 1000.0, 1500.0, 2000.0] and math.isnan(history["val_angle_deg"][0])
    assert math.isnan(history["val_angle_deg"][2])  # Keras' CSVLogger writes NA for a missing value
    sheet = charts.run_curves(history)
    assert sheet.size == charts.PANEL_SIZE  # only the normals panel has columns here
    assert _rows_of_colour(sheet, charts.SERIES_COLOURS[1])  # the validation series is drawn despite its gap


def test_a_multipass_history_gets_a_panel_per_pass():
    columns = [c for _, names, _ in charts.RUN_PANELS for c in names]
    history = {"step": [1.0, 2.0], **{c: [2.0, 1.0] for c in columns}}
    sheet = charts.run_curves(history)
    assert sheet.size == (2 * charts.PANEL_SIZE[0], 2 * charts.PANEL_SIZE[1])
