"""Data tools: the random scene renderer and the TFRecord writer for paired (plate, normals) samples."""
