"""Write the shipped .blend holding the "tfnormals Relight" node group (and nothing else).

Usage (a Python with Blender's `bpy` module, tfnormals importable):
  python -m tfnormals.blender.build_asset [--output=tfnormals/assets/blender/tfnormals_relight.blend]

The asset is made by this script, never by hand: run it again after changing relight_group.
tests/blender/test_blender_relight.py checks that the shipped file holds what the script builds.
"""

from tfnormals.blender import NODE_GROUP_BLEND, scripting
from tfnormals.core import outputs


def write_asset(path):
    """Build the node group in an empty session and write it alone to `path` (temporary name, then rename)."""
    import bpy

    from tfnormals.blender import relight_group
    bpy.ops.wm.read_factory_settings(use_empty=True)
    group = relight_group.build()
    with outputs.atomic_output(path) as temporary:
        bpy.data.libraries.write(temporary, {group}, fake_user=True, compress=True)
    return {"output": path, "node_group": group.name, "nodes": len(group.nodes), "blender": bpy.app.version_string}


def main(argv=None):
    parser = scripting.Parser("tfnormals.blender.build_asset", description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=NODE_GROUP_BLEND, help="the .blend to write (default: the shipped one)")
    args = parser.parse_args(argv)
    scripting.run(parser, lambda: write_asset(args.output))


if __name__ == "__main__":
    main()
