"""Pylon paging (opaque cursor + limit) and the ``POST /contacts/search`` filter language.

Filterable fields and operators are the ones ``POST /contacts/search`` documents:
``id`` (equals, in, not_in), ``email`` (equals, in, not_in, string_contains),
``account_id`` (equals, in, not_in) and custom field slugs; ``and`` / ``or`` combine
subfilters, at most 3 levels deep (``Filter.subfilters``). Anything else is a 400.
"""

from __future__ import annotations

import base64
import binascii
from bisect import bisect_right
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from contactsync_sandbox._pylon_rules import PylonError

DEFAULT_LIMIT = 100
MAX_LIMIT = 999
MAX_FILTER_DEPTH = 3
COMPOUND_OPERATORS = ("and", "or")
FIELD_OPERATORS: dict[str, frozenset[str]] = {
    "id": frozenset({"equals", "in", "not_in"}),
    "email": frozenset({"equals", "in", "not_in", "string_contains"}),
    "account_id": frozenset({"equals", "in", "not_in"}),
}
# (assumed) the docs name custom fields as filterable without listing their operators.
CUSTOM_FIELD_OPERATORS = frozenset(
    {"equals", "not_equals", "in", "not_in", "string_contains", "is_set", "is_unset"}
)
_CURSOR_PREFIX = "contacts:v1:"

Record = dict[str, Any]
Predicate = Callable[[Record], bool]


def parse_limit(raw: Any, *, in_body: bool = False) -> int:
    """``limit`` from a query string (text) or a search body (a JSON integer); 1..999, default
    100."""
    if raw is None or (raw == "" and not in_body):
        return DEFAULT_LIMIT
    if isinstance(raw, str) and not in_body:
        try:
            value = int(raw)
        except ValueError:
            raise PylonError(400, f"invalid limit {raw!r}: must be an integer") from None
    elif isinstance(raw, int) and not isinstance(raw, bool):
        value = raw
    else:
        raise PylonError(400, "invalid limit: must be an integer")
    if not 0 < value <= MAX_LIMIT:
        raise PylonError(400, "limit must be greater than 0 and less than 1000")
    return value


def encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{last_id}".encode()).decode()


def decode_cursor(cursor: Any) -> str | None:
    """The id the previous page ended on; None for the first page; 400 for a bad cursor."""
    if cursor is None or cursor == "":
        return None
    if not isinstance(cursor, str):
        raise PylonError(400, "invalid cursor")
    try:
        text = base64.urlsafe_b64decode(cursor.encode("ascii")).decode()
    except (binascii.Error, UnicodeError, ValueError):
        raise PylonError(400, "invalid cursor") from None
    if not text.startswith(_CURSOR_PREFIX) or len(text) == len(_CURSOR_PREFIX):
        raise PylonError(400, "invalid cursor")
    return text[len(_CURSOR_PREFIX) :]


@dataclass
class Page:
    data: list[Record]
    cursor: str
    has_next_page: bool

    def pagination(self) -> dict[str, Any]:
        return {"cursor": self.cursor, "has_next_page": self.has_next_page}


def page_of(
    records: dict[str, Record], cursor: Any, limit: int, keep: Predicate | None = None
) -> Page:
    """Records ordered by id after the cursor's id (keyset paging: deletes don't shift pages).

    On the last page ``cursor`` is "" (the spec marks it required) and has_next_page false.
    """
    after = decode_cursor(cursor)
    ids = sorted(records)
    position = bisect_right(ids, after) if after is not None else 0
    data: list[Record] = []
    while position < len(ids) and len(data) < limit:
        record = records[ids[position]]
        position += 1
        if keep is None or keep(record):
            data.append(record)
    has_next = any(keep is None or keep(records[i]) for i in ids[position:])
    return Page(data, encode_cursor(str(data[-1]["id"])) if has_next and data else "", has_next)


def compile_filter(raw: Any, custom_slugs: Collection[str], depth: int = 1) -> Predicate:
    """A predicate for one ``Filter`` object, or a 400 naming what is wrong."""
    if not isinstance(raw, dict):
        raise PylonError(400, "filter must be an object")
    operator = raw.get("operator")
    if not isinstance(operator, str) or not operator:
        raise PylonError(400, "filter: operator is required")
    if operator in COMPOUND_OPERATORS:
        return _compound(operator, raw.get("subfilters"), custom_slugs, depth)
    field = raw.get("field")
    if not isinstance(field, str) or not field:
        raise PylonError(400, f"filter: field is required for operator {operator!r}")
    if field in FIELD_OPERATORS:
        allowed = FIELD_OPERATORS[field]
    elif field in custom_slugs:
        allowed = CUSTOM_FIELD_OPERATORS
    else:
        raise PylonError(400, f"filter: field {field!r} is not filterable for contacts")
    if operator not in allowed:
        raise PylonError(400, f"filter: operator {operator!r} is not allowed for field {field!r}")
    return _leaf(field, operator, raw)


def _compound(
    operator: str, subfilters: Any, custom_slugs: Collection[str], depth: int
) -> Predicate:
    if depth >= MAX_FILTER_DEPTH:
        raise PylonError(400, f"filter: the maximum depth of a filter tree is {MAX_FILTER_DEPTH}")
    if not isinstance(subfilters, list) or not subfilters:
        raise PylonError(400, f"filter: operator {operator!r} needs subfilters")
    parts = [compile_filter(sub, custom_slugs, depth + 1) for sub in subfilters]
    if operator == "and":
        return lambda record: all(part(record) for part in parts)
    return lambda record: any(part(record) for part in parts)


def _leaf(field: str, operator: str, raw: dict[str, Any]) -> Predicate:
    read = _reader(field)
    if operator in ("is_set", "is_unset"):
        wanted = operator == "is_set"
        return lambda record: bool(read(record)) == wanted
    if operator in ("in", "not_in"):
        values = raw.get("values")
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise PylonError(400, f"filter: operator {operator!r} needs values (array of strings)")
        wanted_set = {v.lower() for v in values}
        inside: Predicate = lambda record: any(v.lower() in wanted_set for v in read(record))  # noqa: E731
        return inside if operator == "in" else (lambda record: not inside(record))
    value = raw.get("value")
    if not isinstance(value, str):
        raise PylonError(400, f"filter: operator {operator!r} needs a string value")
    needle = value.lower()
    if operator == "string_contains":
        return lambda record: any(needle in v.lower() for v in read(record))
    if operator == "not_equals":
        return lambda record: all(v.lower() != needle for v in read(record))
    return lambda record: any(v.lower() == needle for v in read(record))


def _reader(field: str) -> Callable[[Record], list[str]]:
    """The values a filter compares for ``field``.

    (assumed) email matches any of the contact's emails, case-insensitively; ids and
    custom field values compare case-insensitively too.
    """
    if field == "id":
        return lambda record: [str(record["id"])]
    if field == "email":
        return lambda record: list(record.get("emails", []))
    if field == "account_id":
        return lambda record: [str(record["account"]["id"])] if record.get("account") else []

    def custom(record: Record) -> list[str]:
        entry = record.get("custom_fields", {}).get(field)
        if not entry:
            return []
        return [entry["value"]] if "value" in entry else list(entry.get("values", []))

    return custom
