"""Shared fixtures for the data tests: tiny renders and records made once per session.

Mitsuba (Dr.Jit) must be loaded before TensorFlow in one process, so it is initialised here,
before any test module imports TensorFlow.
"""

from data_tools import mitsuba_render

mitsuba_render.init()

import pytest  # noqa: E402
from helpers import NUM_SAMPLES, RESOLUTION, SEED, SPLIT_FRACTIONS, SPP  # noqa: E402

from data_tools import make_records, render  # noqa: E402
from tfnormals.data import pairs


@pytest.fixture(scope="session")
def rendered_dir(tmp_path_factory):
    """A folder of NUM_SAMPLES random scenes rendered by render.render_dataset (seed SEED, 32 px, 4 spp)."""
    out = tmp_path_factory.mktemp("rendered")
    rendered, skipped, failed = render.render_dataset(str(out), range(NUM_SAMPLES), RESOLUTION, SPP, SEED)
    assert (rendered, skipped, failed) == (NUM_SAMPLES, 0, [])
    return out


@pytest.fixture(scope="session")
def records_dir(rendered_dir, tmp_path_factory):
    """TFRecords of `rendered_dir` (2 shards per split, workers=1) and the index make_records returned."""
    out = tmp_path_factory.mktemp("records")
    index = make_records.make_records(str(rendered_dir), str(out), pairs.PairLayout(), num_shards=2,
                                      fractions=SPLIT_FRACTIONS, workers=1)
    return out, index
