"""Constants at the top of a stage script become command-line flags.

A stage script keeps its settings as UPPER_CASE constants and calls::

    args = pipeline.cli.parse(globals(), __doc__)          # or an explicit dict of constants

Every constant ``FOO_BAR`` becomes the flag ``--foo-bar`` (the flag wins) and the attribute
``args.foo_bar``. The type of a flag comes from the constant's default:

=====================  ==============================================================================
default                flag accepts
=====================  ==============================================================================
``bool``               ``true``/``false`` (also yes/no, on/off, 1/0)
``int``, ``float``     a number
``str``                a string; ``Path`` -> a Path
``list``/``tuple``     items after the flag, space- and/or comma-separated (``--datasets a,b`` or
                       ``--datasets a b``); item type from the first default item (``str`` if empty);
                       the flag with no items gives an empty list
``None``               ``none`` -> None; otherwise an int if it reads as one, else a float, else a string.
                       Names ending in ``_DIR``, ``_PATH``, ``_ROOT``, ``_FILE`` stay strings (``--dataset-dir 2024``)
``dict``               JSON (``--opts '{"k": 1}'``)
=====================  ==============================================================================

``types={"NAME": int}`` (any callable taking the flag's text) overrides the inferred type; where the
default is None, ``none`` still gives None.
A trailing ``# comment`` on a constant's line in the calling script becomes its ``--help`` text.

Settings that are not the script's own (those every script of a stage shares, and a task's dataset settings) are
declared once, as :class:`Option` s, and passed as ``options``: each becomes a flag like a constant, its default
the option's unless the script assigns the same name (then the script's value is the default). ``--help`` lists
them in groups.
Names that are not UPPER_CASE, values of other types (modules, functions, classes) and, when ``constants``
holds the script's ``__file__`` (as ``globals()`` does), UPPER_CASE names the script imports rather than
assigns at its top level, are ignored.
"""
from __future__ import annotations

import argparse
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

_CONSTANT = re.compile(r"^[A-Z][A-Z0-9_]*$")
_PATHLIKE_SUFFIXES = ("_DIR", "_PATH", "_ROOT", "_FILE")
_SUPPORTED = (type(None), bool, int, float, str, Path, list, tuple, dict)
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}
_NONE = {"none", "null"}


@dataclass(frozen=True)
class Option:
    """A setting declared once (by a stage or a task) that stage scripts take as the flag ``--name-lowered``.

    ``aliases`` are older spellings of the flag that keep working (``--qa-file`` for ``--dataset-dir``);
    ``meta_key`` is the key under which stored files record the value (a hint that repeats the stored settings
    reads it there; None: ``name.lower()``); ``type`` overrides the type inferred from the default."""
    name: str
    default: Any
    help: str = ""
    type: Callable[[str], Any] | None = None
    aliases: tuple[str, ...] = ()
    meta_key: str | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.lower().replace("_", "-")

    @property
    def key(self) -> str:
        """Where stored meta files record the value."""
        return self.meta_key or self.name.lower()


def parse(constants: Mapping[str, Any], description: str | None = None, argv: Sequence[str] | None = None,
          *, types: Mapping[str, Callable[[str], Any]] | None = None,
          options: Sequence[tuple[str, Sequence[Option]]] = ()) -> argparse.Namespace:
    """Parse ``argv`` (default ``sys.argv[1:]``) into a Namespace holding every UPPER_CASE constant and option,
    lowercased (``MAX_SAMPLES`` -> ``args.max_samples``): the flag's value where given, else the default."""
    parser = build_parser(constants, description, types=types, options=options)
    return parser.parse_args(argv)


def build_parser(constants: Mapping[str, Any], description: str | None = None, *,
                 types: Mapping[str, Callable[[str], Any]] | None = None,
                 options: Sequence[tuple[str, Sequence[Option]]] = ()) -> argparse.ArgumentParser:
    """The ArgumentParser :func:`parse` uses. ``options``: (group title, options) pairs, in the order ``--help``
    lists them; a name the script assigns too takes the script's value as its default."""
    types = dict(types or {})
    declared = {option.name: option for _, group in options for option in group}
    # a constant spelled as an option's older name (CAPTION_FILE for DATASET_DIR) sets that option
    declared.update({alias[2:].upper().replace("-", "_"): option for option in list(declared.values())
                     for alias in option.aliases})
    unknown = set(types) - set(constants) - set(declared)
    if unknown:
        raise ValueError(f"types given for names that are not constants: {sorted(unknown)}")
    assigned, helps = _script_constants(constants.get("__file__"))
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    own = {name: value for name, value in constants.items() if _CONSTANT.match(name) and isinstance(value, _SUPPORTED)
           and (assigned is None or name in assigned)}
    script_group = parser.add_argument_group("this script's settings") if options else parser
    taken = set()
    for name, default in own.items():
        option = declared.get(name, Option(name, default))
        _add(script_group, option, default, types.get(name) or option.type, helps.get(name) or option.help)
        taken.add(option.name)
    for title, group in options:
        shown = [option for option in group if option.name not in taken]
        if not shown:
            continue
        target = parser.add_argument_group(title)
        for option in shown:
            _add(target, option, option.default, types.get(option.name) or option.type, option.help)
    return parser


def _add(parser, option: Option, default: Any, override: Callable[[str], Any] | None, help_text: str) -> None:
    kwargs = _argument(option.name, default, override)
    shown = ",".join(map(str, default)) if isinstance(default, (list, tuple)) else default
    kwargs["help"] = f"{help_text} (default: {shown})".strip().replace("%", "%%")   # argparse formats help with %
    if isinstance(default, (list, tuple, dict)):
        default = type(default)(default) if isinstance(default, dict) else list(default)  # callers may mutate
    parser.add_argument(option.flag, *option.aliases, dest=option.name.lower(), default=default, **kwargs)


def _argument(name: str, default: Any, override: Callable[[str], Any] | None) -> dict:
    if isinstance(default, (list, tuple)):
        item = override or (_scalar_type(name, default[0]) if default else str)
        return {"nargs": "*", "type": str, "action": _ListAction, "metavar": "ITEM", "const": item}
    convert = _none_or(override) if override and default is None else override or _scalar_type(name, default)
    return {"type": convert, "metavar": _metavar(default)}


def _scalar_type(name: str, default: Any) -> Callable[[str], Any]:
    if isinstance(default, bool):
        return parse_bool
    if default is None:
        return _optional_str if name.endswith(_PATHLIKE_SUFFIXES) else parse_auto
    if isinstance(default, dict):
        return _parse_json
    return _named(type(default).__name__, type(default))


def _none_or(convert: Callable[[str], Any]) -> Callable[[str], Any]:
    return _named(getattr(convert, "__name__", "value"),
                  lambda text: None if text.strip().lower() in _NONE else convert(text))


def _metavar(default: Any) -> str:
    if isinstance(default, bool):
        return "true|false"
    return {int: "INT", float: "FLOAT", dict: "JSON"}.get(type(default), "VALUE")


def _named(name: str, convert: Callable[[str], Any]) -> Callable[[str], Any]:
    def wrapped(text: str):
        return convert(text)
    wrapped.__name__ = name  # argparse names the type in its error message
    return wrapped


def parse_bool(text: str) -> bool:
    lowered = str(text).strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def parse_auto(text: str) -> int | float | str | None:
    """'none' -> None, '12' -> 12, '0.5' -> 0.5, anything else stays a string."""
    if text.strip().lower() in _NONE:
        return None
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return text


def _optional_str(text: str) -> str | None:
    return None if text.strip().lower() in _NONE else text


def _parse_json(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"expected JSON, got {text!r} ({error})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {text!r}")
    return value


class _ListAction(argparse.Action):
    """Flattens 'a,b c' into ['a', 'b', 'c'] and converts each item with the type kept in `const`."""

    def __call__(self, parser, namespace, values, option_string=None):
        items = [part for value in values for part in value.split(",") if part.strip()]
        try:
            converted = [self.const(part.strip()) for part in items]
        except (ValueError, argparse.ArgumentTypeError) as error:
            raise argparse.ArgumentError(self, f"bad item in {values!r}: {error}") from None
        setattr(namespace, self.dest, converted)


def _script_constants(script: str | None) -> tuple[set[str] | None, dict[str, str]]:
    """(names assigned at the top level of the calling script, {NAME: trailing comment}); (None, {}) when
    the script's source is not at hand (then every UPPER_CASE name of `constants` is a flag)."""
    if not script or not Path(script).is_file():
        return None, {}
    assignment = re.compile(r"^([A-Z][A-Z0-9_]*)\s*(?::[^=]+)?=(?!=)")
    comment = re.compile(r"^([A-Z][A-Z0-9_]*)\s*(?::[^=]+)?=[^#]*#\s*(.+?)\s*$")
    names, helps = set(), {}
    for line in Path(script).read_text(errors="replace").splitlines():
        match = assignment.match(line)
        if match:
            names.add(match.group(1))
            described = comment.match(line)
            if described:
                helps.setdefault(described.group(1), described.group(2))
    return names, helps
