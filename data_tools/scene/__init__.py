"""Scene generation in numpy: random specs, meshes, procedural textures and geometry (no renderer)."""
