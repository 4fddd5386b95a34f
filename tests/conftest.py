"""Session fixtures (tiny sample folders and records) and the two test tiers.

Tiers: `python -m pytest -m "not slow" -q` is the inner loop (no renders, no training runs,
no subprocess commands; runs without Mitsuba); `python -m pytest -q` runs everything.

- synthetic_dir / synthetic_records: sample folders of analytic spheres (helpers.write_synthetic_samples)
  and their records; for fast tests.
- tiny_model, tiny_multipass_model: small random-weight SavedModels (normals; normals, depth and albedo),
  loaded as predict loads models.
- rendered_dir / records_dir: real Mitsuba renders and their records. Every test that uses one of
  SLOW_FIXTURES is marked slow here, whatever its file says.

Mitsuba (Dr.Jit) crashes when it is loaded after TensorFlow in one process, and in-process renders
need it, so pytest_configure initialises it before any test module (which may import TensorFlow)
is collected: only when it is importable and the run selects slow tests. This is the one place
that orders the two.
"""

import importlib.util

import pytest
from helpers import NUM_SAMPLES, RESOLUTION, SEED, SPLIT_FRACTIONS, SPP, SYNTHETIC_SAMPLES, write_synthetic_samples

pytest_plugins = ["model_fixtures"]  # the smoke run and what is made from it

# Fixtures that render, train or run commands: a test using any of them is slow.
SLOW_FIXTURES = frozenset({"rendered_dir", "records_dir", "smoke_run", "smoke_records", "smoke_export", "smoke_eval",
                           "learned_run", "cli_outputs"})


def _selects_slow(config):
    """Whether the -m expression keeps a test marked only `slow` (no -m keeps everything)."""
    expression = config.getoption("markexpr")
    if not expression:
        return True
    try:
        from _pytest.mark.expression import Expression
        return Expression.compile(expression).evaluate(lambda name, **kwargs: name == "slow")
    except Exception:  # a pytest without that (internal) parser: assume slow tests may run
        return True


def mitsuba_importable():
    """True when both mitsuba and drjit can be imported (a blocker raising ImportError counts as no)."""
    try:
        return all(importlib.util.find_spec(name) is not None for name in ("drjit", "mitsuba"))
    except ImportError:
        return False


def pytest_configure(config):
    if _selects_slow(config) and mitsuba_importable():
        from data_tools import mitsuba_render
        mitsuba_render.init()


@pytest.hookimpl(tryfirst=True)  # before pytest's own -m deselection
def pytest_collection_modifyitems(config, items):
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory):
    """SYNTHETIC_SAMPLES sample folders of lit spheres at RESOLUTION² (no renderer involved)."""
    out = tmp_path_factory.mktemp("synthetic")
    write_synthetic_samples(str(out), SYNTHETIC_SAMPLES, RESOLUTION)
    return out


def _records_of(samples_dir, out):
    """make_records over a sample folder (2 shards per split, SPLIT_FRACTIONS, workers=1): (out, its index)."""
    from data_tools import make_records
    from tfnormals.data import pairs
    index = make_records.make_records(str(samples_dir), str(out), pairs.PairFormat(), num_shards=2,
                                      fractions=SPLIT_FRACTIONS, workers=1)
    return out, index


@pytest.fixture(scope="session")
def synthetic_records(synthetic_dir, tmp_path_factory):
    """TFRecords of `synthetic_dir` and the index make_records returned."""
    return _records_of(synthetic_dir, tmp_path_factory.mktemp("synthetic_records"))


@pytest.fixture(scope="session")
def rendered_dir(tmp_path_factory):
    """A folder of NUM_SAMPLES random scenes rendered by render.render_dataset (seed SEED, 32 px, 4 spp)."""
    from data_tools import render
    out = tmp_path_factory.mktemp("rendered")
    rendered, skipped, failed = render.render_dataset(str(out), range(NUM_SAMPLES), resolution=RESOLUTION, spp=SPP,
                                                      seed=SEED)
    assert (rendered, skipped, failed) == (NUM_SAMPLES, 0, [])
    return out


@pytest.fixture(scope="session")
def records_dir(rendered_dir, tmp_path_factory):
    """TFRecords of `rendered_dir` and the index make_records returned."""
    return _records_of(rendered_dir, tmp_path_factory.mktemp("records"))


def _tiny_savedmodel(tmp_path_factory, passes, seed):
    """A small random-weight generator predicting `passes`, exported as a SavedModel and loaded as predict loads
    models (I/O and inference-path behaviour need no training)."""
    import keras

    from tfnormals.model import serving
    from tfnormals.model.unet import build_generator
    from tfnormals.tools.model_io import NormalsModel
    from tfnormals.training import runs
    from tfnormals.training.config import TrainConfig
    keras.utils.set_random_seed(seed)
    config = TrainConfig.from_flat(dict(base_filters=8, levels=4, max_filters=32, passes=passes))
    path = str(tmp_path_factory.mktemp("model") / "sm")
    serving.export_generator(build_generator(**config.generator_kwargs()), path, runs.metadata(config, 0))
    return NormalsModel(path)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """_tiny_savedmodel predicting normals."""
    return _tiny_savedmodel(tmp_path_factory, "normals", 3)


@pytest.fixture(scope="session")
def tiny_multipass_model(tmp_path_factory):
    """_tiny_savedmodel predicting normals, depth and albedo."""
    return _tiny_savedmodel(tmp_path_factory, "normals,depth,albedo", 5)
