"""Model: custom layers, the U-Net generator, discriminators, losses, the GAN wrapper, SavedModel export."""
