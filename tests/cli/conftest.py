"""Fixtures of the command-line tests: a tiny SavedModel, a folder of sample pairs and their records.

Everything is made once per session and small (16-px samples, an 8-filter generator), so that each
command run costs little more than its interpreter start and, where it needs one, TensorFlow's import.
"""

import dataclasses
import os

import pytest
from cli_support import write_pairs

NUM_PAIRS = 8


@dataclasses.dataclass
class Data:
    """Session data shared by the command-line tests (read-only: cases copy what they change)."""
    model: str     # a tiny SavedModel (stride 16)
    pairs: str     # NUM_PAIRS sample folders
    records: str   # make_records of `pairs`: 2 shards per split


@pytest.fixture(scope="session")
def cli_data(tmp_path_factory):
    import keras

    from data_tools import make_records
    from tfnormals.data import pairs
    from tfnormals.model import serving
    from tfnormals.model.unet import build_generator
    from tfnormals.training import runs
    from tfnormals.training.config import TrainConfig
    root = tmp_path_factory.mktemp("cli_data")
    keras.utils.set_random_seed(3)
    config = TrainConfig.from_flat(dict(base_filters=8, levels=4, max_filters=32))
    model = str(root / "model")
    serving.export_generator(build_generator(**config.generator_kwargs()), model, runs.metadata(config, 0))
    write_pairs(str(root / "pairs"), NUM_PAIRS)
    make_records.make_records(str(root / "pairs"), str(root / "records"), pairs.PairFormat(), num_shards=2,
                              fractions=(0.5, 0.25, 0.25), workers=1)
    return Data(model, str(root / "pairs"), str(root / "records"))


@pytest.fixture
def unwritable(tmp_path):
    """A folder this process cannot create anything in: a read-only folder, or /sys when running as root."""
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        open(locked / "probe", "w").close()
    except OSError:
        yield str(locked)
    else:  # root ignores permissions
        os.remove(locked / "probe")
        if os.access("/sys", os.W_OK) and not _read_only("/sys"):
            pytest.skip("no unwritable folder available")
        yield "/sys"
    finally:
        locked.chmod(0o755)


def _read_only(path):
    try:
        os.mkdir(os.path.join(path, "tfnormals-probe"))
    except OSError:
        return True
    os.rmdir(os.path.join(path, "tfnormals-probe"))
    return False
