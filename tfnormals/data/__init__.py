"""Data: the records schema, reading a studio's sample files, the tf.data pipeline, augmentation.

`schema` and `pairs` import TensorFlow only inside the functions that need it, so the
renderer's tools can use them without loading it.
"""
