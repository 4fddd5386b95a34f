"""Relight a `predict --combined` EXR in Blender's compositor with the shipped "tfnormals Relight" node group.

Usage (a Python with Blender's `bpy` module, tfnormals importable):
  python -m tfnormals.blender.composite --combined=plate.combined.exr --lights=rig.json --output=relit.exr \
      [--png=relit.png]

It does what a Blender user does: a fresh empty scene, the node group appended from the shipped .blend,
an Image node on the combined EXR wired to it (Combined → Image, N, P, albedo), a render of the
compositor in background mode to a 32-bit float EXR (linear, the plate's alpha) and, with --png, the same
render through Blender's "Standard" view (sRGB, colour only). The rig is tfnormals.relight's JSON format with one
light, directional or point, and explicit "mode" and "ambient":
  {"mode": "add", "ambient": 0.4,
   "lights": [{"type": "point", "position": [0.4, 0.3, -0.8], "radius": 0.5, "color": [1, 0.8, 0.6]}]}
Fields a light leaves out keep the node group's defaults (colour 1, intensity 1, wrap 0, radius 1).
stdout is one JSON line: {"output", "png", "layers": {Image node output: socket type}, "width", "height",
"mode", "light", "blender"}.
"""

import math
import os
import struct

from tfnormals import blender
from tfnormals.blender import scripting
from tfnormals.core import errors, json_files, outputs

NAME = "tfnormals.blender.composite"
EXR_MAGIC = b"\x76\x2f\x31\x01"
# Rig light fields → the node group's inputs.
VECTOR_FIELDS = {"direction": "Direction", "position": "Position"}
NUMBER_FIELDS = {"radius": "Radius", "intensity": "Intensity", "wrap": "Wrap"}
LIGHT_FIELDS = {"type", "color", *VECTOR_FIELDS, *NUMBER_FIELDS}


def read_rig(path):
    """(mode, ambient, light dict) of a one-light rig file; errors.UsageError naming the file otherwise."""
    where = f"--lights: {path}"
    rig = json_files.load(path, "--lights")
    if not isinstance(rig, dict) or rig.get("mode") not in ("add", "replace") or not _number(rig.get("ambient")):
        raise errors.UsageError(f"{where}: needs \"mode\" (add or replace) and \"ambient\" (a number ≥ 0)")
    lights = rig.get("lights")
    if not (isinstance(lights, list) and len(lights) == 1 and isinstance(lights[0], dict)):
        raise errors.UsageError(f"{where}: the node group has one key light; give exactly one in \"lights\"")
    light = lights[0]
    kind = light.get("type", "directional")
    unknown = set(light) - LIGHT_FIELDS
    if kind not in ("directional", "point") or unknown:
        raise errors.UsageError(f"{where}: a directional or point light with fields {', '.join(sorted(LIGHT_FIELDS))}"
                                f" (got type {kind!r}{', fields ' + ', '.join(sorted(unknown)) if unknown else ''})")
    needed = "direction" if kind == "directional" else "position"
    if needed not in light:
        raise errors.UsageError(f"{where}: a {kind} light needs \"{needed}\"")
    for field in ("color", *VECTOR_FIELDS):
        if field in light and not (isinstance(light[field], list) and len(light[field]) == 3
                                   and all(_number(v, low=-math.inf) for v in light[field])):
            raise errors.UsageError(f"{where}: {field} must be 3 numbers, got {light[field]!r}")
    if kind == "directional" and not any(light["direction"]):
        raise errors.UsageError(f"{where}: direction 0,0,0 has no direction")
    for field in NUMBER_FIELDS:
        if field in light and not _number(light[field]):
            raise errors.UsageError(f"{where}: {field} must be a number ≥ 0, got {light[field]!r}")
    return rig["mode"], float(rig["ambient"]), dict(light, type=kind)


def _number(value, low=0.0):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= low


def exr_size(path):
    """(width, height) of an OpenEXR file's data window, read from its header: Blender's Python reports 0×0 for a
    multilayer image until the compositor has read it, and the render size must be set before."""
    with open(path, "rb") as f:
        if f.read(4) != EXR_MAGIC:
            raise errors.Failure(f"{path}: not an OpenEXR file")
        f.read(4)  # version and flags
        while name := _c_string(f):
            _c_string(f)  # the attribute's type
            size = f.read(4)
            if len(size) < 4:
                break
            value = f.read(struct.unpack("<i", size)[0])
            if name == "dataWindow" and len(value) == 16:
                x0, y0, x1, y1 = struct.unpack("<4i", value)
                return x1 - x0 + 1, y1 - y0 + 1
    raise errors.Failure(f"{path}: OpenEXR header without a dataWindow (damaged file?)")


def _c_string(f):
    text = bytearray()
    while (byte := f.read(1)) not in (b"", b"\0"):
        text += byte
    return text.decode("latin-1")


def composite(combined_path, rig_path, output_path, png_path=""):
    """Render `combined_path` relit by the rig through the node group; returns the JSON summary (module docstring)."""
    for flag, path, extension in (("--output", output_path, ".exr"), ("--png", png_path, ".png")):
        if path:
            if os.path.splitext(path)[1].lower() != extension:
                raise errors.UsageError(f"{flag}: {path} must end in {extension}")
            outputs.check_writable_file(path, flag)
    if not os.path.isfile(combined_path):
        raise errors.MissingPathError(f"--combined: {combined_path}: no such file")
    mode, ambient, light = read_rig(rig_path)
    width, height = exr_size(combined_path)
    for path in {output_path, png_path} - {""}:
        outputs.remove_stale_temps(os.path.dirname(os.path.abspath(path)))

    import bpy
    scene, tree = new_compositor(bpy)
    layers = relight_in(bpy, tree, combined_path, mode, ambient, light)
    render_outputs(bpy, scene, width, height, output_path, png_path)
    return {"output": output_path, "png": png_path, "layers": layers, "width": width, "height": height,
            "mode": mode, "light": light["type"], "blender": bpy.app.version_string}


def new_compositor(bpy):
    """(scene, tree): a fresh empty scene whose compositor is a new node tree with one colour output, "Image"."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    tree = bpy.data.node_groups.new("Compositing", "CompositorNodeTree")
    tree.interface.new_socket("Image", in_out="OUTPUT", socket_type="NodeSocketColor")
    scene.compositing_node_group = tree
    return scene, tree


def relight_in(bpy, tree, combined_path, mode, ambient, light):
    """Wire a compositor: an Image node on the combined EXR → the appended node group → the output.
    Returns the Image node's outputs {name: socket type}, i.e. the layers Blender sees."""
    image_node = tree.nodes.new("CompositorNodeImage")
    try:
        image_node.image = bpy.data.images.load(os.path.abspath(combined_path))
    except RuntimeError as e:
        raise errors.Failure(f"{combined_path}: Blender cannot read it ({e})") from None
    layers = {socket.name: socket.type for socket in image_node.outputs if socket.enabled}
    needed = {"Image", "N", *(["P"] if light["type"] == "point" else []), *(["Albedo"] if mode == "replace" else [])}
    missing = [layer for layer, group_input in blender.LAYER_INPUTS.items()
               if group_input in needed and layer not in layers]
    if missing:
        raise errors.Failure(f"{combined_path}: no {', '.join(missing)} layer (Blender sees {', '.join(layers)}); "
                             "write it with predict --combined")
    relight = tree.nodes.new("CompositorNodeGroup")
    relight.node_tree = append_node_group(bpy)
    for layer, group_input in blender.LAYER_INPUTS.items():
        if layer in layers:
            tree.links.new(image_node.outputs[layer], relight.inputs[group_input])
    set_light(relight, mode, ambient, light)
    tree.links.new(relight.outputs["Image"], tree.nodes.new("NodeGroupOutput").inputs["Image"])
    return layers


def render_outputs(bpy, scene, width, height, output_path, png_path):
    """Render the compositor at the plate's size: a 32-bit float RGBA EXR, then (png_path) the Standard view's sRGB
    PNG (colour only)."""
    render = scene.render
    render.resolution_x, render.resolution_y, render.resolution_percentage = width, height, 100
    render.compositor_precision = "FULL"
    render.dither_intensity = 0.0
    render.image_settings.file_format, render.image_settings.color_depth = "OPEN_EXR", "32"
    render.image_settings.color_mode = "RGBA"
    with outputs.atomic_output(output_path) as temporary:
        render.filepath = temporary
        bpy.ops.render.render(write_still=True)
    if png_path:
        scene.view_settings.view_transform, scene.view_settings.look = "Standard", "None"
        render.image_settings.file_format, render.image_settings.color_depth = "PNG", "8"
        render.image_settings.color_mode, render.image_settings.compression = "RGB", 100
        with outputs.atomic_output(png_path) as temporary:
            bpy.data.images["Render Result"].save_render(temporary, scene=scene)


def append_node_group(bpy):
    """Append the "tfnormals Relight" node group from the shipped .blend into the open file, as File > Append does."""
    with bpy.data.libraries.load(blender.NODE_GROUP_BLEND, link=False) as (source, target):
        if blender.NODE_GROUP not in source.node_groups:
            raise errors.Failure(f"{blender.NODE_GROUP_BLEND}: no node group {blender.NODE_GROUP!r} (rebuild it: "
                                 "python -m tfnormals.blender.build_asset)")
        target.node_groups = [blender.NODE_GROUP]
    return target.node_groups[0]


def set_light(node, mode, ambient, light):
    """Set a "tfnormals Relight" group node's inputs from a rig's mode, ambient and light (read_rig)."""
    node.inputs["Replace"].default_value = mode == "replace"
    node.inputs["Ambient"].default_value = ambient
    node.inputs["Point Light"].default_value = light["type"] == "point"
    if "color" in light:
        node.inputs["Color"].default_value = (*light["color"], 1.0)
    for field, name in {**VECTOR_FIELDS, **NUMBER_FIELDS}.items():
        if field in light:
            node.inputs[name].default_value = light[field]


def main(argv=None):
    parser = scripting.Parser(NAME, description=__doc__.splitlines()[0])
    parser.add_argument("--combined", required=True, help="an EXR written by predict --combined")
    parser.add_argument("--lights", required=True, help="a one-light rig (JSON, as for tfnormals.relight)")
    parser.add_argument("--output", required=True, help="the relit plate, a 32-bit float EXR (linear)")
    parser.add_argument("--png", default="", help="also the render through Blender's Standard view, sRGB PNG")
    args = parser.parse_args(argv)
    scripting.run(parser, lambda: composite(args.combined, args.lights, args.output, args.png))


if __name__ == "__main__":
    main()
