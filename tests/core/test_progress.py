"""tfnormals.core.progress: readable durations and throttled progress lines with counts and failures."""

import io

from tfnormals.core.progress import Progress, format_duration


def test_format_duration():
    assert format_duration(9.5) == "9.5s"
    assert format_duration(75) == "1m15s"
    assert format_duration(3725) == "1h02m"


def test_progress_lines_are_throttled_and_counted():
    """With a long interval only the first and the last update print; the last shows totals and failures."""
    stream = io.StringIO()
    progress = Progress(5, "render", interval=1000.0, stream=stream)
    for i in range(5):
        progress.update(failed=i == 3)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("render: 1/5 (20.0%)")
    assert lines[1].startswith("render: 5/5 (100.0%), 1 failed,")
    assert "ETA" in lines[1] and "/s" in lines[1]


def test_every_update_prints_with_zero_interval():
    stream = io.StringIO()
    progress = Progress(3, "records", interval=0.0, stream=stream)
    progress.update(count=2)
    progress.update()
    assert [line.split(",")[0] for line in stream.getvalue().splitlines()] == ["records: 2/3 (66.7%)",
                                                                              "records: 3/3 (100.0%)"]


def test_empty_job_reports_complete():
    assert Progress(0, "x", stream=io.StringIO()).line().startswith("x: 0/0 (100.0%)")
