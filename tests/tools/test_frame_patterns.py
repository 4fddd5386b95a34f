"""Frame numbers and frame patterns (tfnormals.core.frames): --frames lists and ranges, a frame's file in a pattern,
and the files of a pattern on disk (tfnormals.tools.plates.frame_files), which predict, relight and finetune share."""

import pytest

from tfnormals.core import errors
from tfnormals.core.frames import frame_number, frame_path, is_frame_pattern, parse_frame_list, parse_frames
from tfnormals.tools.plates import frame_files


def test_frame_lists_take_numbers_and_ranges():
    assert parse_frame_list("1001,1040, 1090") == [1001, 1040, 1090]
    assert parse_frame_list("1003-1005,1001,1004") == [1001, 1003, 1004, 1005]
    assert parse_frames("1001-1100") == (1001, 1100)
    assert parse_frames("1001") == (1001, 1001)
    for bad in ("1001;1002", "", "10-5", "a,b"):
        with pytest.raises(errors.UsageError, match="--frames"):
            parse_frame_list(bad)
    for bad, words in [("1001:1005", "FIRST-LAST"), ("1005-1001", "backwards"), ("", "FIRST-LAST"), ("a-b", "got")]:
        with pytest.raises(errors.UsageError, match=words):
            parse_frames(bad)


def test_a_frame_pattern_names_each_frame_file():
    assert frame_path("shot/plate.####.exr", 1001) == "shot/plate.1001.exr"
    assert frame_path("shot.v2/plate.%05d.exr", 7) == "shot.v2/plate.00007.exr"
    assert frame_path("a##/b.##.png", 3) == "a##/b.03.png"  # only the file name's token counts
    assert frame_path("a/mask.png", 1001) == "a/mask.png"  # a plain path is every frame's file
    assert frame_number("a/p.####.exr", "a/p.1042.exr") == 1042
    assert is_frame_pattern("a/p.%04d.exr") and not is_frame_pattern("a##/p.exr") and not is_frame_pattern("")


def test_the_files_of_a_pattern_are_found_by_number_and_two_of_one_frame_refused(tmp_path):
    for name in ("n.1001.exr", "n.01002.exr", "n.1003.png", "n.x.exr"):
        (tmp_path / name).write_bytes(b"")
    pattern = str(tmp_path / "n.####.exr")
    assert frame_files(pattern, "--references") == {1001: str(tmp_path / "n.1001.exr"),
                                                    1002: str(tmp_path / "n.01002.exr")}
    (tmp_path / "n.0001001.exr").write_bytes(b"")
    with pytest.raises(errors.UsageError, match=r"--references: .*n\.0001001\.exr and .*n\.1001\.exr are both frame "
                                                r"1001"):
        frame_files(pattern, "--references")
