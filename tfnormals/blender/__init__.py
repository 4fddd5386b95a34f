"""Blender integration: the "tfnormals Relight" compositor node group and the scripts around it.

Everything here runs inside Blender's Python (the `bpy` module, or Blender itself), which has neither TensorFlow
nor tfnormals' image libraries: these modules import only `bpy`, the standard library and the plain modules
tfnormals.core.{errors,json_files,outputs,layout} (tests/test_layering.py). bpy 5.0 needs numpy < 2 while
OpenImageIO 3.2 needs numpy ≥ 2, so pip cannot put bpy into tfnormals' own environment; it lives in a Python 3.11
environment of its own (README "Use in Blender").
"""

import importlib.resources

# The node group's name inside the .blend (what File > Append shows under NodeTree).
NODE_GROUP = "tfnormals Relight"
# The shipped .blend holding only that node group; written by tfnormals.blender.build_asset.
NODE_GROUP_BLEND = str(importlib.resources.files("tfnormals").joinpath("assets", "blender", "tfnormals_relight.blend"))

# The Image node outputs Blender makes from `predict --combined`'s layers (the plate's R,G,B[,A] is "Combined"),
# each with the node group input it feeds.
LAYER_INPUTS = {"Combined": "Image", "N": "N", "P": "P", "albedo": "Albedo"}
