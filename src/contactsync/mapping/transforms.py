"""Named transforms a mapping file may apply to a value, and their registry.

A transform is used by name in a rule's ``transforms`` list, optionally with one
argument after a colon (``"enum:status"``, ``"split_name:first"``,
``"iso_datetime:z_micro"``). Each has an inbound function (vendor value ->
canonical value) and/or an outbound one (canonical value -> vendor value); using a
transform in a direction it lacks is a mapping-file error found by
``contactsync mappings check``. Functions raise :class:`TransformError` for a value
they cannot understand; the mapping turns that into a field-level error naming the
vendor field. Returning ``None`` means "no value" (the field is left out).

Add your own with :func:`register_transform`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from functools import lru_cache
from typing import Any, Literal

import phonenumbers
from nameparser import HumanName

from contactsync.model.contact import DEFAULT_REGION, NORMALIZE_CACHE_SIZE, normalize_phone
from contactsync.model.time import as_utc

Direction = Literal["inbound", "outbound"]


class TransformError(ValueError):
    """A value a transform cannot convert; the message names the value."""


@dataclass(frozen=True)
class TransformContext:
    """What a transform may know besides the value."""

    direction: Direction
    arg: str | None = None
    value: Any = None  # the rule's own ``value`` key (used by ``constant``)
    default_region: str = DEFAULT_REGION
    enums: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


TransformFn = Callable[[Any, TransformContext], Any]
ArgCheck = Callable[[str | None], str | None]


@dataclass(frozen=True)
class Transform:
    name: str
    inbound: TransformFn | None
    outbound: TransformFn | None
    check_arg: ArgCheck

    def function(self, direction: Direction) -> TransformFn | None:
        return self.inbound if direction == "inbound" else self.outbound


def _no_arg(arg: str | None) -> str | None:
    return None if arg is None else f"takes no argument (got {arg!r})"


def _arg_in(*choices: str, required: bool = False) -> ArgCheck:
    def check(arg: str | None) -> str | None:
        if arg is None:
            return f"needs an argument, one of {', '.join(choices)}" if required else None
        return None if arg in choices else f"argument {arg!r} is not one of {', '.join(choices)}"

    return check


def _any_arg_required(arg: str | None) -> str | None:
    return "needs an argument after ':'" if not arg else None


_REGISTRY: dict[str, Transform] = {}


def register_transform(
    name: str,
    fn: TransformFn | None = None,
    *,
    inbound: TransformFn | None = None,
    outbound: TransformFn | None = None,
    check_arg: ArgCheck = _no_arg,
) -> Transform:
    """Register (or replace) a named transform.

    ``fn`` serves both directions; ``inbound`` / ``outbound`` set one direction each
    and win over ``fn``. ``check_arg`` validates the ``:argument`` at check time and
    returns a problem message or ``None``.
    """
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise ValueError(f"transform name {name!r} must be lower_snake_case")
    transform = Transform(name, inbound or fn, outbound or fn, check_arg)
    if transform.inbound is None and transform.outbound is None:
        raise ValueError(f"transform {name!r} needs a function for at least one direction")
    _REGISTRY[name] = transform
    return transform


def get_transform(name: str) -> Transform | None:
    return _REGISTRY.get(name)


def transform_names() -> list[str]:
    return sorted(_REGISTRY)


def split_spec(spec: str) -> tuple[str, str | None]:
    """``"enum:status"`` -> ``("enum", "status")``; ``"strip"`` -> ``("strip", None)``."""
    name, sep, arg = spec.partition(":")
    return name.strip(), (arg.strip() if sep else None)


# --- text ------------------------------------------------------------------------


def as_text(value: Any) -> str:
    """A string as is, an integer as its digits; anything else is a TransformError."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, Enum):
        return str(value.value)
    raise TransformError(f"expected text, got {describe(value)}")


def describe(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return f"a boolean ({value})"
    return f"{type(value).__name__} {value!r}"[:120]


def _strip(value: Any, ctx: TransformContext) -> Any:
    return as_text(value).strip() or None


def _lower(value: Any, ctx: TransformContext) -> Any:
    return as_text(value).strip().lower() or None


def _upper(value: Any, ctx: TransformContext) -> Any:
    return as_text(value).strip().upper() or None


# --- phones ----------------------------------------------------------------------


def parse_phone(value: Any, default_region: str) -> tuple[str, str | None]:
    """(E.164, extension). A digits-only string that is no valid number in the default
    region is tried as an international number (``442071234567`` -> ``+442071234567``),
    since digits-only vendors (Pylon) drop the ``+``."""
    number, extension, error = _parsed_phone(as_text(value).strip(), default_region)
    if error is not None:
        raise TransformError(error)
    return number, extension


@lru_cache(maxsize=NORMALIZE_CACHE_SIZE)
def _parsed_phone(text: str, default_region: str) -> tuple[str, str | None, str | None]:
    """:func:`parse_phone` as (E.164, extension, None) or ("", None, error); pure, cached."""
    digits_only = text.isdigit()
    try:
        number, extension = normalize_phone(text, default_region)
    except ValueError as exc:
        if digits_only:
            try:
                return (*normalize_phone("+" + text, default_region), None)
            except ValueError:
                pass
        return "", None, str(exc)
    if digits_only and not phonenumbers.is_valid_number(phonenumbers.parse(number)):
        try:
            international = normalize_phone("+" + text, default_region)
        except ValueError:
            return number, extension, None
        if phonenumbers.is_valid_number(phonenumbers.parse(international[0])):
            return (*international, None)
    return number, extension, None


def _e164(value: Any, ctx: TransformContext) -> Any:
    number, extension = parse_phone(value, ctx.default_region)
    return f"{number} x{extension}" if extension else number


def _digits(value: Any, ctx: TransformContext) -> Any:
    if ctx.direction == "inbound":
        return _e164(value, ctx)
    number, _extension = parse_phone(value, ctx.default_region)
    digits = number.lstrip("+")
    if len(digits) > 15:
        raise TransformError(f"phone {value!r} has more than 15 digits")
    return digits


# --- names -----------------------------------------------------------------------


NAME_PARTS = ("first", "middle", "last")


def _split_name(value: Any, ctx: TransformContext) -> Any:
    text = as_text(value).strip()
    if not text:
        return None
    first, middle, last = _name_parts(text)
    part = {"first": first, "middle": middle, "last": last}[ctx.arg or "first"]
    return part.strip() or None


@lru_cache(maxsize=NORMALIZE_CACHE_SIZE)
def _name_parts(text: str) -> tuple[str, str, str]:
    """(first, middle, last) of a full name; parsed once per name (``split_name:first``,
    ``:middle`` and ``:last`` rules read the same string)."""
    parsed = HumanName(text)
    return str(parsed.first), str(parsed.middle), str(parsed.last)


def _join_name(value: Any, ctx: TransformContext) -> Any:
    """Outbound: the source's own full name when set, else first + middle + last."""
    if isinstance(value, Mapping):
        full = value.get("full_name")
        if full:
            return as_text(full).strip()
        parts = [value.get(key) for key in ("first_name", "middle_name", "last_name")]
        return " ".join(as_text(p).strip() for p in parts if p) or None
    return as_text(value).strip() or None


# --- dates and times -------------------------------------------------------------

DATETIME_STYLES = {
    "z": "%Y-%m-%dT%H:%M:%SZ",
    "z_micro": "%Y-%m-%dT%H:%M:%S.%fZ",
    "naive": "%Y-%m-%dT%H:%M:%S",
    "offset": "%Y-%m-%dT%H:%M:%S+00:00",
}
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_datetime(value: Any, ctx: TransformContext) -> Any:
    """Inbound: ISO-8601 text (``Z``, an offset, or naive = UTC) -> aware UTC datetime.

    Outbound: a datetime -> text in the style named by the argument (default ``z``):
    ``z`` 2026-06-15T09:30:00Z, ``z_micro`` 2026-06-15T09:30:00.000000Z,
    ``naive`` 2026-06-15T09:30:00 (UTC implied), ``offset`` 2026-06-15T09:30:00+00:00.
    """
    if ctx.direction == "outbound":
        moment = value if isinstance(value, datetime) else _parse_datetime(value)
        return _as_utc(moment).strftime(DATETIME_STYLES[ctx.arg or "z"])
    return _as_utc(value if isinstance(value, datetime) else _parse_datetime(value))


def _parse_datetime(value: Any) -> datetime:
    text = as_text(value).strip()
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise TransformError(f"invalid timestamp {text!r}: expected ISO-8601") from None


_as_utc = as_utc


def _date(value: Any, ctx: TransformContext) -> Any:
    if isinstance(value, datetime):
        raise TransformError(f"expected a date, got a timestamp {value.isoformat()!r}")
    if isinstance(value, date):
        return value.isoformat() if ctx.direction == "outbound" else value
    text = as_text(value).strip()
    if not _DATE_RE.match(text):
        raise TransformError(f"invalid date {text!r}: expected YYYY-MM-DD")
    try:
        parsed = date.fromisoformat(text)
    except ValueError as exc:
        raise TransformError(f"invalid date {text!r}: {exc}") from None
    return parsed.isoformat() if ctx.direction == "outbound" else parsed


# --- enums, booleans, numbers, constants -----------------------------------------


def enum_key(value: Any) -> str:
    """How a vendor value is looked up in an enum table (booleans as true/false)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return as_text(value).strip()


def _enum(value: Any, ctx: TransformContext) -> Any:
    """Inbound: vendor value -> canonical via the table ``[enums.NAME]``.

    Outbound: canonical -> the first vendor value listed for it in that table.
    """
    table = ctx.enums.get(ctx.arg or "")
    if table is None:
        raise TransformError(f"enum table {ctx.arg!r} is not defined")
    key = enum_key(value)
    if ctx.direction == "inbound":
        if key in table:
            return table[key]
        folded = {k.casefold(): v for k, v in table.items()}
        if key.casefold() in folded:
            return folded[key.casefold()]
        raise TransformError(
            f"unknown {ctx.arg} value {key!r}; expected one of {', '.join(sorted(table))}"
        )
    for vendor_value, canonical in table.items():
        if canonical == key:
            return vendor_value
    raise TransformError(f"no {ctx.arg} value is mapped to {key!r}")


_TRUE = {"true", "yes", "y", "1", "on"}
_FALSE = {"false", "no", "n", "0", "off"}


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = as_text(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise TransformError(f"expected a yes/no value, got {text!r}")


def _bool(value: Any, ctx: TransformContext) -> Any:
    return _boolean(value)


def _bool_yes_no(value: Any, ctx: TransformContext) -> Any:
    """Inbound ``yes``/``no`` -> bool; outbound bool -> ``yes``/``no``."""
    flag = _boolean(value)
    if ctx.direction == "inbound":
        return flag
    return "yes" if flag else "no"


def _integer(value: Any, ctx: TransformContext) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = as_text(value).strip()
    if not re.fullmatch(r"-?\d+", text):
        raise TransformError(f"expected a whole number, got {text!r}")
    return int(text)


def _constant(value: Any, ctx: TransformContext) -> Any:
    return ctx.value if ctx.value is not None else ctx.arg


register_transform("strip", _strip)
register_transform("lower", _lower)
register_transform("upper", _upper)
register_transform("e164", _e164)
register_transform("digits", _digits)
register_transform("split_name", inbound=_split_name, check_arg=_arg_in(*NAME_PARTS, required=True))
register_transform("join_name", outbound=_join_name)
register_transform("iso_datetime", _iso_datetime, check_arg=_arg_in(*DATETIME_STYLES))
register_transform("date", _date)
register_transform("enum", _enum, check_arg=_any_arg_required)
register_transform("bool", _bool)
register_transform("bool_yes_no", _bool_yes_no)
register_transform("integer", _integer)
register_transform("constant", _constant, check_arg=lambda arg: None)
