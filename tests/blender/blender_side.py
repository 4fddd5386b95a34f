"""The Blender half of test_blender_relight.py, run by Blender's Python (`bpy`) with tfnormals importable.

  python blender_side.py layers COMBINED_EXR OUT_DIR
      renders each output of an Image node on the EXR, alone, to OUT_DIR/<output>.exr and prints
      {output: socket type} (what Blender sees in the file);
  python blender_side.py asset
      prints {"shipped": ..., "built": ...}: the node group appended from the shipped .blend and one built
      now by tfnormals.blender.relight_group, each as a plain description (sockets, nodes, settings, links);
  python blender_side.py sheet OUT_PNG COLUMNS TILE...
      renders a contact sheet through Blender's Standard view: tiles left to right, top to bottom, each
      FILE.exr (its colour) or FILE.exr:LAYER (an Image node output, e.g. plate.combined.exr:albedo).
Each prints its result as one line "RESULT <json>" (Blender logs on stdout too).
"""

import json
import os
import sys

import bpy

from tfnormals.blender import composite, relight_group

NODE_SETTINGS = ("operation", "data_type", "clamp_factor", "use_clamp", "factor_mode", "mode")


def render_layers(combined_path, out_dir):
    width, height = composite.exr_size(combined_path)
    scene, tree = composite.new_compositor(bpy)
    image_node = _image_node(tree, combined_path)
    output_node = tree.nodes.new("NodeGroupOutput")
    types = {}
    for socket in image_node.outputs:
        if socket.enabled:
            types[socket.name] = socket.type
            tree.links.new(socket, output_node.inputs["Image"])
            composite.render_outputs(bpy, scene, width, height, os.path.join(out_dir, f"{socket.name}.exr"), "")
    return types


def render_sheet(png_path, columns, tiles):
    """Tiles of one size placed on a black canvas with Translate and Alpha Over nodes, rendered to png_path."""
    width, height = composite.exr_size(tiles[0].split(":")[0])
    rows = -(-len(tiles) // columns)
    scene, tree = composite.new_compositor(bpy)
    canvas = tree.nodes.new("CompositorNodeImage")
    canvas.image = bpy.data.images.new("canvas", columns * width, rows * height, float_buffer=True)
    result = canvas.outputs["Image"]
    for i, tile in enumerate(tiles):
        path, _, layer = tile.partition(":")
        move = tree.nodes.new("CompositorNodeTranslate")
        tree.links.new(_image_node(tree, path).outputs[layer or "Image"], move.inputs["Image"])
        move.inputs["X"].default_value = (i % columns - (columns - 1) / 2) * width
        move.inputs["Y"].default_value = ((rows - 1) / 2 - i // columns) * height
        over = tree.nodes.new("CompositorNodeAlphaOver")
        tree.links.new(result, over.inputs["Background"])
        tree.links.new(move.outputs["Image"], over.inputs["Foreground"])
        result = over.outputs["Image"]
    tree.links.new(result, tree.nodes.new("NodeGroupOutput").inputs["Image"])
    composite.render_outputs(bpy, scene, columns * width, rows * height, os.path.splitext(png_path)[0] + ".exr",
                             png_path)
    return {"png": png_path, "width": columns * width, "height": rows * height}


def _image_node(tree, path):
    node = tree.nodes.new("CompositorNodeImage")
    node.image = bpy.data.images.load(os.path.abspath(path))
    return node


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
    command, args = sys.argv[1], sys.argv[2:]
    if command == "layers":
        result = render_layers(*args)
    elif command == "sheet":
        result = render_sheet(args[0], int(args[1]), args[2:])
    else:
        result = asset_descriptions()
    print("RESULT " + json.dumps(result), flush=True)
