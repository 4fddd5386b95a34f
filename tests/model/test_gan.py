"""NormalsGAN (tfnormals.model.gan): one train_step and test_step on an in-memory batch of spheres."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import synthetic_sample

from tfnormals.data import augment
from tfnormals.data.augment import AugmentConfig
from tfnormals.model import losses
from tfnormals.model.discriminator import build_discriminator
from tfnormals.model.gan import NormalsGAN, flip_inconsistency
from tfnormals.model.unet import build_generator

SIZE = 32
WEIGHTS = dict(l1_weight=10.0, angular_weight=3.0, adversarial_weight=0.5)


def sphere_batch(n=2):
    """[n, SIZE, SIZE, C] tensors of synthetic spheres as the dataset yields them: sRGB beauty, normals, mask,
    depth and albedo with their has_* flags. (Extra passes: tests/model/test_multipass.py.)"""
    from tfnormals.core import srgb
    samples = [synthetic_sample(SIZE, seed) for seed in range(n)]
    batch = {"beauty": np.stack([srgb.linear_to_srgb(s["beauty"]) for s in samples]),
             "normals": np.stack([s["normals"] for s in samples]),
             "mask": np.stack([s["alpha"] for s in samples])[..., None]}
    batch.update(depth=np.stack([s["depth"] for s in samples])[..., None],
                 albedo=np.stack([s["albedo"] for s in samples]), has_depth=np.ones(n), has_albedo=np.ones(n))
    return {k: tf.constant(v, tf.float32) for k, v in batch.items()}


def make_gan(augment_config=None, dropout=0.5):
    """A tiny normals-only GAN with distinct loss weights (so the weighted sum can be checked)."""
    keras.utils.set_random_seed(0)
    generator = build_generator(base_filters=4, levels=3, max_filters=8, dropout=dropout)
    discriminator = build_discriminator(input_size=SIZE, base_filters=4, levels=2)
    gan = NormalsGAN(generator, discriminator, augment_config=augment_config, **WEIGHTS)
    gan.compile(g_optimizer=keras.optimizers.Adam(1e-3), d_optimizer=keras.optimizers.Adam(1e-3))
    return gan


def snapshot(model):
    return [w.numpy().copy() for w in model.trainable_weights]


def changed(before, model):
    return [not np.array_equal(a, w.numpy()) for a, w in zip(before, model.trainable_weights)]


def test_train_step_updates_both_networks_with_finite_losses():
    gan = make_gan()
    batch = sphere_batch()
    g_before, d_before = snapshot(gan.generator), snapshot(gan.discriminator)
    logs = {k: float(v) for k, v in gan.train_step(batch).items()}
    assert set(logs) == {"g_loss", "d_loss", "l1", "angular", "adversarial", "angle_deg"}
    assert all(np.isfinite(v) for v in logs.values()), logs
    # The generator loss is the documented weighted sum of its terms.
    expected = WEIGHTS["l1_weight"] * logs["l1"] + WEIGHTS["angular_weight"] * logs["angular"] \
        + WEIGHTS["adversarial_weight"] * logs["adversarial"]
    assert logs["g_loss"] == pytest.approx(expected, rel=1e-5)
    assert 0.0 < logs["angle_deg"] < 180.0 and 0.0 < logs["d_loss"]
    # One step of each optimizer, and (nearly) every weight of both networks moved.
    assert int(gan.g_optimizer.iterations) == 1 and int(gan.d_optimizer.iterations) == 1
    assert np.mean(changed(g_before, gan.generator)) > 0.9
    assert np.mean(changed(d_before, gan.discriminator)) > 0.9


def test_a_train_step_goes_downhill():
    """After one step the generator's supervised loss on that batch is lower (no dropout, so the
    training-mode forward pass is deterministic): the gradients are applied with the right sign."""
    gan = make_gan(dropout=0.0)
    batch = sphere_batch()

    def supervised():
        pred = gan.generator(batch["beauty"], training=True)
        return float(gan.supervised_loss(gan.reconstruction_terms(pred, batch)))

    before = supervised()
    gan.train_step(batch)
    assert supervised() < before


def test_test_step_scores_without_changing_weights():
    """test_step reports the inference-mode generator's masked errors and trains nothing."""
    gan = make_gan(augment_config=AugmentConfig(crop_size=SIZE))  # test_step must not augment either
    batch = sphere_batch()
    g_before, d_before = snapshot(gan.generator), snapshot(gan.discriminator)
    logs = {k: float(v) for k, v in gan.test_step(batch).items()}
    assert set(logs) == {"l1", "angular", "angle_deg"}
    assert not any(changed(g_before, gan.generator)) and not any(changed(d_before, gan.discriminator))
    assert int(gan.g_optimizer.iterations) == 0
    pred = gan.generator(batch["beauty"], training=False)["normals"]
    assert logs["angle_deg"] == pytest.approx(
        float(losses.masked_mean_angle(pred, batch["normals"], batch["mask"])), rel=1e-5)
    assert logs["l1"] == pytest.approx(float(losses.masked_l1(pred, batch["normals"], batch["mask"])), rel=1e-5)



def adversarial_gan(g_lr, d_lr):
    """A tiny GAN trained by its adversarial term alone (supervised weights 0, no dropout), with plain SGD at a
    learning rate small enough that one step moves each network along its own gradient (first order: at 0.05 the
    step overshoots and the sign of the change means nothing), so which way the logits move shows how the losses
    are wired. A learning rate of 0 holds that network still."""
    keras.utils.set_random_seed(0)
    generator = build_generator(base_filters=4, levels=3, max_filters=8, dropout=0.0)
    discriminator = build_discriminator(input_size=SIZE, base_filters=4, levels=2)
    gan = NormalsGAN(generator, discriminator, l1_weight=0.0, angular_weight=0.0, adversarial_weight=1.0)
    gan.compile(g_optimizer=keras.optimizers.SGD(g_lr), d_optimizer=keras.optimizers.SGD(d_lr))
    return gan


def mean_logits(gan, batch):
    """The discriminator's mean logit on the batch's truth and on the generator's prediction."""
    plate = batch["beauty"]
    pred = gan.generator(plate, training=True)
    real = gan.discriminator([plate, gan.discriminator_view(batch, batch)], training=True)
    fake = gan.discriminator([plate, gan.discriminator_view(pred, batch)], training=True)
    return float(tf.reduce_mean(real)), float(tf.reduce_mean(fake))


def test_a_discriminator_step_tells_real_from_fake_better():
    """One train_step with the generator held still: D(real) goes up, D(fake) down, and their gap widens (swapping
    the discriminator's real/fake labels narrows it)."""
    gan = adversarial_gan(g_lr=0.0, d_lr=1e-3)
    batch = sphere_batch(4)
    real_before, fake_before = mean_logits(gan, batch)
    gan.train_step(batch)
    real_after, fake_after = mean_logits(gan, batch)
    assert real_after > real_before and fake_after < fake_before
    assert real_after - fake_after > real_before - fake_before


def test_a_generator_step_makes_its_fakes_look_more_real():
    """One train_step with the discriminator held still raises D(fake): the generator's adversarial target is
    'real' (flipping it lowers D(fake))."""
    gan = adversarial_gan(g_lr=1e-4, d_lr=0.0)
    batch = sphere_batch(4)
    _, fake_before = mean_logits(gan, batch)
    gan.train_step(batch)
    _, fake_after = mean_logits(gan, batch)
    assert fake_after > fake_before


def test_the_discriminator_sees_normals_only_where_the_mask_is():
    """Two predictions that differ only off the surface (mask 0) look the same to the discriminator, so empty
    pixels cannot give fakes away; on the surface its view is the normals themselves."""
    gan = make_gan()
    batch = sphere_batch()
    off_surface = tf.cast(batch["mask"] == 0.0, tf.float32)
    assert 0.1 < float(tf.reduce_mean(off_surface)) < 0.9  # the spheres leave background to test on
    junk = tf.math.l2_normalize(tf.random.stateless_normal(tf.shape(batch["normals"]), [1, 2]), axis=-1)
    messy = {"normals": batch["normals"] * (1.0 - off_surface) + junk * off_surface}
    clean_view = gan.discriminator_view({"normals": batch["normals"]}, batch)
    messy_view = gan.discriminator_view(messy, batch)
    np.testing.assert_array_equal(clean_view.numpy(), messy_view.numpy())
    np.testing.assert_allclose(clean_view.numpy(), (batch["normals"] * batch["mask"]).numpy())
    plate = batch["beauty"]
    np.testing.assert_array_equal(gan.discriminator([plate, clean_view]).numpy(),
                                  gan.discriminator([plate, messy_view]).numpy())


def test_flip_consistency_term_pairs_the_batch_and_adds_to_the_loss():
    """With flip_consistency_weight the step trains on mirror pairs and g_loss carries the weighted flip term."""
    keras.utils.set_random_seed(0)
    generator = build_generator(base_filters=4, levels=3, max_filters=8, dropout=0.0)
    gan = NormalsGAN(generator, build_discriminator(input_size=SIZE, base_filters=4, levels=2),
                     flip_consistency_weight=7.0, **WEIGHTS)
    gan.compile(g_optimizer=keras.optimizers.Adam(1e-3), d_optimizer=keras.optimizers.Adam(1e-3))
    logs = {k: float(v) for k, v in gan.train_step(sphere_batch(4)).items()}
    expected = WEIGHTS["l1_weight"] * logs["l1"] + WEIGHTS["angular_weight"] * logs["angular"] \
        + WEIGHTS["adversarial_weight"] * logs["adversarial"] + 7.0 * logs["flip"]
    assert logs["flip"] > 0.0 and logs["g_loss"] == pytest.approx(expected, rel=1e-5)


def test_flip_inconsistency_is_zero_only_for_mirror_consistent_normals():
    normals = tf.math.l2_normalize(tf.random.stateless_normal([2, 8, 8, 3], [1, 2]) + [0.0, 0.0, 2.0], axis=-1)
    consistent = tf.concat([normals, augment.mirror({"normals": normals})["normals"]], axis=0)
    assert float(flip_inconsistency(consistent)) < 1e-7
    # Mirroring the pixels without negating X, or not mirroring at all, is inconsistent.
    assert float(flip_inconsistency(tf.concat([normals, normals[:, :, ::-1]], axis=0))) > 0.05
    assert float(flip_inconsistency(tf.concat([normals, normals], axis=0))) > 0.05


def test_flip_consistency_steps_make_the_generator_more_equivariant():
    """Generator steps on the flip term alone shrink the gap between what it makes of a plate and of its
    mirror image (mirrored back): the term's gradient has the right sign."""
    keras.utils.set_random_seed(0)
    generator = build_generator(base_filters=4, levels=3, max_filters=8, dropout=0.0)
    gan = NormalsGAN(generator, build_discriminator(input_size=SIZE, base_filters=4, levels=2), l1_weight=0.0,
                     angular_weight=0.0, adversarial_weight=0.0, flip_consistency_weight=1.0)
    gan.compile(g_optimizer=keras.optimizers.Adam(1e-3), d_optimizer=keras.optimizers.Adam(0.0))
    batch = sphere_batch(4)
    paired = augment.mirror_pairs(batch)

    def inconsistency():
        return float(flip_inconsistency(gan.generator(paired["beauty"], training=True)["normals"]))

    before = inconsistency()
    for _ in range(5):
        gan.train_step(batch)
    assert inconsistency() < 0.7 * before  # 0.44 → 0.27 here
