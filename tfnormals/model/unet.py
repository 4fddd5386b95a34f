"""Keras functional U-Net generator: plate (sRGB in [0, 1], any H×W) → unit camera-space normals.

The pix2pix layout: a strided-conv encoder, a decoder with skip connections and dropout in its
first blocks, normalization after every conv but the first. The input is mirror-padded to the
total stride and the output cropped back, and the head L2-normalizes, so outputs are unit
normals of the input's size.
"""

import keras

from tfnormals.model.layers import CropLike, PadToMultiple, UnitNormalize, Upsample2x

NORMS = ("batch", "instance", "group", "none")


def normalization(kind, name):
    """A normalization layer by name; 'instance' is GroupNormalization with one group per channel."""
    if kind == "batch":
        return keras.layers.BatchNormalization(name=name)
    if kind == "instance":
        return keras.layers.GroupNormalization(groups=-1, name=name)
    if kind == "group":
        return keras.layers.GroupNormalization(groups=8, name=name)
    if kind == "none":
        return keras.layers.Identity(name=name)
    raise ValueError(f"unknown normalization {kind!r}; expected one of {NORMS}")


def build_generator(base_filters=32, depth=6, max_filters=256, norm="batch", dropout=0.5, dropout_blocks=3,
                    upsample="bilinear", name="generator"):
    """Build the U-Net generator.

    Args:
      base_filters: filters of the first encoder block; doubles per block up to max_filters.
      depth: encoder blocks (total stride 2 ** depth).
      max_filters: cap on filters per block.
      norm: 'batch' (default: behaves the same on tiles and whole plates), 'instance', 'group', 'none'.
      dropout: dropout rate in the first `dropout_blocks` decoder blocks (training only).
      dropout_blocks: how many decoder blocks use dropout.
      upsample: 'bilinear' (resize then 3×3 conv; no checkerboard) or 'transpose' (pix2pix's 4×4
        transposed conv).
      name: model name.
    """
    plate = keras.Input((None, None, 3), name="plate")
    x = PadToMultiple(2 ** depth, name="pad")(plate)
    x = keras.layers.Rescaling(2.0, offset=-1.0, name="to_signed")(x)
    skips = []
    for i in range(depth):
        filters = min(base_filters * 2 ** i, max_filters)
        x = keras.layers.Conv2D(filters, 4, strides=2, padding="same", use_bias=(i == 0 or norm == "none"),
                                name=f"enc{i}_conv")(x)
        if i > 0:
            x = normalization(norm, f"enc{i}_norm")(x)
        x = keras.layers.LeakyReLU(0.2, name=f"enc{i}_act")(x)
        skips.append(x)
    for i in reversed(range(depth - 1)):
        filters = min(base_filters * 2 ** i, max_filters)
        block = depth - 2 - i
        x = _upsample(x, filters, upsample, f"dec{i}")
        x = normalization(norm, f"dec{i}_norm")(x)
        if block < dropout_blocks and dropout > 0:
            x = keras.layers.Dropout(dropout, name=f"dec{i}_dropout")(x)
        x = keras.layers.ReLU(name=f"dec{i}_act")(x)
        x = keras.layers.Concatenate(name=f"dec{i}_skip")([x, skips[i]])
    x = _upsample(x, base_filters, upsample, "head_up")
    x = keras.layers.ReLU(name="head_act")(x)
    x = keras.layers.Conv2D(3, 3, padding="same", name="head_conv")(x)
    x = UnitNormalize(name="unit")(x)
    normals = CropLike(name="crop")([x, plate])
    return keras.Model(plate, normals, name=name)


def _upsample(x, filters, mode, name):
    if mode == "transpose":
        return keras.layers.Conv2DTranspose(filters, 4, strides=2, padding="same", use_bias=False,
                                            name=f"{name}_tconv")(x)
    if mode == "bilinear":
        x = Upsample2x(name=f"{name}_resize")(x)
        return keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
    raise ValueError(f"unknown upsample mode {mode!r}; expected 'bilinear' or 'transpose'")
