"""relight: linear-light wrapped Lambert from a normals pass, on an analytic sphere."""

import subprocess
import sys

import numpy as np

from tfnormals.core import colour, image_io, normals
from tfnormals.tools import relight


def sphere(size=64):
    """Analytic camera-space normals of a sphere filling the frame, and its mask."""
    y, x = np.mgrid[0:size, 0:size]
    u = (x + 0.5) / size * 2 - 1
    v = 1 - (y + 0.5) / size * 2  # row 0 is the top: +Y up
    r2 = u * u + v * v
    mask = (r2 < 1).astype(np.float32)
    n = np.stack([u, v, np.sqrt(np.clip(1 - r2, 0, 1))], -1) * mask[..., None]
    return n.astype(np.float32), mask


def test_sphere_lit_from_the_left_gets_brighter_on_its_left():
    n, mask = sphere()
    plate = np.full(n.shape, 0.18, np.float32)
    relit = relight.relight(plate, n, [relight.Light(direction=(-1.0, 0.0, 0.3))], ambient=1.0)
    row = relit[32]
    left, right = row[8:24].mean(), row[40:56].mean()
    assert left > 1.5 * right and right >= plate[32, 40:56].mean() - 1e-6
    lit_only = relight.relight(plate, n, [relight.Light(direction=(-1.0, 0.0, 0.3))], ambient=0.0)
    assert lit_only[32, 60].sum() == 0.0  # the far right faces away from the light: black


def test_wrap_softens_the_terminator_and_mask_keeps_the_plate():
    n, mask = sphere()
    plate = np.full(n.shape, 0.5, np.float32)
    light = relight.Light(direction=(-1.0, 0.0, 0.0))
    hard = relight.shading(n, light)
    soft = relight.shading(n, relight.Light(direction=(-1.0, 0.0, 0.0), wrap=0.5))
    terminator = (np.abs(n[..., 0]) < 0.05) & (mask > 0)
    assert hard[terminator].max() < 0.06 and soft[terminator].min() > 0.25
    masked = relight.relight(plate, n, [light], ambient=0.0, mask=mask)
    np.testing.assert_array_equal(masked[mask == 0], plate[mask == 0])


def test_cli_writes_relit_png_and_exr(tmp_path):
    """The command reads an sRGB plate and an encoded normals PNG; EXR output is linear."""
    n, mask = sphere(48)
    image_io.write_png(str(tmp_path / "plate.png"), np.full(n.shape, 0.5, np.float32))
    image_io.write_png(str(tmp_path / "n.png"), normals.encode(n) * mask[..., None] + (1 - mask[..., None]) * 0.5,
                       bits=16)
    for out in ("relit.png", "relit.exr"):
        subprocess.run([sys.executable, "-m", "tfnormals.relight", f"--plate={tmp_path / 'plate.png'}",
                        f"--normals={tmp_path / 'n.png'}", f"--output={tmp_path / out}", "--light_dir=-1,0,0.2",
                        "--light_intensity=2"], check=True, capture_output=True)
    png = image_io.read_image(str(tmp_path / "relit.png"))
    exr = image_io.read_image(str(tmp_path / "relit.exr"))
    assert png[24, 6].mean() > png[24, 42].mean()
    np.testing.assert_allclose(colour.linear_to_srgb(exr), png, atol=2 / 255)
