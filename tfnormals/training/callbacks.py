"""Training callbacks: checkpoints, progress lines, the curves chart, the monitor-image GIF and validation triptychs."""

import csv
import glob
import os
import signal
import threading
import time

import keras
import numpy as np
import tensorflow as tf
from PIL import Image

from tfnormals.core import charts, conventions, image_io, layout, normals, outputs
from tfnormals.core.progress import format_duration


def global_step(model):
    return int(model.g_optimizer.iterations.numpy())


class CtrlC(keras.callbacks.Callback):
    """Ctrl-C raises KeyboardInterrupt between steps, never inside TensorFlow's teardown code (a `__del__`, where
    Python prints "Exception ignored" and the run goes on); a second Ctrl-C raises at once. Use it as a context
    manager around the loop; a process that ignores SIGINT (nohup ... &) keeps ignoring it."""

    def __init__(self):
        super().__init__()
        self.requested = False
        self._previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread() and \
                signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self._previous = signal.signal(signal.SIGINT, self._on_signal)
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    def _on_signal(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def check(self, *args, **kwargs):
        """Raise the pending Ctrl-C, if any (the Keras hooks below call it after every step)."""
        if self.requested:
            self.requested = False
            raise KeyboardInterrupt

    on_train_batch_end = on_test_batch_end = on_epoch_end = check


class CheckpointSaver(keras.callbacks.Callback):
    """Save a tf.train.CheckpointManager checkpoint at every epoch end and when training stops."""

    def __init__(self, manager, saved_step=None):
        super().__init__()
        self.manager = manager
        self.saved_step = saved_step

    def save(self):
        step = global_step(self.model)
        if step != self.saved_step:
            self.manager.save(checkpoint_number=step)
            self.saved_step = step

    def on_epoch_end(self, epoch, logs=None):
        self.save()

    def on_train_end(self, logs=None):
        self.save()


class ProgressLogger(keras.callbacks.Callback):
    """Log step, rate, ETA and the running losses every `interval` seconds."""

    def __init__(self, total_steps, batch_size, interval=30.0, log=print):
        super().__init__()
        self.total_steps, self.batch_size, self.interval, self.log = total_steps, batch_size, interval, log

    def on_train_begin(self, logs=None):
        self.start_time, self.start_step = time.monotonic(), global_step(self.model)
        self.last = self.start_time

    def on_train_batch_end(self, batch, logs=None):
        now = time.monotonic()
        step = global_step(self.model)
        if now - self.last < self.interval and step < self.total_steps:
            return
        self.last = now
        rate = (step - self.start_step) / max(now - self.start_time, 1e-9)
        eta = format_duration((self.total_steps - step) / rate) if rate > 0 else "?"
        losses = " ".join(f"{k}={float(v):.4g}" for k, v in (logs or {}).items())
        self.log(f"step {step}/{self.total_steps} ({100.0 * step / self.total_steps:.1f}%) "
                 f"{rate:.2f} steps/s {rate * self.batch_size:.1f} img/s ETA {eta} {losses}")


class TimeBudget(keras.callbacks.Callback):
    """Stop training (the checkpoint saver then saves) once `minutes` of wall-clock have passed.

    Compares settings under equal wall-clock budgets, and lets a long run fit a session.
    """

    def __init__(self, minutes):
        super().__init__()
        self.seconds = 60.0 * minutes

    def on_train_begin(self, logs=None):
        self.start = time.monotonic()

    def on_train_batch_end(self, batch, logs=None):
        if time.monotonic() - self.start >= self.seconds:
            self.model.stop_training = True


class HistoryLogger(keras.callbacks.Callback):
    """Append each epoch's logs as a row of <run>/history.csv, one column per metric.

    A resumed segment may log metrics the earlier ones did not (a loss term turned on): the file is then
    rewritten with the wider header, earlier rows left blank there, so no row's values land under another
    column's name (Keras' CSVLogger writes them under the first segment's header).
    """

    def __init__(self, path):
        super().__init__()
        self.path = path

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch, **{k: v if isinstance(v, int) else float(v) for k, v in (logs or {}).items()}}
        rows = []
        if os.path.exists(self.path):
            with open(self.path, newline="") as f:
                rows = list(csv.DictReader(f))
        header = list(rows[0].keys()) if rows else []
        header += [k for k in row if k not in header]
        with outputs.atomic_output(self.path) as tmp:
            with open(tmp, "w", newline="") as f:
                writer = csv.DictWriter(f, header, restval="")
                writer.writeheader()
                writer.writerows(rows + [row])


class CurvesChart(keras.callbacks.Callback):
    """Redraw <run>/curves.png from history.csv at every epoch end (put it after the HistoryLogger).

    The whole history is drawn, so a resumed run's chart continues the earlier segments.
    """

    def __init__(self, run_dir):
        super().__init__()
        self.history_path = os.path.join(run_dir, layout.RUN_HISTORY)
        self.chart_path = os.path.join(run_dir, layout.RUN_CURVES)

    def on_epoch_end(self, epoch, logs=None):
        if os.path.exists(self.history_path):
            with image_io.atomic_output(self.chart_path) as tmp:
                charts.run_curves(charts.read_history(self.history_path)).save(tmp, format="PNG")


def prediction_panel(plate, prediction):
    """[plate | predicted normals] side by side as a float image in [0, 1]."""
    return np.concatenate([plate, normals.encode(prediction)], axis=1)


class MonitorGif(keras.callbacks.Callback):
    """Predict a real photo every `every` steps; keep each frame and an animated GIF of all of them.

    Frames are PNGs in <run>/monitor/, so a resumed run extends the same GIF; each frame is
    also written to TensorBoard as an image summary.
    """

    def __init__(self, run_dir, image_path, every, size, writer=None):
        super().__init__()
        self.every = every
        self.frames_dir = os.path.join(run_dir, layout.RUN_MONITOR_DIR)
        self.gif_path = os.path.join(run_dir, layout.RUN_MONITOR_GIF)
        self.writer = writer
        plate = image_io.to_rgb(image_io.read_image(image_path))
        scale = size / max(plate.shape[:2])
        h, w = max(1, round(plate.shape[0] * scale)), max(1, round(plate.shape[1] * scale))
        self.plate = np.asarray(Image.fromarray(image_io.quantize(plate, 8)).resize((w, h), Image.LANCZOS),
                                np.float32) / 255.0

    def on_train_batch_end(self, batch, logs=None):
        step = global_step(self.model)
        if self.every and step % self.every == 0:
            self.write_frame(step)

    def write_frame(self, step):
        prediction = self.model.generator(self.plate[None], training=False)["normals"][0].numpy()
        panel = prediction_panel(self.plate, prediction)
        image_io.write_png(os.path.join(self.frames_dir, f"step_{step:08d}.png"), panel)
        if self.writer is not None:
            with self.writer.as_default():
                tf.summary.image("monitor", panel[None], step=step)
        self.write_gif()

    def write_gif(self):
        frames = [Image.open(p).convert("RGB") for p in sorted(glob.glob(os.path.join(self.frames_dir, "step_*.png")))]
        if frames:
            with image_io.atomic_output(self.gif_path) as tmp:
                frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:], duration=250, loop=0)


def triptych(plate, target, prediction, mask):
    """[input | ground truth | prediction] with the pixels that are not surface (as metrics count) shown black."""
    m = (mask >= conventions.MASK_THRESHOLD).astype(np.float32)
    return np.concatenate([plate, normals.encode(target) * m, normals.encode(prediction) * m], axis=1)


class FamilyValidation(keras.callbacks.Callback):
    """At each epoch end, the mean angular error per scene family and on floor pixels of fixed validation images.

    Adds `val_family_<family>` and `val_floor_deg` to the epoch's logs (put it before the HistoryLogger), so the
    history and its chart show whether a change of the data mix helps the family it targets.
    """

    def __init__(self, examples, batch_size=8):
        super().__init__()
        self.examples = examples  # {'beauty', 'normals', 'mask': [N, H, W, C] arrays, 'family': [N] names}
        self.batch_size = batch_size

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        beauty = self.examples["beauty"]
        prediction = np.concatenate([self.model.generator(beauty[i:i + self.batch_size], training=False)["normals"]
                                     for i in range(0, len(beauty), self.batch_size)])
        error = normals.angular_error_deg(prediction, self.examples["normals"])
        valid = self.examples["mask"][..., 0] >= conventions.MASK_THRESHOLD
        families = np.asarray(self.examples["family"])
        for family in sorted(set(families)):
            where = valid & (families == family)[:, None, None]
            logs[charts.FAMILY_PREFIX + family] = float(error[where].mean()) if where.any() else float("nan")
        floor = valid & (self.examples["normals"][..., 1] > conventions.FLOOR_MIN_Y)
        logs["val_floor_deg"] = float(error[floor].mean()) if floor.any() else float("nan")


class Triptychs(keras.callbacks.Callback):
    """At each epoch end, save input | ground truth | prediction rows for a fixed validation batch."""

    def __init__(self, run_dir, batch, writer=None):
        super().__init__()
        self.out_dir = os.path.join(run_dir, layout.RUN_TRIPTYCHS_DIR)
        self.batch = batch
        self.writer = writer

    def on_epoch_end(self, epoch, logs=None):
        step = global_step(self.model)
        prediction = self.model.generator(self.batch["beauty"], training=False)["normals"].numpy()
        rows = [triptych(self.batch["beauty"][i].numpy(), self.batch["normals"][i].numpy(), prediction[i],
                         self.batch["mask"][i].numpy()) for i in range(len(prediction))]
        sheet = np.concatenate(rows, axis=0)
        image_io.write_png(os.path.join(self.out_dir, f"step_{step:08d}.png"), sheet)
        if self.writer is not None:
            with self.writer.as_default():
                tf.summary.image("val_triptychs", sheet[None], step=step)
