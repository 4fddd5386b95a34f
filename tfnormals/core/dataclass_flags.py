"""absl flags generated from a dataclass's fields, and the field values read back from the parsed flags.

One flag per field, named after it, with the field's default and its metadata's "help":
bool, int, float and str fields by their type (a str field with metadata "choices" is an enum),
tuple fields (annotated `tuple[float, ...]`, `tuple[str, str]`, …) as comma-separated lists of
their element type. A field whose type is itself a dataclass contributes its own fields (flattened:
names stay unique), with the values of the outer field's default (or default_factory) as defaults, so a
config can nest another's settings with defaults of its own. Metadata may also give "flag" (the flag's
name when it differs from the field's) and "aliases" (older names that still parse, e.g. in saved
flagfiles). Defining the flags from the dataclass keeps the two from drifting apart: a new field is a
new flag.
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


def flag_defaults(cls):
    """{field name: default} of every flag field of `cls`; a nested dataclass's fields default to the values of the
    outer field's default (or its default_factory's product) when it has one."""
    defaults = {}
    for f in dataclasses.fields(cls):
        if not dataclasses.is_dataclass(f.type):
            defaults[f.name] = f.default
            continue
        nested = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
        for name, default in flag_defaults(f.type).items():
            defaults[name] = default if nested is None else getattr(nested, name)
    return defaults


def _chosen(cls, only):
    """flag_fields(cls), or those named in `only`; TypeError for a name `cls` has no field of."""
    fields = list(flag_fields(cls))
    if only is None:
        return fields
    unknown = set(only) - {f.name for f in fields}
    if unknown:
        raise TypeError(f"{cls.__name__} has no field(s) {', '.join(sorted(unknown))}")
    return [f for f in fields if f.name in only]


def define(cls, flag_values, *, only=None, defaults=None):
    """Define one flag per field of `cls` (see the module docstring) in `flag_values`: every field, or those named
    in `only`; `defaults` ({field name: value}) overrides the fields' defaults."""
    from absl import flags
    chosen = _chosen(cls, only)
    values = flag_defaults(cls)
    unknown = set(defaults or {}) - {f.name for f in chosen}
    if unknown:
        raise TypeError(f"defaults for fields that are not flags here: {', '.join(sorted(unknown))}")
    values.update(defaults or {})
    for f in chosen:
        name, help_text, default = flag_name(f), f.metadata["help"], values[f.name]
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


def values(cls, flag_values, *, only=None):
    """{field name: value} of every field of `cls` (or those named in `only`) from parsed flags (tuples converted
    to their element type).

    Raises errors.UsageError naming the flag when a list item is not of the field's element type.
    """
    found = {}
    for f in _chosen(cls, only):
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


def flat_values(config):
    """{field name: value} of a dataclass instance, nested dataclasses flattened (as the flags name them)."""
    found = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        found.update(flat_values(value) if dataclasses.is_dataclass(f.type) else {f.name: value})
    return found


def check_choices(config):
    """Raise errors.UsageError naming the flag when a field with "choices" (nested ones too) holds another value."""
    values = flat_values(config)
    for f in flag_fields(type(config)):
        if "choices" in f.metadata and values[f.name] not in f.metadata["choices"]:
            raise errors.UsageError(f"--{flag_name(f)}: must be one of {', '.join(f.metadata['choices'])}, not "
                                    f"{values[f.name]!r}")
