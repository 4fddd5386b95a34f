"""The temporal mode (tfnormals.tools.temporal) on tiny plates and random-weight models: grain on a still plate
is held, a pan is followed, a cut starts afresh, and a resumed or split run writes one uninterrupted run's frames."""

import json

import numpy as np
import pytest

from tfnormals.core import camera, errors, image_io, normals
from tfnormals.tools import fusion, prediction, temporal, temporal_checks, tiling

H, W = 96, 128


def textured_plate(seed=0, h=H, w=W):
    """An sRGB plate with structure at several scales (blobs and fine texture) for the flow to hold on to."""
    rng = np.random.default_rng(seed)
    plate = sum(tiling.resize(rng.random((h // k + 1, w // k + 1, 3)).astype(np.float32), h, w) / (1 + i)
                for i, k in enumerate((24, 8, 3)))
    return np.clip(0.1 + 0.8 * plate / 1.83, 0.0, 1.0).astype(np.float32)


def test_motion_follows_a_pan_and_distrusts_what_enters_the_frame():
    plate = textured_plate(w=W + 3)
    before, now = plate[:, :W], plate[:, 3:]  # the picture moves 3 px left
    found = temporal.motion(before, now)
    inner = (slice(8, -8), slice(8, -12))
    np.testing.assert_allclose(np.median(found.flow[inner], axis=(0, 1)), [3.0, 0.0], atol=0.15)
    assert np.abs(found.flow[inner] - [3.0, 0.0]).mean() < 0.3
    assert found.confidence[inner].mean() > 0.8 and found.trusted > 0.5
    assert found.confidence[:, -2:].mean() < 0.2  # came from outside the previous frame
    assert abs(found.expansion) < 0.01  # no dolly


def test_a_still_plate_with_grain_comes_out_nearly_constant(tiny_model):
    frames = temporal_checks.grain_sequence(textured_plate(), frames=8, sigma=0.02)
    sequences = temporal_checks.predicted_sequences(tiny_model, frames, fusion.PassSettings())
    per_frame = temporal_checks.consecutive_change_deg(sequences["per_frame"])
    held = temporal_checks.consecutive_change_deg(sequences["temporal"])
    assert per_frame > 0.2  # the grain does move the per-frame normals
    assert held < 0.2 * per_frame


def test_a_pan_is_tracked(tiny_model):
    """Frames of a 2 px/frame pan: the temporal output moves with the picture (aligned frames agree far better than
    unaligned ones) and changes less than per-frame prediction does."""
    frames = temporal_checks.pan_sequence(textured_plate(w=W + 14), frames=8, step=2)
    sequences = temporal_checks.predicted_sequences(tiny_model, frames, fusion.PassSettings())
    aligned = temporal_checks.consecutive_change_deg(sequences["temporal"], step=2)
    assert aligned < 0.5 * temporal_checks.consecutive_change_deg(sequences["per_frame"], step=2)
    assert aligned < 0.3 * temporal_checks.consecutive_change_deg(sequences["temporal"])


def test_a_cut_resets_the_history(tiny_model):
    """Two unrelated shots in a row: the first frame after the cut is exactly its own per-frame prediction."""
    shot_a = temporal_checks.grain_sequence(textured_plate(1), frames=3)
    shot_b = temporal_checks.grain_sequence(textured_plate(2)[::-1], frames=3, seed=5)
    history, settings = temporal.History(), fusion.PassSettings()
    cuts = []
    for image in shot_a + shot_b:
        own = settings.passes(tiny_model, image)
        out, info = history.update(image, own)
        cuts.append(info["cut"])
        if info["cut"]:
            np.testing.assert_array_equal(out["normals"], own["normals"])
        else:
            assert np.abs(out["normals"] - own["normals"]).max() > 1e-4  # blended with the history
    assert cuts == [True, False, False, True, False, False]


def _write_pan(folder, frames=6):
    """A pan with grain as 16-bit PNG frames plate.1001.png…; returns the frame pattern."""
    for k, frame in enumerate(temporal_checks.pan_sequence(textured_plate(3, w=W + 2 * frames), frames, step=2)):
        image_io.write_png(str(folder / f"plate.{1001 + k}.png"), frame, bits=16)
    return str(folder / "plate.####.png")


def _predict(model, pattern, output, frames, warmup=temporal.DEFAULT_WARMUP, settings=camera.CameraSettings(),
             matchmove="", mattes=""):
    """What predict --frames [--matchmove [--matchmove_mattes]] does with the temporal mode on."""
    from tfnormals.tools import plates
    paths = plates.expand_inputs(pattern, frames).paths
    inference = temporal.pass_settings("auto", fusion.PassSettings(), pattern, frames=frames, camera=settings,
                                       warmup=warmup, matchmove_file=matchmove, matchmove_mattes=mattes,
                                       plate_paths=paths)
    assert isinstance(inference, temporal.SequencePasses)
    result = prediction.predict_files(model, paths, str(output), inference=inference, settings=settings)
    assert not result["failed"]
    return result


def _outputs(folder, frame):
    return {kind: image_io.read_image(str(folder / f"plate.{kind}.{frame}.exr"))
            for kind in ("normals", "depth", "albedo")}


def _write_cameras(path, frames=range(1001, 1007)):
    """A matchmove (camera JSON) of a camera that turns 0.7° a frame, as the pan's picture moves, and creeps
    sideways."""
    cameras = {}
    for k, frame in enumerate(frames):
        angle = np.radians(-0.7 * k)
        matrix = camera.look_at([0.03 * k, 0, 0], [0.03 * k + np.sin(angle), 0, -np.cos(angle)], [0, 1, 0])
        cameras[str(frame)] = {"camera_to_world": matrix.tolist(), "fov_deg": 40.0}
    path.write_text(json.dumps({"frames": cameras}))
    return str(path)


def _write_mattes(folder, frames=range(1001, 1007)):
    """Mattes roto.1001.png…: a box that moves 3 px a frame; returns their frame pattern."""
    for k, frame in enumerate(frames):
        matte = np.zeros((H, W, 3), np.float32)
        matte[H // 4:H // 2, 3 * k + 4:3 * k + 20] = 1.0
        image_io.write_png(str(folder / f"roto.{frame}.png"), matte)
    return str(folder / "roto.####.png")


@pytest.mark.parametrize("flow", ["image", "matchmove", "mattes"])
def test_resume_and_task_split_give_the_frames_of_one_uninterrupted_run(tiny_multipass_model, tmp_path, flow):
    pattern = _write_pan(tmp_path)
    settings = camera.CameraSettings(reference_distance=3.0)  # depth is written scaled and read back
    with_matchmove = flow != "image"
    options = dict(settings=settings, matchmove=_write_cameras(tmp_path / "cam.json") if with_matchmove else "",
                   mattes=_write_mattes(tmp_path) if flow == "mattes" else "")
    _predict(tiny_multipass_model, pattern, tmp_path / "whole", "1001-1006", **options)

    _predict(tiny_multipass_model, pattern, tmp_path / "resumed", "1001-1002", **options)
    again = _predict(tiny_multipass_model, pattern, tmp_path / "resumed", "1001-1006", **options)
    assert len(again["skipped_existing"]) == 2 and len(again["written"]) == 4

    for chunk in ("1001-1003", "1004-1006"):  # two farm tasks; the second warms up on 1001-1003
        _predict(tiny_multipass_model, pattern, tmp_path / "split", chunk, **options)
    _predict(tiny_multipass_model, pattern, tmp_path / "cold", "1004-1006", warmup=0, **options)

    for frame in range(1001, 1007):
        whole = _outputs(tmp_path / "whole", frame)
        for run in ("resumed", "split"):
            for kind, value in _outputs(tmp_path / run, frame).items():
                np.testing.assert_allclose(value, whole[kind], atol=1e-5, err_msg=f"{run} {kind} {frame}")
    if with_matchmove:  # the matchmove (and its mattes) are stamped: a run without them does not take these frames
        from tfnormals.tools import plates
        paths = plates.expand_inputs(pattern).paths
        other = temporal.pass_settings("auto", fusion.PassSettings(), pattern, camera=settings, plate_paths=paths,
                                       matchmove_file="" if flow == "matchmove" else options["matchmove"])
        again = prediction.predict_files(tiny_multipass_model, paths, str(tmp_path / "whole"), inference=other,
                                         settings=settings)
        assert all("made with other settings (--matchmove)" in reason for reason in again["failed"].values())
        assert len(again["failed"]) == 6
    if flow == "mattes":  # the mattes change the flow on their box only
        _predict(tiny_multipass_model, pattern, tmp_path / "no_mattes", "1001-1006", settings=settings,
                 matchmove=options["matchmove"])
        change = np.abs(_outputs(tmp_path / "whole", 1006)["normals"] - _outputs(tmp_path / "no_mattes", 1006)[
            "normals"]).max(axis=-1)
        assert change[H // 4:H // 2, 19:35].max() > 0.01 and change[H // 2 + 16:, 60:].max() < 1e-4
    # Without its warm-up the second task starts from scratch: its frames differ, so the warm-up is what joins them.
    cold, whole = _outputs(tmp_path / "cold", 1004), _outputs(tmp_path / "whole", 1004)
    assert normals.angular_error_deg(cold["normals"][..., :3], whole["normals"][..., :3]).mean() > 0.05


def test_temporal_outputs_are_not_taken_for_per_frame_ones(tiny_model, tmp_path):
    """--temporal and --temporal_warmup are stamped like the mode's settings: a per-frame re-run over a temporal
    run's frames, or one with another warm-up, fails them (naming the settings) and keeps them."""
    from tfnormals.tools import plates
    pattern = _write_pan(tmp_path, frames=2)
    _predict(tiny_model, pattern, tmp_path / "out", "1001-1002")
    written = (tmp_path / "out" / "plate.normals.1002.exr").read_bytes()
    paths = plates.expand_inputs(pattern).paths
    for inference, named in ((fusion.PassSettings(), "--temporal, --temporal_warmup"),
                             (temporal.pass_settings("on", fusion.PassSettings(), pattern, warmup=4),
                              "--temporal_warmup")):
        again = prediction.predict_files(tiny_model, paths, str(tmp_path / "out"), inference=inference)
        assert list(again["failed"]) == paths and not again["written"]
        assert all(f"made with other settings ({named})" in reason for reason in again["failed"].values())
    assert (tmp_path / "out" / "plate.normals.1002.exr").read_bytes() == written
    assert len(_predict(tiny_model, pattern, tmp_path / "out", "1001-1002")["skipped_existing"]) == 2


def test_the_depth_of_a_sequence_keeps_one_scale(tiny_multipass_model, tmp_path):
    """Per frame, depth has a median of 1; in the temporal mode the first frame sets the scale and later frames
    are aligned to it, so a still sequence keeps its median near 1 without being renormalized."""
    frames = temporal_checks.grain_sequence(textured_plate(4), frames=4)
    outputs = temporal_checks.predicted_sequences(tiny_multipass_model, frames, fusion.PassSettings())["temporal"]
    medians = [float(np.median(out["depth"])) for out in outputs]
    assert medians[0] == pytest.approx(1.0)
    assert all(abs(m - 1.0) < 0.02 for m in medians)
    assert any(m != 1.0 for m in medians[1:])


def test_temporal_is_on_for_frame_patterns_only_unless_asked():
    settings = fusion.PassSettings()
    assert temporal.pass_settings("auto", settings, "shot/plate.####.exr") is not settings
    assert temporal.pass_settings("auto", settings, "shot/plate.%04d.exr") is not settings
    assert temporal.pass_settings("auto", settings, "shot/plate.1001.exr") is settings
    assert temporal.pass_settings("off", settings, "shot/plate.####.exr") is settings
    assert isinstance(temporal.pass_settings("on", settings, "shot/*.exr"), temporal.SequencePasses)
    with pytest.raises(errors.UsageError, match="--temporal"):
        temporal.pass_settings("sometimes", settings, "plate.####.exr")
    with pytest.raises(errors.UsageError, match="--temporal_warmup"):
        temporal.pass_settings("on", settings, "plate.####.exr", warmup=-1)


def test_warmup_takes_the_plates_on_disk_before_the_chunk(tmp_path):
    for frame in (1001, 1002, 1004, 1005):
        image_io.write_png(str(tmp_path / f"p.{frame}.png"), textured_plate(h=8, w=8))
    pattern = str(tmp_path / "p.####.png")
    assert [p[-8:] for p in temporal.warmup_paths(pattern, "1005-1006", 3)] == ["1002.png", "1004.png"]
    assert temporal.warmup_paths(pattern, "1001-1002", 3) == []
    assert temporal.warmup_paths(pattern, "", 3) == []


@pytest.mark.parametrize("h, w", [(1, 1), (5, 300), (30, 20)])
def test_tiny_and_thin_plates_blend(h, w):
    """Plates smaller than the flow's patch (predict takes plates of any size ≥ 1 px) still blend."""
    frames = temporal_checks.grain_sequence(textured_plate(h=max(h, 8), w=max(w, 8))[:h, :w], frames=3, sigma=0.01)
    history = temporal.History()
    for frame in frames:
        rng = np.random.default_rng(0)
        own = {"normals": normals.normalize(rng.normal(0, 0.2, (h, w, 3)) + [0.0, 0.0, 1.0]),
               "depth": np.ones((h, w, 1), np.float32)}
        out, _ = history.update(frame, own)
        assert out["normals"].shape == (h, w, 3) and np.all(np.isfinite(out["normals"]))
