"""Every case of issue 10 through the real command line: exit code, the one-line message, stdout, leftovers.

Each row runs `python -m <command> <args>` in a fresh folder prepared by its `setup`, after its
`before` commands (which must exit as the row says, 0 by default) and its `between` step. Then, for
every row (tests/cli/cli_support.run_case; sibling files hold more tables):
- the exit code is the documented one (0 done, 1 failed work, 2 usage; tfnormals.core.cli);
- an error ends stderr with one line `<command>: error: <message>` matching the row, and no traceback;
- stdout holds nothing but the command's result (one JSON line; evaluate's table), whatever the
  libraries printed (OpenEXR's warnings go to stdout at C level);
- no temporary file and no empty folder is left anywhere, and the row's `absent` paths do not exist;
- the row's `check(folder, summary)` holds.
"""

import glob
import json
import os
import re
import socket

import numpy as np
import pytest
from cli_support import (
    EVALUATE,
    EXPORT,
    FINETUNE,
    PREDICT,
    RECORDS,
    REFERENCES,
    RELIGHT,
    RENDER,
    TRAIN,
    Case,
    both,
    case_params,
    exr,
    png,
    relight_inputs,
    rgb,
    run_case,
    text_file,
    write_pairs,
)

from tfnormals.core import image_io

# --- Inputs the rows build (small: 16–64 px).

def _nan_plate(f, d=None):
    plate = rgb(32, 32)
    plate[1, 2] = np.nan
    plate[5, 5, 0] = np.inf
    plate[9, 9:11] = -np.inf
    exr(f"{f}/in/nan.exr", plate)


def _absurd_png(path, width, height):
    """A PNG whose header claims width×height, with almost no data."""
    import struct
    import zlib

    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
    with open(path, "wb") as out:
        out.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                  + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def _odd_frames(f, d=None):
    png(f"{f}/in/f.0001.png", 1, 5)
    _absurd_png(f"{f}/in/f.0002.png", 40000, 40000)
    png(f"{f}/in/f.0003.png", 20, 20)
    png(f"{f}/in/f.0004.png", 3, 150)


def _frames_with_gap(f, d=None):
    for frame in (1001, 1003):
        png(f"{f}/in/p.{frame}.png", 16, 16, frame)


def _frames_with_cameras(f, d=None):
    """Plates p.1001-1003 and a camera JSON (cam.json) that has cameras for 1001 and 1002 only."""
    for frame in (1001, 1002, 1003):
        png(f"{f}/in/p.{frame}.png", 16, 16, frame)
    frames = {str(frame): {"camera_to_world": np.eye(4).tolist()} for frame in (1001, 1002)}
    with open(f"{f}/in/cam.json", "w") as out:
        json.dump({"resolution": [16, 16], "frames": frames}, out)


def _frames_with_mattes(*frames):
    """_frames_with_cameras and rotos of a moving object (in/roto.####.png) for `frames`."""
    def setup(f, d=None):
        _frames_with_cameras(f, d)
        for frame in frames:
            png(f"{f}/in/roto.{frame}.png", 16, 16, frame)
    return setup


def _exr_with_chatter(f, d=None):
    """A good EXR and a truncated one (OpenEXR prints a warning on stdout while failing to read it)."""
    exr(f"{f}/in/a.exr", rgb(64, 64))
    with open(f"{f}/in/a.exr", "rb") as good, open(f"{f}/in/b.exr", "wb") as bad:
        bad.write(good.read()[:400])


def _stale_predict_temps(f, d=None):
    png(f"{f}/in/a.png")
    os.makedirs(f"{f}/out")
    host = socket.gethostname().replace("-", "_")
    for name in (f".tmp-{host}-999999999-abc123.exr", ".tmp-x8k2j1.png"):  # a dead writer's, an old-style one
        open(f"{f}/out/{name}", "wb").write(b"partial")


def _corrupt_model(f, d=None):
    os.makedirs(f"{f}/m")
    open(f"{f}/m/saved_model.pb", "wb").write(b"\x00 not a protobuf")


def _relight_nan(f, d=None):
    plate = rgb(32, 32)
    plate[3, 3] = np.nan
    relight_inputs(f, plate=plate)


def _relight_mismatch(f, d=None):
    relight_inputs(f, size=20)


def _bad_sample(f, d=None):
    write_pairs(f"{f}/in", 1)
    open(glob.glob(f"{f}/in/*/beauty.exr")[0], "wb").write(b"junk")


def _stale_records_temp(f, d=None):
    os.makedirs(f"{f}/out")
    open(f"{f}/out/.tmp-abc123.tfrecord", "wb").write(b"half a shard")


def _truncated_records(f, d):
    import shutil
    shutil.copytree(d.records, f"{f}/rec")
    shard = max(glob.glob(f"{f}/rec/train-*.tfrecord"), key=os.path.getsize)
    size = os.path.getsize(shard)
    with open(shard, "r+b") as out:
        out.truncate(size // 2)


def _stale_evaluate_temp(f, d=None):
    host = socket.gethostname().replace("-", "_")
    text_file(f".tmp-{host}-999999999-abc.e_triptychs/x.png")(f)  # a killed evaluation's triptych folder


def _not_a_savedmodel(f, d=None):
    text_file("run/notes.txt")(f)
    text_file("precious/notes.txt")(f)


# --- Checks on the outputs.

def _unit_finite(path):
    n = image_io.read_exr(path, ["R", "G", "B"])
    assert np.all(np.isfinite(n))
    np.testing.assert_allclose(np.linalg.norm(n, axis=-1), 1.0, atol=1e-4)


def _check_nan(f, s):
    assert s["nonfinite_frames"] == {"in/nan.exr": 4} and s["written"] == 1
    _unit_finite(f"{f}/out/nan.normals.exr")


def _check_odd(f, s):
    assert s["written"] == 3 and s["failed"] == 1
    # the size guard: ours ("40000x40000 is too large") or OpenImageIO's, which refuses this header first
    assert re.search(r"40000x40000 is too large|claims a 4577 MB image", s["failed_frames"]["in/f.0002.png"])
    for frame, shape in (("0001", (1, 5)), ("0003", (20, 20)), ("0004", (3, 150))):
        _unit_finite(f"{f}/out/f.normals.{frame}.exr")
        assert image_io.read_image(f"{f}/out/f.normals.{frame}.exr").shape[:2] == shape


def _check_combined(f, s):
    assert s["written"] == 1 and s["skipped_existing"] == 0
    assert set(image_io.exr_channel_names(f"{f}/out/a.combined.exr")) == {"R", "G", "B", "N.X", "N.Y", "N.Z"}


def _check_reingest(f, s):
    assert s["written"] == 0 and s["skipped_existing"] == 2
    assert not glob.glob(f"{f}/in/*normals.normals*") and not glob.glob(f"{f}/in/*combined.normals*")


def _check_missing(expected):
    def check(f, s):
        assert s["missing_frames"] == expected and s["failed"] == 0
    return check


def _check_chatter(f, s):
    assert s["written"] == 1 and list(s["failed_frames"]) == ["in/b.exr"]


def _check_relight_nan(f, s):
    assert s["nonfinite"] == {"in/p.exr": 1}
    assert np.all(np.isfinite(image_io.read_image(f"{f}/out.exr")))


def _records_ids(folder):
    import tensorflow as tf

    from tfnormals.data import schema
    ids = []
    for shard in sorted(glob.glob(f"{folder}/*.tfrecord")):
        ids += [schema.decode_example(r)["id"].numpy().decode() for r in tf.data.TFRecordDataset(shard)]
    return ids


def _check_evaluation(f, table):
    assert table.startswith("| method |") and "| model |" in table
    assert os.path.isfile(f"{f}/e.json") and glob.glob(f"{f}/e_triptychs/*.png")


def _check_overwrite(f, s):
    names = sorted(os.path.basename(p) for p in glob.glob(f"{f}/out/*.tfrecord"))
    assert names and all(n.endswith("-of-00003.tfrecord") for n in names)
    ids = _records_ids(f"{f}/out")
    assert len(ids) == len(set(ids)) == sum(s["counts"].values()) == 3


def _check_records(count):
    def check(f, s):
        ids = _records_ids(f"{f}/out")
        assert len(ids) == len(set(ids)) == sum(s["counts"].values()) == count
    return check


M = "--model={model}"
def _shot(f, d=None):
    """A synthetic shot of three 24-px frames (helpers.write_synthetic_shot) in f/shot/."""
    from helpers import write_synthetic_shot
    os.makedirs(f"{f}/shot")
    write_synthetic_shot(f"{f}/shot", (1001, 1002, 1003), 24)


def _shot_with_empty_reference(f, d=None):
    _shot(f)
    n = image_io.read_image(f"{f}/shot/normals.1002.exr")
    image_io.write_rgb_exr(f"{f}/shot/normals.1002.exr", n[..., :3], alpha=np.zeros(n.shape[:2], np.float32))


def _check_finetuned(f, s):
    import json
    with open(f"{f}/shot_model/tfnormals.json") as info:
        meta = json.load(info)["finetune"]
    return (s["steps"] == 2 and s["frames"] == [1001, 1003] and meta["frames"] == [1001, 1003]
            and meta["passes_trained"] == ["normals"]  # the tiny model has no depth or albedo head
            and os.path.isfile(f"{f}/shot_model/saved_model.pb") and os.path.isdir(f"{f}/shot_model.finetune/ckpt"))


def _camera_json(f, d=None):
    import json
    with open(f"{f}/cameras.json", "w") as out:
        json.dump({"resolution": [16, 16], "frames": {"1001": {"camera_to_world": np.eye(4).tolist()}}}, out)
    with open(f"{f}/mesh.obj", "w") as out:
        out.write("v 0 0 -2\nv 1 0 -2\nv 0 1 -2\nf 1 2 3\n")


FT = ["--plates=shot/beauty.####.exr", "--references=shot/normals.####.exr", "--model={model}", "--minutes=0",
      "--steps=2", "--view_size=24", "--crop_size=24", "--batch_size=1", "--eval_every=1", "--precision=float32"]

CASES = [
    # 1. Non-finite pixels.
    Case("predict-nan-plate", PREDICT, ["--input=in/nan.exr", "--output=out", M], 0, setup=_nan_plate,
         check=_check_nan),
    Case("relight-nan-plate", RELIGHT, ["--plate=in/p.exr", "--normals=in/n.exr", "--output=out.exr",
                                        "--light_dir=0,0,1"], 0, setup=_relight_nan, check=_check_relight_nan),
    # 2. Odd frames never end the batch.
    Case("predict-odd-frames", PREDICT, ["--input=in/f.####.png", "--output=out", M], 1,
         r"1 of 4 frame\(s\) failed", setup=_odd_frames, check=_check_odd),
    # 3. Resume keyed to every output and to the plate's full name; outputs are not inputs.
    Case("predict-rerun-with-combined", PREDICT, ["--input=in/a.png", "--output=out", M, "--combined"], 0,
         setup=lambda f, d: png(f"{f}/in/a.png"), before=[(PREDICT, ["--input=in/a.png", "--output=out", M])],
         check=_check_combined),
    Case("predict-same-stem", PREDICT, ["--input=in", "--output=out", M], 2,
         r"--input: in/shot\.jpg and in/shot\.png would both write", absent=("out",),
         setup=lambda f, d: (png(f"{f}/in/shot.png"), png(f"{f}/in/shot.jpg"))),
    Case("predict-into-input-folder", PREDICT, ["--input=in", "--output=in", M, "--combined"], 0,
         setup=lambda f, d: (png(f"{f}/in/a.png"), png(f"{f}/in/b.png")),
         before=[(PREDICT, ["--input=in", "--output=in", M, "--combined"])], check=_check_reingest),
    # 4. Missing frames.
    Case("predict-missing-frame", PREDICT, ["--input=in/p.####.png", "--output=out", M], 1, "1 missing",
         setup=_frames_with_gap, check=_check_missing(["in/p.1002.png"])),
    Case("predict-missing-in-range", PREDICT, ["--input=in/p.####.png", "--frames=1001-1004", "--output=out", M], 1,
         "2 missing", setup=_frames_with_gap, check=_check_missing(["in/p.1002.png", "in/p.1004.png"])),
    # A matchmove (--matchmove) must give every frame's camera before any work.
    Case("predict-matchmove-missing", PREDICT, ["--input=in/p.####.png", "--output=out", M, "--matchmove=in/no.json"],
         2, r"--matchmove: in/no\.json: no such file$", setup=_frames_with_cameras, absent=("out",)),
    Case("predict-matchmove-frame", PREDICT, ["--input=in/p.####.png", "--output=out", M, "--matchmove=in/cam.json"],
         2, r"--matchmove: in/cam\.json: no camera for frame 1003 \(p\.1003\.png; the file has frames 1001-1002\)$",
         setup=_frames_with_cameras, absent=("out",)),
    Case("predict-matchmove-per-frame", PREDICT, ["--input=in/p.####.png", "--output=out", M, "--temporal=off",
                                                  "--matchmove=in/cam.json"], 2,
         r"--matchmove: the cameras feed the temporal mode, which is off here", setup=_frames_with_cameras),
    Case("predict-matchmove-in-range", PREDICT, ["--input=in/p.####.png", "--frames=1001-1002", "--output=out", M,
                                                 "--matchmove=in/cam.json"], 0, setup=_frames_with_cameras),
    # Mattes of what moves on its own (--matchmove_mattes) go with a matchmove, one per frame, checked before any work.
    Case("predict-mattes-without-matchmove", PREDICT, ["--input=in/p.####.png", "--output=out", M,
                                                       "--matchmove_mattes=in/roto.####.png"], 2,
         r"--matchmove_mattes: the mattes tell the matchmove where not to use the camera's flow; give --matchmove too$",
         setup=_frames_with_mattes(1001, 1002), absent=("out",)),
    Case("predict-matchmove-mattes-frame", PREDICT, ["--input=in/p.####.png", "--frames=1001-1002", "--output=out", M,
                                                     "--matchmove=in/cam.json", "--matchmove_mattes=in/roto.####.png"],
         2, r"--matchmove_mattes: no matte for frame 1002 \(in/roto\.1002\.png: no such file\)$",
         setup=_frames_with_mattes(1001), absent=("out",)),
    Case("predict-matchmove-mattes-in-range", PREDICT, ["--input=in/p.####.png", "--frames=1001-1002", "--output=out",
                                                        M, "--matchmove=in/cam.json",
                                                        "--matchmove_mattes=in/roto.####.png"], 0,
         setup=_frames_with_mattes(1001, 1002)),
    # 5. Unwritable output, output that is a file, new folder under a file.
    Case("predict-output-unwritable", PREDICT, ["--input=in/a.png", "--output={unwritable}/new/out", M], 2,
         r"--output: cannot create .*/new/out in", setup=lambda f, d: png(f"{f}/in/a.png")),
    Case("predict-output-is-file", PREDICT, ["--input=in/a.png", "--output=out", M], 2,
         r"--output: .*/out is a file, not a folder", setup=both(lambda f, d: png(f"{f}/in/a.png"), text_file("out"))),
    Case("predict-output-under-file", PREDICT, ["--input=in/a.png", "--output=afile/sub", M], 2,
         r"--output: cannot create .*/afile/sub: .*/afile is a file",
         setup=both(lambda f, d: png(f"{f}/in/a.png"), text_file("afile"))),
    # 6. Ordinary mistakes: one line, no traceback.
    Case("predict-model-missing", PREDICT, ["--input=in/a.png", "--output=out", "--model=nomodel"], 2,
         "nomodel: no such model", setup=lambda f, d: png(f"{f}/in/a.png"), absent=("out",)),
    Case("predict-model-empty", PREDICT, ["--input=in/a.png", "--output=out", "--model=m"], 2,
         "m: not a model: no saved_model.pb", setup=both(lambda f, d: png(f"{f}/in/a.png"),
                                                           text_file("m/notes.txt")), absent=("out",)),
    Case("predict-model-corrupt", PREDICT, ["--input=in/a.png", "--output=out", "--model=m"], 1,
         "m: cannot load the SavedModel", setup=both(lambda f, d: png(f"{f}/in/a.png"), _corrupt_model),
         absent=("out",)),
    Case("predict-frames-colon", PREDICT, ["--input=in/p.####.png", "--frames=1001:1005", "--output=out", M], 2,
         r"--frames: expected FIRST-LAST .* got '1001:1005'", setup=_frames_with_gap),
    Case("predict-frames-reversed", PREDICT, ["--input=in/p.####.png", "--frames=1005-1001", "--output=out", M], 2,
         "--frames: the range '1005-1001' runs backwards", setup=_frames_with_gap),
    Case("predict-input-missing", PREDICT, ["--input=in/none.png", "--output=out", M], 2,
         "--input: in/none.png: no such file"),
    Case("predict-empty-folder", PREDICT, ["--input=in", "--output=out", M], 2, "--input: no plates in folder",
         setup=text_file("in/readme.txt")),
    Case("predict-tile-overlap", PREDICT, ["--input=in/a.png", "--tile=64", "--overlap=64", M], 2,
         r"--overlap: must be smaller than --tile", setup=lambda f, d: png(f"{f}/in/a.png")),
    Case("predict-unknown-flag", PREDICT, ["--bogus=1"], 2, "bogus"),
    Case("predict-positional", PREDICT, ["in/a.png"], 2, "unexpected argument"),
    Case("relight-size-mismatch", RELIGHT, ["--plate=in/p.exr", "--normals=in/n.exr", "--output=o.png",
                                            "--light_dir=0,0,1"], 1,
         r"size mismatch: in/p\.exr is 20x20, in/n\.exr is 32x32", setup=_relight_mismatch, absent=("o.png",)),
    Case("relight-light-dir-malformed", RELIGHT, ["--plate=in/p.exr", "--normals=in/n.exr", "--output=o.png",
                                                  "--light_dir=a,b"], 2,
         "--light_dir: expected 3 comma-separated numbers, got 'a,b'", setup=relight_inputs),
    Case("relight-normals-missing", RELIGHT, ["--plate=in/p.exr", "--normals=in/none.exr", "--output=o.png",
                                              "--light_dir=0,0,1"], 2, "--normals: in/none.exr: no such file",
         setup=relight_inputs),
    Case("relight-required-flags", RELIGHT, [], 2, "--plate, --normals, --output, --light_dir or --lights required"),
    Case("relight-output-extension", RELIGHT, ["--plate=in/p.exr", "--normals=in/n.exr", "--output=o.jpg",
                                               "--light_dir=0,0,1"], 2, "--output: o.jpg must end in",
         setup=relight_inputs),
    Case("records-empty-input", RECORDS, ["--input_dir=in", "--output_dir=out"], 2,
         "--input_dir: in: no samples match", setup=text_file("in/readme.txt"), absent=("out",)),
    Case("records-missing-input", RECORDS, ["--input_dir=none", "--output_dir=out"], 2,
         "--input_dir: none: no such folder", absent=("out",)),
    Case("records-num-shards-0", RECORDS, ["--input_dir={pairs}", "--output_dir=out", "--num_shards=0"], 2,
         "--num_shards: must be at least 1, got 0", absent=("out",)),
    Case("records-split-fractions", RECORDS, ["--input_dir={pairs}", "--output_dir=out", "--split_fractions=0.5,0.4"],
         2, "--split_fractions: must be three numbers", absent=("out",)),
    Case("records-output-is-file", RECORDS, ["--input_dir={pairs}", "--output_dir=out"], 2,
         "--output_dir: .*/out is a file", setup=text_file("out")),
    Case("records-no-readable-sample", RECORDS, ["--input_dir=in", "--output_dir=out", "--workers=1"], 1,
         r"no sample could be read \(1 skipped", setup=_bad_sample),
    Case("evaluate-truncated-shard", EVALUATE, [M, "--records=rec", "--split=train", "--output_json=e.json"], 1,
         r"rec/train-0000\d-of-00002\.tfrecord: damaged shard \(truncated or corrupt at record \d",
         setup=_truncated_records, absent=("e.json", "e_triptychs")),
    Case("evaluate-ok", EVALUATE, [M, "--records={records}", "--split=train", "--output_json=e.json"], 0,
         setup=_stale_evaluate_temp, check=_check_evaluation),
    Case("evaluate-records-missing", EVALUATE, [M, "--records=none", "--output_json=e.json"], 2,
         "--records: none: no such folder", absent=("e.json", "e_triptychs")),
    Case("evaluate-model-missing", EVALUATE, ["--model=none", "--records={records}", "--output_json=e.json"], 2,
         "--model: none: no such model", absent=("e.json", "e_triptychs")),
    Case("evaluate-matchmove-without-shots", EVALUATE, [M, "--temporal_checks", "--temporal_matchmove",
                                                        "--output_json=e.json"], 2,
         r"--temporal_matchmove: runs on rendered shots \(their recorded cameras\); give --shots$", absent=("e.json",)),
    Case("evaluate-mattes-without-matchmove", EVALUATE, [M, "--temporal_checks", "--temporal_mattes",
                                                         "--output_json=e.json"], 2,
         r"--temporal_mattes: gives the matchmove mattes of the moving objects; give --temporal_matchmove too$",
         absent=("e.json",)),
    Case("evaluate-two-checks", EVALUATE, [M, "--scale_checks", "--shots=shots", "--output_json=e.json"], 2,
         r"--scale_checks and --shots: give the flags of one check", absent=("e.json",)),
    Case("evaluate-a-check-and-records", EVALUATE, [M, "--temporal_checks", "--records={records}",
                                                    "--output_json=e.json"], 2,
         r"--temporal_checks: a check; give it without --records or --pairs_dir", absent=("e.json",)),
    Case("evaluate-as-predict-runs-it", EVALUATE, [M, "--records={records}", "--split=train", "--output_json=e.json",
                                                   "--mode=global", "--working_size=32"], 0,
         check=lambda f, s: json.load(open(os.path.join(f, "e.json")))["settings"]["inference"]["working_size"] == 32),
    Case("evaluate-working-size-negative", EVALUATE, [M, "--records={records}", "--output_json=e.json",
                                                      "--working_size=-1"], 2,
         "--working_size: must be 0 or more, got -1", absent=("e.json", "e_triptychs")),
    Case("export-working-size-negative", EXPORT, ["--checkpoint={model}", "--output=sm", "--working_size=-2"], 2,
         r"--working_size: must be 0 \(the run's\) or more, got -2", absent=("sm",)),
    Case("export-depth-contrast-not-positive", EXPORT, ["--checkpoint={model}", "--output=sm", "--depth_contrast=0"],
         2, r"--depth_contrast: must be above 0, got 0", absent=("sm",)),
    Case("export-checkpoint-missing", EXPORT, ["--checkpoint=runs/none", "--output=sm"], 2,
         "--checkpoint: runs/none: no such run folder or checkpoint prefix", absent=("sm", "runs")),
    Case("export-output-not-a-savedmodel", EXPORT, ["--checkpoint=run", "--output=precious"], 2,
         "--output: precious is a folder that holds something other than a SavedModel",
         setup=_not_a_savedmodel, check=lambda f, s: os.path.isfile(f"{f}/precious/notes.txt")),
    Case("export-not-a-run", EXPORT, ["--checkpoint=run", "--output=sm"], 2, "--checkpoint: run: no checkpoints",
         setup=text_file("run/notes.txt"), absent=("sm",)),
    Case("train-steps-0", TRAIN, ["--steps=0", "--checkpoint_root=runs"], 2, "--steps: must be at least 1",
         absent=("runs",)),
    Case("train-records-missing", TRAIN, ["--records_dir=none", "--checkpoint_root=runs"], 2,
         "--records_dir: none: no such folder", absent=("runs",)),
    Case("render-output-is-file", RENDER, ["--output_dir=out", "--num_samples=1", "--resolution=8", "--spp=1"], 2,
         "output_dir", setup=text_file("out")),
    # 7. make_records never mixes two layouts.
    Case("records-other-num-shards", RECORDS, ["--input_dir={pairs}", "--output_dir=out", "--num_shards=3"], 2,
         r"--output_dir: out holds records made with other settings \(\d+ shard\(s\) of another --num_shards",
         before=[(RECORDS, ["--input_dir={pairs}", "--output_dir=out", "--num_shards=2", "--workers=1"])]),
    Case("records-overwrite", RECORDS, ["--input_dir=in", "--output_dir=out", "--num_shards=3", "--overwrite",
                                        "--workers=1", "--split_fractions=1,0,0"], 0,
         setup=lambda f, d: write_pairs(f"{f}/in", 3), check=_check_overwrite,
         before=[(RECORDS, ["--input_dir=in", "--output_dir=out", "--num_shards=2", "--workers=1",
                            "--split_fractions=1,0,0"])]),
    # 7b. Pipeline flags (issue 13): colour spaces, task arrays, ONNX export.
    Case("predict-unknown-colorspace", PREDICT, ["--input=in/a.png", "--output=out", M, "--input_colorspace=rec709"],
         2, r"--input_colorspace: 'rec709' is not a colour space of the OCIO config", absent=("out",),
         setup=lambda f, d: png(f"{f}/in/a.png")),
    Case("relight-unknown-colorspace", RELIGHT, ["--plate=in/p.exr", "--normals=in/n.exr", "--output=o.exr",
                                                 "--light_dir=0,0,1", "--input_colorspace=nope"], 2,
         "--input_colorspace: 'nope' is not a colour space", setup=relight_inputs, absent=("o.exr",)),
    Case("records-task-out-of-range", RECORDS, ["--input_dir={pairs}", "--output_dir=out", "--task_index=2",
                                                "--num_tasks=2"], 2, r"--task_index: must be in \[0, 1\]",
         absent=("out",)),
    Case("records-merge-before-tasks", RECORDS, ["--input_dir={pairs}", "--output_dir=out", "--num_shards=2",
                                                 "--merge"], 1, r"out: 4 of 6 shard\(s\) missing",
         before=[(RECORDS, ["--input_dir={pairs}", "--output_dir=out", "--num_shards=2", "--workers=1",
                            "--task_index=0", "--num_tasks=3"])], absent=("out/index.json",)),
    Case("export-onnx-output-extension", EXPORT, ["--format=onnx", "--checkpoint={model}", "--output=model.sm"], 2,
         "--output: model.sm must end in .onnx", absent=("model.sm",)),
    # 8. Bad values.
    Case("relight-light-dir-zero", RELIGHT, ["--plate=in/p.exr", "--normals=in/n.exr", "--output=o.png",
                                             "--light_dir=0,0,0"], 2, "--light_dir: 0,0,0 has no direction",
         setup=relight_inputs, absent=("o.png",)),
    Case("relight-wrap-negative", RELIGHT, ["--plate=in/p.exr", "--normals=in/n.exr", "--output=o.png",
                                            "--light_dir=0,0,1", "--wrap=-1"], 2, r"--wrap: must be in \[0, 1\)",
         setup=relight_inputs, absent=("o.png",)),
    Case("render-num-samples-0", RENDER, ["--output_dir=out", "--num_samples=0"], 2, "num_samples",
         absent=("out",)),
    Case("render-num-samples-negative", RENDER, ["--output_dir=out", "--num_samples=-3"], 2, "num_samples",
         absent=("out",)),
    Case("render-resolution-0", RENDER, ["--output_dir=out", "--num_samples=1", "--resolution=0"], 2, "resolution",
         absent=("out",)),
    Case("render-spp-0", RENDER, ["--output_dir=out", "--num_samples=1", "--resolution=8", "--spp=0"], 2, "spp",
         absent=("out",)),
    # Fine-tuning on a shot, and the reference renders it learns from.
    Case("finetune-done", FINETUNE, FT + ["--frames=1001,1003", "--output=shot_model",
                                          "--depth_references=shot/depth.####.exr",
                                          "--albedo_references=shot/albedo.####.exr"], 0, setup=_shot,
         check=_check_finetuned),
    Case("finetune-flags-missing", FINETUNE, ["--plates=shot/beauty.####.exr"], 2,
         "--references, --frames, --output required", setup=_shot),
    Case("finetune-reference-missing", FINETUNE, FT + ["--frames=1001,1004", "--output=m"], 2,
         r"--plates: shot/beauty.1004.exr: no such file \(frame 1004\)", setup=_shot, absent=("m", "m.finetune")),
    Case("finetune-reference-empty", FINETUNE, FT + ["--frames=1001-1003", "--output=m"], 1,
         "shot/normals.1002.exr: no known pixel in frame 1002", setup=_shot_with_empty_reference,
         absent=("m", "m.finetune")),
    Case("finetune-fallback-quantile-1", FINETUNE, FT + ["--frames=1001", "--output=m", "--fallback_quantile=1"], 2,
         r"--fallback_quantile: must be in \(0, 1\), got 1.0", setup=_shot, absent=("m", "m.finetune")),
    Case("finetune-resume-nothing", FINETUNE, FT + ["--frames=1001", "--output=m", "--resume"], 2,
         "--resume: m.finetune holds no fine-tune to resume", setup=_shot, absent=("m",)),
    Case("references-mesh-missing", REFERENCES, ["--mesh=none.obj", "--cameras=cameras.json", "--output_dir=out"], 2,
         "--mesh: none.obj: no such file", setup=_camera_json, absent=("out",)),
    Case("references-frame-without-camera", REFERENCES, ["--mesh=mesh.obj", "--cameras=cameras.json",
                                                         "--output_dir=out", "--frames=1001,1002"], 2,
         r"--frames: cameras.json has no camera for frame\(s\) \[1002\]", setup=_camera_json, absent=("out",)),
    # 9. Housekeeping: stale temporaries go, stdout stays parseable.
    Case("predict-stale-temps", PREDICT, ["--input=in/a.png", "--output=out", M], 0, setup=_stale_predict_temps,
         check=lambda f, s: s["written"] == 1),
    Case("predict-openexr-chatter-stays-off-stdout", PREDICT, ["--input=in", "--output=out", M], 1,
         r"1 of 2 frame\(s\) failed", setup=_exr_with_chatter, check=_check_chatter),
    Case("records-stale-temp", RECORDS, ["--input_dir={pairs}", "--output_dir=out", "--num_shards=1", "--workers=1"],
         0, setup=_stale_records_temp, check=_check_records(8)),
]


@pytest.mark.slow
@pytest.mark.parametrize("case", case_params(CASES))
def test_command_line_case(case, cli_data, tmp_path, request):
    run_case(case, cli_data, tmp_path, request)
