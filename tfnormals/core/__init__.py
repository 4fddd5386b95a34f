"""Core: conventions, sRGB and colour spaces, normals maths, image I/O, progress and on-disk names.

Plain numpy; never imports TensorFlow or Mitsuba, so every layer and tool can use it.
"""
