"""The training model: a thin keras.Model holding the generator and discriminator.

`train_step` augments the batch on the device (tfnormals.data.augment), then takes one
discriminator and one generator step with separate optimizers. Generator loss =
  l1_weight · L1 + angular_weight · (1 − cos)            on normals, each pixel weighted by
                                                         mask × direction balance (balance_power)
  + adversarial_weight · GAN loss                        (the discriminator sees normals, and
                                                         depth/albedo when given d_passes)
  + depth_weight · (scale-invariant depth term + depth_gradient_weight · gradient matching)
                                                         (the term: log-depth variance, or median-scaled AbsRel)
  + albedo_weight · scale-invariant log albedo           for the passes the generator predicts
  + flip_consistency_weight · L1(normals of the batch's first half, its mirror image's mirrored back),
                                                         every pixel (augment.mirror_pairs makes the batch).
A pass missing from a record (schema-1 records have no depth or albedo) is masked out of its
loss. The discriminator sees normals multiplied by the mask on both sides, so empty pixels
(sky, padding) cannot give fakes away; depth and albedo, when it sees them, as log values with
each image's mean removed (losses.scale_free_log), since their scale is free.
"""

import keras
import tensorflow as tf

from tfnormals.core import conventions
from tfnormals.data import augment
from tfnormals.model import losses


class NormalsGAN(keras.Model):
    """Generator + discriminator trained together with fit().

    Args:
      generator: plate → {'normals', ['depth'], ['albedo']} model (tfnormals.model.unet).
      discriminator: (plate, passes) → logits model (tfnormals.model.discriminator) built for `d_passes`.
      augment_config: tfnormals.data.augment.AugmentConfig, or None for no augmentation.
      l1_weight, angular_weight, adversarial_weight: normals loss weights.
      balance_power: direction-balance exponent of the normals loss (0 = plain mask).
      depth_weight, depth_gradient_weight, albedo_weight: weights of the extra passes' losses.
      depth_loss: the scale-invariant depth term, a key of losses.DEPTH_LOSSES.
      flip_consistency_weight: weight of the flip-consistency term (0 = off: the batch is not paired).
      seed: base seed of the stateless augmentation.
      d_passes: the passes the discriminator sees, 'normals' first (a subset of the generator's).
    """

    def __init__(self, generator, discriminator, augment_config=None, l1_weight=500.0, angular_weight=50.0,
                 adversarial_weight=1.0, balance_power=0.0, depth_weight=50.0, depth_gradient_weight=1.0,
                 albedo_weight=50.0, flip_consistency_weight=0.0, seed=0, d_passes=("normals",), depth_loss="si_log",
                 **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.augment_config = augment_config
        self.l1_weight = l1_weight
        self.angular_weight = angular_weight
        self.adversarial_weight = adversarial_weight
        self.balance_power = balance_power
        self.depth_weight = depth_weight
        self.depth_gradient_weight = depth_gradient_weight
        self.depth_loss = losses.DEPTH_LOSSES[depth_loss]
        self.albedo_weight = albedo_weight
        self.flip_consistency_weight = flip_consistency_weight
        self.seed = seed
        self.passes = tuple(generator.output.keys())
        if d_passes[0] != "normals" or set(d_passes) - set(self.passes):
            raise ValueError(f"d_passes {d_passes} must start with 'normals' and be among the generator's "
                             f"{self.passes}")
        self.d_passes = tuple(d_passes)
        names = ["g_loss", "d_loss", "l1", "angular", "adversarial", "angle_deg"]
        names += [n for p, n in (("depth", "depth_si"), ("depth", "depth_grad"), ("albedo", "albedo_si"))
                  if p in self.passes]
        names += ["flip"] if flip_consistency_weight else []
        self.trackers = {n: keras.metrics.Mean(name=n) for n in names}
        # The sub-models are built functional models, so this wrapper is too. (Unbuilt, fit() under
        # tf.distribute would try to build it by calling it on a whole batch dict.)
        self.built = True

    def compile(self, g_optimizer, d_optimizer, **kwargs):
        super().compile(**kwargs)
        self.g_optimizer = g_optimizer
        self.d_optimizer = d_optimizer

    @property
    def metrics(self):
        return list(self.trackers.values())

    def call(self, plates, training=False):
        return self.generator(plates, training=training)

    def _augment_seed(self):
        replica = tf.distribute.get_replica_context()
        replica_id = replica.replica_id_in_sync_group if replica else 0
        step = tf.cast(tf.convert_to_tensor(self.g_optimizer.iterations), tf.int64)
        return tf.stack([step + self.seed * 1000003, tf.cast(replica_id, tf.int64)])

    def reconstruction_terms(self, pred, batch):
        """Each supervised loss term of one batch: {name: scalar}, for the passes the generator has."""
        target, mask = batch["normals"], batch["mask"]
        weights = losses.direction_balance(target, mask, self.balance_power) if self.balance_power else mask
        terms = {"l1": losses.masked_l1(pred["normals"], target, weights),
                 "angular": losses.masked_angular(pred["normals"], target, weights)}
        if "depth" in self.passes:
            target_depth = batch.get("depth", tf.ones_like(mask))
            valid = _depth_validity(batch)
            terms["depth_si"] = self.depth_loss(pred["depth"], target_depth, valid)
            terms["depth_grad"] = losses.gradient_matching(pred["depth"], target_depth, valid)
        if "albedo" in self.passes:
            target_albedo = batch.get("albedo", tf.ones_like(pred["albedo"]))
            terms["albedo_si"] = losses.scale_invariant_log_albedo(pred["albedo"], target_albedo,
                                                                  _albedo_validity(batch))
        return terms

    def discriminator_view(self, passes, batch):
        """What the discriminator sees of `passes` (a prediction, or the batch's truth): normals × mask, then
        scale-free log depth and albedo where the batch has them (zero where it does not)."""
        mask = batch["mask"]
        views = [passes["normals"] * mask]
        if "depth" in self.d_passes:
            views.append(losses.scale_free_log(passes.get("depth", tf.ones_like(mask)), _depth_validity(batch),
                                               losses.DEPTH_LOG_EPS))
        if "albedo" in self.d_passes:
            views.append(losses.scale_free_log(passes.get("albedo", tf.ones_like(passes["normals"])),
                                               _albedo_validity(batch)))
        return tf.concat([tf.cast(v, tf.float32) for v in views], axis=-1)

    def supervised_loss(self, terms):
        """The weighted sum of reconstruction_terms()."""
        loss = self.l1_weight * terms["l1"] + self.angular_weight * terms["angular"]
        if "depth_si" in terms:
            loss += self.depth_weight * (terms["depth_si"] + self.depth_gradient_weight * terms["depth_grad"])
        if "albedo_si" in terms:
            loss += self.albedo_weight * terms["albedo_si"]
        return loss

    def train_step(self, batch):
        if self.augment_config is not None:
            batch = augment.augment_batch(batch, self._augment_seed(), self.augment_config)
        if self.flip_consistency_weight:
            batch = augment.mirror_pairs(batch)
        plate, target, mask = batch["beauty"], batch["normals"], batch["mask"]
        # Gradients are summed across replicas, so each replica's loss is scaled to a share of the mean.
        share = 1.0 / tf.distribute.get_strategy().num_replicas_in_sync
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            pred = self.generator(plate, training=True)
            real_logits = self.discriminator([plate, self.discriminator_view(batch, batch)], training=True)
            fake_logits = self.discriminator([plate, self.discriminator_view(pred, batch)], training=True)
            d_loss = 0.5 * (losses.adversarial(real_logits, True) + losses.adversarial(fake_logits, False))
            terms = self.reconstruction_terms(pred, batch)
            adversarial = losses.adversarial(fake_logits, True)
            g_loss = self.supervised_loss(terms) + self.adversarial_weight * adversarial
            if self.flip_consistency_weight:
                terms["flip"] = flip_inconsistency(pred["normals"])
                g_loss += self.flip_consistency_weight * terms["flip"]
            d_scaled, g_scaled = d_loss * share, g_loss * share
        d_grads = d_tape.gradient(d_scaled, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(zip(d_grads, self.discriminator.trainable_weights))
        g_grads = g_tape.gradient(g_scaled, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(g_grads, self.generator.trainable_weights))
        return self._update(g_loss=g_loss, d_loss=d_loss, adversarial=adversarial,
                            angle_deg=losses.masked_mean_angle(pred["normals"], target, mask), **terms)

    def test_step(self, batch):
        pred = self.generator(batch["beauty"], training=False)
        terms = self.reconstruction_terms(pred, batch)
        return self._update(angle_deg=losses.masked_mean_angle(pred["normals"], batch["normals"], batch["mask"]),
                            **terms)

    def _update(self, **values):
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: self.trackers[name].result() for name in values}


def flip_inconsistency(normals):
    """Mean L1 (every pixel) between the first half's normals and the second half's mirrored back, for a batch
    made by augment.mirror_pairs."""
    normals = tf.cast(normals, tf.float32)
    half = tf.shape(normals)[0] // 2
    return tf.reduce_mean(tf.abs(normals[:half] - augment.mirror({"normals": normals[half:]})["normals"]))


def _surface(batch):
    """[B, H, W, 1] 1 where the mask counts the pixel as surface (as evaluation does)."""
    return tf.cast(batch["mask"] >= conventions.MASK_THRESHOLD, tf.float32)


def _depth_validity(batch):
    """[B, H, W, 1] 1 on surface pixels whose record has depth > 0."""
    depth = batch.get("depth", tf.zeros_like(batch["mask"]))
    return _pass_validity(batch, "depth") * tf.cast(depth > 0, tf.float32) * _surface(batch)


def _albedo_validity(batch):
    """[B, H, W, 1] 1 on surface pixels of records that hold albedo."""
    return _pass_validity(batch, "albedo") * _surface(batch)


def _pass_validity(batch, name):
    """[B, 1, 1, 1] 1 where the batch's records hold pass `name` (batches without the pass have none)."""
    key = f"has_{name}"
    if key not in batch or name not in batch:
        return tf.zeros_like(batch["mask"][:, :1, :1, :1])
    return tf.reshape(tf.cast(batch[key], tf.float32), [-1, 1, 1, 1])
