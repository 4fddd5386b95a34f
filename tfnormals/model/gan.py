"""The training model: a thin keras.Model holding the generator and discriminator.

`train_step` augments the batch on the device (tfnormals.augment), then takes one
discriminator and one generator step with separate optimizers. Generator loss =
l1_weight · masked L1 + angular_weight · masked (1 − cos) + adversarial_weight · GAN loss.
The discriminator sees normals multiplied by the mask on both sides, so empty pixels
(sky, padding) cannot give fakes away.
"""

import keras
import tensorflow as tf

from tfnormals.data import augment
from tfnormals.model import losses


class NormalsGAN(keras.Model):
    """Generator + discriminator trained together with fit().

    Args:
      generator: plate → unit normals model (tfnormals.unet).
      discriminator: (plate, normals) → logits model (tfnormals.discriminator).
      augment_config: tfnormals.augment.AugmentConfig, or None for no augmentation.
      l1_weight, angular_weight, adversarial_weight: generator loss weights.
      seed: base seed of the stateless augmentation.
    """

    def __init__(self, generator, discriminator, augment_config=None, l1_weight=500.0, angular_weight=50.0,
                 adversarial_weight=1.0, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.augment_config = augment_config
        self.l1_weight = l1_weight
        self.angular_weight = angular_weight
        self.adversarial_weight = adversarial_weight
        self.seed = seed
        names = ("g_loss", "d_loss", "l1", "angular", "adversarial", "angle_deg")
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

    @staticmethod
    def _reconstruction_terms(pred, target, mask):
        return losses.masked_l1(pred, target, mask), losses.masked_angular(pred, target, mask)

    def train_step(self, batch):
        if self.augment_config is not None:
            batch = augment.augment_batch(batch, self._augment_seed(), self.augment_config)
        plate, target, mask = batch["beauty"], batch["normals"], batch["mask"]
        # Gradients are summed across replicas, so each replica's loss is scaled to a share of the mean.
        share = 1.0 / tf.distribute.get_strategy().num_replicas_in_sync
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            pred = self.generator(plate, training=True)
            real_logits = self.discriminator([plate, target * mask], training=True)
            fake_logits = self.discriminator([plate, pred * mask], training=True)
            d_loss = 0.5 * (losses.adversarial(real_logits, True) + losses.adversarial(fake_logits, False))
            l1, angular = self._reconstruction_terms(pred, target, mask)
            adversarial = losses.adversarial(fake_logits, True)
            g_loss = self.l1_weight * l1 + self.angular_weight * angular + self.adversarial_weight * adversarial
            d_scaled, g_scaled = d_loss * share, g_loss * share
        d_grads = d_tape.gradient(d_scaled, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(zip(d_grads, self.discriminator.trainable_weights))
        g_grads = g_tape.gradient(g_scaled, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(g_grads, self.generator.trainable_weights))
        return self._update(g_loss=g_loss, d_loss=d_loss, l1=l1, angular=angular, adversarial=adversarial,
                            angle_deg=losses.masked_mean_angle(pred, target, mask))

    def test_step(self, batch):
        plate, target, mask = batch["beauty"], batch["normals"], batch["mask"]
        pred = self.generator(plate, training=False)
        l1, angular = self._reconstruction_terms(pred, target, mask)
        return self._update(l1=l1, angular=angular, angle_deg=losses.masked_mean_angle(pred, target, mask))

    def _update(self, **values):
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: self.trackers[name].result() for name in values}
