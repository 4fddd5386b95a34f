"""Fixed conventions shared by every tool: normals axes, file channels, metrics.

Normals are camera space with OpenGL/Maya/Blender camera axes: +X right, +Y up,
+Z toward the camera, so a surface facing the camera is (0, 0, 1). They are stored
as floats in [-1, 1] in EXR and as 0.5 * n + 0.5 in 8/16-bit files.
"""

# EXR channel names. A standalone normals file uses R, G, B (= X, Y, Z) so any viewer
# shows it; a combined plate+normals file puts the normals in a Nuke-style "N" layer.
NORMALS_EXR_CHANNELS = ("R", "G", "B")
NORMALS_LAYER_CHANNELS = ("N.X", "N.Y", "N.Z")

# Channels of each pass a model predicts (its output, and its head in tfnormals.model.unet).
PASS_CHANNELS = {"normals": 3, "depth": 1, "albedo": 3}

# Angular-error thresholds (degrees) reported by every evaluation.
ANGLE_THRESHOLDS_DEG = (11.25, 22.5, 30.0)

# A pixel is a surface where the mask is at least this (mask is coverage in [0, 1]): what losses, metrics and
# previews count. Passes hold values wherever coverage is above NO_COVERAGE (partly covered silhouette pixels
# too), and are zero elsewhere.
MASK_THRESHOLD = 0.5
NO_COVERAGE = 0.0
# A stored normal shorter than this is "no surface" (normals are zero where nothing was hit).
MIN_NORMAL_LENGTH = 0.5

# Largest |1 - |n|| accepted for a stored normal on a masked pixel.
UNIT_NORMAL_TOLERANCE = 0.05

# Depth contrasts every depth evaluation reports (AbsRel of the predicted depth ** k), to fit
# `export --depth_contrast` on renders the model trained on.
DEPTH_CONTRASTS = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 1.0, 1.1, 1.25, 1.5)

# Surface classes by the true camera-space normal, for per-family reports: floors face up, walls are vertical.
FLOOR_MIN_Y = 0.7
WALL_MAX_Y = 0.3
