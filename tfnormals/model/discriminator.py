"""Discriminators judging a (plate, passes) pair — normals, optionally depth and albedo: a dense
(global) one and a PatchGAN.

The dense discriminator ends in one real/fake logit for the whole crop; it judges global
consistency and, paired with a heavy L1 term, gives accurate normals. The PatchGAN (one logit
per receptive-field patch) is kept for comparison: it produced "melted", artistic normals.
"""

import keras

from tfnormals.model.layers import normalization
from tfnormals.model.unet import HEAD_CHANNELS

KINDS = ("dense", "patch")


def build_discriminator(kind="dense", input_size=128, base_filters=64, levels=4, max_filters=512,
                        norm="instance", spectral=False, passes=("normals",), name="discriminator"):
    """Build a discriminator over concat(plate, passes): normals, and optionally depth and albedo.

    Args:
      kind: 'dense' (conv downsampling, then a dense logit) or 'patch' (a map of patch logits).
      input_size: crop side it is trained on (the dense head needs a fixed size).
      base_filters, levels, max_filters: `levels` stride-2 conv blocks, doubling filters per block.
      norm: normalization after every conv but the first.
      spectral: wrap convs and dense layers in spectral normalization.
      passes: the passes its second input holds, concatenated in this order (HEAD_CHANNELS each).
      name: model name.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown discriminator {kind!r}; expected one of {KINDS}")
    wrap = keras.layers.SpectralNormalization if spectral else (lambda layer: layer)
    plate = keras.Input((input_size, input_size, 3), name="plate")
    channels = sum(HEAD_CHANNELS[p] for p in passes)
    seen = keras.Input((input_size, input_size, channels), name="passes")
    x = keras.layers.Concatenate(name="pair")([keras.layers.Rescaling(2.0, offset=-1.0)(plate), seen])
    for i in range(levels):
        filters = min(base_filters * 2 ** i, max_filters)
        x = wrap(keras.layers.Conv2D(filters, 4, strides=2, padding="same", name=f"d{i}_conv"))(x)
        if i > 0:
            x = normalization(norm, f"d{i}_norm")(x)
        x = keras.layers.LeakyReLU(0.2, name=f"d{i}_act")(x)
    if kind == "patch":
        logits = wrap(keras.layers.Conv2D(1, 4, padding="same", name="patch_logits"))(x)
    else:
        x = keras.layers.Flatten(name="flatten")(x)
        x = wrap(keras.layers.Dense(256, name="dense"))(x)
        x = keras.layers.LeakyReLU(0.2, name="dense_act")(x)
        logits = wrap(keras.layers.Dense(1, name="logit"))(x)
    return keras.Model([plate, seen], logits, name=name)
