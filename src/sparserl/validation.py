"""Declared types and ranges of config fields, checked by one function for every config class.

A field's type is its annotation (bool, int, float, str, tuple[int, ...] or tuple[str, ...],
each optionally `| None`; `Any` is not checked) and its range or choices are declared with
`option(default, check)`. A subclass that only changes a default keeps its base's check.
`check_fields` checks every field of a config object in `__post_init__`, so a bad value fails
where the config is built, before anything compiles or is written; cross-field rules stay in
the classes. `check_number` checks a lone value the same way, and `from_text` reads a field
from command-line text by its declared type. The package's only number and choice validators
live here. A leaf module: the standard library only.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import math
import numbers
import types
import typing
from collections.abc import Callable, Sequence
from typing import Any

_CHECK = "check"
_NONEMPTY = "nonempty"
_PARSE = "parse"


@dataclasses.dataclass(frozen=True)
class Range:
    """low <= value <= high, or < where that end is open; None: unbounded on that side."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def __call__(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def bound(self) -> str:
        """The range in words: 'in [0, 1]', '> 0', '>= 1', '< 0', or '' when unbounded."""
        if self.low is not None and self.high is not None:
            left, right = "(["[not self.low_open], ")]"[not self.high_open]
            return f"in {left}{self.low:g}, {self.high:g}{right}"
        if self.low is not None:
            return f"{'>' if self.low_open else '>='} {self.low:g}"
        if self.high is not None:
            return f"{'<' if self.high_open else '<='} {self.high:g}"
        return ""

    def describe(self, kind: type) -> str:
        """The expected value in words, e.g. 'a number in [0, 1]' or 'an integer >= 1'."""
        if kind is int and self == positive:
            return "a positive integer"
        return f"{'an integer' if kind is int else 'a number'} {self.bound()}".rstrip()


@dataclasses.dataclass(frozen=True)
class OneOf:
    """The value is one of `choices`."""

    choices: tuple[Any, ...]

    def __call__(self, value: Any) -> bool:
        return value in self.choices


Check = Range | OneOf

positive = Range(0, low_open=True)
non_negative = Range(0)
unit = Range(0, 1)  # a probability or fraction in [0, 1]
open_unit = Range(0, 1, low_open=True, high_open=True)  # a fraction in (0, 1)


def at_least(low: float) -> Range:
    """A number >= `low`."""
    return Range(low)


def below(high: float) -> Range:
    """A number < `high`."""
    return Range(high=high, high_open=True)


def one_of(choices: Sequence[Any]) -> OneOf:
    """One of `choices` (e.g. a registry's names)."""
    return OneOf(tuple(choices))


def option(
    default: Any,
    check: Check | None = None,
    *,
    nonempty: bool = False,
    parse: Callable[[str], Any] | None = None,
) -> Any:
    """A dataclass field with its default and the range or choices `check_fields` enforces
    (for a tuple field: on each item; `nonempty`: at least one item); `parse` reads the value
    from command-line text where the type alone cannot (e.g. a mapping)."""
    metadata = {_CHECK: check, _NONEMPTY: nonempty, _PARSE: parse}
    return dataclasses.field(default=default, metadata=metadata)


def literal(text: str) -> Any:
    """A command-line value: a Python literal (1e-3, True, (512, 512), 64,64), true/false in
    any case as a bool (so that `double_q=false` is not the truthy string 'false'), or a
    string."""
    if text.strip().lower() in ("true", "false"):
        return text.strip().lower() == "true"
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def name_numbers(text: str) -> dict[str, float] | str:
    """'A=1,B=2.5' as {'A': 1.0, 'B': 2.5}; text of another form is returned as it is, for
    the field's check to name."""
    out = {}
    for item in text.split(","):
        name, sep, value = item.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            return text
        if not sep:
            return text
    return out


@dataclasses.dataclass(frozen=True)
class _Declared:
    """What one field accepts: its type (and item type for tuples), None or not, and check."""

    name: str
    kind: type | None  # None: Any, not checked
    item: type | None
    optional: bool
    check: Check | None
    nonempty: bool
    parse: Callable[[str], Any] | None = None

    def expected(self) -> str:
        if self.kind is bool:
            text = "True or False"
        elif self.kind is tuple:
            noun = {int: "integers", str: "strings"}[self.item]
            text = f"a {'non-empty ' if self.nonempty else ''}tuple of {noun}"
            if isinstance(self.check, Range):
                text += f" {self.check.bound()}"
        elif isinstance(self.check, Range):
            text = self.check.describe(self.kind)
        else:
            text = {int: "an integer", float: "a number", str: "a string"}[self.kind]
        return f"{text} or None" if self.optional else text

    def message(self, value: Any) -> str:
        if isinstance(self.check, OneOf) and self.kind is not tuple:
            allowed = [*self.check.choices, *([None] if self.optional else [])]
            return f"unknown {self.name} {value!r}; choose one of {allowed}"
        return f"{self.name} must be {self.expected()}, got {value!r}"

    def normalise(self, value: Any) -> Any:
        """The value as the field stores it (lists as tuples, one item as a 1-tuple), or raise
        ValueError with the one-line message."""
        if (value is None and self.optional) or self.kind is None:
            return value
        if self.kind is tuple:
            items = (value,) if is_a(self.item, value) else value
            if not isinstance(items, (list, tuple)) or not all(is_a(self.item, v) for v in items):
                raise ValueError(self.message(value))
            value = tuple(items)
            if (self.nonempty and not value) or (
                self.check is not None and not all(self.check(v) for v in value)
            ):
                raise ValueError(self.message(value))
            return value
        if not is_a(self.kind, value) or (self.check is not None and not self.check(value)):
            raise ValueError(self.message(value))
        return value

    def from_text(self, text: str) -> Any:
        """The value command-line `text` stands for, by the declared type: 'none' is None for
        an optional field, a tuple is comma-separated items, a string is the text itself;
        not checked (building the config checks it)."""
        if self.parse is not None:
            return self.parse(text)
        if self.optional and text.strip().lower() == "none":
            return None
        if self.kind is str:
            return text
        if self.kind is tuple:
            items = [t.strip() for t in text.strip("()[] ").split(",") if t.strip()]
            return tuple(t if self.item is str else literal(t) for t in items)
        return literal(text)


def is_a(kind: type, value: Any) -> bool:
    """Whether `value` is of `kind`: bools are not integers, integers are numbers, numbers
    are finite."""
    if kind is bool:
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind is int:
        return isinstance(value, numbers.Integral)
    if kind is float:
        return isinstance(value, numbers.Real) and math.isfinite(value)
    return isinstance(value, kind)


def _split(hint: Any) -> tuple[type | None, type | None, bool]:
    """(type, tuple item type, optional) of an annotation."""
    optional = False
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional, (hint,) = True, args
    if typing.get_origin(hint) is tuple:
        return tuple, typing.get_args(hint)[0], optional
    return (None if hint is Any else hint), None, optional


@functools.cache
def declared(cls: type) -> dict[str, _Declared]:
    """Every init field of dataclass `cls` with its type and check (a field redeclared by a
    subclass without a check keeps the nearest base's)."""
    hints = typing.get_type_hints(cls)
    out = {}
    for field in dataclasses.fields(cls):
        if not field.init:
            continue
        meta = next(
            (
                own.metadata
                for base in cls.__mro__
                if (own := vars(base).get("__dataclass_fields__", {}).get(field.name))
                and _CHECK in own.metadata
            ),
            {},
        )
        kind, item, optional = _split(hints[field.name])
        out[field.name] = _Declared(
            field.name,
            kind,
            item,
            optional,
            meta.get(_CHECK),
            meta.get(_NONEMPTY, False),
            meta.get(_PARSE),
        )
    return out


def check_value(cls: type, name: str, value: Any, error: type[Exception]) -> Any:
    """`value` as field `name` of `cls` stores it; `error` with a one-line message naming the
    field, the value and what it accepts if it does not fit the declared type and range."""
    try:
        return declared(cls)[name].normalise(value)
    except ValueError as problem:
        raise error(str(problem)) from None


def check_fields(config: Any, error: type[Exception]) -> None:
    """Check every field of the (frozen) dataclass `config` against its declaration and store
    the normalised values; raise `error` for the first that does not fit."""
    for name in declared(type(config)):
        value = check_value(type(config), name, getattr(config, name), error)
        object.__setattr__(config, name, value)


def from_text(cls: type, name: str, text: str) -> Any:
    """Field `name` of dataclass `cls` read from command-line text by its declared type."""
    return declared(cls)[name].from_text(text)


def check_number(
    name: str, value: Any, check: Range | None, error: type[Exception], *, integer: bool = False
) -> Any:
    """`value` if it is a (finite) number, an integer with `integer`, within `check`; else
    `error` with the one-line message config fields give, e.g. 'seeds must be a positive
    integer, got 0'."""
    spec = _Declared(name, int if integer else float, None, False, check, False)
    try:
        return spec.normalise(value)
    except ValueError as problem:
        raise error(str(problem)) from None
