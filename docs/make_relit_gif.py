"""Make README's animated GIF: a rendered shot relit from per-frame passes (left) and from the temporal mode's (right).

    python -m data_tools.render_shots --output_dir=shots256 --num_shots=6 --num_frames=16 --resolution=256 --seed=18
    python docs/make_relit_gif.py --shot=shots256/shot00004 --output=docs/temporal_relight.gif

Both halves come from the same per-frame predictions of the shipped model (predict's default fused passes); the
right half blends them as `predict --temporal` does (tfnormals.tools.temporal). Each frame is relit like the
README gallery (a warm key from the upper left over 35% of the plate's own light), so normals that boil show as
light that crawls over still surfaces.
"""

import argparse

import numpy as np
from PIL import Image, ImageDraw

from tfnormals.core import colour, resources, shots
from tfnormals.tools import fusion, real_checks, relight, temporal_checks
from tfnormals.tools.model_io import load_model

LABEL_HEIGHT = 18
FRAME_MS = 125  # 8 frames a second


def relit(image, normal_map):
    """A network input (sRGB) relit with the gallery's light, as 8-bit sRGB."""
    light = relight.relight(colour.srgb_to_linear(image), normal_map, [real_checks.GALLERY_LIGHT],
                            ambient=real_checks.GALLERY_AMBIENT)
    return np.rint(np.clip(colour.linear_to_srgb(light), 0.0, 1.0) * 255.0).astype(np.uint8)


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


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shot", required=True, help="A shot folder of data_tools.render_shots.")
    parser.add_argument("--output", default="docs/temporal_relight.gif")
    parser.add_argument("--model", default=resources.DEFAULT_MODEL_DIR)
    args = parser.parse_args()
    images, _ = temporal_checks.shot_frames(shots.read_shot(args.shot))
    sequences = temporal_checks.predicted_sequences(load_model(args.model), images, fusion.PassSettings())
    frames = [labelled(relit(image, a["normals"]), relit(image, b["normals"]))
              for image, a, b in zip(images, sequences["per_frame"], sequences["temporal"])]
    palette = frames[len(frames) // 2].quantize(colors=255, method=Image.Quantize.MEDIANCUT)
    frames = [frame.quantize(palette=palette, dither=Image.Dither.NONE) for frame in frames]
    frames[0].save(args.output, save_all=True, append_images=frames[1:], duration=FRAME_MS, loop=0, optimize=True)
    print(args.output)


if __name__ == "__main__":
    main()
