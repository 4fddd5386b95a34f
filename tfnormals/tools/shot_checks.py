"""Measure a model on rendered shots (data_tools.render_shots) and on the motorcycle split in halves: what
fine-tuning on a shot (tfnormals.finetune) is judged by.

Every frame is predicted as predict predicts it (tools.fusion's default mode at the model's working size) and
compared with the shot's true normals over its surface pixels (mask ≥ 0.5): mean angular error in degrees.
FallbackProbe reads a shot model's fallback decisions back: how much of each image the shot network answers.
"""

import json
import os

import numpy as np
import tensorflow as tf

from tfnormals.core import conventions, image_io, layout, normals
from tfnormals.model import shot_gate
from tfnormals.tools import fusion, prediction, real_checks
from tfnormals.training import runs


def shot_frames(shot_dir):
    """The frame numbers of a rendered shot (its shot.json)."""
    with open(os.path.join(shot_dir, layout.SHOT_JSON)) as f:
        return [entry["frame"] for entry in json.load(f)["frames"]]


def frame_truth(shot_dir, frame):
    """(network input plate, true normals, surface mask) of one frame of a rendered shot."""
    path = os.path.join(shot_dir, layout.frame_file(layout.BEAUTY_EXR, frame))
    plate = prediction.network_input(image_io.read_image(path), path)
    truth = image_io.read_image(os.path.join(shot_dir, layout.frame_file(layout.NORMALS_EXR, frame)))[..., :3]
    mask = image_io.read_image(os.path.join(shot_dir, layout.frame_file(layout.MASK_PNG, frame)))[..., 0]
    return plate, truth, mask >= conventions.MASK_THRESHOLD


def predict_normals(model, plate, settings=fusion.PassSettings()):
    """predict's normals of a network-input plate (its default mode unless `settings` say otherwise)."""
    return settings.passes(model, plate)["normals"]


def shot_errors(model, shot_dir, frames=None):
    """{frame: mean angular error in degrees over the frame's surface pixels} of a model on a rendered shot."""
    result = {}
    for frame in frames or shot_frames(shot_dir):
        plate, truth, mask = frame_truth(shot_dir, frame)
        result[frame] = float(normals.angular_error_deg(predict_normals(model, plate), truth)[mask].mean())
    return result


def motorcycle_halves(truth=None):
    """The motorcycle's ground truth (real_checks.motorcycle_truth) with its mask split at the image's middle
    column: (truth, left-half mask, right-half mask)."""
    truth = truth or real_checks.motorcycle_truth()
    columns = np.arange(truth["mask"].shape[1])[None, :]
    middle = truth["mask"].shape[1] // 2
    return truth, truth["mask"] & (columns < middle), truth["mask"] & (columns >= middle)


def masked_error(model, plate, truth, mask):
    """Mean angular error in degrees of predict's normals over `mask`."""
    return float(normals.angular_error_deg(predict_normals(model, plate), truth)[mask].mean())


def write_motorcycle_references(folder, truth=None):
    """The motorcycle as a one-frame shot for tfnormals.finetune: folder/plate.0001.png (the photo) and
    folder/reference.0001.exr (its true normals, alpha 1 on the left half's ground truth only). Returns the
    plate and reference frame patterns."""
    truth, left, _ = motorcycle_halves(truth)
    os.makedirs(folder, exist_ok=True)
    plate, reference = os.path.join(folder, "plate.####.png"), os.path.join(folder, "reference.####.exr")
    image_io.write_png(plate.replace("####", "0001"), truth["plate"])
    image_io.write_rgb_exr(reference.replace("####", "0001"), truth["normals"] * left[..., None],
                           alpha=left.astype(np.float32))
    return plate, reference


class FallbackProbe:
    """A shot model's fallback decisions (model.shot_gate), read back from its SavedModel (the bank) and metadata
    (near, far): how much of each image predict feeds its network the shot network answers."""

    def __init__(self, model_dir):
        network, config, info = runs.load_model_generator(model_dir)
        self.near, self.far = info["finetune"]["fallback"]["near"], info["finetune"]["fallback"]["far"]
        loaded = tf.saved_model.load(model_dir)
        self.bank = [tf.constant(v.numpy()) for v in loaded.signatures["serving_default"].variables
                     if v.name.startswith(f"{shot_gate.FALLBACK_SCOPE}/bank")][0]
        self.with_features = shot_gate.with_features(network)
        self.working_size = config.working_size

    def weights(self, plate):
        """The shot weight of every image predict feeds the network for a network-input plate, in the order fed (1:
        the shot network alone, 0: the base alone); one network pass per image."""
        found = []

        def predict(images):
            passes, features = self.with_features(images, training=False)
            found.extend(shot_gate.image_weights(features, self.bank, self.near, self.far).numpy())
            return {name: value.numpy() for name, value in passes.items()}

        fusion.predict_plate(predict, plate, working_size=self.working_size)
        return np.array(found)
