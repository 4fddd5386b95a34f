"""File names of one rendered sample folder, shared by the renderer and make_records."""

BEAUTY_EXR = "beauty.exr"      # linear RGB + A (coverage), exposure applied
BEAUTY_PNG = "beauty.png"      # sRGB 8-bit preview of the same image
NORMALS_EXR = "normals.exr"    # camera-space normals in R, G, B = X, Y, Z; zero where empty
NORMALS_PNG = "normals.png"    # 0.5 * n + 0.5 preview
DEPTH_EXR = "depth.exr"        # camera Z distance in channel Z; zero where empty
ALBEDO_EXR = "albedo.exr"      # diffuse albedo, premultiplied by coverage
MASK_PNG = "mask.png"          # coverage in [0, 1], 8-bit
SCENE_JSON = "scene.json"      # the scene spec, seed and render settings; written last

REQUIRED = (BEAUTY_EXR, BEAUTY_PNG, NORMALS_EXR, DEPTH_EXR, MASK_PNG, SCENE_JSON)


def sample_id(index):
    """Folder name of sample `index` (zero-padded so folders sort in order)."""
    return f"{index:07d}"
