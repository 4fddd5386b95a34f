"""Frame numbers and frame patterns on the command line: --frames lists and ranges, a frame's file in a pattern."""

import pytest

from tfnormals.core import errors
from tfnormals.core.frames import parse_frame_list, parse_frames
from tfnormals.tools.plates import frame_path


def test_frame_lists_take_numbers_and_ranges():
    assert parse_frame_list("1001,1040, 1090") == [1001, 1040, 1090]
    assert parse_frame_list("1003-1005,1001,1004") == [1001, 1003, 1004, 1005]
    assert parse_frames("1001-1100") == (1001, 1100)
    for bad in ("1001;1002", "", "10-5", "a,b"):
        with pytest.raises(errors.UsageError, match="--frames"):
            parse_frame_list(bad)


def test_a_frame_pattern_names_each_frame_file():
    assert frame_path("shot/plate.####.exr", 1001, "--plates") == "shot/plate.1001.exr"
    assert frame_path("shot.v2/plate.%05d.exr", 7, "--plates") == "shot.v2/plate.00007.exr"
    assert frame_path("a##/b.##.png", 3, "--plates") == "a##/b.03.png"  # only the file name's token counts
    with pytest.raises(errors.UsageError, match="--references: 'shot/n.exr' is not a frame pattern"):
        frame_path("shot/n.exr", 1001, "--references")
