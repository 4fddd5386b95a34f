"""Fixtures of the VFX-pipeline tests: one tiny multi-pass model per session."""

import collections

import pytest

TinyModel = collections.namedtuple("TinyModel", "savedmodel generator metadata")


@pytest.fixture(scope="session")
def multipass(tmp_path_factory):
    """A tiny random-weight normals+depth+albedo generator (stride 16), its SavedModel folder and metadata."""
    import keras

    from tfnormals.model import serving
    from tfnormals.model.unet import build_generator
    from tfnormals.training import runs
    from tfnormals.training.config import TrainConfig
    keras.utils.set_random_seed(3)
    config = TrainConfig.from_flat(dict(base_filters=8, levels=4, max_filters=32, passes="normals,depth,albedo"))
    generator = build_generator(**config.generator_kwargs())
    path = str(tmp_path_factory.mktemp("multipass") / "savedmodel")
    metadata = runs.metadata(config, 7)
    serving.export_generator(generator, path, metadata)
    return TinyModel(path, generator, metadata)
