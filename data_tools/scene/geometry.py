"""Turn a scene spec into what a renderer needs, in numpy: surfaces with textures, emitters, a sky.

No renderer is imported here. Each surface carries its ID-pass value (tfnormals.core.layout:
set pieces from ID_FIRST_SET, objects from ID_FIRST_OBJECT in spec order), so the ID pass and
scene.json's `ids` table agree.
"""

import dataclasses

from data_tools.scene import bake, lighting, materials, meshes, sets, shapes, transforms
from tfnormals.core import layout

SKY_SIZE = lighting.ENV_SIZE
SMALL_RENDER = 160  # renders up to this size get 128² textures (a quarter of the texture work), larger 256²


def texture_size(resolution):
    """Side of every texture (set tiles and object atlases) for renders of `resolution`."""
    return materials.TEXTURE_SIZE // 2 if resolution <= SMALL_RENDER else materials.TEXTURE_SIZE

# Matrix helpers under their historical names (tests and tools place meshes with them).
translation_matrix = transforms.translation
scale_matrix = transforms.scale
rotation_matrix = transforms.rotation


@dataclasses.dataclass
class Surface:
    """One renderable surface: a world-space mesh, its textures, BSDF scalars and its ID."""

    name: str
    mesh: meshes.Mesh
    textures: dict
    specular: float
    id: int


def _with_detail(mesh, material):
    """Apply a material's height-map displacement to welded (closed, smooth) meshes."""
    heights = materials.detail_heights(material, mesh.uvs * material["uv_scale"]) if mesh.welded else None
    return mesh if heights is None else meshes.displace(mesh, heights)


def set_surfaces(spec, resolution):
    """The set's pieces as Surfaces (tiled textures, shared per material)."""
    built = {}
    surfaces = []
    for k, (name, mesh, key) in enumerate(sets.set_pieces(spec["set"], resolution)):
        material = spec["set"][key]
        if key not in built:
            built[key] = materials.textures(material, texture_size(resolution))
        mesh = dataclasses.replace(mesh, uvs=mesh.uvs * material["uv_scale"])
        surfaces.append(Surface(name, mesh, built[key], material["specular"], layout.ID_FIRST_SET + k))
    return surfaces


def object_surface(obj, index, resolution):
    """One object as a Surface: displaced by its material's detail, textures baked into its atlas."""
    material = obj["material"]
    mesh = _with_detail(shapes.object_mesh(obj, resolution), material)
    size = texture_size(resolution)
    mesh, textures = bake.bake(mesh, material, materials.textures(material, size), size)
    return Surface(f"object {index}: {obj['shape']}", mesh, textures, material["specular"],
                   layout.ID_FIRST_OBJECT + index)


def surfaces(spec, resolution):
    """Every surface of a spec: set pieces, then objects."""
    objects = [object_surface(obj, k, resolution) for k, obj in enumerate(spec["objects"])]
    return set_surfaces(spec, resolution) + objects


def id_table(surface_list):
    """scene.json's map from ID-pass value (as a string) to what it shows."""
    table = {str(layout.ID_BACKGROUND): "background"}
    table.update({str(s.id): s.name for s in surface_list})
    table[str(layout.ID_LIGHTS)] = "light"
    return table


def emitters(spec, area_slots):
    """{slot name: (quad mesh, radiance)} for the area lights and the sun (None, None when off)."""
    areas = [light for light in spec["lights"] if light["kind"] == "area"]
    result = {f"area_{i}": (lighting.area_light_quad(areas[i]), areas[i]["radiance"]) if i < len(areas)
              else (None, None) for i in range(area_slots)}
    result["sun"] = lighting.sun_emitter(spec["environment"])
    return result


def environment_map(spec):
    return lighting.environment_map(spec["environment"], SKY_SIZE)


def point_light(spec):
    """(position, intensity) of the spec's point light, or None."""
    points = [light for light in spec["lights"] if light["kind"] == "point"]
    return (points[0]["position"], points[0]["intensity"]) if points else None

