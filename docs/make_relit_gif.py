"""Make README's animated GIF: a rendered shot relit from per-frame passes (left) and from the temporal mode's (right).

    python -m data_tools.render_shots --output_dir=shots256 --num_shots=6 --num_frames=16 --resolution=256 --seed=18
    python docs/make_relit_gif.py --shot=shots256/shot00004 --output=docs/temporal_relight.gif

Both halves come from the same per-frame predictions of the shipped model (predict's default fused passes); the
right half blends them as `predict --temporal` does (tfnormals.tools.temporal). Each frame is relit like the
README gallery (a warm key from the upper left over 35% of the plate's own light), so normals that boil show as
light that crawls over still surfaces.
"""

import numpy as np
from absl import flags
from PIL import Image, ImageDraw

from tfnormals.core import cli, outputs, resources, shots, srgb
from tfnormals.tools import fusion, real_checks, relighting, temporal_checks

FLAGS = flags.FLAGS

LABEL_HEIGHT = 18
FRAME_MS = 125  # 8 frames a second


def relit(image, normal_map):
    """A network input (sRGB) relit with the gallery's light, as 8-bit sRGB."""
    light = relighting.relight(srgb.srgb_to_linear(image), normal_map, [real_checks.GALLERY_LIGHT],
                               ambient=real_checks.GALLERY_AMBIENT)
    return np.rint(np.clip(srgb.linear_to_srgb(light), 0.0, 1.0) * 255.0).astype(np.uint8)


def labelled(left, right):
    """The two panels side by side under their captions."""
    h, w = left.shape[:2]
    canvas = Image.new("RGB", (2 * w, h + LABEL_HEIGHT), (0, 0, 0))
    canvas.paste(Image.fromarray(left), (0, LABEL_HEIGHT))
    canvas.paste(Image.fromarray(right), (w, LABEL_HEIGHT))
    draw = ImageDraw.Draw(canvas)
    draw.text((6, 3), "per frame", fill=(255, 255, 255))
    draw.text((w + 6, 3), "temporal", fill=(255, 255, 255))
    return canvas


def define_flags():
    """Command-line flags (only when run as a program)."""
    flags.DEFINE_string("shot", None, "A shot folder of data_tools.render_shots.")
    flags.DEFINE_string("output", "docs/temporal_relight.gif", "The GIF to write.")
    flags.DEFINE_string("model", resources.DEFAULT_MODEL_DIR, "SavedModel folder, training run folder or .onnx file.")
    flags.mark_flag_as_required("shot")


def main(argv):
    del argv
    outputs.check_writable_file(FLAGS.output, "--output")
    from tfnormals.tools.model_io import load_model  # TensorFlow
    images, _ = temporal_checks.shot_frames(shots.read_shot(FLAGS.shot))
    sequences = temporal_checks.predicted_sequences(load_model(FLAGS.model), images, fusion.PassSettings())
    frames = [labelled(relit(image, a["normals"]), relit(image, b["normals"]))
              for image, a, b in zip(images, sequences["per_frame"], sequences["temporal"])]
    palette = frames[len(frames) // 2].quantize(colors=255, method=Image.Quantize.MEDIANCUT)
    frames = [frame.quantize(palette=palette, dither=Image.Dither.NONE) for frame in frames]
    with outputs.atomic_output(FLAGS.output) as temporary:
        frames[0].save(temporary, format="GIF", save_all=True, append_images=frames[1:], duration=FRAME_MS, loop=0,
                       optimize=True)
    cli.emit({"output": FLAGS.output, "frames": len(frames)})


if __name__ == "__main__":
    define_flags()
    cli.run(main, "docs/make_relit_gif.py")
