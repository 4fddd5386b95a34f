"""Training callbacks (tfnormals.training.callbacks) driven by hand on a tiny GAN, without fit().

The global step they read is the generator optimizer's iteration count, set here directly.
"""

import os
import re
import signal

import numpy as np
import pytest
import tensorflow as tf
from helpers import plates, sphere_normal_map
from PIL import Image

from tfnormals.core import image_io, layout, normals, resources
from tfnormals.training import callbacks, loop
from tfnormals.training.config import TrainConfig

TINY = dict(base_filters=4, levels=3, max_filters=8, d_base_filters=4, d_levels=2, crop_size=32, load_size=32)


@pytest.fixture(scope="module")
def gan():
    return loop.build_gan(TrainConfig.from_flat(TINY))


def at_step(gan, step):
    gan.g_optimizer.iterations.assign(step)
    return gan


def nudge(gan, seed):
    """Change the generator's normals head a little, as training would (identical GIF frames get merged)."""
    kernel = gan.generator.get_layer("head_conv").kernel
    kernel.assign(kernel + np.random.default_rng(seed).normal(0.0, 0.2, kernel.shape).astype(np.float32))


def attach(callback, gan):
    callback.set_model(gan)
    return callback


def saved_steps(ckpt_dir):
    return sorted(int(p.rsplit("-", 1)[1].split(".")[0]) for p in os.listdir(ckpt_dir) if p.endswith(".index"))


def test_checkpoint_saver_saves_once_per_step(gan, tmp_path):
    """A checkpoint at each epoch end named by the global step; the train end does not repeat one."""
    ckpt_dir = str(tmp_path / layout.RUN_CKPT_DIR)
    manager = tf.train.CheckpointManager(loop.checkpoint_of(gan), ckpt_dir, max_to_keep=5)
    saver = attach(callbacks.CheckpointSaver(manager), gan)
    at_step(gan, 10)
    saver.on_epoch_end(0)
    saver.on_train_end()  # same step: nothing new
    assert saved_steps(ckpt_dir) == [10]
    at_step(gan, 13)
    saver.on_train_end()  # stopped mid-epoch: saved at the exact step
    assert saved_steps(ckpt_dir) == [10, 13]
    # A resumed run's saver knows the step it restored and does not write it again.
    resumed = attach(callbacks.CheckpointSaver(manager, saved_step=13), gan)
    resumed.on_train_end()
    assert saved_steps(ckpt_dir) == [10, 13]
    # The checkpoint holds the step (the optimizer's iterations).
    reader = tf.train.load_checkpoint(os.path.join(ckpt_dir, "ckpt-13"))
    assert 13 in [reader.get_tensor(k) for k in reader.get_variable_to_shape_map() if "iteration" in k]


def test_progress_logger_reports_step_rate_and_losses(gan):
    lines = []
    logger = attach(callbacks.ProgressLogger(total_steps=40, batch_size=8, interval=3600.0, log=lines.append), gan)
    at_step(gan, 0)
    logger.on_train_begin()
    at_step(gan, 10)
    logger.on_train_batch_end(9, {"g_loss": 1.5, "d_loss": 0.25})
    assert lines == []  # within the interval: quiet
    at_step(gan, 40)
    logger.on_train_batch_end(39, {"g_loss": 1.5, "d_loss": 0.25})  # the last step always reports
    (line,) = lines
    assert line.startswith("step 40/40 (100.0%) ")
    rate, images = re.search(r" ([0-9.]+) steps/s ([0-9.]+) img/s ETA 0.0s ", line).groups()
    assert float(images) == pytest.approx(8 * float(rate), rel=0.01)  # batch_size images per step
    assert "g_loss=1.5" in line and "d_loss=0.25" in line
    chatty = attach(callbacks.ProgressLogger(total_steps=40, batch_size=8, interval=0.0, log=lines.append), gan)
    at_step(gan, 20)
    chatty.on_train_begin()
    at_step(gan, 21)
    chatty.on_train_batch_end(0, {})
    assert lines[-1].startswith("step 21/40 (52.5%) ")


def test_monitor_gif_writes_a_frame_every_n_steps_and_one_gif(gan, tmp_path):
    """Frames are [photo | predicted normals] at the photo's aspect; a second callback (a resumed run) extends
    the same GIF."""
    run_dir = str(tmp_path)
    monitor = attach(callbacks.MonitorGif(run_dir, resources.MONITOR_IMAGE, every=2, size=40), gan)
    for step in range(1, 5):
        nudge(gan, step)
        at_step(gan, step)
        monitor.on_train_batch_end(step - 1)
    frames_dir = os.path.join(run_dir, layout.RUN_MONITOR_DIR)
    assert sorted(os.listdir(frames_dir)) == ["step_00000002.png", "step_00000004.png"]
    frame = image_io.read_image(os.path.join(frames_dir, "step_00000004.png"))  # the generator as it is now
    h, w = monitor.plate.shape[:2]
    assert max(h, w) == 40 and frame.shape == (h, 2 * w, 3)
    with Image.open(resources.MONITOR_IMAGE) as photo:
        assert abs(w / h - photo.width / photo.height) < 0.05
    np.testing.assert_allclose(frame[:, :w], monitor.plate, atol=1 / 255 + 1e-6)
    expected = normals.encode(gan.generator(monitor.plate[None], training=False)["normals"][0].numpy())
    np.testing.assert_allclose(frame[:, w:], expected, atol=1 / 255 + 1e-6)

    at_step(gan, 5)
    monitor.on_train_batch_end(4)  # not a multiple of `every`: no frame
    resumed = attach(callbacks.MonitorGif(run_dir, resources.MONITOR_IMAGE, every=2, size=40), gan)
    nudge(gan, 6)
    at_step(gan, 6)
    resumed.on_train_batch_end(0)
    with Image.open(os.path.join(run_dir, layout.RUN_MONITOR_GIF)) as gif:
        assert gif.format == "GIF" and gif.n_frames == 3 and gif.size == (2 * w, h)


def test_triptychs_show_input_truth_and_prediction_masked(gan, tmp_path):
    size = 32
    n, mask = sphere_normal_map(size)
    batch = {"beauty": tf.constant(plates(2, size, size)), "normals": tf.constant(np.stack([n, n])),
             "mask": tf.constant(np.stack([mask, mask])[..., None])}
    triptychs = attach(callbacks.Triptychs(str(tmp_path), batch), gan)
    at_step(gan, 30)
    triptychs.on_epoch_end(0)
    sheet = image_io.read_image(os.path.join(str(tmp_path), layout.RUN_TRIPTYCHS_DIR, "step_00000030.png"))
    assert sheet.shape == (2 * size, 3 * size, 3)  # a row per image: input | ground truth | prediction
    row = sheet[size:]
    prediction = gan.generator(batch["beauty"], training=False)["normals"][1].numpy()
    tolerance = 1 / 255 + 1e-6
    np.testing.assert_allclose(row[:, :size], batch["beauty"][1].numpy(), atol=tolerance)
    np.testing.assert_allclose(row[:, size:2 * size], normals.encode(n) * mask[..., None], atol=tolerance)
    np.testing.assert_allclose(row[:, 2 * size:], normals.encode(prediction) * mask[..., None], atol=tolerance)
    empty = mask == 0
    assert empty.any() and not row[:, size:2 * size][empty].any() and not row[:, 2 * size:][empty].any()


def test_history_logger_widens_the_header_when_a_resumed_segment_logs_more(tmp_path):
    """A resumed run that turns a loss term on logs a new column: earlier rows get a blank there and every value
    stays under its own name (Keras' CSVLogger put the new segment's values under the old header's names)."""
    from tfnormals.core import charts
    path = str(tmp_path / layout.RUN_HISTORY)
    first = callbacks.HistoryLogger(path)
    first.on_epoch_end(0, {"step": 500, "g_loss": 3.0, "l1": 0.25})
    first.on_epoch_end(1, {"step": 1000, "g_loss": 2.5, "l1": 0.2})
    resumed = callbacks.HistoryLogger(path)  # a new segment: a new process, a new logger on the same file
    resumed.on_epoch_end(0, {"step": 1500, "flip": 0.07, "g_loss": 2.4, "l1": 0.19})
    history = charts.read_history(path)
    assert list(history) == ["epoch", "step", "g_loss", "l1", "flip"]
    assert history["step"] == [500, 1000, 1500] and history["l1"] == [0.25, 0.2, 0.19]
    assert history["g_loss"] == [3.0, 2.5, 2.4]
    assert np.isnan(history["flip"][0]) and np.isnan(history["flip"][1]) and history["flip"][2] == 0.07
    assert os.listdir(tmp_path) == [layout.RUN_HISTORY]  # no temporary left beside it
    assert (tmp_path / layout.RUN_HISTORY).read_text().splitlines()[3].startswith("0,1500,")  # steps stay integers


@pytest.fixture
def python_ctrl_c():
    """SIGINT handled as Python does by default (a test run under nohup would have it ignored)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


class _TeardownThatIsInterrupted:
    """An object whose __del__ receives the Ctrl-C, as TensorFlow's iterator and tensor teardown code can."""

    def __del__(self):
        os.kill(os.getpid(), signal.SIGINT)
        sum(range(1000))  # Python bytecode after the signal: where the pending KeyboardInterrupt is raised


def test_ctrl_c_landing_in_teardown_code_is_raised_at_the_next_step_not_lost(python_ctrl_c):
    _TeardownThatIsInterrupted()  # without CtrlC Python prints "Exception ignored" and goes on
    with callbacks.CtrlC() as ctrl_c:
        _TeardownThatIsInterrupted()
        with pytest.raises(KeyboardInterrupt):
            ctrl_c.on_train_batch_end(0)
        ctrl_c.check()  # raised once
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_second_ctrl_c_raises_at_once(python_ctrl_c):
    with callbacks.CtrlC():
        os.kill(os.getpid(), signal.SIGINT)
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            sum(range(1000))


def test_a_run_that_ignores_ctrl_c_keeps_ignoring_it():
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with callbacks.CtrlC() as ctrl_c:
            os.kill(os.getpid(), signal.SIGINT)
            ctrl_c.check()
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)
