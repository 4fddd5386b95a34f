"""Resume checks: is an output already on disk the finished work of this request?

A re-run skips work only when its outputs are there, readable in full (a crash of a file server can
leave a truncated file under its final name), and, for files stamped by `stamp()`, made from the same
source with the same settings. Outputs made from another source or with other settings are neither
taken as done nor silently replaced: that is an errors.Failure naming the file and what differs.
"""

import json
import os

from tfnormals.core import errors, image_io

SOURCE_ATTRIBUTE = "tfnormalsSource"      # EXR header: the input file's name the output was made from
SETTINGS_ATTRIBUTE = "tfnormalsSettings"  # EXR header: JSON {flag: value} of the settings it was made with


def file_state(path):
    """'size:modification time (ns)' of a file: an input whose state changed since a run began is another input."""
    stat = os.stat(path)
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def stamp(source, settings=None):
    """Header attributes (image_io.write_exr's `attributes`) recording an output's source and settings."""
    if settings is None:
        return {SOURCE_ATTRIBUTE: source}
    return {SOURCE_ATTRIBUTE: source, SETTINGS_ATTRIBUTE: json.dumps(settings, sort_keys=True)}


def _stamped(path):
    """(source, settings) stamped in an image's header, None for what it does not record; ImageError when the
    header cannot be read."""
    header = image_io.exr_header(path)
    settings = header.get(SETTINGS_ATTRIBUTE)
    try:
        settings = json.loads(settings) if settings is not None else None
    except ValueError:
        settings = {}  # a damaged stamp matches no settings
    return header.get(SOURCE_ATTRIBUTE), settings


def differing(stamped, settings):
    """The names whose values differ between two settings dicts (a name only one of them has differs too)."""
    settings = json.loads(json.dumps(settings))  # as it reads back from a stamp
    return sorted(k for k in set(stamped) | set(settings) if stamped.get(k, None) != settings.get(k, None))


def finished(paths, source, settings, remedy):
    """True when every file of `paths` exists and reads in full, and each stamped one was made from `source`
    with `settings`; False when any is missing or unreadable (it must be made again).

    Raises errors.Failure, naming the file, when one of them was made from another source or with other
    settings (`remedy` ends the message: what the user can do).
    """
    present = [p for p in paths if os.path.isfile(p)]
    for path in present:
        try:
            stamped_source, stamped_settings = _stamped(path)
        except image_io.ImageError:
            continue  # unreadable: made again below
        if stamped_source is not None and stamped_source != source:
            raise errors.Failure(f"{path} was made from {stamped_source}, not {source}; {remedy}")
        changed = differing(stamped_settings, settings) if stamped_settings is not None else []
        if changed:
            raise errors.Failure(f"{path} was made with other settings ({', '.join(changed)}); {remedy}")
    return len(present) == len(paths) and readable(paths)


def readable(paths):
    """True when every image of `paths` exists and decodes in full (image_io.check_readable): a file truncated on
    disk under its final name is not finished work."""
    try:
        for path in paths:
            image_io.check_readable(path)
    except image_io.ImageError:
        return False
    return True
