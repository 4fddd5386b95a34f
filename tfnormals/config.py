"""Training configuration: one dataclass whose fields are also the train command's flags.

Every field has a working default and a help string, so `python -m tfnormals.train` runs as
is (on a tiny data set it renders itself), flagfiles override what they name, and a run's
`config.json` is enough to rebuild its generator for export and evaluation.
"""

import dataclasses
import json

from tfnormals import augment, conventions


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
    crop_size: int = _field(128, "Side of the augmented training crops.")
    shuffle_buffer: int = _field(256, "Examples in the shuffle buffer.")
    cache: bool = _field(False, "Cache decoded examples in memory.")
    # Schedule
    steps: int = _field(2000, "Total generator steps (a multiple of checkpoint_every).")
    checkpoint_every: int = _field(500, "Steps per epoch; a checkpoint and validation follow each.")
    keep_checkpoints: int = _field(3, "Checkpoints kept on disk.")
    val_steps: int = _field(8, "Validation batches per epoch (0 = none).")
    monitor_every: int = _field(200, "Steps between monitor-image predictions (0 = off).")
    monitor_image: str = _field(conventions.MONITOR_IMAGE, "Real photo predicted during training.")
    monitor_size: int = _field(256, "Longer side of the monitor image.")
    triptych_count: int = _field(4, "Validation triptychs saved per epoch.")
    seed: int = _field(0, "Seed for augmentation and initialization.")
    # Generator
    base_filters: int = _field(32, "Generator filters in the first block.")
    depth: int = _field(6, "Generator encoder blocks (stride 2**depth).")
    max_filters: int = _field(256, "Generator filter cap.")
    norm: str = _field("batch", "Generator normalization: batch, instance, group or none.")
    dropout: float = _field(0.5, "Dropout in the first decoder blocks.")
    upsample: str = _field("bilinear", "Decoder upsampling: bilinear or transpose.")
    # Discriminator
    discriminator: str = _field("dense", "dense (global) or patch (PatchGAN).")
    d_base_filters: int = _field(64, "Discriminator filters in the first block.")
    d_depth: int = _field(4, "Discriminator conv blocks.")
    d_norm: str = _field("instance", "Discriminator normalization.")
    spectral: bool = _field(False, "Spectral normalization in the discriminator.")
    # Losses and optimizers
    l1_weight: float = _field(500.0, "Weight of the masked L1 term.")
    angular_weight: float = _field(50.0, "Weight of the masked (1 - cos) term.")
    adversarial_weight: float = _field(1.0, "Weight of the adversarial term.")
    g_lr: float = _field(2e-4, "Generator learning rate.")
    d_lr: float = _field(2e-4, "Discriminator learning rate.")
    beta_1: float = _field(0.5, "Adam beta_1.")
    weight_decay: float = _field(0.0, "AdamW weight decay (0 = Adam).")
    # Augmentation (tfnormals.augment.AugmentConfig)
    min_scale: float = _field(0.6, "Smallest random crop, as a fraction of load_size.")
    hflip_prob: float = _field(0.5, "Horizontal flip probability.")
    vflip_prob: float = _field(0.0, "Vertical flip probability.")
    rot90_prob: float = _field(0.0, "90-degree rotation probability.")
    exposure_stops: float = _field(1.0, "Exposure change range in stops.")
    white_balance: float = _field(0.1, "White-balance jitter (log-gain std).")
    blur_prob: float = _field(0.3, "Blur probability.")
    max_noise: float = _field(0.03, "Largest noise std.")
    jpeg_prob: float = _field(0.25, "JPEG-like artefact probability.")
    # Distribution
    strategy: str = _field("default", "default, mirrored or multiworker.")
    logical_devices: int = _field(0, "Split the CPU into this many logical devices (testing mirrored).")

    GENERATOR_FIELDS = ("base_filters", "depth", "max_filters", "norm", "dropout", "upsample")

    def validate(self):
        if self.steps % self.checkpoint_every:
            raise ValueError(f"steps ({self.steps}) must be a multiple of checkpoint_every ({self.checkpoint_every})")
        if self.crop_size % 2 ** self.depth:
            raise ValueError(f"crop_size ({self.crop_size}) must be a multiple of 2**depth ({2 ** self.depth})")
        if self.load_size < self.crop_size:
            raise ValueError(f"load_size ({self.load_size}) must be at least crop_size ({self.crop_size})")

    def generator_kwargs(self):
        return {name: getattr(self, name) for name in self.GENERATOR_FIELDS}

    def discriminator_kwargs(self):
        return {"kind": self.discriminator, "input_size": self.crop_size, "base_filters": self.d_base_filters,
                "depth": self.d_depth, "norm": self.d_norm, "spectral": self.spectral}

    def augment_config(self):
        return augment.AugmentConfig(
            crop_size=self.crop_size, min_scale=self.min_scale, hflip_prob=self.hflip_prob,
            vflip_prob=self.vflip_prob, rot90_prob=self.rot90_prob, exposure_stops=self.exposure_stops,
            white_balance=self.white_balance, blur_prob=self.blur_prob, max_noise=self.max_noise,
            jpeg_prob=self.jpeg_prob)

    def to_json(self, path):
        with open(path, "w") as f:
            json.dump(dataclasses.asdict(self), f, indent=1)

    @classmethod
    def from_json(cls, path):
        with open(path) as f:
            values = json.load(f)
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})
