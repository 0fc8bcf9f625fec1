"""Grow CRM contact rules: Laravel-style input cleaning and validation, list queries, paging.

Every reading the vendor docs leave open is marked ``(assumed)`` here, in one place.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from email_validator import EmailNotValidError, validate_email
from starlette.datastructures import QueryParams
from starlette.responses import JSONResponse

API_BASE = "/api"
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # dates.created / dates.updated, UTC, microseconds
INVALID = "The given data was invalid."
DEFAULT_LIMIT = 15  # (assumed) Laravel's paginator default
MAX_LIMIT = 100  # documented; (assumed) above it answers 422, it is not clamped
MAX_TEXT = 255  # (assumed) column sizes
# (assumed) statuses a contact can have; `status=deleted` lists the soft-deleted ones
# (and only them); without `status` every contact that is not soft-deleted is listed.
STATUSES: tuple[str, ...] = ("active", "suspended")
DELETED = "deleted"
SORT_KEYS: tuple[str, ...] = ("first_name", "last_name", "email", "created", "updated")
CONTACT_ROLE: dict[str, Any] = {"id": 2, "name": "Client"}  # (assumed) the client users' role
SOCIAL_KEYS: tuple[str, ...] = ("twitter", "facebook", "linkedin")  # (assumed) handles shown
DEFAULT_COMPANIES: tuple[str, ...] = (
    "Acme Holdings",
    "Globex Corporation",
    "Initech LLC",
    "Umbrella Logistics",
    "Stark Supplies",
)
# Team members are users too (type = team): their emails count for uniqueness, they are
# never listed as contacts, and the account-owner action on them answers 409.
TEAM_USERS: dict[int, str] = {
    1: "owner@growcrm-sandbox.example.com",
    2: "sales@growcrm-sandbox.example.com",
    3: "support@growcrm-sandbox.example.com",
}

_INTEGER = re.compile(r"-?[0-9]{1,18}")
_TEXT_INPUTS: tuple[str, ...] = ("first_name", "last_name", "email", "phone", "position")


class GrowcrmError(Exception):
    """An API refusal: ``{"message": ..., "errors": {field: [...]}}`` (errors on 422 only)."""

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


def format_date(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(DATE_FORMAT)


def clean_input(data: Mapping[str, Any]) -> dict[str, Any]:
    """Laravel's TrimStrings and ConvertEmptyStringsToNull middleware, applied to input."""
    cleaned: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, str):
            value = value.strip() or None
        cleaned[str(key)] = value
    return cleaned


def _label(field: str) -> str:
    return field.replace("_", " ")


def validate_contact_input(
    data: Mapping[str, Any],
    *,
    creating: bool,
    email_taken: Callable[[str], bool],
    client_exists: Callable[[int], bool],
) -> dict[str, Any]:
    """The validated input of a create or an update; 422 naming every bad field.

    (assumed) Fields the endpoint does not take are ignored, as Laravel does; one
    message per field (the first rule that fails).
    """
    errors: dict[str, list[str]] = {}
    required = ("first_name", "last_name", "email", *(("clientid",) if creating else ()))
    for name in required:
        if data.get(name) is None:
            errors[name] = [f"The {_label(name)} field is required."]
    for name in _TEXT_INPUTS:
        value = data.get(name)
        if value is None or name in errors:
            continue
        if not isinstance(value, str):
            errors[name] = [f"The {_label(name)} must be a string."]
        elif len(value) > MAX_TEXT:
            errors[name] = [f"The {_label(name)} may not be greater than {MAX_TEXT} characters."]
    email = data.get("email")
    if isinstance(email, str) and "email" not in errors:
        if not _valid_email(email):
            errors["email"] = ["The email must be a valid email address."]
        elif email_taken(email):
            errors["email"] = ["The email has already been taken."]
    if creating:
        _check_client(data.get("clientid"), client_exists, errors)
        send_email = data.get("send_email")
        if send_email is not None and send_email not in ("yes", "no"):
            errors["send_email"] = ["The selected send email is invalid."]
    if errors:
        raise GrowcrmError(422, INVALID, errors)
    values = dict(data)
    if creating:
        values["clientid"] = _as_int(values["clientid"])
    return values


def _valid_email(value: str) -> bool:
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


def _check_client(
    value: Any, client_exists: Callable[[int], bool], errors: dict[str, list[str]]
) -> None:
    if value is None or "clientid" in errors:
        return
    client_id = _as_int(value)
    if client_id is None:
        errors["clientid"] = ["The clientid must be an integer."]
    elif not client_exists(client_id):
        errors["clientid"] = ["The selected clientid is invalid."]


def _as_int(value: Any) -> int | None:
    """Laravel's ``integer`` rule: an int or a string of digits, never a boolean."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value):
        return int(value)
    return None


# --- lists --------------------------------------------------------------------------


@dataclass
class ContactQuery:
    status: str | None = None
    client_id: int | None = None
    account_owner: str | None = None
    search: str | None = None
    sort: str | None = None  # (assumed) unsorted lists come by id
    descending: bool = False
    limit: int = DEFAULT_LIMIT
    page: int = 1

    def select(self, records: list[dict[str, Any]], deleted: set[str]) -> list[dict[str, Any]]:
        """The matching contacts in list order (sort key, then id, both in ``order``)."""
        wanted_deleted = self.status == DELETED
        rows = [r for r in records if (str(r["id"]) in deleted) == wanted_deleted]
        if self.status is not None and not wanted_deleted:
            rows = [r for r in rows if r["status"] == self.status]
        if self.client_id is not None:
            rows = [r for r in rows if r["client"]["id"] == self.client_id]
        if self.account_owner is not None:
            rows = [r for r in rows if r["account_owner"] == self.account_owner]
        if self.search is not None:
            needle = self.search.casefold()
            rows = [r for r in rows if any(needle in (r[k] or "").casefold() for k in _SEARCHED)]
        return sorted(rows, key=self._sort_key, reverse=self.descending)

    def _sort_key(self, record: dict[str, Any]) -> tuple[Any, ...]:
        if self.sort is None:
            return (record["id"],)
        if self.sort in ("created", "updated"):
            return (record["dates"][self.sort], record["id"])
        value = record[self.sort]
        # MySQL's case-insensitive collation, NULLs first when ascending
        return (value is not None, (value or "").casefold(), record["id"])

    def page_of(self, rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """One page and its Laravel-style ``meta``. (assumed) the meta keys."""
        start = (self.page - 1) * self.limit
        chunk = rows[start : start + self.limit]
        meta = {
            "current_page": self.page,
            "last_page": max(1, math.ceil(len(rows) / self.limit)),
            "per_page": self.limit,
            "total": len(rows),
            "from": start + 1 if chunk else None,
            "to": start + len(chunk) if chunk else None,
        }
        return chunk, meta


_SEARCHED = ("first_name", "last_name", "email", "phone")


def parse_contact_query(params: QueryParams) -> ContactQuery:
    """The list request's filters, sort and paging; 422 naming every bad parameter."""
    raw = clean_input(dict(params.items()))
    errors: dict[str, list[str]] = {}
    query = ContactQuery(search=raw.get("search"))
    status = raw.get("status")
    if status is not None and status not in (*STATUSES, DELETED):
        errors["status"] = ["The selected status is invalid."]
    query.status = status
    owner = raw.get("account_owner")
    if owner is not None and owner not in ("yes", "no"):
        errors["account_owner"] = ["The selected account owner is invalid."]
    query.account_owner = owner
    sort = raw.get("sort")
    if sort is not None and sort not in SORT_KEYS:
        errors["sort"] = ["The selected sort is invalid."]
    query.sort = sort
    order = raw.get("order")
    if order is not None and order not in ("asc", "desc"):
        errors["order"] = ["The selected order is invalid."]
    query.descending = order == "desc"
    if raw.get("client_id") is not None:
        query.client_id = _int_param(raw, "client_id", errors, minimum=1)
    if raw.get("limit") is not None:
        query.limit = _int_param(raw, "limit", errors, minimum=1, maximum=MAX_LIMIT)
    if raw.get("page") is not None:
        query.page = _int_param(raw, "page", errors, minimum=1)
    if errors:
        raise GrowcrmError(422, INVALID, errors)
    return query


def _int_param(
    raw: dict[str, Any],
    name: str,
    errors: dict[str, list[str]],
    *,
    minimum: int,
    maximum: int | None = None,
) -> int:
    value = _as_int(raw[name])
    label = _label(name)
    if value is None:
        errors[name] = [f"The {label} must be an integer."]
        return minimum
    if value < minimum:
        errors[name] = [f"The {label} must be at least {minimum}."]
    elif maximum is not None and value > maximum:
        errors[name] = [f"The {label} may not be greater than {maximum}."]
    return value
