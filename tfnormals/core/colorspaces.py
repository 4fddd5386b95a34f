"""Colour spaces through OpenColorIO: what a plate's values mean, and the transforms to the spaces
tfnormals computes in.

A plate's colour space is named in the *active* config: `$OCIO` when it is set, else OCIO's
built-in ACES studio config (BUILTIN_CONFIG), which knows `ACEScg`, `ARRI LogC4`, `sRGB Encoded
Rec.709 (sRGB)`, `sRGB - Display` and some fifty others (`--list_colorspaces` prints them).
tfnormals' own spaces are fixed names of the built-in config:

- NETWORK_SPACE, `sRGB Encoded Rec.709 (sRGB)`: the network's display-referred input (clipped to
  [0, 1]); what the training records hold.
- WORKING_SPACE, `Linear Rec.709 (sRGB)`: scene-linear light with Rec.709 primaries; the renderer
  writes it, relight shades in it.

Names tfnormals adds (ALIASES): `linear` = WORKING_SPACE, `srgb` = NETWORK_SPACE, and `auto` =
by file type: float files (EXR, HDR) are `Linear Rec.709 (sRGB)`, 8/10/12/16-bit files (PNG, JPEG,
TIFF, DPX) are `sRGB Encoded Rec.709 (sRGB)`. When $OCIO names another config, a plate space of
that config reaches tfnormals' spaces through the configs' interchange roles
(OCIO's GetProcessorFromConfigs); the aliases always mean the built-in config's spaces.

Every conversion is an OCIO processor except the two between tfnormals' own spaces (sRGB
encoding ↔ Linear Rec.709, both clipping to [0, 1] as display-referred values must): they use
tfnormals.core.srgb, the same IEC 61966-2-1 curve in exact float maths (OCIO's CPU path
approximates pow, ~3e-4 relative near black), so sRGB and linear plates give exactly the network
input the records were made with.
"""

import functools
import os

import numpy as np
import PyOpenColorIO as ocio

from tfnormals.core import errors, image_io, srgb

BUILTIN_CONFIG = "ocio://studio-config-latest"
_OCIO_ERRORS = (ocio.Exception, ocio.ExceptionMissingFile)
NETWORK_SPACE = "sRGB Encoded Rec.709 (sRGB)"
WORKING_SPACE = "Linear Rec.709 (sRGB)"
ALIASES = {"linear": WORKING_SPACE, "srgb": NETWORK_SPACE}
AUTO = "auto"
FLAG_HELP = ("Colour space of the input: any name of the OCIO config ($OCIO, else the built-in ACES studio "
             "config), e.g. ACEScg, 'ARRI LogC4', 'sRGB - Display'; 'linear' (= Linear Rec.709 (sRGB)), 'srgb' "
             "(= sRGB Encoded Rec.709 (sRGB)), or 'auto': EXR/HDR linear, other files sRGB. "
             "--list_colorspaces prints them.")


@functools.lru_cache(maxsize=8)
def _config(uri):
    try:
        return ocio.Config.CreateFromFile(uri)
    except _OCIO_ERRORS as e:
        raise errors.UsageError(f"$OCIO: {uri}: not a usable OpenColorIO config ({errors.one_line(e)})") from None


def active_config_uri():
    """$OCIO when set (a file or an ocio:// URI), else the built-in config."""
    return os.environ.get("OCIO") or BUILTIN_CONFIG


def resolve(name, path=None):
    """(config URI, canonical colour space name) for a flag value; `auto` needs the file's `path`.

    Raises errors.UsageError naming --input_colorspace when the active config has no such space.
    """
    if name == AUTO:
        if path is None:
            return AUTO, AUTO
        return BUILTIN_CONFIG, WORKING_SPACE if image_io.is_float_file(path) else NETWORK_SPACE
    if name in ALIASES:
        return BUILTIN_CONFIG, ALIASES[name]
    uri = active_config_uri()
    space = _config(uri).getColorSpace(name) if name else None
    if space is None:
        raise errors.UsageError(f"--input_colorspace: {name!r} is not a colour space of the OCIO config {uri} "
                                "(--list_colorspaces lists them)")
    return uri, space.getName()


def check(name):
    """Raise errors.UsageError unless `name` is auto, an alias or a colour space of the active config."""
    resolve(name)


def encoding(space):
    """OCIO's encoding of a resolved space (scene-linear, log, sdr-video, data, ...; '' when unset)."""
    uri, name = space
    return _config(uri).getColorSpace(name).getEncoding() if uri != AUTO else ""


@functools.lru_cache(maxsize=32)
def _processor(source, target):
    (src_uri, src_name), (dst_uri, dst_name) = source, target
    try:
        if src_uri == dst_uri:
            processor = _config(src_uri).getProcessor(src_name, dst_name)
        else:
            processor = ocio.Config.GetProcessorFromConfigs(_config(src_uri), src_name, _config(dst_uri), dst_name)
        return processor.getDefaultCPUProcessor()
    except _OCIO_ERRORS as e:
        raise errors.UsageError(f"--input_colorspace: no OCIO transform from {src_name!r} ({src_uri}) to "
                                f"{dst_name!r} ({dst_uri}): {errors.one_line(e)}") from None


# The conversions between tfnormals' own spaces, in exact maths (see the module docstring).
_EXACT = {((BUILTIN_CONFIG, NETWORK_SPACE), (BUILTIN_CONFIG, WORKING_SPACE)): srgb.srgb_to_linear,
          ((BUILTIN_CONFIG, WORKING_SPACE), (BUILTIN_CONFIG, NETWORK_SPACE)): srgb.linear_to_srgb}


def convert(rgb, source, target):
    """An H×W×3 (or N×3) float array from one resolved space (resolve()) to another, as float32."""
    if (source, target) in _EXACT:
        return _EXACT[source, target](rgb).astype(np.float32)
    out = np.array(rgb, dtype=np.float32, order="C", copy=True)
    if source != target:
        _processor(source, target).applyRGB(out.reshape(-1, 3))
    return out


def to_network(rgb, name, path=None):
    """The network's input from RGB in colour space `name` (of file `path`): NETWORK_SPACE clipped to [0, 1]."""
    return np.clip(convert(rgb, resolve(name, path), (BUILTIN_CONFIG, NETWORK_SPACE)), 0.0, 1.0)


def to_working(rgb, name, path=None):
    """Scene-linear RGB in WORKING_SPACE from RGB in colour space `name` (of file `path`)."""
    return convert(rgb, resolve(name, path), (BUILTIN_CONFIG, WORKING_SPACE))


def listing():
    """The text --list_colorspaces prints: one `name<TAB>what it is` line per choice, tfnormals' names first."""
    uri = active_config_uri()
    lines = [f"{AUTO}\tEXR/HDR: {WORKING_SPACE}; other files: {NETWORK_SPACE}"]
    lines += [f"{alias}\t= {space}" for alias, space in ALIASES.items()]
    for space in _config(uri).getColorSpaces():
        lines.append(f"{space.getName()}\t{space.getEncoding() or space.getFamily() or '-'}")
    return "\n".join(lines)


def define_flags(what="input"):
    """--input_colorspace and --list_colorspaces (for the commands that read plates; make_records' --input_colorspace
    comes from tfnormals.data.pairs.PairFormat, beside define_list_flag)."""
    from absl import flags
    flags.DEFINE_string("input_colorspace", AUTO, f"Of the {what}. {FLAG_HELP}")
    define_list_flag()


def define_list_flag():
    """--list_colorspaces: the command prints listing() and exits."""
    from absl import flags
    flags.DEFINE_boolean("list_colorspaces", False, "Print the colour spaces --input_colorspace accepts "
                         f"(config: $OCIO, else {BUILTIN_CONFIG}) and exit.")
