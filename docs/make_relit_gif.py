r"""Make README's animated GIFs: a rendered shot relit from per-frame passes (left) and from the temporal mode's
(right), or from any of the temporal checks' methods side by side.

    python -m data_tools.render_shots --output_dir=shots256 --num_shots=6 --num_frames=16 --resolution=256 --seed=18
    python docs/make_relit_gif.py --shot=shots256/shot00004 --output=docs/temporal_relight.gif
    python -m data_tools.render_shots --output_dir=shots24/shots256 --num_shots=6 --num_frames=16 --resolution=256 \
        --seed=24
    python docs/make_relit_gif.py --shot=shots24/shots256/shot00000 --output=docs/matchmove_mattes.gif \
        --methods=temporal_matchmove,temporal_matchmove_mattes

Every panel comes from the same per-frame predictions of the shipped model (predict's default fused passes),
blended as `predict --temporal` does (tfnormals.tools.temporal; with the shot's recorded cameras as --matchmove, and
mattes of its moving objects as --matchmove_mattes: temporal_checks.moving_mattes). Each frame is relit like the
README gallery (a warm key from the upper left over 35% of the plate's own light), so normals that boil show as
light that crawls over still surfaces.
"""

import numpy as np
from absl import flags
from PIL import Image, ImageDraw

from tfnormals.core import cli, errors, outputs, resources, shots, srgb
from tfnormals.tools import fusion, real_checks, relighting, temporal_checks

FLAGS = flags.FLAGS

LABEL_HEIGHT = 18
FRAME_MS = 125  # 8 frames a second


def relit(image, normal_map):
    """A network input (sRGB) relit with the gallery's light, as 8-bit sRGB."""
    light = relighting.relight(srgb.srgb_to_linear(image), normal_map, [real_checks.GALLERY_LIGHT],
                               ambient=real_checks.GALLERY_AMBIENT)
    return np.rint(np.clip(srgb.linear_to_srgb(light), 0.0, 1.0) * 255.0).astype(np.uint8)


def labelled(panels, captions):
    """The panels side by side under their captions."""
    h, w = panels[0].shape[:2]
    canvas = Image.new("RGB", (len(panels) * w, h + LABEL_HEIGHT), (0, 0, 0))
    draw = ImageDraw.Draw(canvas)
    for k, (panel, caption) in enumerate(zip(panels, captions)):
        canvas.paste(Image.fromarray(panel), (k * w, LABEL_HEIGHT))
        draw.text((k * w + 6, 3), caption, fill=(255, 255, 255))
    return canvas


def define_flags():
    """Command-line flags (only when run as a program)."""
    flags.DEFINE_string("shot", None, "A shot folder of data_tools.render_shots.")
    flags.DEFINE_string("output", "docs/temporal_relight.gif", "The GIF to write.")
    flags.DEFINE_string("model", resources.DEFAULT_MODEL_DIR, "SavedModel folder, training run folder or .onnx file.")
    flags.DEFINE_list("methods", ["per_frame", "temporal"], "Panels, left to right: "
                      f"{', '.join(temporal_checks.METHOD_NAMES)} (the last two need the shot's cameras, the last its "
                      "moving objects).")
    flags.mark_flag_as_required("shot")


def main(argv):
    del argv
    outputs.check_writable_file(FLAGS.output, "--output")
    from tfnormals.tools.model_io import load_model  # TensorFlow
    unknown = [m for m in FLAGS.methods if m not in temporal_checks.METHOD_NAMES]
    if unknown:
        raise errors.UsageError(f"--methods: {', '.join(unknown)}: not one of "
                                f"{', '.join(temporal_checks.METHOD_NAMES)}")
    shot = shots.read_shot(FLAGS.shot)
    images, _ = temporal_checks.shot_frames(shot)
    cameras = ([shot.camera(frame) for frame in shot.frames]
               if {temporal_checks.MATCHMOVE, temporal_checks.MATTES} & set(FLAGS.methods) else None)
    mattes = temporal_checks.moving_mattes(shot) if temporal_checks.MATTES in FLAGS.methods else None
    sequences = temporal_checks.predicted_sequences(load_model(FLAGS.model), images, fusion.PassSettings(),
                                                    cameras=cameras, mattes=mattes)
    captions = [temporal_checks.METHOD_NAMES[m].replace("-", " ") for m in FLAGS.methods]
    frames = [labelled([relit(image, sequences[m][k]["normals"]) for m in FLAGS.methods], captions)
              for k, image in enumerate(images)]
    palette = frames[len(frames) // 2].quantize(colors=255, method=Image.Quantize.MEDIANCUT)
    frames = [frame.quantize(palette=palette, dither=Image.Dither.NONE) for frame in frames]
    with outputs.atomic_output(FLAGS.output) as temporary:
        frames[0].save(temporary, format="GIF", save_all=True, append_images=frames[1:], duration=FRAME_MS, loop=0,
                       optimize=True)
    cli.emit({"output": FLAGS.output, "frames": len(frames)})


if __name__ == "__main__":
    define_flags()
    cli.run(main, "docs/make_relit_gif.py")
