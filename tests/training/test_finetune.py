"""tfnormals.training.finetune on a tiny random-weight model and synthetic shot frames: the losses see only known,
not held-out pixels; the views' flips keep vectors right; a resumed fine-tune equals an uninterrupted one; the
held-out error keeps the best weights (the base itself when training makes things worse)."""

import dataclasses
import json
import os

import numpy as np
import pytest
import tensorflow as tf
from helpers import plates, write_synthetic_shot

from tfnormals.core import image_io, layout, normals
from tfnormals.data import pairs, references
from tfnormals.model import losses
from tfnormals.training import finetune, finetune_config, runs, shot_frames

FRAMES = (1001, 1002, 1003)
SIZE = 32
LAYOUT = pairs.PairFormat(beauty_pattern="{id}", normals_pattern="{id}")
TINY = dict(view_size=SIZE, crop_size=SIZE, batch_size=2, eval_every=2, checkpoint_every=4, minutes=0.0,
            precision="float32")


@pytest.fixture(scope="module")
def shot(tmp_path_factory):
    root = tmp_path_factory.mktemp("shot")
    write_synthetic_shot(str(root), FRAMES, SIZE)
    return root


def reference_files(root, **paths):
    return [references.ReferenceFiles(f, str(root / layout.frame_file(layout.BEAUTY_EXR, f)),
                                      str(root / layout.frame_file(layout.NORMALS_EXR, f)),
                                      **{k: str(root / layout.frame_file(v, f)) for k, v in paths.items()})
            for f in FRAMES]


def request(model, root, **settings):
    config = finetune_config.FinetuneConfig.from_flat(dict(TINY, **settings))
    files = reference_files(root)
    return finetune_config.Request(model.path, FRAMES, tuple(dataclasses.asdict(f) for f in files), config.to_dict())


def load(files):
    return [references.load_reference(f, LAYOUT) for f in files]


def run(model, root, out, resume=False, on_step=None, refs=None, rehearsal=None, **settings):
    refs = refs if refs is not None else load(reference_files(root))
    return finetune.finetune(refs, request(model, root, **settings), str(out), str(out) + ".work", resume,
                             log=lambda line: None, on_step=on_step, rehearsal=rehearsal)


def saved_weights(path):
    loaded = tf.saved_model.load(path)  # the signature's variables live as long as this object
    return [v.numpy() for v in loaded.signatures["serving_default"].variables]


def test_heldout_blocks_take_a_share_of_the_known_blocks_only():
    known = np.zeros((96, 96), bool)
    known[:, 48:] = True  # 32 known blocks of 12 × 12 (8 along the longer side)
    held = shot_frames.heldout_blocks(known, 0.25, 8, np.random.default_rng(0))
    assert not (held & ~known).any()
    assert held.sum() == 8 * 12 * 12
    assert not shot_frames.heldout_blocks(known, 0.0, 8, np.random.default_rng(0)).any()


@pytest.mark.slow
def test_unknown_pixels_never_reach_the_loss(tiny_model, shot, tmp_path):
    """References that differ only where they are unknown (alpha 0 over NaN, or over random vectors) train the same
    weights; the loss mask leaves out unknown and held-out pixels."""
    rng = np.random.default_rng(0)
    variants = {}
    for name in ("nan", "random"):
        files = []
        for f in reference_files(shot):
            stored = image_io.read_image(f.normals)
            alpha = stored[..., 3] * (np.arange(SIZE) >= SIZE // 3)[None, :]  # the left third is unknown
            junk = np.full((SIZE, SIZE, 3), np.nan) if name == "nan" else rng.normal(size=(SIZE, SIZE, 3))
            path = str(tmp_path / f"{name}.{f.frame}.exr")
            image_io.write_rgb_exr(path, np.where(alpha[..., None] > 0, stored[..., :3], junk), alpha=alpha)
            files.append(dataclasses.replace(f, normals=path))
        variants[name] = load(files)
        run(tiny_model, shot, tmp_path / name, refs=variants[name], steps=3)
    for a, b in zip(saved_weights(str(tmp_path / "nan")), saved_weights(str(tmp_path / "random"))):
        np.testing.assert_array_equal(a, b)
    # The frames as the step sees them: the loss mask covers known pixels outside the held-out blocks only.
    refs = variants["random"]
    frames, evaluation = shot_frames.prepare_frames(refs, finetune_config.FinetuneConfig.from_flat(TINY), 256)
    known = np.stack([r.known for r in refs])
    train = frames["mask"].numpy()[..., 0] > 0
    assert not known[:, :, :SIZE // 3].any() and known.any()
    assert not (train & ~known).any() and not (train & evaluation["heldout"]).any()
    assert evaluation["heldout"].any() and (known & ~train).any()
    # And the loss of a batch of views ignores the normals wherever its mask is zero.
    generator, base_config, _ = runs.load_model_generator(tiny_model.path)
    config = finetune_config.FinetuneConfig.from_flat(TINY)
    tuner = finetune.FineTuner(generator, base_config, frames, evaluation, config)
    batch = tuner.views(5)
    pred = generator(batch["beauty"], training=False)
    off = batch["mask"] <= 0
    assert 0 < np.mean(off) < 1
    scrambled = dict(batch, normals=tf.where(off, -batch["normals"][:, ::-1] + 0.3, batch["normals"]))
    assert float(tuner.data_loss(pred, scrambled)) == float(tuner.data_loss(pred, batch))
    scrambled = dict(batch, normals=tf.where(off, batch["normals"], -batch["normals"]))
    assert float(tuner.data_loss(pred, scrambled)) != float(tuner.data_loss(pred, batch))


@pytest.mark.slow
def test_flipped_views_mirror_the_image_and_negate_x(tiny_model, shot):
    """The fine-tune's views (select_view + augment) with a certain flip are the unflipped views mirrored, their
    normals' X negated: pixels and vectors move together."""
    from tfnormals.tools.model_io import NormalsModel  # noqa: F401  (the model fixture's type)
    generator, base_config, _ = runs.load_model_generator(tiny_model.path)
    refs = load(reference_files(shot))
    batches = {}
    for prob in (0.0, 1.0):
        config = finetune_config.FinetuneConfig.from_flat(dict(TINY, hflip_prob=prob, blur_prob=0.0, max_noise=0.0,
                                                        jpeg_prob=0.0, batch_size=3))
        frames, evaluation = shot_frames.prepare_frames(refs, config, base_config.global_pass_size)
        batches[prob] = finetune.FineTuner(generator, base_config, frames, evaluation, config).views(7)
    plain, flipped = batches[0.0], batches[1.0]
    np.testing.assert_allclose(flipped["beauty"].numpy(), plain["beauty"].numpy()[:, :, ::-1], atol=1e-5)
    np.testing.assert_allclose(flipped["mask"].numpy(), plain["mask"].numpy()[:, :, ::-1], atol=1e-6)
    np.testing.assert_allclose(flipped["normals"].numpy(), plain["normals"].numpy()[:, :, ::-1] * [-1.0, 1.0, 1.0],
                               atol=1e-5)
    assert np.abs(plain["normals"].numpy()[..., 0]).max() > 0.5  # the X components are there to be negated


@pytest.mark.slow
def test_a_resumed_finetune_equals_an_uninterrupted_one(tiny_model, shot, tmp_path):
    straight = run(tiny_model, shot, tmp_path / "straight", steps=7)

    def interrupt(step):
        if step == 3:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        run(tiny_model, shot, tmp_path / "resumed", on_step=interrupt, steps=7)
    assert not os.path.exists(tmp_path / "resumed")  # Ctrl-C saves the state, exports nothing
    run(tiny_model, shot, tmp_path / "resumed", steps=5, resume=True)  # a finished part, resumed again
    resumed = run(tiny_model, shot, tmp_path / "resumed", steps=7, resume=True)
    assert resumed["steps"] == straight["steps"] == 7
    assert resumed["best_step"] == straight["best_step"]
    assert resumed["heldout_error_deg"] == straight["heldout_error_deg"]
    for a, b in zip(saved_weights(str(tmp_path / "straight")), saved_weights(str(tmp_path / "resumed"))):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(Exception, match="other settings"):
        run(tiny_model, shot, tmp_path / "resumed", steps=9, resume=True, learning_rate=1e-2)
    with pytest.raises(Exception, match="pass --resume"):
        run(tiny_model, shot, tmp_path / "resumed", steps=9)


@pytest.mark.slow
def test_the_heldout_error_keeps_the_base_when_training_only_hurts(tiny_model, shot, tmp_path):
    summary = run(tiny_model, shot, tmp_path / "wild", steps=6, learning_rate=5.0, anchor_weight=0.0)
    assert summary["best_step"] == 0 and summary["steps"] == 6
    assert summary["heldout_error_deg"] == summary["base_heldout_error_deg"]
    for a, b in zip(saved_weights(tiny_model.path), saved_weights(str(tmp_path / "wild"))):
        np.testing.assert_array_equal(a, b)
    with open(os.path.join(tmp_path / "wild", layout.MODEL_METADATA)) as f:
        info = json.load(f)
    assert info["finetune"]["frames"] == list(FRAMES) and info["finetune"]["base_model"] == tiny_model.path
    assert info["stride"] == tiny_model.stride and info["working_size"] == tiny_model.working_size


@pytest.mark.slow
def test_rehearsal_keeps_the_base_outputs_on_other_scenes(tiny_model, shot, tmp_path):
    """A fast fine-tune moves the outputs on unrelated plates; with rehearsal on those plates they move far less."""
    from tfnormals.tools.model_io import NormalsModel
    others = list(plates(6, 48, 48, seed=5))
    moved = {}
    for weight in (0.0, 20.0):
        out = tmp_path / f"rehearsal{weight:g}"
        run(tiny_model, shot, out, rehearsal=others, steps=8, learning_rate=3e-3, anchor_weight=0.0,
            rehearsal_weight=weight, rehearsal_views=2, heldout_share=0.0, fallback=False)
        moved[weight] = float(normals.angular_error_deg(NormalsModel(str(out))(np.stack(others)),
                                                        tiny_model(np.stack(others))).mean())
    assert moved[20.0] < 0.5 * moved[0.0], moved


@pytest.mark.slow
def test_a_shot_model_falls_back_to_its_base_on_images_unlike_its_references(tiny_model, shot, tmp_path):
    """Calibrated on rehearsal plates, the exported shot model holds its base: on its reference frames it gives the
    shot network's passes, on plates unlike them (not the rehearsal's) the base's; it loads as its shot network."""
    from tfnormals.tools import shot_checks
    from tfnormals.tools.model_io import NormalsModel
    summary = run(tiny_model, shot, tmp_path / "gated", rehearsal=list(plates(12, 48, 48, seed=5)), steps=4,
                  learning_rate=1e-2, anchor_weight=0.0, rehearsal_weight=0.0, heldout_share=0.0, fallback_views=8)
    assert summary["fallback"]["bank_views"] == 8 + 2 * len(FRAMES)  # views, and each frame whole at two sizes
    assert 0 < summary["fallback"]["near"] < summary["fallback"]["far"]
    gated = NormalsModel(str(tmp_path / "gated"))
    network, _, _ = runs.load_model_generator(str(tmp_path / "gated"))
    frames = np.stack([r.plate for r in load(reference_files(shot))])
    shot_network = network(frames, training=False)["normals"].numpy()
    assert normals.angular_error_deg(shot_network, tiny_model(frames)).mean() > 1.0  # the fine-tune moved it
    np.testing.assert_allclose(gated(frames), shot_network, atol=1e-4)
    unlike = np.stack(list(plates(6, 48, 48, seed=9)))
    moved = normals.angular_error_deg(network(unlike, training=False)["normals"].numpy(), tiny_model(unlike))
    kept = normals.angular_error_deg(gated(unlike), tiny_model(unlike))
    assert moved.mean() > 1.0 and np.sum(kept.mean(axis=(1, 2)) < 0.01) >= 4, (moved.mean(), kept.mean(axis=(1, 2)))
    probe = shot_checks.FallbackProbe(str(tmp_path / "gated"))  # the decisions read back, as the benchmark does
    assert all((probe.weights(frame) == 1.0).all() for frame in frames)
    assert sum((probe.weights(image) == 0.0).all() for image in unlike) >= 4


@pytest.mark.slow
def test_depth_and_albedo_references_train_their_heads(shot, tmp_path):
    """With depth and albedo references a multi-pass base's depth and albedo heads learn; without, they stay."""
    from tfnormals.model import serving
    from tfnormals.model.unet import build_generator
    from tfnormals.tools.model_io import NormalsModel
    from tfnormals.training.config import TrainConfig
    config = TrainConfig.from_flat(dict(base_filters=8, depth=4, max_filters=32, passes="normals,depth,albedo"))
    serving.export_generator(build_generator(**config.generator_kwargs()), str(tmp_path / "base"),
                             runs.metadata(config, 0))
    base = NormalsModel(str(tmp_path / "base"))
    heads = {}
    for name, paths in (("without", {}), ("with", {"depth": layout.DEPTH_EXR, "albedo": layout.ALBEDO_EXR})):
        refs = load(reference_files(shot, **paths))
        summary = run(base, shot, tmp_path / name, refs=refs, steps=3, learning_rate=1e-2, anchor_weight=0.0)
        assert summary["passes_trained"] == ["normals"] + (["depth", "albedo"] if paths else [])
        generator, _, _ = runs.load_model_generator(str(tmp_path / name))
        heads[name] = {h: generator.get_layer(h).weights[0].numpy() for h in ("depth_conv", "albedo_conv")}
    original, _, _ = runs.load_model_generator(str(tmp_path / "base"))
    for h in ("depth_conv", "albedo_conv"):
        np.testing.assert_array_equal(heads["without"][h], original.get_layer(h).weights[0].numpy())
        assert np.abs(heads["with"][h] - original.get_layer(h).weights[0].numpy()).max() > 1e-4


def test_rehearsal_targets_are_the_base_outputs_on_each_augmented_view(tiny_model, shot):
    """Rehearsal views are brightened/darkened per step and the base's outputs are computed on those very views
    (targets kept from the plain views would ask the untrained shot model to change): before any step the
    rehearsal loss is 0 on every step's views, which differ from the stored views, whose outputs differ too."""
    config = finetune_config.FinetuneConfig.from_flat(dict(TINY, rehearsal_views=3, rehearsal_exposure_stops=2.0))
    generator, base_config, _ = runs.load_model_generator(tiny_model.path)
    frames, evaluation = shot_frames.prepare_frames(load(reference_files(shot)), config, base_config.global_pass_size)
    tuner = finetune.FineTuner(generator, base_config, frames, evaluation, config,
                               rehearsal=list(plates(4, 48, 48, seed=5)))
    for step in range(3):
        plain, views, target = tuner.rehearsal_batch(tf.constant(step, tf.int64))
        assert float(tf.reduce_max(tf.abs(views - plain))) > 0.05
        plain_normals = generator(plain, training=False)["normals"]
        assert float(tf.reduce_max(tf.abs(target["normals"] - plain_normals))) > 1e-3
        assert float(tuner.rehearsal_loss(tf.constant(step, tf.int64))) < 1e-4


@pytest.mark.slow
def test_the_supervised_loss_uses_the_base_models_depth_term(tiny_multipass_model, shot):
    """A base trained with --depth_loss=absrel is fine-tuned on AbsRel too, not on the default log-depth variance."""
    generator, base_config, _ = runs.load_model_generator(tiny_multipass_model.path)
    config = finetune_config.FinetuneConfig.from_flat(TINY)
    frames, evaluation = shot_frames.prepare_frames(load(reference_files(shot)), config, base_config.global_pass_size)
    rng = np.random.default_rng(0)
    n = normals.normalize(rng.normal(size=(2, 8, 8, 3))).astype(np.float32)
    target = {"normals": tf.constant(n), "depth": tf.constant(rng.uniform(1, 4, (2, 8, 8, 1)).astype(np.float32))}
    pred = {"normals": tf.constant(n), "depth": target["depth"] * tf.exp(tf.constant(rng.normal(0, 0.3, (2, 8, 8, 1)),
                                                                                   tf.float32))}
    mask = tf.ones((2, 8, 8, 1))
    for kind, term in (("si_log", losses.scale_invariant_log_depth), ("absrel", losses.median_scaled_absrel)):
        base = dataclasses.replace(base_config, depth_loss=kind)
        tuner = finetune.FineTuner(generator, base, frames, evaluation, config)
        expected = base.depth_weight * (term(pred["depth"], target["depth"], mask) + base.depth_gradient_weight
                                        * losses.gradient_matching(pred["depth"], target["depth"], mask))
        assert float(tuner.supervised_loss(pred, target, mask, ("depth",))) == pytest.approx(float(expected), rel=1e-5)
