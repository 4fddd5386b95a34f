"""Fine-tune a model on a shot: a few reference frames make a shot model (the CopyCat workflow, for passes).

The base model's generator is rebuilt from its metadata and weights and trained on views of the
reference frames (data.references: the plate and what is known of its passes):
- views: a random frame, a square crop at a random zoom between the model's working size and the
  frame's own resolution (dataset.select_view: the scales predict runs the network at), then the
  project's augmentation (data.augment: crops, vector-correct flips, colour) inside the step;
- loss: the training losses (normals L1 + angular; depth and albedo when references are given),
  masked to the known pixels, plus two pulls toward the base, so the shot model stays sane outside
  what the references show: in weight space L2-SP, anchor_weight · Σ (w − w_base)², and in function
  space rehearsal: on views of plates of scenes unlike the shot (renders bundled for it), brightened,
  darkened and otherwise photometrically augmented at every step, the same losses with the base's own
  outputs on those very views as targets, times rehearsal_weight. L2-SP alone let other shots drift by
  8–17° (BUILD_NOTES.md "Fine-tuning on a shot"); rehearsal on 32 plates as they are left a shot that
  taught "a bright, textureless surface faces right" 9° worse on another shot's blown-out ground, 256
  augmented plates 3.4° ("Augmented rehearsal");
- batch normalization runs in inference mode (its statistics stay the base's) and dropout is off;
- a share of each frame's known pixels, in square blocks, is held out of the loss; their error at
  the working size is measured every eval_every steps, shown on the progress line and used to keep
  the best weights (step 0, the base model itself, included);
- a fine-tune stops at its time budget or step cap; Ctrl-C saves a checkpoint. A work folder holds
  the state (checkpoint, history, request), so --resume continues where it stopped and gives the
  same weights as an uninterrupted run of as many steps (every random choice is keyed by the step).
The result is a float32 SavedModel with the base's contract (serving.export_generator) and its
metadata plus a `finetune` block: base model, frames, steps, held-out errors. With rehearsal plates
(and config.fallback) it holds the base too and blends toward it on images unlike the references
(model.shot_gate, calibrated on the rehearsal views): rehearsal alone could not keep other shots
within 2° without giving up most of the gain on the shot (BUILD_NOTES.md "A shot model that knows its shot").
"""

import csv
import dataclasses
import json
import math
import os
import time

import keras
import numpy as np
import tensorflow as tf

from tfnormals.core import conventions, errors, layout, normals, outputs
from tfnormals.core.progress import Progress
from tfnormals.data import augment, dataset
from tfnormals.model import losses, serving, shot_gate
from tfnormals.model.unet import build_generator, precision
from tfnormals.training import callbacks, runs, shot_frames
from tfnormals.training.finetune_config import FinetuneConfig, resolved_precision

HISTORY_FIELDS = ("step", "seconds", "loss", "heldout_deg", "train_deg")
# Settings that may change when a fine-tune is resumed (the budget); every other one must match.
RESUMABLE_CHANGES = ("minutes", "steps")


def _copy_weights(source, target):
    for a, b in zip(source.weights, target.weights):
        b.assign(tf.cast(a, b.dtype))


def rehearsal_views(plates, sides, crop):
    """[N, crop, crop, 3]: each square plate brought to each side × side of `sides` (the whole scene at the working
    size, as predict's global pass sees it, and smaller) and cut into a grid of crop × crop views. The base's outputs
    are computed on these very views: a target made from a larger view would ask the shot model to guess context
    it cannot see."""
    views = []
    for plate in plates:
        for side in sides:
            image = tf.image.resize(tf.constant(plate[None], tf.float32), [side, side], antialias=True)[0]
            starts = range(0, side - crop + 1, crop)
            views += [image[y:y + crop, x:x + crop] for y in starts for x in starts]
    return tf.stack(views)


class _State(tf.Module):
    """What a resume needs besides the generator and the optimizer: the step, training seconds so far, the base's
    held-out error, and the best held-out error with its step and weights."""

    def __init__(self, trainables):
        super().__init__()
        self.step = tf.Variable(0, dtype=tf.int64)
        self.seconds = tf.Variable(0.0, dtype=tf.float64)
        self.best_error = tf.Variable(np.inf, dtype=tf.float64)
        self.best_step = tf.Variable(0, dtype=tf.int64)
        self.base_error = tf.Variable(np.nan, dtype=tf.float64)
        self.best_weights = [tf.Variable(v, trainable=False) for v in trainables]


class FineTuner:
    """The fine-tune of one base generator on one shot's frames (see the module docstring).

    Args:
      base_generator: float32 generator with the base's weights (load_base); evaluated and exported.
      base_config: the base's TrainConfig (architecture, loss weights, working size).
      frames, evaluation: prepare_frames()'s output.
      config: FinetuneConfig.
      passes: the reference passes given ({'depth', 'albedo'} subset) that get a loss.
      rehearsal: square plates of scenes unlike the shot (network input, H×W×3 each), or None: the shot model's
        outputs on augmented rehearsal_views() of them are kept close to the base's on the same views.
    """

    def __init__(self, base_generator, base_config, frames, evaluation, config, passes=(), rehearsal=None):
        self.config, self.base_config, self.frames, self.evaluation = config, base_config, frames, evaluation
        self.eval_generator = base_generator
        self.rehearsal = None
        if rehearsal is not None and len(rehearsal):
            crop = config.augment.crop_size
            self.rehearsal = rehearsal_views(rehearsal, sorted({crop, max(crop, base_config.global_pass_size)}), crop)
            self.rehearsal_augment = dataclasses.replace(config.augment,
                                                         exposure_stops=config.rehearsal_exposure_stops)
        self.rehearse = self.rehearsal is not None and config.rehearsal_weight > 0
        self.base_copy = None  # the base, never trained: the rehearsal's teacher and the shot model's fallback
        if self.rehearsal is not None and (self.rehearse or config.fallback):
            with precision("float32"), keras.name_scope(shot_gate.FALLBACK_SCOPE):
                self.base_copy = build_generator(**base_config.generator_kwargs())
            _copy_weights(base_generator, self.base_copy)
        policy = resolved_precision(config.precision)
        if policy == "float32":
            self.generator = base_generator
        else:
            with precision(policy):
                self.generator = build_generator(**base_config.generator_kwargs())
            _copy_weights(base_generator, self.generator)
        self.policy = policy
        self.trainables = self.generator.trainable_variables
        self.anchors = [tf.constant(v.numpy()) for v in self.trainables]
        self.passes = tuple(p for p in passes if p in self.generator.output)
        self.optimizer = keras.optimizers.Adam(config.learning_rate)
        self.optimizer.build(self.trainables)
        self.state = _State(self.trainables)
        self.checkpoint = tf.train.Checkpoint(generator=self.generator, optimizer=self.optimizer, state=self.state)
        h, w = frames["beauty"].shape[1:3]
        zoom_low = min(1.0, base_config.global_pass_size / max(h, w))
        self.zoom_range = (zoom_low, 1.0)
        self._predict = tf.function(lambda x: self.eval_generator(x, training=False)["normals"])

    def views(self, step):
        """The augmented batch of step `step`: a pure function of (seed, step)."""
        config, frames = self.config, self.frames
        seed = tf.stack([tf.constant(config.seed, tf.int64), tf.cast(step, tf.int64)])
        seeds = tf.random.experimental.stateless_split(seed, config.batch_size + 2)
        count = frames["beauty"].shape[0]
        picks = tf.random.stateless_uniform([config.batch_size], seeds[0], 0, count, tf.int32)
        views = []
        for b in range(config.batch_size):
            example = {key: tf.gather(frames[key], picks[b]) for key, _ in dataset.IMAGE_KEYS}
            views.append(dataset.select_view(dict(example, hfov=tf.constant(0.0)), config.view_size, seeds[b + 1],
                                             0.0, self.zoom_range))
        batch = {key: tf.stack([v[key] for v in views]) for key, _ in dataset.IMAGE_KEYS}
        return augment.augment_batch(batch, seeds[-1], config.augment)

    def data_loss(self, pred, batch):
        """The base's supervised losses over the known (not held-out) pixels of a batch."""
        return self.supervised_loss(pred, batch, batch["mask"], ("normals",) + self.passes)

    def supervised_loss(self, pred, target, mask, passes):
        """The base's loss terms and weights for `passes`, over the pixels `mask` weights ([B, H, W, 1])."""
        c = self.base_config
        loss = (c.l1_weight * losses.masked_l1(pred["normals"], target["normals"], mask)
                + c.angular_weight * losses.masked_angular(pred["normals"], target["normals"], mask))
        surface = tf.cast(mask >= conventions.MASK_THRESHOLD, tf.float32)
        if "depth" in passes:
            valid = surface * tf.cast(target["depth"] > 0, tf.float32)
            loss += c.depth_weight * (losses.DEPTH_LOSSES[c.depth_loss](pred["depth"], target["depth"], valid)
                                      + c.depth_gradient_weight * losses.gradient_matching(pred["depth"],
                                                                                           target["depth"], valid))
        if "albedo" in passes:
            loss += c.albedo_weight * losses.scale_invariant_log_albedo(pred["albedo"], target["albedo"], surface)
        return loss

    def rehearsal_batch(self, step):
        """(picked views as stored, the same views photometrically augmented, the base's outputs on the augmented
        views) of step `step`: `rehearsal_views` of them, a pure function of (seed, step)."""
        count = self.rehearsal.shape[0]
        seed = tf.stack([tf.constant(self.config.seed + 1, tf.int64), tf.cast(step, tf.int64)])
        pick_seed, photo_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
        picks = tf.random.stateless_uniform([self.config.rehearsal_views], pick_seed, 0, count, tf.int32)
        plain = tf.gather(self.rehearsal, picks)
        views = augment.photometric(plain, photo_seed, self.rehearsal_augment)
        return plain, views, self.base_copy(views, training=False)

    def rehearsal_loss(self, step):
        """How far the outputs on the step's augmented rehearsal views are from the base's on the same views."""
        _, views, target = self.rehearsal_batch(step)
        pred = self.generator(views, training=False)
        return self.supervised_loss(pred, target, tf.ones_like(views[..., :1]), tuple(pred))

    def anchor_loss(self):
        """L2-SP: the squared distance of the weights from the base's."""
        return tf.add_n([tf.reduce_sum(tf.square(v - a)) for v, a in zip(self.trainables, self.anchors)])

    @tf.function
    def train_step(self, step):
        batch = self.views(step)
        with tf.GradientTape() as tape:
            pred = self.generator(batch["beauty"], training=False)  # batch norm keeps the base's statistics
            data = self.data_loss(pred, batch)
            loss = data + self.config.anchor_weight * self.anchor_loss()
            if self.rehearse:
                loss += self.config.rehearsal_weight * self.rehearsal_loss(step)
        grads = tape.gradient(loss, self.trainables)
        self.optimizer.apply_gradients(zip(grads, self.trainables))
        return data

    def evaluate(self):
        """(held-out error, error on the pixels trained on) in degrees at the working size, current weights (float32).

        The held-out error is NaN without held-out pixels.
        """
        if self.eval_generator is not self.generator:
            _copy_weights(self.generator, self.eval_generator)
        prediction = self._predict(self.evaluation["beauty"]).numpy()
        error = normals.angular_error_deg(prediction, self.evaluation["normals"])
        held, train = self.evaluation["heldout"], self.evaluation["train"]
        return (float(error[held].mean()) if held.any() else float("nan"),
                float(error[train].mean()) if train.any() else float("nan"))

    def keep_if_best(self, error, step):
        """Remember the current weights when `error` is the lowest held-out error so far (ties keep the earlier)."""
        if error < float(self.state.best_error.numpy()):
            self.state.best_error.assign(error)
            self.state.best_step.assign(step)
            for best, v in zip(self.state.best_weights, self.trainables):
                best.assign(v)

    def final_weights(self, final_error, step):
        """(float32 generator to export, its step, its held-out error): the best weights held, or the last ones when
        they are better or nothing is held out (NaN errors)."""
        if not (np.isnan(final_error) or final_error < float(self.state.best_error.numpy())):
            for v, best in zip(self.trainables, self.state.best_weights):
                v.assign(best)
            step, final_error = int(self.state.best_step.numpy()), float(self.state.best_error.numpy())
        if self.eval_generator is not self.generator:
            _copy_weights(self.generator, self.eval_generator)
        return self.eval_generator, step, final_error

    def with_fallback(self, generator, network_inputs=None):
        """(the model to export, its fallback's summary or None): with config.fallback and rehearsal plates, a
        model.shot_gate.GatedShotModel whose bank is the shot generator's features of fallback_views reference views
        (the training views of steps no fine-tune takes) and of `network_inputs` (H×W×3 images: what predict feeds
        the network for the reference frames; default the frames whole at their size and the working size),
        calibrated on the rehearsal views; else the generator itself."""
        config = self.config
        if not config.fallback or self.rehearsal is None:
            return generator, None
        features = shot_gate.with_features(generator)
        pool = tf.function(lambda x: features(x, training=False)[1])
        bank = [pool(self.views(tf.constant(-1 - i, tf.int64))["beauty"])
                for i in range(math.ceil(config.fallback_views / config.batch_size))]
        bank = tf.concat(bank, 0)[:config.fallback_views]
        if network_inputs is None:
            network_inputs = [images[i] for images in (self.frames["beauty"], self.evaluation["beauty"])
                              for i in range(images.shape[0])]
        whole = [pool(tf.constant(image, tf.float32)[None]) for image in network_inputs]
        bank = tf.concat([bank] + whole, 0).numpy()
        unlike = tf.concat([pool(self.rehearsal[i:i + 64]) for i in range(0, self.rehearsal.shape[0], 64)], 0).numpy()
        near, far = shot_gate.calibrate(bank, unlike, config.fallback_quantile, config.fallback_start)
        return (shot_gate.GatedShotModel(generator, self.base_copy, bank, near, far),
                {"bank_views": int(bank.shape[0]), "near": round(near, 5), "far": round(far, 5),
                 "calibration_views": int(unlike.shape[0])})


def _check_resume(work_dir, request, resume):
    """Refuse a work folder holding another fine-tune, or one in progress without --resume."""
    path = os.path.join(work_dir, layout.FINETUNE_REQUEST)
    has_checkpoint = tf.train.latest_checkpoint(os.path.join(work_dir, layout.RUN_CKPT_DIR)) is not None
    if not resume:
        if has_checkpoint:
            raise errors.UsageError(f"--work_dir: {work_dir} holds a fine-tune already: pass --resume to continue it, "
                                    "or remove the folder")
        return
    if not has_checkpoint:
        raise errors.UsageError(f"--resume: {work_dir} holds no fine-tune to resume")
    with open(path) as f:
        saved = json.load(f)
    now = json.loads(json.dumps(dataclasses.asdict(request)))
    for key in RESUMABLE_CHANGES:
        saved["config"].pop(key, None)
        now["config"].pop(key, None)
    changed = sorted(k for k in now if now[k] != saved.get(k))
    changed += sorted(f"config.{k}" for k in now["config"] if now["config"][k] != saved["config"].get(k))
    if changed:
        raise errors.UsageError(f"--resume: the fine-tune in {work_dir} was asked with other settings "
                                f"({', '.join(c for c in changed if c != 'config')}); only --minutes and --steps "
                                "may change")


def _append_history(work_dir, row):
    path = os.path.join(work_dir, layout.RUN_HISTORY)
    new = not os.path.isfile(path)
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, HISTORY_FIELDS)
        if new:
            writer.writeheader()
        writer.writerow(row)


def finetune(references, request, output_dir, work_dir, resume=False, log=print, on_step=None, rehearsal=None,
             network_inputs=None):
    """Fine-tune request.base_model on data.references.Reference frames and export the shot model to output_dir.

    Args:
      references: the reference frames (same size).
      request: Request (base model path, frames, files, FinetuneConfig as a dict).
      output_dir: SavedModel folder to write (replaced when it exists).
      work_dir: folder for the resumable state (checkpoint, history.csv, finetune.json).
      resume: continue the fine-tune in work_dir (only the budget may differ).
      log: where progress lines and messages go.
      on_step: optional function(step) called after every step (tests stop a run there).
      rehearsal: square plates of scenes unlike the shot (network input; request.rehearsal names them), or None.
      network_inputs: the images predict feeds the network for the reference frames (FineTuner.with_fallback), or
        None.

    Returns the summary dict (also the metadata's `finetune` block).
    """
    config = FinetuneConfig.from_flat(request.config)
    config.validate()
    _check_resume(work_dir, request, resume)
    base_generator, base_config, base_metadata = runs.load_model_generator(request.base_model)
    frames, evaluation = shot_frames.prepare_frames(references, config, base_config.global_pass_size)
    passes = [p for p in ("depth", "albedo") if all(getattr(r, p) is not None for r in references)]
    tuner = FineTuner(base_generator, base_config, frames, evaluation, config, passes, rehearsal)
    for name in sorted(set(passes) - set(tuner.passes)):
        log(f"warning: {request.base_model} predicts no {name}: its references are not used")
    manager = tf.train.CheckpointManager(tuner.checkpoint, os.path.join(work_dir, layout.RUN_CKPT_DIR), max_to_keep=1)
    os.makedirs(work_dir, exist_ok=True)
    with outputs.atomic_output(os.path.join(work_dir, layout.FINETUNE_REQUEST)) as tmp:
        with open(tmp, "w") as f:
            json.dump(dataclasses.asdict(request), f, indent=1)
    state = tuner.state
    if resume:
        tuner.checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
        log(f"resumed {work_dir} at step {int(state.step.numpy())}")
    if not resume:
        base_error, train_error = tuner.evaluate()
        state.base_error.assign(base_error)
        tuner.keep_if_best(base_error, 0)
        _append_history(work_dir, {"step": 0, "seconds": 0.0, "loss": "", "heldout_deg": round(base_error, 3),
                                   "train_deg": round(train_error, 3)})
    base_error = float(state.base_error.numpy())
    step, spent = int(state.step.numpy()), float(state.seconds.numpy())
    budget = config.minutes * 60.0 if config.minutes else math.inf
    cap = config.steps or math.inf
    log(f"fine-tuning {request.base_model} on frames {list(request.frames)}: {tuner.policy}, "
        f"{int(evaluation['heldout'].sum())} held-out pixels at the working size, base held-out error "
        f"{base_error:.2f}°")
    progress = Progress(1, "finetune", interval=5.0, stream=_LogStream(log))
    start, last_error = time.monotonic(), base_error

    def save():
        state.step.assign(step)
        state.seconds.assign(spent + time.monotonic() - start)
        manager.save(checkpoint_number=step)

    try:
        with callbacks.CtrlC() as ctrl_c:
            while step < cap and spent + time.monotonic() - start < budget:
                loss = float(tuner.train_step(tf.constant(step, tf.int64)).numpy())
                step += 1
                if step % config.eval_every == 0:
                    last_error, train_error = tuner.evaluate()
                    tuner.keep_if_best(last_error, step)
                    _append_history(work_dir, {"step": step, "seconds": round(spent + time.monotonic() - start, 2),
                                               "loss": round(loss, 4), "heldout_deg": round(last_error, 3),
                                               "train_deg": round(train_error, 3)})
                if step % config.checkpoint_every == 0:
                    save()
                elapsed = time.monotonic() - start
                progress.total = progress.done + 1 + _steps_left(step, cap, budget - spent - elapsed, elapsed,
                                                                progress.done + 1)
                progress.update(detail=f"step {step}, loss {loss:.3g}, held-out {last_error:.2f}° (base "
                                       f"{base_error:.2f}°, best {float(state.best_error.numpy()):.2f}° at step "
                                       f"{int(state.best_step.numpy())})")
                if on_step is not None:
                    on_step(step)
                ctrl_c.check()
    except KeyboardInterrupt:
        save()
        log(f"interrupted: saved the fine-tune at step {step} in {work_dir} (--resume continues it)")
        raise
    save()
    final_error, _ = tuner.evaluate()
    generator, best_step, best_error = tuner.final_weights(final_error, step)
    summary = {"base_model": request.base_model, "base_step": base_metadata.get("step"), "frames": list(request.frames),
               "steps": step, "best_step": best_step, "heldout_error_deg": round(best_error, 3),
               "base_heldout_error_deg": round(base_error, 3), "heldout_pixels": int(evaluation["heldout"].sum()),
               "train_minutes": round(float(state.seconds.numpy()) / 60.0, 2), "precision": tuner.policy,
               "passes_trained": ["normals", *tuner.passes], "config": config.to_dict(),
               "references": [f["normals"] for f in request.files]}
    model, summary["fallback"] = tuner.with_fallback(generator, network_inputs)
    if config.fallback and model is generator:
        log("warning: no rehearsal plates to calibrate on: the shot model has no fallback to the base (--rehearsal)")
    info = dict(runs.metadata(base_config, base_metadata.get("step", 0)), finetune=summary)
    serving.export_generator(model, output_dir, info)
    log(f"exported the shot model to {output_dir}: held-out error {best_error:.2f}° (base {base_error:.2f}°), "
        f"best at step {best_step} of {step}")
    return summary


def _steps_left(step, cap, seconds_left, elapsed, done):
    """Steps this session can still take: to the step cap, or at the current rate until the time budget ends."""
    by_time = math.inf if math.isinf(seconds_left) else max(0.0, seconds_left) * done / max(elapsed, 1e-9)
    return int(min(cap - step, by_time))


class _LogStream:
    """A write()/flush() stream whose lines go to a log function (Progress writes to streams)."""

    def __init__(self, log):
        self.log = log

    def write(self, text):
        if text.strip():
            self.log(text.rstrip("\n"))

    def flush(self):
        pass
