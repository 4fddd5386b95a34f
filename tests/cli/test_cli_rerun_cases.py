"""Every case of issue 21 through the real command line: re-runs over earlier outputs, outputs that are inputs,
layered and damaged inputs, folders written with other settings, messages.

The rows run and are checked as test_cli_cases.py's docstring says (tests/cli/cli_support.run_case). Each
is a mistake a user made or an accident on disk; none may destroy a file, pass silently or leave behind what
stops the corrected run.
"""

import glob
import json
import os
import shutil

import numpy as np
import pytest
from cli_support import (
    EVALUATE,
    EXPORT,
    PREDICT,
    RECORDS,
    RELIGHT,
    RENDER,
    RENDER_SHOTS,
    STATS,
    Case,
    both,
    case_params,
    png,
    relight_inputs,
    rgb,
    run_case,
    text_file,
    write_pairs,
)

from tfnormals.core import image_io, layout
from tfnormals.data import schema

M = "--model={model}"
RELIGHT_ARGS = ["--plate=in/p.exr", "--normals=in/n.exr", "--light_dir=0,0,1"]
RENDER_ARGS = ["--output_dir=out", "--spp=1", "--nodenoise", "--threads=1"]
ONE_SHARD = ["--input_dir=in", "--output_dir=out", "--num_shards=1", "--workers=1", "--split_fractions=1,0,0"]
NEWER_SCHEMA = schema.SCHEMA_VERSION + 1  # records a later tfnormals would write


# --- Inputs the rows build.

def _two_plates_one_name(f, d=None):
    png(f"{f}/in/a.png", seed=1)
    png(f"{f}/in2/a.jpg", seed=2)


def _two_part_exr(f, d=None):
    """in/two.exr: part 0 'depth' (Z = 7), part 1 'rgba'; ref/p.exr: the same RGBA as a plain file."""
    plate, alpha = rgb(24, 24, seed=4), np.linspace(0, 1, 24 * 24, dtype=np.float32).reshape(24, 24)
    rgba = dict(zip("RGB", np.moveaxis(plate, -1, 0)), A=alpha)
    os.makedirs(f"{f}/in")
    image_io.write_exr_parts(f"{f}/in/two.exr", {"depth": {"Z": np.full((24, 24), 7.0, np.float32)}, "rgba": rgba})
    os.makedirs(f"{f}/ref")
    image_io.write_rgb_exr(f"{f}/ref/p.exr", plate, alpha=alpha)


def _truncated_jpeg(f, d=None):
    os.makedirs(f"{f}/in")
    image_io.write_image(f"{f}/in/a.jpg", rgb(64, 64))
    data = open(f"{f}/in/a.jpg", "rb").read()
    open(f"{f}/in/a.jpg", "wb").write(data[:len(data) // 2])


def _frame_twice(f, d=None):
    for name, seed in (("p.1001.png", 1), ("p.01001.png", 2), ("p.1002.png", 3)):
        png(f"{f}/in/{name}", seed=seed)


def _relight_sequence_inputs(f, d=None):
    """relight_inputs as frame 1001 of a sequence: in/p.1001.exr and in/n.1001.exr."""
    relight_inputs(f)
    for name in ("p", "n"):
        os.rename(f"{f}/in/{name}.exr", f"{f}/in/{name}.1001.exr")


def _truncate(name):
    def between(f, d=None):
        size = os.path.getsize(f"{f}/{name}")
        with open(f"{f}/{name}", "r+b") as out:
            out.truncate(size // 2)
    return between


def _truncate_largest_shard(f, d=None):
    _truncate(os.path.relpath(max(glob.glob(f"{f}/out/*.tfrecord"), key=os.path.getsize), f))(f)


def _unreadable_beauties(count, broken):
    """A setup: `count` sample folders in in/, the first `broken` with a junk beauty.exr (kept aside in good/)."""
    def setup(f, d=None):
        write_pairs(f"{f}/in", count)
        for sample in sorted(os.listdir(f"{f}/in"))[:broken]:
            os.makedirs(f"{f}/good/{sample}")
            shutil.copy(f"{f}/in/{sample}/{layout.BEAUTY_EXR}", f"{f}/good/{sample}/{layout.BEAUTY_EXR}")
            open(f"{f}/in/{sample}/{layout.BEAUTY_EXR}", "wb").write(b"junk")
    return setup


def _repair_beauties(f, d=None):
    for sample in os.listdir(f"{f}/good"):
        shutil.copy(f"{f}/good/{sample}/{layout.BEAUTY_EXR}", f"{f}/in/{sample}/{layout.BEAUTY_EXR}")
    shutil.rmtree(f"{f}/good")


def _foreign_savedmodel(f, d=None):
    """A SavedModel whose serving_default returns one unnamed tensor (TensorFlow calls it output_0)."""
    import tensorflow as tf

    class Doubler(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
        def serve(self, images):
            return images * 2.0

    module = Doubler()
    tf.saved_model.save(module, f"{f}/sm", signatures={"serving_default": module.serve})
    for empty in glob.glob(f"{f}/sm/*/"):  # TensorFlow's empty assets/ folder is not the command's leftover
        if not os.listdir(empty):
            os.rmdir(empty)


def _two_channel_onnx(declared):
    """A setup: in/a.png and m.onnx, whose `normals` output is the plate's first two channels; with `declared`
    the file says so, else its input and output channels are left open (found only when it runs)."""
    def setup(f, d=None):
        import onnx
        from onnx import TensorProto, helper
        bounds = [helper.make_tensor(name, TensorProto.INT64, [1], [value])
                  for name, value in (("starts", 0), ("ends", -1), ("axes", 3))]
        graph = helper.make_graph(
            [helper.make_node("Slice", ["images", "starts", "ends", "axes"], ["normals"])], "two_channels",
            [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["N", "H", "W", 3 if declared else "C"])],
            [helper.make_tensor_value_info("normals", TensorProto.FLOAT, ["N", "H", "W", 2 if declared else "C2"])],
            initializer=bounds)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8  # what tf2onnx writes for opset 17; every onnxruntime of the onnx extra reads it
        onnx.save(model, f"{f}/m.onnx")
        png(f"{f}/in/a.png")
    return setup


def _foreign_records(f, d=None):
    """rec/: one shard per split of tf.train.Examples of another schema (an image under image/encoded)."""
    import tensorflow as tf
    os.makedirs(f"{f}/rec")
    feature = tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"not a tfnormals record"]))
    example = tf.train.Example(features=tf.train.Features(feature={"image/encoded": feature}))
    for split in layout.SPLITS:
        with tf.io.TFRecordWriter(f"{f}/rec/{layout.shard_name(split, 0, 1)}") as writer:
            writer.write(example.SerializeToString())


def _records_of_schema(version):
    def setup(f, d):
        shutil.copytree(d.records, f"{f}/rec")
        with open(f"{f}/rec/{layout.RECORDS_INDEX}") as index_file:
            index = json.load(index_file)
        with open(f"{f}/rec/{layout.RECORDS_INDEX}", "w") as index_file:
            json.dump(dict(index, schema_version=version), index_file)
    return setup


# --- Checks on the outputs.

def _stamp(path):
    return image_io.exr_header(path)["tfnormalsSource"]


def _check_other_plate_kept(f, s):
    assert s["written"] == 0 and list(s["failed_frames"]) == ["in2/a.jpg"]
    assert "out/a.normals.exr was made from a.png, not a.jpg" in s["failed_frames"]["in2/a.jpg"]
    assert _stamp(f"{f}/out/a.normals.exr") == "a.png" and not os.path.exists(f"{f}/out/a.combined.exr")


def _unchanged(path, expected):
    def check(f, s):
        np.testing.assert_array_equal(image_io.read_image(f"{f}/{path}")[..., :3], expected(f))
    return check


def _sphere(f):
    c = (np.arange(32) + 0.5) / 32 * 2 - 1
    x, y = np.meshgrid(c, -c)
    return np.stack([x, y, np.sqrt(np.clip(1 - x * x - y * y, 0, 1))], -1).astype(np.float32)


def _records_hold(count):
    def check(f, s):
        import tensorflow as tf
        ids = [schema.decode_example(r)["id"].numpy().decode()
               for shard in sorted(glob.glob(f"{f}/out/*.tfrecord")) for r in tf.data.TFRecordDataset(shard)]
        assert sum(s["counts"].values()) == s["counts"]["train"] == len(set(ids)) == len(ids) == count
        with open(f"{f}/out/{layout.RECORDS_INDEX}") as index:
            assert json.load(index)["skipped"] == [] and s["skipped"] == 0
    return check


def _check_rgba_part(f, s):
    assert s["written"] == 1
    n, reference = image_io.read_image(f"{f}/out/two.normals.exr"), image_io.read_image(f"{f}/ref/p.normals.exr")
    assert n.shape == reference.shape == (24, 24, 4)  # normals and the plate's alpha (of the RGBA part)
    np.testing.assert_allclose(n, reference, atol=1e-6)


def _failed_because(plate, *words):
    def check(f, s):
        assert s["written"] == 0 and list(s["failed_frames"]) == [plate], s
        for word in words:
            assert word in s["failed_frames"][plate], (word, s["failed_frames"])
    return check


def _check_redone(f, s):
    assert s["written"] == 1 and s["skipped_existing"] == 0
    n = image_io.read_exr(f"{f}/out/a.normals.exr", ["R", "G", "B"])
    np.testing.assert_allclose(np.linalg.norm(n, axis=-1), 1.0, atol=1e-4)


def _samples(*expected):
    def check(f, s):
        assert sorted(os.listdir(f"{f}/out")) == list(expected)
    return check


def _check_rendered_again(f, s):
    assert s == {"rendered": 1, "skipped_complete": 0, "failed": []}
    assert image_io.read_image(f"{f}/out/0000000/{layout.BEAUTY_EXR}").shape == (8, 8, 4)


def _check_untouched_triptych_dir(f, s):
    assert os.listdir(f"{f}/precious") == ["notes.txt"]


def _check_index_kept(f, s):
    with open(f"{f}/rec/{layout.RECORDS_INDEX}") as index:
        assert "counts" in json.load(index)


CASES = [
    # Data loss: outputs of another plate, an output that is an input.
    Case("predict-another-plate-of-the-same-name", PREDICT, ["--input=in2/a.jpg", "--output=out", M, "--combined"], 1,
         r"1 of 1 frame\(s\) failed", setup=_two_plates_one_name,
         before=[(PREDICT, ["--input=in/a.png", "--output=out", M])], check=_check_other_plate_kept),
    Case("relight-output-is-the-plate", RELIGHT, RELIGHT_ARGS + ["--output=in/p.exr"], 2,
         r"--output: in/p\.exr is the --plate file", setup=relight_inputs,
         check=_unchanged("in/p.exr", lambda f: rgb(32, 32))),
    Case("relight-output-is-the-normals", RELIGHT, RELIGHT_ARGS + ["--output=./in/n.exr"], 2,
         r"--output: \./in/n\.exr is the --normals file", setup=relight_inputs, check=_unchanged("in/n.exr", _sphere)),
    Case("relight-sequence-output-is-the-normals", RELIGHT,
         ["--plate=in/p.####.exr", "--normals=in/n.####.exr", "--output=in/n.####.exr", "--light_dir=0,0,1"], 2,
         r"--output: in/n\.1001\.exr is the --normals file", setup=_relight_sequence_inputs,
         check=_unchanged("in/n.1001.exr", _sphere)),
    # Silent wrong or stale output.
    Case("records-repaired-sample-is-read", RECORDS, ONE_SHARD, 0, setup=_unreadable_beauties(3, 1),
         before=[(RECORDS, ONE_SHARD)], between=_repair_beauties, check=_records_hold(3)),
    Case("records-nothing-readable-leaves-nothing", RECORDS, ONE_SHARD, 1,
         r"no sample could be read \(2 skipped, e\.g\. 0000000: .*beauty\.exr: not a readable EXR .*nothing was "
         r"written", setup=_unreadable_beauties(2, 2), absent=("out",)),
    Case("records-nothing-readable-then-repaired", RECORDS, ONE_SHARD, 0, setup=_unreadable_beauties(2, 2),
         before=[(RECORDS, ONE_SHARD, 1)], between=_repair_beauties, check=_records_hold(2)),
    Case("records-absent-channels-then-corrected", RECORDS, ONE_SHARD, 0, setup=lambda f, d: write_pairs(f"{f}/in", 2),
         before=[(RECORDS, ONE_SHARD + ["--normals_channels=N.X,N.Y,N.Z"], 1)], check=_records_hold(2)),
    Case("predict-rgba-part-of-a-two-part-exr", PREDICT, ["--input=in/two.exr", "--output=out", M], 0,
         setup=_two_part_exr, before=[(PREDICT, ["--input=ref/p.exr", "--output=ref", M])], check=_check_rgba_part),
    Case("predict-truncated-jpeg", PREDICT, ["--input=in/a.jpg", "--output=out", M], 1, r"1 of 1 frame\(s\) failed",
         setup=_truncated_jpeg, absent=("out",),
         check=_failed_because("in/a.jpg", "corrupt or truncated", "Premature end of JPEG file")),
    Case("predict-two-files-of-one-frame", PREDICT, ["--input=in/p.####.png", "--output=out", M], 2,
         r"--input: in/p\.01001\.png and in/p\.1001\.png are both frame 1001 of in/p\.####\.png", setup=_frame_twice,
         absent=("out",)),
    Case("predict-truncated-output-is-redone", PREDICT, ["--input=in/a.png", "--output=out", M], 0,
         setup=lambda f, d: png(f"{f}/in/a.png"), before=[(PREDICT, ["--input=in/a.png", "--output=out", M])],
         between=_truncate("out/a.normals.exr"), check=_check_redone),
    Case("predict-outputs-of-another-mode", PREDICT, ["--input=in/a.png", "--output=out", M, "--mode=tiled"], 1,
         r"1 of 1 frame\(s\) failed", setup=lambda f, d: png(f"{f}/in/a.png"),
         before=[(PREDICT, ["--input=in/a.png", "--output=out", M])],
         check=_failed_because("in/a.png", "out/a.normals.exr was made with other settings (--mode)")),
    Case("predict-outputs-of-other-mode-settings", PREDICT,
         ["--input=in/a.png", "--output=out", M, "--working_size=8", "--max_pass=16"], 1, r"1 of 1 frame\(s\) failed",
         setup=lambda f, d: png(f"{f}/in/a.png"), before=[(PREDICT, ["--input=in/a.png", "--output=out", M])],
         check=_failed_because("in/a.png", "made with other settings (--max_pass, --working_size)")),
    Case("predict-per-frame-over-temporal-outputs", PREDICT,
         ["--input=in/p.####.png", "--output=out", M, "--temporal=off"], 1, r"1 of 1 frame\(s\) failed",
         setup=lambda f, d: png(f"{f}/in/p.1001.png"), before=[(PREDICT, ["--input=in/p.####.png", "--output=out", M])],
         check=_failed_because("in/p.1001.png", "made with other settings (--temporal, --temporal_warmup)")),
    Case("predict-temporal-over-outputs-of-another-warmup", PREDICT,
         ["--input=in/p.####.png", "--output=out", M, "--temporal_warmup=4"], 1, r"1 of 1 frame\(s\) failed",
         setup=lambda f, d: png(f"{f}/in/p.1001.png"), before=[(PREDICT, ["--input=in/p.####.png", "--output=out", M])],
         check=_failed_because("in/p.1001.png", "made with other settings (--temporal_warmup)")),
    Case("export-onnx-of-another-signature", EXPORT, ["--format=onnx", "--checkpoint=sm", "--output=m.onnx"], 2,
         r"--checkpoint: sm: not a tfnormals model: no 'normals' output \(it has \['output_0'\]\)",
         setup=_foreign_savedmodel, absent=("m.onnx",)),
    Case("render-rerun-at-another-resolution", RENDER, RENDER_ARGS + ["--num_samples=2", "--resolution=16"], 2,
         r"--output_dir: out holds samples rendered with other settings \(--resolution=8 \(not 16\): 0000000\)",
         before=[(RENDER, RENDER_ARGS + ["--num_samples=1", "--resolution=8"])], check=_samples("0000000")),
    Case("render-rerun-with-another-seed", RENDER, RENDER_ARGS + ["--num_samples=1", "--resolution=8", "--seed=2"], 2,
         r"--output_dir: out holds samples rendered with other settings \(--seed=1 \(not 2\)",
         before=[(RENDER, RENDER_ARGS + ["--num_samples=1", "--resolution=8", "--seed=1"])],
         check=_samples("0000000")),
    Case("render-extending-at-another-resolution", RENDER,
         RENDER_ARGS + ["--start_index=1", "--num_samples=1", "--resolution=16"], 2,
         r"--output_dir: out holds samples rendered with other settings \(--resolution=8 \(not 16\)",
         before=[(RENDER, RENDER_ARGS + ["--num_samples=1", "--resolution=8"])], check=_samples("0000000")),
    Case("stats-max-samples-negative", STATS, ["--input_dir=in", "--max_samples=-1", "--workers=1"], 2,
         r"--max_samples: must be at least 1", setup=lambda f, d: write_pairs(f"{f}/in", 2),
         absent=("in/stats.json",)),
    Case("relight-negative-intensity", RELIGHT, RELIGHT_ARGS + ["--output=o.exr", "--light_intensity=-3"], 2,
         r"--light_intensity: must be in \[0, inf\), got -3", setup=relight_inputs, absent=("o.exr",)),
    # Traceback or wrong exit code.
    Case("predict-onnx-normals-of-two-channels", PREDICT, ["--input=in/a.png", "--output=out", "--model=m.onnx"], 2,
         r"m\.onnx: not a tfnormals model: the model's 'normals' output has 2 channel\(s\), not 3",
         setup=_two_channel_onnx(True), absent=("out",)),
    Case("predict-onnx-normals-of-two-channels-found-late", PREDICT,
         ["--input=in/a.png", "--output=out", "--model=m.onnx"], 1, r"1 of 1 frame\(s\) failed",
         setup=_two_channel_onnx(False), absent=("out",),
         check=_failed_because("in/a.png", "'normals' output has 2 channel(s), not 3")),
    Case("render-negative-seed", RENDER, RENDER_ARGS + ["--num_samples=1", "--seed=-1"], 2, "--seed must be >= 0",
         absent=("out",)),
    Case("stats-output-json-is-a-folder", STATS, ["--input_dir=in", "--output_json=out", "--workers=1"], 2,
         r"--output_json: out is a folder; give a file name",
         setup=both(lambda f, d: write_pairs(f"{f}/in", 1), text_file("out/keep.txt"))),
    Case("render-into-a-read-only-folder", RENDER, ["--output_dir={unwritable}", "--num_samples=1", "--resolution=8",
                                                    "--spp=1", "--nodenoise"], 2, r"--output_dir: cannot write in"),
    Case("render-shots-into-a-read-only-folder", RENDER_SHOTS,
         ["--output_dir={unwritable}", "--num_shots=1", "--num_frames=1", "--resolution=8", "--spp=1", "--nodenoise"],
         2, r"--output_dir: cannot write in"),
    Case("render-shots-negative-seed", RENDER_SHOTS, ["--output_dir=out", "--num_shots=1", "--num_frames=1",
                                                      "--resolution=8", "--spp=1", "--nodenoise", "--seed=-1"], 2,
         "--seed must be >= 0", absent=("out",)),
    # Messages.
    Case("stats-missing-folder", STATS, ["--input_dir=none"], 2, r"--input_dir: must be an existing folder"),
    Case("stats-empty-folder", STATS, ["--input_dir=in"], 2, r"--input_dir: in: no sample folders",
         setup=text_file("in/readme.txt")),
    Case("evaluate-records-of-another-schema", EVALUATE, [M, "--records=rec", "--split=train", "--output_json=e.json"],
         2, r"--records: rec/train-00000-of-00001\.tfrecord: not tfnormals records of schema version "
         + " or ".join(map(str, schema.READABLE_VERSIONS))
         + r" \(Feature: \S+ \(data type: string\) is required but could not be found\.\)$",
         setup=_foreign_records, absent=("e.json", "e_triptychs")),
    Case("evaluate-records-of-a-newer-schema", EVALUATE, [M, "--records=rec", "--output_json=e.json"], 2,
         rf"--records: rec holds records of schema version {NEWER_SCHEMA} \(index\.json\); this tfnormals reads "
         rf"versions {', '.join(map(str, schema.READABLE_VERSIONS))}$",
         setup=_records_of_schema(NEWER_SCHEMA), absent=("e.json", "e_triptychs")),
    Case("evaluate-empty-split", EVALUATE, [M, "--records=rec", "--split=val", "--output_json=e.json"], 2,
         r"--split: rec holds no val samples \(index\.json counts train 2, val 0, test 0\)",
         setup=lambda f, d: write_pairs(f"{f}/in", 2),
         before=[(RECORDS, ["--input_dir=in", "--output_dir=rec", "--num_shards=1", "--workers=1",
                            "--split_fractions=1,0,0"])], absent=("e.json", "e_triptychs")),
    # The same principles elsewhere: resume checks what is on disk; outputs never replace inputs or other files.
    Case("evaluate-triptych-dir-of-other-files", EVALUATE,
         [M, "--records={records}", "--split=train", "--output_json=e.json", "--triptych_dir=precious"], 2,
         r"--triptych_dir: precious holds notes\.txt, not only triptychs", setup=text_file("precious/notes.txt"),
         absent=("e.json",), check=_check_untouched_triptych_dir),
    Case("evaluate-output-json-in-the-records", EVALUATE,
         [M, "--records=rec", "--split=train", f"--output_json=rec/{layout.RECORDS_INDEX}"], 2,
         r"--output_json: rec/index\.json is a file of --records rec", setup=lambda f, d: shutil.copytree(
             d.records, f"{f}/rec"), check=_check_index_kept),
    Case("render-truncated-sample-is-redone", RENDER, RENDER_ARGS + ["--num_samples=1", "--resolution=8"], 0,
         before=[(RENDER, RENDER_ARGS + ["--num_samples=1", "--resolution=8"])],
         between=_truncate(f"out/0000000/{layout.BEAUTY_EXR}"), check=_check_rendered_again),
    Case("records-truncated-shard-is-redone", RECORDS, ONE_SHARD, 0, setup=lambda f, d: write_pairs(f"{f}/in", 3),
         before=[(RECORDS, ONE_SHARD)], between=_truncate_largest_shard, check=_records_hold(3)),
    Case("stats-output-json-in-a-sample-folder", STATS, ["--input_dir=in", "--output_json=in/0000000/mask.png"], 2,
         r"--output_json: in/0000000/mask\.png is inside a sample folder of --input_dir",
         setup=lambda f, d: write_pairs(f"{f}/in", 1), check=lambda f, s: image_io.read_image(
             f"{f}/in/0000000/mask.png").shape == (16, 16, 1)),
]


@pytest.mark.slow
@pytest.mark.parametrize("case", case_params(CASES))
def test_command_line_case(case, cli_data, tmp_path, request):
    run_case(case, cli_data, tmp_path, request)
