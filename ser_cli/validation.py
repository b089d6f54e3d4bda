"""Type- and range-checking of settings dataclasses, driven by each field's annotation.

Every settings dataclass (RunConfig, TrainConfig, AugmentConfig, FeatureConfig) calls
:func:`check_fields` from ``__post_init__``, so a value is checked wherever it comes from: a
YAML file, a ``--set`` override or a checkpoint sidecar. Values are coerced where the meaning is
unambiguous (YAML reads ``1e-3`` as the text '1e-3': it becomes the float 0.001; ``2.0`` for an
integer field becomes 2) and refused otherwise, with one line naming the key, the expected type
and the value. Range rules live beside each dataclass as a ``RULES`` class attribute.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import typing
from collections.abc import Callable
from typing import Any

from ser_cli.errors import ConfigError

# A range rule: the (already coerced) value -> a complaint such as "must be at least 2", or None.
Rule = Callable[[Any], "str | None"]


def at_least(low: float) -> Rule:
    return lambda v: None if v >= low else f"must be at least {low:g}"


def between(low: float, high: float) -> Rule:
    """An upper bound too: a seed torch accepts, bands that fit the FFT, memory that fits."""

    def rule(v):
        if v < low:
            return f"must be at least {_number(low)}"
        return None if v <= high else f"must be at most {_number(high)}"

    return rule


def _number(x: float) -> str:
    return f"{x:,}" if isinstance(x, int) else f"{x:g}"


def positive(value) -> str | None:
    return None if value > 0 else "must be greater than 0"


def fraction(value) -> str | None:
    return None if 0 <= value <= 1 else "must be between 0 and 1"


def one_of(*choices: str) -> Rule:
    return lambda v: None if v in choices else f"must be one of {', '.join(choices)}"


def ordered_pair(inner: Rule | None = None) -> Rule:
    """A (low, high) pair with low <= high, each item checked by ``inner``."""

    def rule(value):
        for item in value:
            complaint = inner(item) if inner else None
            if complaint:
                return f"items {complaint}"
        return None if value[0] <= value[1] else "must be (low, high) with low <= high"

    return rule


@functools.cache
def _hints(cls) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def describe(annotation) -> str:
    """'an integer', 'a number', ... for error messages."""
    origin = typing.get_origin(annotation)
    if origin is tuple:
        args = typing.get_args(annotation)
        return f"a list of {len(args)} numbers" if args and args[-1] is not Ellipsis else "a list"
    if dataclasses.is_dataclass(annotation) or annotation is dict or origin is dict:
        return "a mapping (key: value lines)"
    return {
        bool: "true or false",
        int: "an integer",
        float: "a number",
        str: "text",
    }.get(annotation, getattr(annotation, "__name__", str(annotation)))


def coerce(value, annotation, key: str, error=ConfigError):
    """``value`` as ``annotation`` (bool, int, float, str, tuple[...], dict, a dataclass).

    Raises ``error`` (one line: key, expected type, value) when it cannot be read as one.
    """

    def refuse():
        return error(f"{key}: expected {describe(annotation)}, got {_show(value)}.")

    origin = typing.get_origin(annotation)
    if annotation is bool:
        if isinstance(value, bool):
            return value
        raise refuse()
    if annotation is int:
        if isinstance(value, bool):
            raise refuse()
        if isinstance(value, int):
            return value
        number = _as_float(value)
        if number is not None and math.isfinite(number) and number.is_integer():
            return int(number)
        raise refuse()
    if annotation is float:
        if isinstance(value, bool):
            raise refuse()
        number = _as_float(value)
        if number is None or not math.isfinite(number):
            raise refuse()
        return number
    if annotation is str:
        if isinstance(value, str):
            return value
        raise refuse()
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise refuse()
        args = typing.get_args(annotation)
        if args and args[-1] is Ellipsis:
            return tuple(coerce(v, args[0], key, error) for v in value)
        if len(value) != len(args):
            raise refuse()
        return tuple(coerce(v, a, key, error) for v, a in zip(value, args, strict=True))
    if annotation is dict or origin is dict:
        if isinstance(value, dict):
            return value
        raise refuse()
    if dataclasses.is_dataclass(annotation):
        if isinstance(value, annotation):
            return value
        raise refuse()
    return value  # an annotation these rules do not cover: accepted as given


def check_value(cls, name: str, value, key: str, error=ConfigError):
    """One field of ``cls`` checked on its own: coerced to its type, then its range rule."""
    value = coerce(value, _hints(cls)[name], key, error)
    rule = getattr(cls, "RULES", {}).get(name)
    complaint = rule(value) if rule is not None else None
    if complaint:
        raise error(f"{key}: {complaint}, got {_show(value)}.")
    return value


def check_fields(obj, where: str) -> None:
    """Coerce and range-check every field of a frozen dataclass instance, in place."""
    for f in dataclasses.fields(obj):
        key = f"{where}.{f.name}" if where else f.name
        value = check_value(type(obj), f.name, getattr(obj, f.name), key)
        object.__setattr__(obj, f.name, value)


def field_type(cls, name: str):
    """The resolved annotation of ``cls.name``, or None when ``cls`` has no such field."""
    if name not in {f.name for f in dataclasses.fields(cls)}:
        return None
    return _hints(cls)[name]


def _as_float(value) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


SHOWN_CHARS = 40  # longest value quoted in an error: a few dozen characters, never a dump


def _show(value) -> str:
    """``value`` for an error line, cut to SHOWN_CHARS (reprlib never builds the whole text)."""
    import reprlib

    if value is None:
        return "nothing (null)"
    if isinstance(value, dict):
        return "a mapping"
    short = _short_repr(reprlib.Repr(), SHOWN_CHARS)
    if isinstance(value, str):
        text = "'" + short.repr(value)[1:-1] + "'"
    elif isinstance(value, (list, tuple)):
        text = f"a list {short.repr(list(value))}"
    else:
        text = short.repr(value)
    return text if len(text) <= SHOWN_CHARS + 10 else text[: SHOWN_CHARS + 7] + "..."


def _short_repr(short, chars: int):
    """A reprlib.Repr that cuts strings, numbers and containers to about ``chars``."""
    short.maxstring = short.maxlong = short.maxother = chars
    short.maxlist = short.maxtuple = short.maxdict = short.maxset = 6
    return short
