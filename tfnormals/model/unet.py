"""Keras functional U-Net generator: plate (sRGB in [0, 1], any H×W) → a dict of passes.

The pix2pix layout: an encoder (from scratch, or VGG16 with real-image weights — see
tfnormals.model.encoders), a decoder with skip connections and dropout in its first blocks,
then one 3×3 conv head per pass on the shared features:
  normals  [N, H, W, 3]  unit camera-space normals (always present)
  depth    [N, H, W, 1]  relative depth (positive; a plate has no scale), when trained
  albedo   [N, H, W, 3]  linear reflectance in [0, 1], when trained
The input is mirror-padded to the total stride and every output cropped back, so outputs have
the input's size.
"""

import contextlib

import keras

from tfnormals.core import conventions
from tfnormals.model import encoders
from tfnormals.model.layers import (
    CONTEXTS,
    CropLike,
    GlobalContext,
    PadToMultiple,
    PositiveExp,
    UnitNormalize,
    Upsample2x,
    normalization,
)

PASSES = ("normals", "depth", "albedo")
HEAD_CHANNELS = conventions.PASS_CHANNELS
UPSAMPLING = ("bilinear", "transpose")  # resize + 3×3 conv, or pix2pix's 4×4 transposed conv
# Layer names of the heads; the normals head keeps the name normals-only models have always had.
HEAD_NAMES = {"normals": "head_conv", "depth": "depth_conv", "albedo": "albedo_conv"}


def build_generator(base_filters=32, levels=6, max_filters=256, norm="batch", dropout=0.5, dropout_blocks=3,
                    upsample="bilinear", encoder="unet", passes=("normals",), context="none", decoder_blocks=0,
                    name="generator"):
    """Build the U-Net generator.

    Args:
      base_filters: filters of the first decoder (and from-scratch encoder) block; doubles per
        block up to max_filters.
      levels: resolution levels of the U-Net, total stride 2 ** levels (encoder blocks for 'unet'; VGG16 adds
        blocks past its 16).
      max_filters: cap on filters per block.
      norm: 'batch' (default: behaves the same on tiles and whole plates), 'instance', 'group', 'none'.
      dropout: dropout rate in the first `dropout_blocks` decoder blocks (training only).
      dropout_blocks: how many decoder blocks use dropout.
      upsample: 'bilinear' (resize then 3×3 conv; no checkerboard) or 'transpose' (pix2pix's 4×4
        transposed conv).
      encoder: 'unet' (from scratch) or 'vgg16' (load weights with encoders.load_hed_weights).
      passes: outputs to predict, 'normals' first; any of PASSES.
      context: 'none', or 'pool': the bottleneck gets the mean of its features over the whole image
        (layers.GlobalContext), so every position sees the scene's layout, whatever the receptive field.
      decoder_blocks: residual 3×3 blocks after each decoder level's skip connection (capacity where the
        decoder merges context and detail); each starts as the identity, so a warm start computes as before.
      name: model name.
    """
    if encoder not in encoders.ENCODERS:
        raise ValueError(f"unknown encoder {encoder!r}; expected one of {encoders.ENCODERS}")
    passes = tuple(passes)
    if not passes or passes[0] != "normals" or set(passes) - set(PASSES) or len(set(passes)) != len(passes):
        raise ValueError(f"passes must start with 'normals' and be distinct names from {PASSES}, got {passes}")
    if encoder == "vgg16" and levels < len(encoders.VGG16_BLOCKS) - 1:
        raise ValueError(f"the vgg16 encoder needs levels >= {len(encoders.VGG16_BLOCKS) - 1}")
    if decoder_blocks < 0:
        raise ValueError(f"decoder_blocks must be >= 0, got {decoder_blocks}")
    if context not in CONTEXTS:
        raise ValueError(f"unknown context {context!r}; expected one of {CONTEXTS}")
    plate = keras.Input((None, None, 3), name="plate")
    x = PadToMultiple(2 ** levels, name="pad")(plate)
    if encoder == "unet":
        skips = encoders.unet_encoder(x, levels, base_filters, max_filters, norm)
        finest_stride = 2
    else:
        skips = encoders.vgg16_encoder(x, levels, max_filters, norm)
        finest_stride = 1
    if encoder == "vgg16":
        skips = [_project(skip, min(base_filters * 2 ** i, max_filters), norm, f"skip{i}") for i, skip in
                 enumerate(skips[:-1])] + skips[-1:]
    x = skips[-1]
    if context == "pool":
        x = GlobalContext(name="context")(x)
    for i in reversed(range(len(skips) - 1)):
        filters = min(base_filters * 2 ** i, max_filters)
        block = len(skips) - 2 - i
        x = _upsample(x, filters, upsample, f"dec{i}")
        x = normalization(norm, f"dec{i}_norm")(x)
        if block < dropout_blocks and dropout > 0:
            x = keras.layers.Dropout(dropout, name=f"dec{i}_dropout")(x)
        x = keras.layers.ReLU(name=f"dec{i}_act")(x)
        x = keras.layers.Concatenate(name=f"dec{i}_skip")([x, skips[i]])
        for r in range(decoder_blocks):
            x = _residual(x, filters, norm, f"dec{i}_res{r}")
    if finest_stride == 2:
        x = _upsample(x, base_filters, upsample, "head_up")
    else:
        x = keras.layers.Conv2D(base_filters, 3, padding="same", use_bias=False, name="head_mix")(x)
        x = normalization(norm, "head_norm")(x)
    x = keras.layers.ReLU(name="head_act")(x)
    outputs = {p: CropLike(dtype="float32", name=f"{p}_crop")([_head(x, p), plate]) for p in passes}
    return keras.Model(plate, outputs, name=name)


def _project(skip, filters, norm, name):
    """1×1 conv + norm + ReLU narrowing a wide pretrained feature map to the decoder's width.

    VGG's skips (64–512 channels) would otherwise make the decoder's convs cost as much as the encoder.
    """
    x = keras.layers.Conv2D(filters, 1, use_bias=norm == "none", name=f"{name}_proj")(skip)
    x = normalization(norm, f"{name}_norm")(x)
    return keras.layers.ReLU(name=f"{name}_act")(x)


def _residual(x, filters, norm, name):
    """x + conv(ReLU(norm(conv(x)))): the second conv starts at zero, so the block starts as the identity."""
    y = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv1")(x)
    y = normalization(norm, f"{name}_norm")(y)
    y = keras.layers.ReLU(name=f"{name}_act")(y)
    y = keras.layers.Conv2D(x.shape[-1], 3, padding="same", kernel_initializer="zeros", name=f"{name}_conv2")(y)
    return keras.layers.Add(name=f"{name}_add")([x, y])


def scale_depth_contrast(generator, contrast):
    """Multiply the depth head's log depth by `contrast` (its last conv's kernel and bias): depth becomes
    depth ** contrast, a calibration of how far the model spreads depths (BUILD_NOTES "a depth calibration")."""
    layer = generator.get_layer(HEAD_NAMES["depth"])
    layer.set_weights([w * contrast for w in layer.get_weights()])


def _head(features, kind):
    """One pass's 3×3 conv and output activation; computed in float32 under mixed precision."""
    x = keras.layers.Conv2D(HEAD_CHANNELS[kind], 3, padding="same", dtype="float32", name=HEAD_NAMES[kind])(features)
    if kind == "normals":
        return UnitNormalize(dtype="float32", name="unit")(x)
    if kind == "depth":
        return PositiveExp(dtype="float32", name="depth_exp")(x)
    return keras.layers.Activation("sigmoid", dtype="float32", name="albedo_sigmoid")(x)


def _upsample(x, filters, mode, name):
    if mode == "transpose":
        return keras.layers.Conv2DTranspose(filters, 4, strides=2, padding="same", use_bias=False,
                                            name=f"{name}_tconv")(x)
    if mode == "bilinear":
        x = Upsample2x(name=f"{name}_resize")(x)
        return keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
    raise ValueError(f"unknown upsample mode {mode!r}; expected one of {UPSAMPLING}")


@contextlib.contextmanager
def precision(policy):
    """Build models inside this block with a Keras dtype policy ('float32' or 'mixed_bfloat16')."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
