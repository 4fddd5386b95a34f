"""Files shipped inside the tfnormals package (photos, the trained model).

Found through importlib.resources, so they work from a source checkout, an editable install
and a wheel alike.
"""

import importlib.resources


def package_file(package, *parts):
    """Filesystem path of a file or folder shipped in `package`."""
    return str(importlib.resources.files(package).joinpath(*parts))


# Real photos (CC0 / public domain, see tfnormals/assets/README.md).
EXAMPLE_PLATE = package_file("tfnormals", "assets", "astronaut.png")
MONITOR_IMAGE = package_file("tfnormals", "assets", "coffee.png")

# The trained model shipped with the project (a SavedModel; BUILD_NOTES.md says how it was made).
DEFAULT_MODEL_DIR = package_file("tfnormals", "assets", "model")

# Plates of varied rendered scenes on which a fine-tuned shot model keeps the base model's outputs
# (tfnormals.finetune --rehearsal; tfnormals/assets/rehearsal/README.md says how they were made).
REHEARSAL_DIR = package_file("tfnormals", "assets", "rehearsal")
