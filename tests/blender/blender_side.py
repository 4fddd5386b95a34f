"""The Blender half of test_blender_relight.py, run by Blender's Python (`bpy`) with tfnormals importable.

  python blender_side.py layers COMBINED_EXR OUT_DIR
      renders each output of an Image node on the EXR, alone, to OUT_DIR/<output>.exr and prints
      {output: socket type} (what Blender sees in the file);
  python blender_side.py asset
      prints {"shipped": ..., "built": ...}: the node group appended from the shipped .blend and one built
      now by tfnormals.blender.relight_group, each as a plain description (sockets, nodes, settings, links).
"""

import json
import os
import sys

import bpy

from tfnormals.blender import composite, relight_group

NODE_SETTINGS = ("operation", "data_type", "clamp_factor", "use_clamp", "factor_mode", "mode")


def render_layers(combined_path, out_dir):
    width, height = composite.exr_size(combined_path)
    types = {}
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    tree = bpy.data.node_groups.new("Compositing", "CompositorNodeTree")
    tree.interface.new_socket("Image", in_out="OUTPUT", socket_type="NodeSocketColor")
    scene.compositing_node_group = tree
    image_node = tree.nodes.new("CompositorNodeImage")
    image_node.image = bpy.data.images.load(os.path.abspath(combined_path))
    output_node = tree.nodes.new("NodeGroupOutput")
    for socket in image_node.outputs:
        if socket.enabled:
            types[socket.name] = socket.type
            tree.links.new(socket, output_node.inputs["Image"])
            composite.render_outputs(bpy, scene, width, height, os.path.join(out_dir, f"{socket.name}.exr"), "")
    return types


def plain(value):
    """A socket or node value as JSON: numbers rounded (float32 round trips), vectors and colours as lists."""
    if isinstance(value, (bool, int, str)) or value is None:
        return value
    if isinstance(value, float):
        return round(value, 6)
    try:
        return [plain(v) for v in value]
    except TypeError:
        return str(value)


def describe(tree):
    sockets = [[item.in_out, item.name, item.socket_type, item.description, plain(getattr(item, "default_value", None)),
                plain(getattr(item, "min_value", None)), plain(getattr(item, "max_value", None))]
               for item in tree.interface.items_tree]
    nodes = {node.name: {"type": node.bl_idname, "label": node.label,
                         "settings": {key: plain(getattr(node, key)) for key in NODE_SETTINGS if hasattr(node, key)},
                         "unlinked": {s.identifier: plain(getattr(s, "default_value", None))
                                      for s in node.inputs if s.enabled and not s.is_linked}}
             for node in tree.nodes}
    links = sorted([link.from_node.name, link.from_socket.identifier, link.to_node.name, link.to_socket.identifier]
                   for link in tree.links)
    return {"sockets": sockets, "nodes": nodes, "links": links}


def asset_descriptions():
    bpy.ops.wm.read_factory_settings(use_empty=True)
    shipped = composite.append_node_group(bpy)
    return {"shipped": describe(shipped), "built": describe(relight_group.build("built now"))}


if __name__ == "__main__":
    result = render_layers(*sys.argv[2:4]) if sys.argv[1] == "layers" else asset_descriptions()
    sys.stdout.flush()
    print("RESULT " + json.dumps(result), flush=True)
