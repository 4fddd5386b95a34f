"""Settings of a fine-tune on a shot (tfnormals.finetune's flags) and the request it records.

The defaults are the measured ones (BUILD_NOTES.md "Fine-tuning on a shot" to "A shot model that knows its
shot"); the augmentation is the project's (data.augment.AugmentConfig) with milder crops, since the views already
set the scale. The flags are generated from the fields (tfnormals.core.dataclass_flags), as the train command's
are, and `FinetuneConfig.validate` is the one place that checks them.
"""

import dataclasses

from absl import flags

from tfnormals.core import dataclass_flags, errors
from tfnormals.data.augment import AugmentConfig
from tfnormals.training.config import PRECISIONS as TRAIN_PRECISIONS
from tfnormals.training.config import check_at_least, nested_from_flat

_field = dataclass_flags.field
PRECISIONS = ("auto",) + TRAIN_PRECISIONS
POSITIVE = ("batch_size", "view_size", "heldout_blocks", "eval_every", "checkpoint_every", "max_pass",
            "rehearsal_views", "fallback_views")
NON_NEGATIVE = ("minutes", "steps", "anchor_weight", "rehearsal_weight", "rehearsal_exposure_stops", "seed")


def _finetune_augment():
    """The project's augmentation with milder crops (the views already set the scale)."""
    return AugmentConfig(crop_size=128, min_scale=0.8)


@dataclasses.dataclass(frozen=True)
class FinetuneConfig:
    """Settings of a fine-tune (each is a flag of tfnormals.finetune; see the help strings)."""

    minutes: float = _field(10.0, "Training time budget in minutes (0 = no limit; then --steps must be set).")
    steps: int = _field(0, "Stop after this many steps in all (0 = only the time budget).")
    batch_size: int = _field(4, "Views per step.")
    view_size: int = _field(128, "Side of the square views cut from the reference frames (before the crop).")
    learning_rate: float = _field(1e-4, "Adam learning rate.")
    anchor_weight: float = _field(1.0, "Weight of the L2-SP term: sum of squared differences from the base weights.")
    rehearsal_weight: float = _field(9.0, "Weight of keeping the base's outputs on the rehearsal plates (scenes "
                                          "unlike the shot), relative to the reference loss (0 = off).")
    rehearsal_views: int = _field(4, "Rehearsal views per step (crops of the rehearsal plates).")
    rehearsal_exposure_stops: float = _field(2.5, "Exposure range in stops of the rehearsal views' photometric "
                                                  "augmentation (the base's outputs are computed on each augmented "
                                                  "view, so the shot model keeps them on brighter and darker "
                                                  "scenes too).")
    fallback: bool = _field(True, "Blend toward the base model on images unlike the references (the exported shot "
                                  "model holds both networks; needs --rehearsal plates to calibrate on).")
    fallback_views: int = _field(256, "Views of the reference frames whose features make the fallback's bank.")
    fallback_quantile: float = _field(0.05, "Share of the rehearsal views the shot model may still reach: images "
                                            "farther from the references than this quantile of the rehearsal "
                                            "views' distances get the base model alone.")
    fallback_start: float = _field(0.5, "Where the blend toward the base starts, as a share of that distance "
                                        "(nearer images get the shot model alone).")
    heldout_share: float = _field(0.2, "Share of each frame's known blocks held out of the loss (0 = none; the "
                                       "best weights are then the last).")
    heldout_blocks: int = _field(8, "Held-out blocks along a frame's longer side.")
    eval_every: int = _field(20, "Steps between held-out evaluations.")
    checkpoint_every: int = _field(100, "Steps between checkpoints of the work folder (and at the end and on Ctrl-C).")
    max_pass: int = _field(1024, "Longer side frames are brought down to (predict's finest pass).")
    precision: str = _field("auto", "float32, mixed_bfloat16, or auto: bf16 on CPUs with AVX512-BF16 or AMX.",
                            choices=PRECISIONS)
    seed: int = _field(0, "Seed of the views, augmentation and held-out blocks.")
    # Augmentation (its fields are flags too, defaulting to _finetune_augment's values: --crop_size, ...)
    augment: AugmentConfig = dataclasses.field(default_factory=_finetune_augment)

    @classmethod
    def from_flat(cls, values):
        return nested_from_flat(cls, values)

    def to_dict(self):
        return dataclasses.asdict(self)

    def validate(self):
        """Raise errors.UsageError naming the flag of the setting that cannot work."""
        check_at_least(self, POSITIVE, NON_NEGATIVE)
        dataclass_flags.check_choices(self)
        if not (self.minutes or self.steps):
            raise errors.UsageError(f"--minutes ({self.minutes}) and --steps ({self.steps}): one of them must be "
                                    "positive")
        for name in ("fallback_quantile", "fallback_start"):
            if not 0.0 < getattr(self, name) < 1.0:
                raise errors.UsageError(f"--{name}: must be in (0, 1), got {getattr(self, name)}")
        if not 0.0 <= self.heldout_share < 1.0:
            raise errors.UsageError(f"--heldout_share: must be in [0, 1), got {self.heldout_share}")
        if not self.learning_rate > 0:
            raise errors.UsageError(f"--learning_rate: must be positive, got {self.learning_rate}")
        self.augment.validate()
        if self.augment.crop_size % 8:
            raise errors.UsageError(f"--crop_size: must be a multiple of 8, got {self.augment.crop_size}")


def define_flags(flag_values=flags.FLAGS):
    """One flag per FinetuneConfig setting, its augmentation's included (tuples as comma-separated lists)."""
    dataclass_flags.define(FinetuneConfig, flag_values)


def from_flag_values(flag_values=flags.FLAGS):
    """The FinetuneConfig that parsed flags describe (not yet validated: see FinetuneConfig.validate)."""
    return FinetuneConfig.from_flat(dataclass_flags.values(FinetuneConfig, flag_values))


def resolved_precision(name):
    """The Keras dtype policy of a precision setting: 'auto' is mixed_bfloat16 where the CPU computes bf16 natively."""
    if name != "auto":
        return name
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return "float32"
    return "mixed_bfloat16" if ("avx512_bf16" in flags or "amx_bf16" in flags) else "float32"


@dataclasses.dataclass(frozen=True)
class Request:
    """What a fine-tune was asked for, recorded in the work folder (a resume checks it) and the model's metadata."""

    base_model: str
    frames: tuple
    files: tuple  # per frame: data.references.ReferenceFiles as a dict
    config: dict
    rehearsal: tuple = ()  # the rehearsal plates' files
    base_fingerprint: str = ""  # changes when the base model does (tools.inference.fingerprint)
    sources: dict = dataclasses.field(default_factory=dict)  # {input file: core.resume.file_state}
