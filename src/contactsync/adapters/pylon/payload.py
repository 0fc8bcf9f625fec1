"""Pylon request bodies from mapped payloads (pure functions, no I/O).

Shapes: ``CreateContactRequestBody`` / ``UpdateContactRequestBody`` / ``ExternalID`` /
``UpdateContactEmail`` in ``specs/pylon-openapi.json``. What the mapping produces
(``mappings/pylon.toml``) is already close; this module enforces what the spec says on
top: digits-only phones of at most 15 digits, ``primary_phone_number`` among
``phone_numbers``, never ``email`` together with ``emails``, only writable fields.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from contactsync.adapters._common import text_of

log = logging.getLogger(__name__)

SYNC_LABEL = "contactsync"
MAX_PHONE_DIGITS = 15  # "Must contain only digits 0-9 and be 15 digits or less"
# Formatting a phone may carry and that only decorates the digits (never an extension).
_PHONE_DECORATION = re.compile(r"[\s+\-.()/]")
_PHONE = re.compile(rf"[0-9]{{1,{MAX_PHONE_DIGITS}}}")

# Request body properties (CreateContactRequestBody / UpdateContactRequestBody).
_COMMON_FIELDS = frozenset(
    {
        "account_external_id",
        "account_id",
        "avatar_url",
        "custom_fields",
        "email",
        "external_ids",
        "name",
        "phone_numbers",
        "portal_role",
        "portal_role_id",
        "primary_phone_number",
    }
)
CREATE_FIELDS = _COMMON_FIELDS
UPDATE_FIELDS = _COMMON_FIELDS | {"emails"}  # UpdateContactEmail objects

JsonObject = dict[str, Any]


def create_body(payload: Mapping[str, Any]) -> JsonObject:
    """A ``CreateContactRequestBody`` from a mapped payload.

    Create has no ``emails`` array: when the payload brings one, its primary (or first)
    address becomes ``email`` (unless ``email`` is given) and the others are left out,
    with a warning (a PATCH with ``emails`` can add them).
    """
    body = _known_fields(payload, CREATE_FIELDS | {"emails"}, "create contact")
    emails = _email_entries(body.pop("emails", None))
    if emails:
        body.setdefault("email", emails[0]["email"])
        if len(emails) > 1:
            log.warning(
                "pylon create contact: create takes one email; %d more left out",
                len(emails) - 1,
            )
    _clean_phones(body, "create contact")
    return body


def update_body(payload: Mapping[str, Any]) -> JsonObject:
    """An ``UpdateContactRequestBody`` from a mapped payload.

    ``email`` and ``emails`` are never sent together: with both, ``email`` is marked the
    primary entry of ``emails``. A blank ``name`` is left out (Pylon refuses it).
    ``phone_numbers`` given as empty (None or ``[]``: the plan clears the numbers a user
    removed elsewhere) is sent as ``[]``, without a primary: the spec allows an empty
    list, and leaving it out would keep the removed number alive in Pylon.
    """
    clearing_phones = "phone_numbers" in payload and payload["phone_numbers"] in (None, [])
    body = _known_fields(payload, UPDATE_FIELDS, "update contact")
    if "name" in body and not text_of(body["name"]):
        del body["name"]
    if "emails" in body:
        entries = _email_entries(body.pop("emails"))
        primary = text_of(body.pop("email", None)) or (entries[0]["email"] if entries else None)
        if primary is not None:
            rest = [{"email": e["email"]} for e in entries if e["email"].lower() != primary.lower()]
            body["emails"] = [{"email": primary, "is_primary": True}, *rest]
    _clean_phones(body, "update contact")
    if clearing_phones:
        body["phone_numbers"] = []
        body.pop("primary_phone_number", None)
    return body


def merge_external_ids(existing: Any, wanted: list[JsonObject]) -> list[JsonObject]:
    """``existing`` with each label of ``wanted`` replaced in place (or appended).

    Entries of other labels are kept in their order: the PATCH replaces the list.
    """
    by_label = {entry.get("label"): entry for entry in wanted}
    merged: list[JsonObject] = []
    placed: set[Any] = set()
    for entry in existing if isinstance(existing, list) else []:
        if not isinstance(entry, dict):
            continue
        label = entry.get("label")
        if label in by_label:
            if label not in placed:
                merged.append(by_label[label])
                placed.add(label)
            continue
        merged.append({k: entry[k] for k in ("external_id", "label") if k in entry})
    merged.extend(entry for entry in wanted if entry.get("label") not in placed)
    return merged


def stamp_of(contact: Mapping[str, Any]) -> str | None:
    """The person id in a contact's ``contactsync`` external id, if any."""
    for entry in _external_ids(contact.get("external_ids")):
        if entry.get("label") == SYNC_LABEL:
            return text_of(entry.get("external_id"))
    return None


def id_of(contact: Mapping[str, Any]) -> str | None:
    """A contact's id as text (None when missing or not a scalar)."""
    raw = contact.get("id")
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        return None
    return str(raw).strip() or None


def _known_fields(
    payload: Mapping[str, Any], allowed: frozenset[str], operation: str
) -> JsonObject:
    body = {key: value for key, value in payload.items() if key in allowed and value is not None}
    unknown = sorted(key for key in payload if key not in allowed)
    if unknown:
        # Read-only or unknown to the request body (e.g. `id`, `account`): a mapping
        # problem, not this record's; the rest of the record is still written.
        log.warning("pylon %s: not writable, left out: %s", operation, ", ".join(unknown))
    if "external_ids" in body:
        body["external_ids"] = [
            {k: e[k] for k in ("external_id", "label") if k in e}
            for e in _external_ids(body["external_ids"])
            if text_of(e.get("external_id"))
        ]
    return body


def _external_ids(value: Any) -> list[JsonObject]:
    return [entry for entry in value if isinstance(entry, dict)] if isinstance(value, list) else []


def holds_all(contact: Mapping[str, Any] | None, wanted: list[JsonObject]) -> bool:
    """Whether ``contact`` already carries every (label, external_id) pair of ``wanted``."""
    if contact is None or "external_ids" not in contact:
        return False
    have = {(e.get("label"), e.get("external_id")) for e in _external_ids(contact["external_ids"])}
    return all((e.get("label"), e.get("external_id")) in have for e in wanted)


def _email_entries(value: Any) -> list[JsonObject]:
    """``emails`` as ``UpdateContactEmail`` objects (strings, as the Contact reads, too),
    the one marked primary first."""
    entries: list[JsonObject] = []
    for item in value if isinstance(value, list) else []:
        if isinstance(item, str) and text_of(item):
            entries.append({"email": item.strip()})
        elif isinstance(item, dict) and text_of(item.get("email")):
            entries.append({k: item[k] for k in ("email", "is_primary") if k in item})
    primaries = [e for e in entries if e.get("is_primary")]
    return primaries[:1] + [e for e in entries if e not in primaries[:1]]


def primary_email(payload: Mapping[str, Any]) -> str | None:
    email = text_of(payload.get("email"))
    if email is not None:
        return email
    entries = _email_entries(payload.get("emails"))
    return str(entries[0]["email"]) if entries else None


def _clean_phones(body: JsonObject, operation: str) -> None:
    """Phones as Pylon takes them: digits only, at most 15.

    Decoration (spaces, "+", dashes, dots, brackets) is removed; a number that is
    still not 1-15 digits (an extension, letters, too long) is left out with a warning
    rather than failing the whole record; with none left, ``phone_numbers`` is not sent.
    ``primary_phone_number`` must be one of ``phone_numbers``: when it was left out or
    is not among them, it is dropped and Pylon makes the first number primary.
    """
    if "phone_numbers" in body:
        raw = body["phone_numbers"] if isinstance(body["phone_numbers"], list) else []
        phones: list[str] = []
        for number in raw:
            digits = _phone_digits(number)
            if digits is None:
                log.warning("pylon %s: phone %r is not 1-15 digits; left out", operation, number)
            elif digits not in phones:
                phones.append(digits)
        if phones:
            body["phone_numbers"] = phones
        else:  # none usable: leave Pylon's numbers alone rather than clear them
            del body["phone_numbers"]
    if "primary_phone_number" in body:
        primary = _phone_digits(body["primary_phone_number"])
        known = body.get("phone_numbers")
        if primary is None or (known is not None and primary not in known):
            del body["primary_phone_number"]
        else:
            body["primary_phone_number"] = primary


def _phone_digits(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    digits = _PHONE_DECORATION.sub("", value)
    return digits if _PHONE.fullmatch(digits) else None
