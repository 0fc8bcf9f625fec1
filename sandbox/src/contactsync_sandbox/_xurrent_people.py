"""Xurrent people: the store, seed conversion, and validation of person writes.

Writable person fields *(assumed list, from the 4me People API)*: ``name``,
``primary_email``, ``job_title``, ``organization_id``, ``disabled``, ``source``,
``sourceID`` and ``contacts_attributes`` (the person's own channels, Rails nested
attributes: ``{"label", "telephone"|"email"}`` adds one, with ``"id"`` it updates
that one, with ``"_destroy": true`` it removes it). Sending a read-only field
(``id``, ``contacts``, ``organization``, ``site``, ``created_at``, ``updated_at``)
or an unknown one is a 422 *(assumed)*. Strings are at most 255 characters.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from email_validator import EmailNotValidError, validate_email

from contactsync_sandbox._xurrent_query import xurrent_time
from contactsync_sandbox.common import KeyIndex, VendorStore
from contactsync_sandbox.people import SeedData, SeedRecord

Errors = list[list[str]]

FIRST_PERSON_ID = 1001
FIRST_ORGANIZATION_ID = 201
FIRST_CONTACT_ID = 5001
HISTORY = timedelta(days=730)
MAX_TEXT = 255

PERSON_FIELDS: tuple[str, ...] = (
    "id",
    "name",
    "primary_email",
    "job_title",
    "organization",
    "site",
    "disabled",
    "source",
    "sourceID",
    "created_at",
    "updated_at",
    "contacts",
)
# the 4me People API's default collection fields (``manager`` is not simulated)
COLLECTION_FIELDS: tuple[str, ...] = (
    "sourceID",
    "name",
    "organization",
    "site",
    "created_at",
    "updated_at",
)
WRITABLE = frozenset(
    {
        "name",
        "primary_email",
        "job_title",
        "organization_id",
        "disabled",
        "source",
        "sourceID",
        "contacts_attributes",
    }
)
TEXT_FIELDS = ("name", "primary_email", "job_title", "source", "sourceID")
PERSON_CHANNEL_LABELS: dict[str, frozenset[str]] = {
    "telephone": frozenset({"work", "mobile", "home", "fax"}),
    "email": frozenset({"work", "personal"}),
}


class XurrentStore(VendorStore):
    """People (``records``), organizations with their channels, and the id counters."""

    def __init__(self) -> None:
        super().__init__()
        self.organizations: dict[int, dict[str, Any]] = {}
        self.counters = {
            "person": FIRST_PERSON_ID,
            "organization": FIRST_ORGANIZATION_ID,
            "contact": FIRST_CONTACT_ID,
        }
        self._extra_seed: tuple[dict[int, dict[str, Any]], dict[str, int]] | None = None
        self.emails = KeyIndex(self, _primary_email_key)

    def freeze_seed(self) -> None:
        super().freeze_seed()
        self._extra_seed = (_deep(self.organizations), dict(self.counters))

    def reset(self) -> None:
        super().reset()
        if self._extra_seed is not None:
            organizations, counters = self._extra_seed
            self.organizations, self.counters = _deep(organizations), dict(counters)

    def next_id(self, kind: str) -> int:
        value = self.counters[kind]
        self.counters[kind] = value + 1
        return value

    def person(self, person_id: str) -> dict[str, Any] | None:
        return self.records.get(person_id)

    def email_taken(self, email: str, except_id: int | None) -> bool:
        """``primary_email`` is unique per account, case-insensitive (all people count)."""
        wanted = email.strip().casefold()
        ignore = None if except_id is None else str(except_id)
        return self.emails.find(wanted, ignore=ignore, include_deleted=True) is not None

    def touch(self, person_id: str) -> None:
        """A person was added or their ``primary_email`` changed."""
        self.emails.touch(person_id)


def _primary_email_key(person: dict[str, Any]) -> str | None:
    return str(person.get("primary_email") or "").strip().casefold() or None


def _deep(organizations: dict[int, dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {
        key: {**org, "contacts": [dict(c) for c in org["contacts"]]}
        for key, org in organizations.items()
    }


def seed_times(rng: random.Random, now: datetime) -> tuple[str, str]:
    created = now - timedelta(seconds=rng.uniform(3600.0, HISTORY.total_seconds()))
    updated = created + (now - created - timedelta(minutes=5)) * rng.random()
    return xurrent_time(created), xurrent_time(max(created, updated))


def seed_organizations(
    store: XurrentStore, seed: SeedData, rng: random.Random, now: datetime
) -> dict[str, int]:
    """Create the seeded organizations with their channels; returns key -> id."""
    ids: dict[str, int] = {}
    for org in seed.organizations:
        created, updated = seed_times(rng, now)
        contacts = []
        for channel in org.channels:
            values = {"telephone": channel.telephone, "email": channel.email}
            values["website"] = channel.website
            kind, value = next(((k, v) for k, v in values.items() if v), ("telephone", ""))
            contacts.append(
                {
                    "id": store.next_id("contact"),
                    "label": channel.label,
                    kind: value,
                    "integration": False,
                }
            )
        org_id = store.next_id("organization")
        store.organizations[org_id] = {
            "id": org_id,
            "name": org.name,
            "created_at": created,
            "updated_at": updated,
            "contacts": contacts,
        }
        ids[org.key] = org_id
    return ids


def person_from_seed(
    store: XurrentStore, record: SeedRecord, organization_id: int | None
) -> dict[str, Any] | None:
    """One seed copy as a stored person, or None when Xurrent could not hold it
    (no name, no email, or an email another person already has)."""
    name = " ".join(p.strip() for p in (record.first_name, record.last_name) if p and p.strip())
    emails = [e.strip() for e in record.emails if e.strip()]
    if not name or not emails or store.email_taken(emails[0], None):
        return None
    contacts: list[dict[str, Any]] = [
        {"id": store.next_id("contact"), "label": "personal", "email": email}
        for email in emails[1:]
    ]
    for phone in record.phones:
        if phone.kind in PERSON_CHANNEL_LABELS["telephone"]:
            contacts.append(
                {"id": store.next_id("contact"), "label": phone.kind, "telephone": phone.number}
            )
    return {
        "id": store.next_id("person"),
        "name": name,
        "primary_email": emails[0],
        "job_title": record.job_title,
        "organization_id": organization_id,
        "site": None,
        "disabled": False,
        # (assumed) a seeded reference came from an earlier import
        "source": "import" if record.reference else None,
        "sourceID": record.reference,
        "contacts": contacts,
        "_state": "active",
    }


def _check_text(body: dict[str, Any], errors: Errors) -> None:
    for field in TEXT_FIELDS:
        if field not in body:
            continue
        value = body[field]
        if value is not None and not isinstance(value, str):
            errors.append([field, "is invalid"])
        elif isinstance(value, str) and len(value) > MAX_TEXT:
            errors.append([field, f"is too long (maximum is {MAX_TEXT} characters)"])


def validate_person(
    store: XurrentStore, body: dict[str, Any], current: dict[str, Any] | None
) -> Errors:
    """Rails-style ``[[field, message], ...]`` for a create (``current`` None) or update."""
    errors: Errors = [[key, "is not a writable attribute"] for key in body if key not in WRITABLE]
    _check_text(body, errors)
    for field in ("name", "primary_email"):
        present = field in body or current is None
        value = body.get(field, current.get(field) if current else None)
        blank = not isinstance(value, str) or not value.strip()
        if present and blank and not any(e[0] == field for e in errors):
            errors.append([field, "can't be blank"])
    email = body.get("primary_email")
    if isinstance(email, str) and email.strip():
        try:
            validate_email(email.strip(), check_deliverability=False)
        except EmailNotValidError:
            errors.append(["primary_email", "is invalid"])
        else:
            if store.email_taken(email, current["id"] if current else None):
                errors.append(["primary_email", "has already been taken"])
    if "disabled" in body and not isinstance(body["disabled"], bool):
        errors.append(["disabled", "is invalid"])
    if "organization_id" in body:
        org_id = body["organization_id"]
        if org_id is not None and (
            not isinstance(org_id, int)
            or isinstance(org_id, bool)
            or org_id not in store.organizations
        ):
            errors.append(["organization", "is invalid"])
    if "contacts_attributes" in body:
        errors.extend(_check_channels(body["contacts_attributes"], current))
    return errors


def _merged_channel(existing: dict[str, Any] | None, item: dict[str, Any]) -> dict[str, Any]:
    """A channel as it would be after ``item``: an update keeps what it does not send."""
    merged = {k: v for k, v in (existing or {}).items() if k != "id"}
    if item.get("telephone") is not None:
        merged.pop("email", None)
    if item.get("email") is not None:
        merged.pop("telephone", None)
    merged.update({k: v for k, v in item.items() if k not in ("id", "_destroy")})
    return merged


def _check_channels(items: Any, current: dict[str, Any] | None) -> Errors:
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        return [["contacts", "is invalid"]]
    known = {c["id"]: c for c in (current or {}).get("contacts", [])}
    errors: Errors = []
    for item in items:
        if set(item) - {"id", "label", "telephone", "email", "_destroy"}:
            errors.append(["contacts", "is invalid"])
            continue
        if "id" in item and item["id"] not in known:
            errors.append(["contacts", "is invalid"])
            continue
        if item.get("_destroy") is True:
            continue
        channel = _merged_channel(known.get(item.get("id")), item)
        kinds = [k for k in ("telephone", "email") if channel.get(k) is not None]
        value = channel.get(kinds[0]) if len(kinds) == 1 else None
        if not isinstance(value, str) or not value.strip():
            errors.append(["contacts", "must have exactly one of telephone or email"])
        elif len(value) > MAX_TEXT:
            errors.append([f"contacts.{kinds[0]}", "is too long (maximum is 255 characters)"])
        elif channel.get("label") not in PERSON_CHANNEL_LABELS[kinds[0]]:
            errors.append(["contacts.label", "is not included in the list"])
    return errors


def apply_channels(
    store: XurrentStore, contacts: list[dict[str, Any]], items: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The person's channels after validated ``contacts_attributes``."""
    result = [dict(c) for c in contacts]
    for item in items:
        if "id" in item:
            index = next(i for i, c in enumerate(result) if c["id"] == item["id"])
            if item.get("_destroy") is True:
                result.pop(index)
            else:
                result[index] = {"id": item["id"], **_merged_channel(result[index], item)}
        elif item.get("_destroy") is not True:
            result.append({"id": store.next_id("contact"), **_merged_channel(None, item)})
    return result
