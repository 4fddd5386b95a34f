"""Batched augmentation, run on the accelerator inside the training step.

Geometry moves vectors as well as pixels: a horizontal flip negates X, a vertical flip
negates Y, a 90° rotation rotates (X, Y), and resampling renormalizes. Photometric changes
(exposure, white balance, gamma, blur, noise, JPEG-like blocking) touch the beauty only.
Randomness is stateless: the same seed gives the same augmentation on any device.
"""

import dataclasses
import math

import numpy as np
import tensorflow as tf
import tensorflow.experimental.numpy as tnp

from tfnormals.core import conventions, dataclass_flags, errors, srgb

# Standard JPEG quantization tables (ITU-T T.81, Annex K), luma and chroma.
JPEG_LUMA = np.array([
    [16, 11, 10, 16, 24, 40, 51, 61], [12, 12, 14, 19, 26, 58, 60, 55], [14, 13, 16, 24, 40, 57, 69, 56],
    [14, 17, 22, 29, 51, 87, 80, 62], [18, 22, 37, 56, 68, 109, 103, 77], [24, 35, 55, 64, 81, 104, 113, 92],
    [49, 64, 78, 87, 103, 121, 120, 101], [72, 92, 95, 98, 112, 100, 103, 99]], np.float32)
JPEG_CHROMA = np.full((8, 8), 99.0, np.float32)
JPEG_CHROMA[:4, :4] = [[17, 18, 24, 47], [18, 21, 26, 66], [24, 26, 56, 99], [47, 66, 99, 99]]
RGB_TO_YCBCR = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]],
                        np.float32)
BLUR_TAPS = 7
MIN_RESAMPLED_WEIGHT = 0.5  # a resampled depth/albedo pixel needs most of its weight from pixels with the pass
_field = dataclass_flags.field


@dataclasses.dataclass(frozen=True)
class AugmentConfig:
    """Augmentation settings; probabilities are per image. Every field is also a train flag.

    Vertical flips and rotations remove the light-from-above prior, so they default off.
    """

    crop_size: int = _field(128, "Side of the augmented training crops.")
    min_scale: float = _field(0.6, "Smallest random crop, as a fraction of load_size.")
    whole_share: float = _field(0.0, "With zooms on: share of training examples that are whole scenes (their "
                                     "largest square) resized to load_size.")
    min_zoom: float = _field(0.0, "Smallest random zoom of the other examples, relative to the record's pixels: "
                                  "a load_size / zoom pixel square resized to load_size (0 = zooms off: "
                                  "load_size crops at the record's scale).")
    max_zoom: float = _field(0.0, "Largest random zoom (see min_zoom).")
    hflip_prob: float = _field(0.5, "Horizontal flip probability.")
    vflip_prob: float = _field(0.0, "Vertical flip probability.")
    rot90_prob: float = _field(0.0, "90-degree rotation probability.")
    exposure_stops: float = _field(1.0, "Exposure change range in stops (linear light).")
    white_balance: float = _field(0.1, "White-balance jitter (std of log per-channel gains).")
    gamma_range: tuple[float, float] = _field((0.8, 1.25), "Display gamma range LOW,HIGH applied to the sRGB beauty.")
    blur_prob: float = _field(0.3, "Blur probability.")
    max_blur_sigma: float = _field(1.5, "Largest Gaussian blur sigma in pixels.")
    max_noise: float = _field(0.03, "Largest noise std (sRGB units).")
    jpeg_prob: float = _field(0.25, "JPEG-like artefact probability.")
    jpeg_quality_range: tuple[float, float] = _field((0.2, 1.5), "Scale range LOW,HIGH of the JPEG tables "
                                                                  "(larger = blockier).")

    PROBABILITIES = ("whole_share", "hflip_prob", "vflip_prob", "rot90_prob", "blur_prob", "jpeg_prob")
    RANGES = ("gamma_range", "jpeg_quality_range")

    def validate(self):
        """Raise errors.UsageError naming the flag for a setting augmentation cannot use (TrainConfig.validate)."""
        for name in self.PROBABILITIES:
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise errors.UsageError(f"--{name}: must be a probability in [0, 1], got {getattr(self, name)}")
        for name in ("exposure_stops", "white_balance", "max_noise"):
            if not getattr(self, name) >= 0.0:
                raise errors.UsageError(f"--{name}: must be at least 0, got {getattr(self, name)}")
        if self.crop_size < 1 or not 0.0 < self.min_scale <= 1.0 or not self.max_blur_sigma > 0.0:
            raise errors.UsageError(f"--crop_size, --min_scale, --max_blur_sigma: need crop_size ≥ 1, min_scale in "
                                    f"(0, 1] and max_blur_sigma > 0, got {self.crop_size}, {self.min_scale}, "
                                    f"{self.max_blur_sigma}")
        if (self.min_zoom > 0) != (self.max_zoom > 0) or self.min_zoom > self.max_zoom or self.min_zoom < 0:
            raise errors.UsageError(f"--min_zoom, --max_zoom: both 0 (zooms off) or 0 < min_zoom <= max_zoom, got "
                                    f"{self.min_zoom}, {self.max_zoom}")
        for name in self.RANGES:
            value = getattr(self, name)
            if len(value) != 2 or not 0.0 < value[0] <= value[1]:
                raise errors.UsageError(f"--{name}: expected LOW,HIGH with 0 < LOW <= HIGH, got "
                                        f"{','.join(str(v) for v in value)}")


def _uniform(seed, shape, low=0.0, high=1.0):
    return tf.random.stateless_uniform(shape, seed, minval=low, maxval=high)


def _select(flags, yes, no):
    return tf.where(tf.reshape(flags, [-1, 1, 1, 1]), yes, no)


def _normalize_vectors(n, eps=1e-6):
    length = tf.norm(n, axis=-1, keepdims=True)
    return tf.where(length > eps, n / tf.maximum(length, eps), tf.zeros_like(n))


def hflip(beauty, normals, mask):
    """Mirror left-right; normals' X changes sign (`mask` may hold any scalar planes)."""
    mirrored = mirror({"beauty": beauty, "normals": normals, "mask": mask})
    return mirrored["beauty"], mirrored["normals"], mirrored["mask"]


def mirror(images):
    """A batch dict mirrored left-right: its [B, H, W, C] images flipped (normals' X changes sign), the rest as is."""
    flipped = {k: tf.reverse(v, [2]) for k, v in images.items() if v.shape.rank == 4}
    if "normals" in flipped:
        flipped["normals"] *= tf.constant([-1.0, 1.0, 1.0], flipped["normals"].dtype)
    return dict(images, **flipped)


def mirror_pairs(batch):
    """The batch's first half, then the same images mirrored (an odd batch loses its last image).

    Training on such pairs lets a loss compare what the generator makes of an image and of its
    mirror image (NormalsGAN's flip-consistency term).
    """
    half = tf.shape(batch["beauty"])[0] // 2
    first = {k: v[:half] for k, v in batch.items()}
    return {k: tf.concat([first[k], v], axis=0) for k, v in mirror(first).items()}


def vflip(beauty, normals, mask):
    """Mirror top-bottom; normals' Y changes sign."""
    return (tf.reverse(beauty, [1]), tf.reverse(normals, [1]) * tf.constant([1.0, -1.0, 1.0]),
            tf.reverse(mask, [1]))


def rot90(beauty, normals, mask, k):
    """Rotate square images k×90° counter-clockwise; normals' (X, Y) rotate with them."""
    k = k % 4
    x, y, z = tf.unstack(tf.image.rot90(normals, k), axis=-1)
    xy = [(x, y), (-y, x), (-x, -y), (y, -x)][k]
    return tf.image.rot90(beauty, k), tf.stack([xy[0], xy[1], z], -1), tf.image.rot90(mask, k)


def resample(images, resize):
    """Resample an example's or a batch's images together with `resize` (a function of channel-stacked images).

    Normals are renormalized; mask, depth and albedo ride along as planes. Depth and albedo are
    resampled weighted by where they exist (depth > 0; albedo where the mask is > 0), so
    silhouettes do not blend them with the zeros stored outside.
    """
    extras = "depth" in images
    planes = [images["mask"]]
    if extras:
        depth_valid = tf.cast(images["depth"] > 0, tf.float32)
        albedo_valid = tf.cast(images["mask"] > conventions.NO_COVERAGE, tf.float32)
        planes += [images["depth"] * depth_valid, depth_valid, images["albedo"] * albedo_valid, albedo_valid]
    stacked = resize(tf.concat([images["beauty"], images["normals"]] + planes, -1))
    out = dict(images, beauty=stacked[..., :3], normals=_normalize_vectors(stacked[..., 3:6]), mask=stacked[..., 6:7])
    if extras:
        out["depth"] = _weighted(stacked[..., 7:8], stacked[..., 8:9])
        out["albedo"] = _weighted(stacked[..., 9:12], stacked[..., 12:13])
    return out


def _geometry(batch, seed, config):
    """Zoom-crop, flip and rotate every image of the batch together; normals rotate as vectors.

    Scalar planes (mask, depth, albedo) move as pixels through the flips and rotations.
    """
    b = tf.shape(batch["beauty"])[0]
    seeds = tf.random.experimental.stateless_split(seed, 6)
    scale = _uniform(seeds[0], [b], config.min_scale, 1.0)
    y0 = _uniform(seeds[1], [b]) * (1.0 - scale)
    x0 = _uniform(seeds[2], [b]) * (1.0 - scale)
    boxes = tf.stack([y0, x0, y0 + scale, x0 + scale], axis=1)
    size = [config.crop_size, config.crop_size]
    out = resample(batch, lambda stacked: tf.image.crop_and_resize(stacked, boxes, tf.range(b), size))
    keys = [k for k in ("mask", "depth", "albedo") if k in out]
    beauty, normals, planes = out["beauty"], out["normals"], tf.concat([out[k] for k in keys], -1)
    flips = _uniform(seeds[3], [b]) < config.hflip_prob
    beauty, normals, planes = (_select(flips, new, old) for new, old in zip(hflip(beauty, normals, planes),
                                                                          (beauty, normals, planes)))
    flips = _uniform(seeds[4], [b]) < config.vflip_prob
    beauty, normals, planes = (_select(flips, new, old) for new, old in zip(vflip(beauty, normals, planes),
                                                                          (beauty, normals, planes)))
    if config.rot90_prob > 0:
        u = _uniform(seeds[5], [b])
        turns = tf.where(u < config.rot90_prob, 1 + tf.cast(u / config.rot90_prob * 3.0, tf.int32), 0)
        rotated = [rot90(beauty, normals, planes, k) for k in range(4)]
        beauty, normals, planes = (_pick(tf.stack([r[i] for r in rotated]), turns) for i in range(3))
    widths = {"mask": 1, "depth": 1, "albedo": 3}
    parts = tf.split(planes, [widths[k] for k in keys], axis=-1)
    return dict(out, beauty=beauty, normals=normals, **dict(zip(keys, parts)))


def _weighted(resampled_values, resampled_weight):
    """Values resampled as value × weight, divided back by the resampled weight; 0 where less than MIN_RESAMPLED_WEIGHT
    of it came from pixels that hold the pass."""
    return tf.where(resampled_weight > MIN_RESAMPLED_WEIGHT, resampled_values / tf.maximum(resampled_weight, 1e-6),
                    0.0)


def _pick(stacked, turns):
    """stacked[turns[i], i] for every image i of a [4, B, ...] tensor."""
    index = tf.stack([turns, tf.range(tf.shape(turns)[0])], axis=1)
    return tf.gather_nd(stacked, index)


def gaussian_blur(images, sigma):
    """Blur each image of [B, H, W, C] with its own Gaussian sigma [B] (one depthwise conv)."""
    shape = tf.shape(images)
    b, h, w, c = shape[0], shape[1], shape[2], images.shape[-1]
    taps = tf.range(BLUR_TAPS, dtype=tf.float32) - (BLUR_TAPS - 1) / 2.0
    kernel_1d = tf.exp(-0.5 * tf.square(taps[None, :] / tf.maximum(sigma[:, None], 1e-3)))
    kernel_1d /= tf.reduce_sum(kernel_1d, axis=1, keepdims=True)  # [B, T]
    kernel_1d = tf.repeat(kernel_1d, c, axis=0)  # one per (image, channel)
    planes = tf.reshape(tf.transpose(images, [1, 2, 0, 3]), [1, h, w, b * c])
    horizontal = tf.reshape(tf.transpose(kernel_1d), [1, BLUR_TAPS, b * c, 1])
    vertical = tf.reshape(tf.transpose(kernel_1d), [BLUR_TAPS, 1, b * c, 1])
    pad = (BLUR_TAPS - 1) // 2  # mirror the border: zero padding would darken the image's edges
    planes = tf.pad(planes, [[0, 0], [0, 0], [pad, pad], [0, 0]], "SYMMETRIC")
    planes = tf.nn.depthwise_conv2d(planes, horizontal, [1, 1, 1, 1], "VALID")
    planes = tf.pad(planes, [[0, 0], [pad, pad], [0, 0], [0, 0]], "SYMMETRIC")
    planes = tf.nn.depthwise_conv2d(planes, vertical, [1, 1, 1, 1], "VALID")
    return tf.transpose(tf.reshape(planes, [h, w, b, c]), [2, 0, 1, 3])


def _dct_matrix():
    k = np.arange(8)
    d = np.sqrt(2.0 / 8) * np.cos(np.pi * (2 * k[None, :] + 1) * k[:, None] / 16.0)
    d[0] /= math.sqrt(2.0)
    return tf.constant(d, tf.float32)


def jpeg_like(images, quality_scale):
    """Quantize 8×8 DCT blocks of YCbCr like a JPEG encoder; quality_scale [B] scales the tables."""
    shape = tf.shape(images)
    b, h, w = shape[0], shape[1], shape[2]
    ycc = tf.einsum("bhwc,dc->bhwd", images * 255.0, tf.constant(RGB_TO_YCBCR))
    blocks = tf.reshape(ycc, [b, h // 8, 8, w // 8, 8, 3])
    d = _dct_matrix()
    coeff = tf.einsum("ij,bnjmkc,lk->bnimlc", d, blocks, d)
    table = tf.stack([tf.constant(JPEG_LUMA), tf.constant(JPEG_CHROMA), tf.constant(JPEG_CHROMA)], -1)
    step = tf.maximum(table[None, None, :, None, :, :] * tf.reshape(quality_scale, [-1, 1, 1, 1, 1, 1]), 1.0)
    coeff = tf.round(coeff / step) * step
    blocks = tf.einsum("ji,bnjmkc,kl->bnimlc", d, coeff, d)
    ycc = tf.reshape(blocks, [b, h, w, 3])
    rgb = tf.einsum("bhwc,dc->bhwd", ycc, tf.constant(np.linalg.inv(RGB_TO_YCBCR), tf.float32))
    return rgb / 255.0


def photometric(beauty, seed, config):
    """The photometric part of augment_batch on a beauty batch alone (exposure, white balance, gamma, blur, noise,
    JPEG-like blocking) with a stateless [2] int seed."""
    b = tf.shape(beauty)[0]
    seeds = tf.random.experimental.stateless_split(seed, 10)
    linear = srgb.srgb_to_linear(beauty, xp=tnp)
    gain = tf.pow(2.0, _uniform(seeds[0], [b], -config.exposure_stops, config.exposure_stops))
    balance = tf.exp(tf.random.stateless_normal([b, 3], seeds[1]) * config.white_balance)
    balance /= tf.reduce_mean(balance, axis=1, keepdims=True)
    linear *= tf.reshape(gain, [-1, 1, 1, 1]) * tf.reshape(balance, [-1, 1, 1, 3])
    image = srgb.linear_to_srgb(linear, xp=tnp)
    lo, hi = config.gamma_range
    gamma = tf.exp(_uniform(seeds[2], [b], math.log(lo), math.log(hi)))
    image = tf.pow(tf.maximum(image, 1e-6), tf.reshape(gamma, [-1, 1, 1, 1]))
    blur = _uniform(seeds[3], [b]) < config.blur_prob
    sigma = _uniform(seeds[4], [b], 0.3, config.max_blur_sigma)
    image = _select(blur, gaussian_blur(image, sigma), image)
    noise_std = _uniform(seeds[5], [b], 0.0, config.max_noise)
    image += tf.random.stateless_normal(tf.shape(image), seeds[6]) * tf.reshape(noise_std, [-1, 1, 1, 1])
    if config.jpeg_prob > 0 and config.crop_size % 8 == 0:
        jpeg = _uniform(seeds[7], [b]) < config.jpeg_prob
        lo, hi = config.jpeg_quality_range
        image = _select(jpeg, jpeg_like(tf.clip_by_value(image, 0.0, 1.0), _uniform(seeds[8], [b], lo, hi)), image)
    return tf.clip_by_value(image, 0.0, 1.0)


def augment_batch(batch, seed, config):
    """Augment a batch dict {'beauty', 'normals', 'mask', ...} with a stateless [2] int seed."""
    seed = tf.cast(seed, tf.int64)
    geometry_seed, photo_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    batch = _geometry(batch, geometry_seed, config)
    return dict(batch, beauty=photometric(batch["beauty"], photo_seed, config))
