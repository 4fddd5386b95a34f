"""tfnormals.training.config: TrainConfig with its nested AugmentConfig, flat dicts, flagfiles and JSON."""

import dataclasses
import json
import os

import pytest
from absl import flags
from helpers import REPO

from tfnormals.core import errors, layout
from tfnormals.data.augment import AugmentConfig
from tfnormals.training import config as config_module
from tfnormals.training.config import TrainConfig

SMOKE_FLAGS = os.path.join(REPO, "configs", "smoke.flags")


def test_config_validation():
    TrainConfig.from_flat(dict(steps=40, checkpoint_every=20, crop_size=64, load_size=64, levels=5)).validate()
    with pytest.raises(ValueError, match="multiple of checkpoint_every"):
        TrainConfig.from_flat(dict(steps=50, checkpoint_every=20)).validate()
    with pytest.raises(ValueError, match="2\\*\\*levels"):
        TrainConfig.from_flat(dict(steps=40, checkpoint_every=20, crop_size=48, load_size=64, levels=5)).validate()
    with pytest.raises(ValueError, match="at least crop_size"):
        TrainConfig.from_flat(dict(steps=40, checkpoint_every=20, crop_size=64, load_size=32, levels=5)).validate()
    with pytest.raises(ValueError, match="d_passes"):
        TrainConfig.from_flat(dict(steps=40, checkpoint_every=20, passes="normals,depth", d_passes="normals,albedo",
                                   crop_size=64, load_size=64, levels=5)).validate()
    both = TrainConfig.from_flat(dict(passes="normals,depth", d_passes="normals, depth"))
    assert both.discriminator_kwargs()["passes"] == ("normals", "depth")


def test_from_flat_sends_augmentation_names_to_the_nested_config():
    """One flat dict (as flags give it): AugmentConfig's names land in .augment, the rest on the config."""
    config = TrainConfig.from_flat(dict(batch_size=4, crop_size=32, hflip_prob=0.0, gamma_range=[0.9, 1.1],
                                        a_field_from_the_future=1))
    assert config.batch_size == 4
    assert config.augment == dataclasses.replace(AugmentConfig(), crop_size=32, hflip_prob=0.0, gamma_range=(0.9, 1.1))
    assert config.crop_size == 32  # the property reads the nested value
    assert not hasattr(config, "hflip_prob") and not hasattr(config, "a_field_from_the_future")


def test_from_flat_reads_the_nested_form_and_flat_names_win():
    """A nested 'augment' dict (what to_json writes) works; a flat name given too overrides it."""
    config = TrainConfig.from_flat({"augment": {"crop_size": 32, "min_scale": 0.7}, "min_scale": 0.9})
    assert (config.augment.crop_size, config.augment.min_scale) == (32, 0.9)


def test_flat_and_json_round_trips(tmp_path):
    """to_flat → from_flat and to_json → from_json give back an equal config (tuples stay tuples)."""
    config = TrainConfig.from_flat(dict(base_filters=8, levels=3, norm="instance", g_lr=1e-3, crop_size=48,
                                        jpeg_quality_range=(0.5, 1.0)))
    assert TrainConfig.from_flat(config.to_flat()) == config
    path = str(tmp_path / layout.RUN_CONFIG)
    config.to_json(path)
    with open(path) as f:
        stored = json.load(f)
    assert stored["augment"]["crop_size"] == 48 and "crop_size" not in stored  # written nested
    stored["a_field_from_the_future"] = 1
    with open(path, "w") as f:
        json.dump(stored, f)
    assert TrainConfig.from_json(path) == config


def test_old_flat_json_still_loads():
    """Runs and models from before the nested config stored one flat dict (the config of the model shipped
    until the multi-pass one, kept beside this test): it loads with the augmentation settings nested and
    rebuilds the same generator."""
    with open(os.path.join(os.path.dirname(__file__), "flat_config_step16079.json")) as f:
        old = json.load(f)
    assert "augment" not in old and old["crop_size"] == 128 and old["min_scale"] == 0.5  # really the old format
    config = TrainConfig.from_flat(old)
    assert config.augment.crop_size == 128 and config.augment.min_scale == 0.5 and config.augment.jpeg_prob == 0.25
    assert (old["depth"], old["d_depth"]) == (6, 5)  # the U-Net's and discriminator's levels, by their old names
    assert (config.load_size, config.steps, config.d_levels) == (192, 40000, 5)
    kwargs = config.generator_kwargs()
    assert {k: kwargs[k] for k in ("base_filters", "levels", "max_filters", "norm", "dropout", "upsample")} == {
        "base_filters": 32, "levels": 6, "max_filters": 256, "norm": "batch", "dropout": 0.5, "upsample": "bilinear"}
    assert kwargs["passes"] == ("normals",)  # settings added later take defaults that mean "as before"
    assert config.discriminator_kwargs()["passes"] == ("normals",)


def test_every_setting_is_one_flag_tuples_included():
    """define_flags makes one flag per field of TrainConfig and AugmentConfig, tuples as comma-separated lists, each
    with its field's default; no name is declared twice (AugmentConfig's fields exist only there)."""
    values = flags.FlagValues()
    config_module.define_flags(values)
    train_names = {f.name for f in dataclasses.fields(TrainConfig)} - {"augment"}
    augment_names = {f.name for f in dataclasses.fields(AugmentConfig)}
    assert not train_names & augment_names
    assert train_names | augment_names <= set(values)
    assert {"gamma_range", "jpeg_quality_range", "dropout_blocks"} <= set(values)
    assert {"run_name", "checkpoint_root", "resume", "export_dir"} <= set(values)
    values(["train"])
    assert config_module.from_flag_values(values) == TrainConfig()  # every flag's default is its field's
    values(["train", "--gamma_range=0.9,1.1", "--jpeg_quality_range=0.5,1", "--levels=5", "--dropout_blocks=2"])
    parsed = config_module.from_flag_values(values)
    assert parsed.augment.gamma_range == (0.9, 1.1) and parsed.augment.jpeg_quality_range == (0.5, 1.0)
    assert parsed.generator_kwargs()["levels"] == 5 and parsed.generator_kwargs()["dropout_blocks"] == 2


@pytest.mark.parametrize("settings,flag", [
    (dict(steps=0), "--steps"), (dict(batch_size=0), "--batch_size"), (dict(levels=0), "--levels"),
    (dict(g_lr=-1.0), "--g_lr"), (dict(norm="layer"), "--norm"), (dict(strategy="tpu"), "--strategy"),
    (dict(precision="float16"), "--precision"), (dict(passes="depth,normals"), "--passes"),
    (dict(encoder="vgg16", levels=3, crop_size=64), "--levels"), (dict(hflip_prob=1.5), "--hflip_prob"),
    (dict(gamma_range=(1.25, 0.8)), "--gamma_range"), (dict(jpeg_quality_range=(0.5,)), "--jpeg_quality_range"),
    (dict(records_dir="no/such/folder"), "--records_dir"),
    (dict(flip_consistency_weight=250.0, batch_size=1), "--flip_consistency_weight")])
def test_validate_is_the_one_place_that_names_the_flag(settings, flag):
    """Every check of a training configuration is TrainConfig.validate's; each names its flag (exit 2 in train)."""
    with pytest.raises(errors.UsageError, match=flag):
        TrainConfig.from_flat(dict(dict(steps=40, checkpoint_every=20), **settings)).validate()


def test_a_malformed_tuple_flag_names_the_flag():
    values = flags.FlagValues()
    config_module.define_flags(values)
    values(["train", "--gamma_range=low,high"])
    with pytest.raises(errors.UsageError, match="--gamma_range"):
        config_module.from_flag_values(values)


def test_from_flagfile_parses_as_the_train_command_does():
    """configs/smoke.flags through absl: its values, defaults elsewhere, overrides last."""
    with open(SMOKE_FLAGS) as f:
        given = dict(line.strip()[2:].split("=", 1) for line in f if line.startswith("--"))
    config = config_module.from_flagfile(SMOKE_FLAGS)
    flat = config.to_flat()
    assert set(given) - set(flat) == {"run_name"}  # a command flag, not a setting
    for name, text in given.items():
        if name in flat:
            assert flat[name] == type(flat[name])(text), name
    assert config.crop_size == int(given["crop_size"]) == 64
    assert config.shuffle_buffer == TrainConfig().shuffle_buffer  # not in the file: the default
    overridden = config_module.from_flagfile(SMOKE_FLAGS, steps=7, hflip_prob=0.25)
    assert overridden.steps == 7 and overridden.augment.hflip_prob == 0.25
    assert dataclasses.replace(overridden, steps=config.steps, augment=config.augment) == config


def test_old_setting_names_still_parse_in_flagfiles(tmp_path):
    """Flagfiles written before a setting was renamed (config.RENAMED) still parse: --depth sets levels."""
    path = tmp_path / "old.flags"
    path.write_text("--depth=5\n--d_depth=3\n--crop_size=64\n--load_size=64\n")
    config = config_module.from_flagfile(str(path))
    assert (config.levels, config.d_levels) == (5, 3)


def test_shipped_flags_are_exactly_the_shipped_models_configuration():
    """configs/shipped.flags parses to the configuration the shipped model's tfnormals.json records (the monitor
    photo aside: the record holds the training machine's absolute path of the same bundled file), and names
    every setting, so a later change of a default cannot change it."""
    from helpers import shipped_metadata
    path = os.path.join(REPO, "configs", "shipped.flags")
    recorded = TrainConfig.from_flat(shipped_metadata()["config"])
    parsed = config_module.from_flagfile(path)
    assert os.path.basename(recorded.monitor_image) == os.path.basename(parsed.monitor_image)
    assert parsed == dataclasses.replace(recorded, monitor_image=parsed.monitor_image)
    with open(path) as f:
        named = {line[2:].split("=", 1)[0].strip() for line in f if line.startswith("--")}
    named = {n[2:] if n.startswith("no") and n[2:] in parsed.to_flat() else n for n in named}
    assert set(parsed.to_flat()) - named == {"monitor_image"}
