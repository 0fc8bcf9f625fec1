"""Trackops client-contact rules: the client tree, roles, field validation and list filters.

Every reading the vendor docs leave open is marked ``(assumed)`` here, in one place.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from starlette.datastructures import QueryParams
from starlette.responses import JSONResponse

API_BASE = "/api/v1"

# (assumed) `created` / `updated` are shown in UTC as "YYYY-MM-DD HH:MM:SS" (second precision),
# the same form the list filters take; strings of this form sort chronologically.
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"

# The sandbox account's client tree: root client -> its default salesperson, and
# client location -> its root client. Contacts belong to locations, never to roots.
ROOT_CLIENT_SALESPERSON: dict[int, int] = {100: 501, 200: 502, 300: 501}
CLIENT_LOCATIONS: dict[int, int] = {12345: 100, 12346: 100, 22345: 200, 22346: 200, 32345: 300}
# Roles designated as available for client contacts, and staff roles that are not.
CONTACT_ROLES: dict[int, str] = {6: "Client Contact", 7: "Client Manager"}
STAFF_ROLES: dict[int, str] = {1: "Administrator", 3: "Investigator"}

DEFAULT_PER_PAGE = 25  # (assumed) the docs only show 100 as an example
MAX_PER_PAGE = 100  # (assumed) above it the API answers 400

STRING_FIELDS: tuple[str, ...] = (
    "first_name",
    "middle_name",
    "last_name",
    "title",
    "email",
    "address_1",
    "address_2",
    "address_3",
    "city",
    "state",
    "zip",
    "country",
    "phone_home",
    "phone_mobile",
    "phone_office",
    "phone_fax",
    "language",
    "birthday",
    "account_code",
    "notes",
    "admin_notes",
)
INTEGER_FIELDS: tuple[str, ...] = ("client_id", "role_id")
READ_ONLY_FIELDS: tuple[str, ...] = ("id", "client", "created", "updated")
REQUIRED_FIELDS: tuple[str, ...] = ("client_id", "role_id", "last_name")
LONG_TEXT_FIELDS = frozenset({"notes", "admin_notes"})
MAX_SHORT_TEXT = 255  # (assumed) column sizes
MAX_LONG_TEXT = 65535
STATE_CODE_COUNTRIES = frozenset({"US", "CA", "AU"})

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_INTEGER = re.compile(r"-?[0-9]{1,18}")
_TWO_LETTERS = re.compile(r"[A-Za-z]{2}")
_STATE_CODE = re.compile(r"[A-Za-z]{2,3}")
_TRUE = frozenset({"1", "true"})
_FALSE = frozenset({"0", "false"})


class TrackopsError(Exception):
    """An API refusal. (assumed) Body ``{"message": ..., "errors": {field: [...]}}``."""

    def __init__(self, status: int, message: str, errors: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors

    def response(self) -> JSONResponse:
        body: dict[str, Any] = {"message": self.message}
        if self.errors:
            body["errors"] = self.errors
        return JSONResponse(body, status_code=self.status)


def format_timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(TIMESTAMP_FORMAT)


def empty_contact() -> dict[str, Any]:
    return {name: None for name in STRING_FIELDS}


# --- writes -------------------------------------------------------------------------


def validate_contact(
    fields: Mapping[str, Any], current: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The checked changes of a create (``current`` None) or a partial update.

    (assumed) Unknown and read-only fields are refused rather than ignored, and an empty
    string clears an optional field. Raises :class:`TrackopsError` (422) naming each field.
    """
    errors: dict[str, list[str]] = {}
    changes: dict[str, Any] = {}
    for name, value in fields.items():
        problem = _field_problem(name, value)
        if problem is not None:
            errors.setdefault(name, []).append(problem)
        else:
            changes[name] = None if value == "" else value
    merged = {**(current or {}), **changes}
    required = (
        REQUIRED_FIELDS if current is None else tuple(n for n in REQUIRED_FIELDS if n in fields)
    )
    for name in required:
        if name not in errors and _blank(merged.get(name)):
            errors.setdefault(name, []).append("is required")
    country = merged.get("country")
    state = merged.get("state")
    if (
        "state" not in errors
        and isinstance(country, str)
        and country.upper() in STATE_CODE_COUNTRIES
        and isinstance(state, str)
        and not _STATE_CODE.fullmatch(state)
    ):
        errors.setdefault("state", []).append(
            f"must be a 2-3 character state code when the country is {country.upper()}"
        )
    if errors:
        raise TrackopsError(422, "The client contact could not be saved.", errors)
    return changes


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _field_problem(name: str, value: Any) -> str | None:
    if name in READ_ONLY_FIELDS:
        return "is read-only"
    if name in INTEGER_FIELDS:
        if isinstance(value, bool) or not isinstance(value, int):
            return "must be an integer"
        return _client_problem(value) if name == "client_id" else _role_problem(value)
    if name not in STRING_FIELDS:
        return "is not a client contact field"
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        return "must be a string"
    limit = MAX_LONG_TEXT if name in LONG_TEXT_FIELDS else MAX_SHORT_TEXT
    if len(value) > limit:
        return f"is too long (maximum is {limit} characters)"
    return _format_problem(name, value)


def _client_problem(client_id: int) -> str | None:
    if client_id in CLIENT_LOCATIONS:
        return None
    if client_id in ROOT_CLIENT_SALESPERSON:
        return f"{client_id} is a root client; contacts must belong to a client location"
    return f"{client_id} is not an existing client location"


def _role_problem(role_id: int) -> str | None:
    if role_id in CONTACT_ROLES:
        return None
    if role_id in STAFF_ROLES:
        return f"role {role_id} is not available for client contacts"
    return f"{role_id} is not an existing role"


def _format_problem(name: str, value: str) -> str | None:
    if name == "email":
        try:
            validate_email(value, check_deliverability=False)
        except EmailNotValidError:
            return "is not a valid email address"
    elif name == "birthday":
        if not _DATE.fullmatch(value):
            return "must be a date formatted YYYY-MM-DD"
        try:
            date.fromisoformat(value)
        except ValueError:
            return "is not a valid date"
    elif name == "country":
        if not _TWO_LETTERS.fullmatch(value) or value.upper() not in phonenumbers.SUPPORTED_REGIONS:
            return "must be a 2 character ISO country code"
    elif name == "language" and not _TWO_LETTERS.fullmatch(value):
        return "must be a 2 character ISO language code"
    return None


def name_key(first: Any, last: Any) -> tuple[str, str]:
    """Two contacts with equal keys have the same name (case and spacing ignored)."""
    return (
        " ".join(str(first or "").split()).casefold(),
        " ".join(str(last or "").split()).casefold(),
    )


# --- lists --------------------------------------------------------------------------


@dataclass
class ListQuery:
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE
    count_only: bool = False
    equal_ids: dict[str, int] = field(default_factory=dict)  # record field -> id
    equal_text: dict[str, str] = field(default_factory=dict)  # record field -> casefolded text
    salesperson: int | None = None
    lower: dict[str, str] = field(default_factory=dict)  # created|updated -> inclusive bound
    upper: dict[str, str] = field(default_factory=dict)

    def matches(self, record: Mapping[str, Any]) -> bool:
        if any(record.get(key) != want for key, want in self.equal_ids.items()):
            return False
        for key, want in self.equal_text.items():
            if str(record.get(key) or "").strip().casefold() != want:
                return False
        salesperson = ROOT_CLIENT_SALESPERSON.get(record["client"])
        if self.salesperson is not None and salesperson != self.salesperson:
            return False
        if any(record[key] < bound for key, bound in self.lower.items()):
            return False
        return not any(record[key] > bound for key, bound in self.upper.items())

    def page_count(self, total: int) -> int:
        return math.ceil(total / self.per_page)


_ID_FILTERS = {"id": "id", "client": "client", "client_location": "client_id", "role": "role_id"}
_TEXT_FILTERS = ("first_name", "last_name", "email")
_TIME_FILTERS = {
    "created_from": ("created", False),
    "created_to": ("created", True),
    "updated_from": ("updated", False),
    "updated_to": ("updated", True),
}


def parse_list_query(params: QueryParams) -> ListQuery:
    """The list request's paging and filters; 400 naming the first bad parameter.

    (assumed) Unknown parameters are ignored, text filters match the whole value
    without regard to case, and ``expand_field_values`` changes nothing (the sandbox
    account has no custom fields) but must be a boolean.
    """
    query = ListQuery(
        page=_int_param(params, "page", 1, minimum=1),
        per_page=_int_param(params, "per_page", DEFAULT_PER_PAGE, minimum=1),
    )
    if query.per_page > MAX_PER_PAGE:
        raise _bad_param("per_page", f"must be at most {MAX_PER_PAGE}")
    mode = params.get("mode")
    if mode not in (None, "count"):
        raise _bad_param("mode", "must be 'count'")
    query.count_only = mode == "count"
    for param, key in _ID_FILTERS.items():
        if param in params:
            query.equal_ids[key] = _int_param(params, param, 0, minimum=1)
    if "salesperson" in params:
        query.salesperson = _int_param(params, "salesperson", 0, minimum=1)
    for param in _TEXT_FILTERS:
        if param in params:
            query.equal_text[param] = params[param].strip().casefold()
    for param, (key, is_upper) in _TIME_FILTERS.items():
        if param in params:
            bound = parse_timestamp(params[param], param, end_of_day=is_upper)
            (query.upper if is_upper else query.lower)[key] = _second_bound(bound, is_upper)
    flag = params.get("expand_field_values")
    if flag is not None and flag.lower() not in _TRUE | _FALSE:
        raise _bad_param("expand_field_values", "must be true or false")
    return query


def parse_timestamp(raw: str, param: str, *, end_of_day: bool = False) -> datetime:
    """A UTC instant from ``YYYY-MM-DD[ HH:MM:SS]`` or ISO-8601 (Z or offset; naive = UTC).

    (assumed) A bare date means the start of that day for ``*_from`` and its end for ``*_to``.
    """
    text = raw.strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _bad_param(param, f"is not a valid timestamp: {raw!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if end_of_day and _DATE.fullmatch(text):
        moment += timedelta(days=1, microseconds=-1)
    return moment.astimezone(UTC)


def _second_bound(moment: datetime, is_upper: bool) -> str:
    """The bound as a second-precision string: records hold whole seconds."""
    if not is_upper and moment.microsecond:
        moment = moment.replace(microsecond=0) + timedelta(seconds=1)
    return format_timestamp(moment.replace(microsecond=0))


def _int_param(params: QueryParams, name: str, default: int, *, minimum: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    if not _INTEGER.fullmatch(raw.strip()):
        raise _bad_param(name, f"must be an integer, got {raw!r}")
    value = int(raw.strip())
    if value < minimum:
        raise _bad_param(name, f"must be at least {minimum}")
    return value


def _bad_param(name: str, problem: str) -> TrackopsError:
    return TrackopsError(400, f"Invalid parameter '{name}': {problem}.", {name: [problem]})
