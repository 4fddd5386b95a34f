"""The "tfnormals Relight" compositor node group, built from Blender's own compositor nodes.

It computes what tfnormals.relight computes for one key light, in linear light:
  shading = ambient + intensity · colour · falloff · max(0, (N·l + wrap) / (1 + wrap))
  relit   = plate · shading (add)  or  albedo · shading (replace); alpha is the plate's.
A directional light has l = normalize(direction) and falloff 1; a point light at `position` has
l = normalize(position − P) and falloff 1 / (1 + (d / radius)²), d = |position − P| (camera space,
the position pass's units). Only Math, Vector Math, Mix, Set Alpha and Separate Color nodes are used,
so the group runs wherever Blender's compositor does (CPU or GPU, Blender ≥ 5.0).
"""

import bpy

from tfnormals.blender import NODE_GROUP

# Group inputs, in panel order: (name, socket type, default, (min, max) or None, tooltip).
INPUTS = (
    ("Image", "NodeSocketColor", (0.0, 0.0, 0.0, 1.0), None, "The plate, linear (the Combined layer)"),
    ("N", "NodeSocketVector", (0.0, 0.0, 1.0), None, "Camera-space normals (layer N)"),
    ("P", "NodeSocketVector", (0.0, 0.0, -1.0), None, "Camera-space position (layer P), for the point light"),
    ("Albedo", "NodeSocketColor", (0.5, 0.5, 0.5, 1.0), None, "Linear albedo (layer albedo), for Replace"),
    ("Replace", "NodeSocketBool", False, None, "Off: plate × shading (add light); on: albedo × shading"),
    ("Ambient", "NodeSocketFloat", 1.0, (0.0, 1e4), "Add: share of the plate's own light kept; replace: flat light"),
    ("Point Light", "NodeSocketBool", False, None, "Off: directional light (Direction); on: point light (Position)"),
    ("Direction", "NodeSocketVector", (-1.0, 0.5, 0.6), None, "Toward the directional light, camera space"),
    ("Position", "NodeSocketVector", (0.5, 0.5, -0.5), None, "Point light position, camera space (P's units)"),
    ("Radius", "NodeSocketFloat", 1.0, (1e-6, 1e6), "Point light: distance at which the light halves"),
    ("Color", "NodeSocketColor", (1.0, 1.0, 1.0, 1.0), None, "Light colour, linear RGB"),
    ("Intensity", "NodeSocketFloat", 1.0, (0.0, 1e6), "Light intensity"),
    ("Wrap", "NodeSocketFloat", 0.0, (0.0, 0.99), "Wrapped Lambert softness (0 = plain Lambert)"),
)
OUTPUT = "Image"


def build(name=NODE_GROUP):
    """A new CompositorNodeTree `name` relighting its Image input (see the module docstring)."""
    tree = bpy.data.node_groups.new(name, "CompositorNodeTree")
    tree.description = "Relight a plate from tfnormals' passes (N, P, albedo) with one key light, as tfnormals.relight"
    for socket_name, socket_type, default, limits, tooltip in INPUTS:
        socket = tree.interface.new_socket(socket_name, in_out="INPUT", socket_type=socket_type, description=tooltip)
        socket.default_value = default
        if limits:
            socket.min_value, socket.max_value = limits
    tree.interface.new_socket(OUTPUT, in_out="OUTPUT", socket_type="NodeSocketColor")
    g = _Graph(tree)
    inp = g.add("NodeGroupInput").outputs

    # The light's direction and falloff, directional or point.
    to_light = g.vector_math("SUBTRACT", inp["Position"], inp["P"], label="position − P")
    distance = g.vector_math("LENGTH", to_light, label="d")
    falloff = g.math("DIVIDE", 1.0, g.math("ADD", 1.0, g.math("POWER", g.math("DIVIDE", distance, inp["Radius"]), 2.0)),
                     label="1 / (1 + (d/radius)²)")
    l = g.mix("VECTOR", inp["Point Light"], g.vector_math("NORMALIZE", inp["Direction"]),
              g.vector_math("NORMALIZE", to_light), label="l")
    falloff = g.mix("FLOAT", inp["Point Light"], 1.0, falloff, label="falloff")

    # Wrapped Lambert, scaled by the light: shading = ambient + colour · intensity · falloff · wrapped.
    wrapped = g.math("MAXIMUM", g.math("DIVIDE", g.math("ADD", g.vector_math("DOT_PRODUCT", inp["N"], l), inp["Wrap"]),
                                      g.math("ADD", 1.0, inp["Wrap"])), 0.0, label="wrapped Lambert")
    strength = g.math("MULTIPLY", g.math("MULTIPLY", wrapped, falloff), inp["Intensity"])
    shading = g.vector_math("ADD", g.vector_math("SCALE", inp["Color"], scale=strength), inp["Ambient"],
                            label="shading")

    base = g.mix("VECTOR", inp["Replace"], inp["Image"], inp["Albedo"], label="plate or albedo")
    relit = g.vector_math("MULTIPLY", base, shading, label="relit")
    plate_alpha = g.add("CompositorNodeSeparateColor", inputs={"Image": inp["Image"]}).outputs["Alpha"]
    with_alpha = g.add("CompositorNodeSetAlpha", inputs={"Image": relit, "Alpha": plate_alpha, "Type": "Replace Alpha"})
    g.add("NodeGroupOutput", inputs={OUTPUT: with_alpha.outputs["Image"]})
    g.lay_out()
    return tree


class _Graph:
    """Adds nodes to a tree, feeding each input a socket (linked) or a constant (its default value)."""

    def __init__(self, tree):
        self.tree = tree

    def add(self, kind, inputs=None, label="", **settings):
        node = self.tree.nodes.new(kind)
        node.label = label
        for key, value in settings.items():
            setattr(node, key, value)
        for key, value in (inputs or {}).items():
            self.feed(node.inputs[key], value)
        return node

    def feed(self, socket, value):
        if isinstance(value, bpy.types.NodeSocket):
            self.tree.links.new(value, socket)
        else:
            socket.default_value = value

    def math(self, operation, a, b, label=""):
        node = self.add("ShaderNodeMath", label=label, operation=operation, use_clamp=False)
        self.feed(node.inputs[0], a)
        self.feed(node.inputs[1], b)
        return node.outputs["Value"]

    def vector_math(self, operation, a, b=None, scale=None, label=""):
        node = self.add("ShaderNodeVectorMath", label=label, operation=operation)
        self.feed(node.inputs[0], a)
        if b is not None:
            self.feed(node.inputs[1], b)
        if scale is not None:
            self.feed(node.inputs["Scale"], scale)
        scalar = operation in ("DOT_PRODUCT", "LENGTH", "DISTANCE")
        return node.outputs["Value" if scalar else "Vector"]

    def mix(self, data_type, factor, a, b, label=""):
        """a where factor is 0 (off), b where it is 1 (on)."""
        suffix = {"FLOAT": "Float", "VECTOR": "Vector"}[data_type]
        node = self.add("ShaderNodeMix", label=label, data_type=data_type, clamp_factor=True)
        sockets = {s.identifier: s for s in (*node.inputs, *node.outputs)}  # names repeat per type; identifiers do not
        self.feed(sockets["Factor_Float"], factor)
        self.feed(sockets[f"A_{suffix}"], a)
        self.feed(sockets[f"B_{suffix}"], b)
        return sockets[f"Result_{suffix}"]

    def lay_out(self, dx=220, dy=-170):
        """Columns by distance from the group input, so the group reads left to right when opened (Tab)."""
        column = {}
        for _ in self.tree.nodes:  # relax until stable: a node sits one column right of its furthest input
            for link in self.tree.links:
                source, target = link.from_node.name, link.to_node.name
                column[target] = max(column.get(target, 0), column.get(source, 0) + 1)
        rows = {}
        for node in self.tree.nodes:
            x = column.get(node.name, 0)
            node.location = (x * dx, rows.setdefault(x, 0) * dy)
            rows[x] += 1
