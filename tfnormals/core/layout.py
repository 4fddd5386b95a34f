"""Every on-disk name the project uses, in one place: sample folders, records, run folders, models.

Writers and readers both import these names, so a file is never spelled twice.
"""

import os

# --- One rendered sample folder, DIR/<7-digit index>/ (data_tools.render writes, make_records reads).
BEAUTY_EXR = "beauty.exr"      # linear RGB + A (coverage), exposure applied
BEAUTY_PNG = "beauty.png"      # sRGB 8-bit preview of the same image
NORMALS_EXR = "normals.exr"    # camera-space normals in R, G, B = X, Y, Z; zero where empty
NORMALS_PNG = "normals.png"    # 0.5 * n + 0.5 preview
DEPTH_EXR = "depth.exr"        # camera Z distance in channel Z; zero where empty
ALBEDO_EXR = "albedo.exr"      # diffuse albedo, premultiplied by coverage
MASK_PNG = "mask.png"          # coverage in [0, 1], 8-bit
IDS_PNG = "ids.png"            # ID pass: 8-bit gray, the shape index per pixel (values below)
SCENE_JSON = "scene.json"      # the scene spec, seed and render settings; written last

SAMPLE_REQUIRED = (BEAUTY_EXR, BEAUTY_PNG, NORMALS_EXR, DEPTH_EXR, MASK_PNG, SCENE_JSON)  # what readers need
SAMPLE_WRITTEN = SAMPLE_REQUIRED + (IDS_PNG,)  # what a complete folder of today's renderer holds

# ID pass values (ids.png stores them as 8-bit integers; scene.json's "ids" names each one).
# One ray through each pixel (not a coverage average), so every value is a real shape's.
ID_BACKGROUND = 0      # no surface: environment / sky
ID_FIRST_SET = 1       # set pieces (ground, floor, walls, table, backdrop), 1..ID_LIGHTS-1
ID_LIGHTS = 7          # visible light panels (area-light quads)
ID_FIRST_OBJECT = 8    # objects, ID_FIRST_OBJECT + their index in the spec's "objects"

# Hidden temporary names: a writer builds under one and renames; a re-run may delete stale ones.
TMP_PREFIX = ".tmp-"


def sample_id(index):
    """Folder name of sample `index` (zero-padded so folders sort in order)."""
    return f"{index:07d}"


# --- One rendered shot, DIR/<shot_id>/ (data_tools.render_shots writes, tfnormals.core.shots reads): the sample
# files above once per frame, named by frame_file (beauty.1001.exr, ...), and one shot.json for the whole shot.
SHOT_JSON = "shot.json"        # scene spec, camera path, object motions, settings, exposure, every frame's camera
SHOT_FRAME_FILES = (BEAUTY_EXR, BEAUTY_PNG, NORMALS_EXR, NORMALS_PNG, DEPTH_EXR, ALBEDO_EXR, MASK_PNG, IDS_PNG)
FIRST_FRAME = 1001             # VFX convention: a shot's frames count from 1001
SHOT_GLOB = "shot?????"


def shot_id(index):
    """Folder name of shot `index`: `shot00003`."""
    return f"shot{index:05d}"


# --- Reference passes of a mesh through a shot's camera (data_tools.render_references writes, tfnormals.finetune
# reads): NORMALS_EXR (with the coverage as A), DEPTH_EXR and ALPHA_EXR per frame, named by frame_file.
ALPHA_EXR = "alpha.exr"        # coverage in channel A


def frame_file(name, frame):
    """A sample file's name in a frame sequence: frame_file("beauty.exr", 1001) → `beauty.1001.exr` (####)."""
    stem, dot, ext = name.rpartition(".")
    return f"{stem}.{frame:04d}.{ext}"


# --- A records folder (data_tools.make_records writes, tfnormals.data reads).
RECORDS_INDEX = "index.json"     # per-split counts, skipped samples, schema version
RECORDS_PROGRESS_DIR = ".progress"  # one JSON per finished shard, so a re-run resumes
SPLITS = ("train", "val", "test")


def shard_name(split, index, count):
    """`train-00003-of-00016.tfrecord`."""
    return f"{split}-{index:05d}-of-{count:05d}.tfrecord"


def shard_glob(split):
    """Glob (relative to the records folder) matching every shard of a split."""
    return f"{split}-?????-of-?????.tfrecord"


def task_index_name(task, count):
    """`index.task-00001-of-00004.json`: what task 1 of a 4-task make_records array wrote (merged into index.json)."""
    return f"index.task-{task:05d}-of-{count:05d}.json"


TASK_INDEX_GLOB = "index.task-?????-of-?????.json"


# --- A training run folder, <checkpoint_root>/<run_name>/ (tfnormals.train writes).
RUN_CONFIG = "config.json"
RUN_CKPT_DIR = "ckpt"
RUN_HISTORY = "history.csv"
RUN_CURVES = "curves.png"     # history.csv drawn as charts at every epoch end
RUN_LOGS_DIR = "logs"
RUN_MONITOR_DIR = "monitor"
RUN_MONITOR_GIF = "monitor.gif"
RUN_TRIPTYCHS_DIR = "triptychs"
RUN_RECORDS_DIR = "records"   # self-rendered data of a run trained without --records_dir
RUN_RENDERS_DIR = "renders"

# --- A fine-tune's work folder, <output>.finetune/ (tfnormals.finetune writes and resumes): RUN_CKPT_DIR,
# RUN_HISTORY (the held-out error every few steps) and the request it was asked.
FINETUNE_REQUEST = "finetune.json"
FINETUNE_SUFFIX = ".finetune"  # the work folder's default name: the output folder's plus this

# --- An exported model folder (tfnormals.export writes, tools load).
SAVEDMODEL_PB = "saved_model.pb"
MODEL_METADATA = "tfnormals.json"


def is_savedmodel(path):
    """Whether `path` is a SavedModel folder (it holds SAVEDMODEL_PB), as opposed to a run folder or checkpoint."""
    return os.path.isfile(os.path.join(path, SAVEDMODEL_PB))
