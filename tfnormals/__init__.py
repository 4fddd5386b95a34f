"""tfnormals: learn a camera-space normals pass from a plate (photo, painting or beauty render)."""

import os

# TensorFlow's C++ start-up chatter (CUDA probing on CPU machines) hides real messages.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
