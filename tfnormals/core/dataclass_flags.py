"""absl flags generated from a dataclass's fields, and the field values read back from the parsed flags.

One flag per field, named after it, with the field's default and its metadata's "help":
bool, int, float and str fields by their type (a str field with metadata "choices" is an enum),
tuple fields (annotated `tuple[float, ...]`, `tuple[str, str]`, …) as comma-separated lists of
their element type. A field whose type is itself a dataclass contributes its own fields (flattened:
names stay unique). Metadata may also give "flag" (the flag's name when it differs from the
field's) and "aliases" (older names that still parse, e.g. in saved flagfiles). Defining the
flags from the dataclass keeps the two from drifting apart: a new field is a new flag.
"""

import dataclasses
import typing

from tfnormals.core import errors

SCALAR_TYPES = (bool, int, float, str)


def field(default, help_text, **metadata):
    """A dataclass field with its flag help (and optional "choices", "flag", "aliases" metadata)."""
    if isinstance(default, (list, dict, set)):
        raise TypeError("mutable defaults are not flags; use a tuple")
    return dataclasses.field(default=default, metadata=dict(metadata, help=help_text))


def flag_fields(cls):
    """The dataclass fields of `cls` that are flags, nested dataclasses flattened, in declaration order."""
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(f.type):
            yield from flag_fields(f.type)
        else:
            yield f


def flag_name(f):
    return f.metadata.get("flag", f.name)


def element_type(f):
    """The element type of a tuple field (str when the annotation does not say)."""
    args = [a for a in typing.get_args(f.type) if a is not Ellipsis]
    return args[0] if args else str


def define(cls, flag_values):
    """Define one flag per field of `cls` (see the module docstring) in `flag_values`."""
    from absl import flags
    for f in flag_fields(cls):
        name, help_text, default = flag_name(f), f.metadata["help"], f.default
        if isinstance(default, tuple):
            flags.DEFINE_list(name, [str(v) for v in default], help_text, flag_values=flag_values)
        elif "choices" in f.metadata:
            flags.DEFINE_enum(name, default, list(f.metadata["choices"]), help_text, flag_values=flag_values)
        elif type(default) in SCALAR_TYPES:
            define_scalar = {bool: flags.DEFINE_boolean, int: flags.DEFINE_integer, float: flags.DEFINE_float,
                             str: flags.DEFINE_string}[type(default)]
            define_scalar(name, default, help_text, flag_values=flag_values)
        else:
            raise TypeError(f"{cls.__name__}.{f.name}: a {type(default).__name__} default cannot be a flag")
        for alias in f.metadata.get("aliases", ()):
            flags.DEFINE_alias(alias, name, flag_values=flag_values)


def values(cls, flag_values):
    """{field name: value} of every field of `cls` from parsed flags (tuples converted to their element type).

    Raises errors.UsageError naming the flag when a list item is not of the field's element type.
    """
    found = {}
    for f in flag_fields(cls):
        value = flag_values[flag_name(f)].value
        if isinstance(f.default, tuple):
            convert = element_type(f)
            try:
                value = tuple(convert(item) for item in value)
            except ValueError:
                raise errors.UsageError(f"--{flag_name(f)}: expected comma-separated {convert.__name__} values, "
                                        f"got {','.join(value)!r}") from None
        found[f.name] = value
    return found


def renamed(cls):
    """{old name: field name} of every field's "aliases" (so dicts saved under an old name still load)."""
    return {alias: f.name for f in flag_fields(cls) for alias in f.metadata.get("aliases", ())}
