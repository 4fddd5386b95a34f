"""The evaluation report (tfnormals.tools.evaluation) on synthetic examples, and its command line on the smoke run."""

import json
import os

import numpy as np
import pytest
from helpers import sphere_normal_map, write_synthetic_samples

from tfnormals.core import image_io, layout
from tfnormals.data import pairs
from tfnormals.tools import baselines, evaluation, fusion

METRIC_KEYS = {"mean", "median", "within_11_25", "within_22_5", "within_30"}


# ---------------------------------------------------------------- evaluate() on synthetic examples

def _examples():
    sphere, disc = sphere_normal_map(20)
    plate = np.float32(0.5) + 0.4 * sphere[..., :1].repeat(3, -1) * 0.5
    empty = evaluation.Example("empty", plate, sphere, np.zeros((20, 20), np.float32))
    return [evaluation.Example("sphere_a", plate, sphere, disc), empty,
            evaluation.Example("sphere_b", plate[:, ::-1], sphere * [-1, 1, 1], disc)]


class _Oracle:
    """A 'model' that knows the answers (a plain function of the plate: mirror or not)."""

    def __init__(self, examples):
        self.answers = [(e.beauty, e.normals) for e in examples]

    def predict_passes(self, batch):
        for plate, target in self.answers:
            if np.array_equal(batch[0], plate):
                return {"normals": target[None]}
        raise AssertionError("unknown plate")


def test_evaluate_report_of_a_perfect_model_and_the_baselines(tmp_path):
    examples = _examples()
    fitted = {"best_constant": [0.0, 0.0, 1.0], "gradient_strength": 1.0}
    report = evaluation.evaluate(_Oracle(examples), examples, fitted, triptych_dir=str(tmp_path / "t"))
    sphere, disc = sphere_normal_map(20)
    valid = disc >= 0.5
    flat_errors = np.degrees(np.arccos(np.clip(sphere[valid][:, 2], -1, 1)))

    assert report["count"] == 2 and report["pixels"] == 2 * int(valid.sum())  # the empty-mask image is skipped
    assert set(report["model"]) == METRIC_KEYS
    assert report["model"]["mean"] < 0.05 and report["model"]["within_11_25"] == 100.0
    assert report["flat"]["mean"] == pytest.approx(flat_errors.mean(), abs=1e-3)
    assert report["flat"]["median"] == pytest.approx(np.median(flat_errors), abs=1e-3)
    assert report["flat"]["within_30"] == pytest.approx(100.0 * np.mean(flat_errors < 30.0), abs=1e-6)
    assert report["best_constant"] == report["flat"]  # the fitted constant here is (0, 0, 1)
    assert [image["id"] for image in report["images"]] == ["sphere_a", "sphere_b"]
    assert report["fitted_baselines"] == fitted
    # a 20 px sphere turns > 10 deg within 2 px everywhere: all of it is detail, and all of it exact
    assert report["anatomy"]["detail_share"] == 1.0 and report["anatomy"]["smooth_deg"] is None
    assert report["anatomy"]["detail_deg"] < 0.05 and report["anatomy"]["rotated_deg"] < 0.05
    assert sorted(os.listdir(tmp_path / "t")) == ["sphere_a.png", "sphere_b.png"]
    assert image_io.read_image(str(tmp_path / "t" / "sphere_a.png")).shape == (20, 60, 3)
    table = evaluation.format_table(report)
    assert all(f"| {method} |" in table for method in evaluation.METHODS)


def test_pairs_of_our_renders_carry_their_id_pass_at_the_evaluated_size(tmp_path, caplog):
    sample_ids = write_synthetic_samples(str(tmp_path), 5, size=32)
    ids = np.full((32, 32), layout.ID_FIRST_SET, np.float32)
    ids[:, 1::2] = layout.ID_FIRST_OBJECT + 2  # every other column: an object
    image_io.write_png(str(tmp_path / sample_ids[0] / layout.IDS_PNG), ids / 255.0)
    (tmp_path / sample_ids[1] / layout.IDS_PNG).write_bytes(b"not a png")
    image_io.write_png(str(tmp_path / sample_ids[3] / layout.IDS_PNG), ids[:16] / 255.0)
    image_io.write_png(str(tmp_path / sample_ids[4] / layout.IDS_PNG), np.pad(ids, ((0, 1), (0, 1)), "edge") / 255.0)
    examples = list(evaluation.iter_pairs(str(tmp_path), pairs.PairFormat()))
    assert np.array_equal(examples[0].ids, ids.astype(np.int32))
    assert examples[1].ids is None and examples[2].ids is None  # unreadable (reported), absent
    assert examples[3].ids is None and examples[4].ids is None  # smaller, larger than the beauty (reported)
    assert any(sample_ids[1] in r.getMessage() and "floor parts" in r.getMessage() for r in caplog.records)
    assert any(sample_ids[3] in r.getMessage() and "32x16 does not match" in r.getMessage() for r in caplog.records)
    assert any(sample_ids[4] in r.getMessage() and "33x33 does not match" in r.getMessage() for r in caplog.records)
    half = next(evaluation.iter_pairs(str(tmp_path), pairs.PairFormat(max_sample_side=16)))
    assert half.mask.shape == (16, 16) and np.array_equal(half.ids, ids[::2, ::2].astype(np.int32))
    fitted = {"best_constant": [0.0, 0.0, 1.0], "gradient_strength": 1.0}
    family = evaluation.evaluate(_Oracle(examples), examples, fitted)["families"]["unknown"]
    first = evaluation.evaluate(_Oracle(examples[:1]), examples[:1], fitted)["families"]["unknown"]
    assert family["floor_set"]["pixels"] == first["floor_set"]["pixels"] > 0  # only the first sample has parts
    assert family["floor_object"]["pixels"] == first["floor_object"]["pixels"] > 0
    assert first["floor_set"]["pixels"] + first["floor_object"]["pixels"] == first["floor"]["pixels"]


def test_evaluate_refuses_when_nothing_is_masked():
    examples = [e for e in _examples() if e.id == "empty"]
    with pytest.raises(ValueError, match="no images"):
        evaluation.evaluate(_Oracle(examples), examples, {"best_constant": [0, 0, 1], "gradient_strength": 1.0})


# ---------------------------------------------------------------- the evaluate command on real renders (acceptance 5)

@pytest.mark.slow
def test_evaluate_command_writes_the_report(smoke_eval, smoke_records):
    """Acceptance: the evaluate CLI's JSON has every metric for every method, per-image results and triptychs."""
    report, triptych_dir = smoke_eval
    for method in ("model", "flat", "best_constant", "luminance_gradient"):
        assert set(report[method]) == METRIC_KEYS, method
        assert 0.0 <= report[method]["mean"] <= 180.0
        for key in METRIC_KEYS - {"mean", "median"}:
            assert 0.0 <= report[method][key] <= 100.0
    with open(os.path.join(smoke_records, "index.json")) as f:
        val_count = json.load(f)["splits"]["val"]["count"]
    assert report["count"] == val_count == len(report["images"])
    for image in report["images"]:
        assert image["pixels"] > 0 and set(image["model"]) == METRIC_KEYS
    assert report["pixels"] == sum(image["pixels"] for image in report["images"])
    anatomy = report["anatomy"]  # detail and smooth pixels split the model's error; a rotation can only lower it
    share = anatomy["detail_share"]
    assert share * anatomy["detail_deg"] + (1 - share) * anatomy["smooth_deg"] == pytest.approx(
        report["model"]["mean"], rel=1e-4)
    assert anatomy["rotated_deg"] <= report["model"]["mean"] + 1e-3
    assert report["settings"]["split"] == "val"
    assert "train split" in report["fitted_baselines"]["fitted_on"]
    assert len(report["fitted_baselines"]["best_constant"]) == 3
    assert report["fitted_baselines"]["gradient_strength"] in baselines.GRADIENT_STRENGTHS
    pngs = sorted(os.listdir(triptych_dir))
    assert pngs == sorted(image["id"] + ".png" for image in report["images"])
    sheet = image_io.read_image(os.path.join(triptych_dir, pngs[0]))
    assert sheet.shape[1] == 3 * sheet.shape[0]  # input | ground truth | prediction of a square render


class _SizeRecorder:
    """A 'model' whose normals face the camera, recording the sizes the network is asked to see."""

    working_size = 64

    def __init__(self):
        self.sizes = []

    def predict_passes(self, batch):
        self.sizes.append(batch.shape[1:3])
        return {"normals": np.broadcast_to(np.float32([0, 0, 1]), batch.shape).copy()}


def test_evaluate_sees_each_image_whole_or_as_predict_runs_it():
    """Native: the network sees each 20² image at 20²; with predict's settings, at the working size asked."""
    examples = _examples()
    fitted = {"best_constant": [0.0, 0.0, 1.0], "gradient_strength": 1.0}
    native, global_pass = _SizeRecorder(), _SizeRecorder()
    report = evaluation.evaluate(native, examples, fitted)
    assert set(native.sizes) == {(20, 20)}
    evaluation.evaluate(global_pass, examples, fitted, inference=fusion.PassSettings(mode="global", working_size=8))
    assert set(global_pass.sizes) == {(8, 8)}
    assert report["model"] == report["flat"]  # the recorder's normals are flat: the report says so
