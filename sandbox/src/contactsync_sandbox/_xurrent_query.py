"""Xurrent collection mechanics: filters, sorting, ``fields``, page-based pagination.

Follows developer.4me.com/v1/general/{filtering,ordering,pagination}: filter
operators ``=value``, ``=!value``, ``=`` (empty), ``=!`` (present), ``=1,2,3`` (in),
``=>x``, ``=<x``, ``=>=x``, ``=<=x`` and ranges ``=>a<b`` / ``=>=a<=b`` on times
(compared as instants; ``Z`` or an offset; a time without a zone is read in the
account's zone *(assumed)*); ``sort=a,-b`` with an allow-list (anything else is 400
``Sorting not allowed on fields: ...``); ``per_page`` (default 20, above 100 clamped
to 100 *(assumed)*) and ``page``, answered with ``X-Pagination-*`` headers and a
``Link`` header of absolute URLs (``first``/``prev`` except on the first page,
``next``/``last`` except on the last).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta, timezone, tzinfo
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100

# (assumed) every account shows times in one fixed, non-UTC offset, like the docs' example
ACCOUNT_ZONE = timezone(timedelta(hours=-6))

Predicate = Callable[[dict[str, Any]], bool]


class QueryError(Exception):
    """A bad query parameter; the message is what the API says (status 400)."""

    def response(self) -> JSONResponse:
        return JSONResponse({"message": str(self)}, status_code=400)


def xurrent_time(moment: datetime) -> str:
    """``2016-03-14T03:10:31-06:00``: seconds, in the account's offset."""
    return moment.astimezone(ACCOUNT_ZONE).isoformat(timespec="seconds")


def parse_instant(text: str, zone: tzinfo = ACCOUNT_ZONE) -> datetime | None:
    """An ISO-8601 time or date as an aware datetime, or None when it is not one."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            return None
        moment = datetime(day.year, day.month, day.day)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


_RANGE = re.compile(r"^(>=|<=|>|<)?([^<>]+?)(?:(<=|<)([^<>]+))?$")
_COMPARE: dict[str, Callable[[datetime, datetime], bool]] = {
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    "": lambda a, b: a == b,
}


def time_filter(field: str, value: str) -> Predicate:
    """A predicate for ``?updated_at=>=2026-01-01T00:00:00Z<=...`` and the other forms."""
    match = _RANGE.match(value)
    if match is None:
        raise QueryError(f"Invalid value for filter {field}: {value}")
    op1, text1, op2, text2 = match.groups()
    first = parse_instant(text1)
    second = parse_instant(text2) if text2 is not None else None
    if first is None or (text2 is not None and second is None) or (op2 and op1 not in (">", ">=")):
        raise QueryError(f"Invalid value for filter {field}: {value}")
    conditions = [(_COMPARE[op1 or ""], first)]
    if op2 is not None and second is not None:
        conditions.append((_COMPARE[op2], second))

    def predicate(row: dict[str, Any]) -> bool:
        stamp = row.get(field)
        moment = parse_instant(stamp) if isinstance(stamp, str) else None
        return moment is not None and all(check(moment, bound) for check, bound in conditions)

    return predicate


def text_filter(field: str, value: str, *, case_sensitive: bool = True) -> Predicate:
    """Equality, negation (``!x``), empty (``""``) and present (``!``) on a text field."""

    def norm(text: Any) -> Any:
        return text if case_sensitive or not isinstance(text, str) else text.casefold()

    if value == "":
        return lambda row: row.get(field) in (None, "")
    if value == "!":
        return lambda row: row.get(field) not in (None, "")
    if value.startswith("!"):
        return lambda row: norm(row.get(field)) != norm(value[1:])
    return lambda row: norm(row.get(field)) == norm(value)


def id_filter(field: str, value: str) -> Predicate:
    """``=43``, ``=1,2,3`` (in), ``=!1,2`` (not in), ``=`` (empty), ``=!`` (present)."""
    if value in ("", "!"):
        return text_filter(field, value)
    negate = value.startswith("!")
    try:
        wanted = {int(part) for part in value.lstrip("!").split(",")}
    except ValueError:
        raise QueryError(f"Invalid value for filter {field}: {value}") from None
    return lambda row: (row.get(field) in wanted) != negate


def bool_filter(field: str, value: str) -> Predicate:
    if value not in ("true", "false"):
        raise QueryError(f"Invalid value for filter {field}: {value}")
    return lambda row: bool(row.get(field)) == (value == "true")


def sort_rows(
    rows: list[dict[str, Any]], sort: str | None, allowed: Sequence[str], default: Sequence[str]
) -> list[dict[str, Any]]:
    """Rows ordered by ``sort`` (``a,-b``), ties broken by id; unknown fields are 400."""
    keys = [k.strip() for k in sort.split(",")] if sort else list(default)
    bad = [k.lstrip("-") for k in keys if k.lstrip("-") not in allowed]
    if bad:
        raise QueryError(f"Sorting not allowed on fields: {', '.join(bad)}")
    ordered = sorted(rows, key=lambda row: row["id"])
    for key in reversed(keys):
        field = key.lstrip("-")

        def sort_key(row: dict[str, Any], f: str = field) -> tuple[int, Any]:
            return _sort_value(row.get(f))

        ordered.sort(key=sort_key, reverse=key.startswith("-"))
    return ordered


def _sort_value(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    if isinstance(value, str):
        moment = parse_instant(value) if value[:4].isdigit() and "T" in value else None
        return (1, moment.timestamp()) if moment is not None else (1, value.casefold())
    return (1, value)


def select_fields(
    row: dict[str, Any], fields: str | None, default: Sequence[str], known: Sequence[str]
) -> dict[str, Any]:
    """``id`` plus the requested ``fields`` (or the default set); an unknown name is 400."""
    wanted = [f.strip() for f in fields.split(",") if f.strip()] if fields else list(default)
    unknown = [f for f in wanted if f not in known]
    if unknown:
        raise QueryError(f"Unknown fields: {', '.join(unknown)}")  # (assumed)
    return {key: row.get(key) for key in ["id", *[f for f in wanted if f != "id"]]}


def _positive_int(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        number = int(raw)
    except ValueError:
        raise QueryError(f"Invalid value for {name}: {raw}") from None
    if number < 1:
        raise QueryError(f"Invalid value for {name}: {raw}")
    return number


def paginate(
    request: Request, rows: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The requested page of ``rows`` and the pagination headers that go with it."""
    per_page = min(_positive_int(request, "per_page", DEFAULT_PER_PAGE), MAX_PER_PAGE)
    page = _positive_int(request, "page", 1)
    total_pages = max(1, math.ceil(len(rows) / per_page))
    chunk = rows[(page - 1) * per_page : page * per_page]

    def link(number: int) -> str:
        return str(request.url.include_query_params(page=number, per_page=per_page))

    links: list[str] = []
    if page > 1:
        links.append(f'<{link(1)}>; rel="first"')
        links.append(f'<{link(min(page - 1, total_pages))}>; rel="prev"')
    if page < total_pages:
        links.append(f'<{link(page + 1)}>; rel="next"')
        links.append(f'<{link(total_pages)}>; rel="last"')
    headers = {
        "X-Pagination-Per-Page": str(per_page),
        "X-Pagination-Current-Page": str(page),
        "X-Pagination-Total-Pages": str(total_pages),
        "X-Pagination-Total-Entries": str(len(rows)),
    }
    if links:
        headers["Link"] = ", ".join(links)
    return chunk, headers
