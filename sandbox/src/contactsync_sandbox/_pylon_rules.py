"""Pylon's write rules for ``POST /contacts`` and ``PATCH /contacts/{id}``.

Shapes follow ``specs/pylon-openapi.json`` (``CreateContactRequestBody``,
``UpdateContactRequestBody``, ``ExternalID``, ``CustomFieldValue``); the rules
follow the field descriptions there. Where the vendor is silent the reading is
marked ``(assumed)``. Every refusal is a :class:`PylonError` the simulator turns
into an ``ErrorApiResponseBody``.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from email_validator import EmailNotValidError, validate_email

from contactsync_sandbox.common import VendorStore

PORTAL_ROLES: tuple[str, ...] = ("no_access", "member", "admin")
DEFAULT_PORTAL_ROLE = "member"  # (assumed) the portal settings' default role
MAX_PHONE_DIGITS = 15
AVATAR_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg")
# (assumed) the organization's contact custom fields; all single-valued text fields.
CUSTOM_FIELDS: dict[str, str] = {"job_title": "text", "language": "text"}
_PHONE = re.compile(rf"[0-9]{{1,{MAX_PHONE_DIGITS}}}")


class PylonError(Exception):
    """A refused request: HTTP status, the message for ``errors`` and, for duplicates, the id."""

    def __init__(self, status: int, message: str, exists_id: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.exists_id = exists_id


@dataclass
class Account:
    """A Pylon account (companies live server-side; contacts point at them)."""

    id: str
    name: str
    external_ids: list[dict[str, str]] = field(default_factory=list)

    def mini(self) -> dict[str, Any]:
        """The ``MiniAccount`` a contact carries."""
        return {"id": self.id, "external_ids": copy.deepcopy(self.external_ids)}


class AccountDirectory:
    """Accounts by id and by external id."""

    def __init__(self) -> None:
        self.by_id: dict[str, Account] = {}
        self.by_external_id: dict[str, Account] = {}

    def add(self, account: Account) -> None:
        self.by_id[account.id] = account
        for external in account.external_ids:
            self.by_external_id[external["external_id"]] = account

    def resolve(self, account_id: str | None, account_external_id: str | None) -> Account | None:
        if account_id and account_external_id:
            raise PylonError(400, "account_id and account_external_id cannot be used together")
        if account_id:
            found = self.by_id.get(account_id)
            if found is None:
                raise PylonError(404, f"account {account_id} not found")  # (assumed) 404
            return found
        if account_external_id:
            found = self.by_external_id.get(account_external_id)
            if found is None:
                raise PylonError(404, f"account with external ID {account_external_id} not found")
            return found
        return None


class ContactIndex:
    """Which contact owns which email (case-insensitive) and which external id.

    Rebuilt whenever the store's record dict is replaced (``/_sandbox/reset``),
    kept up to date incrementally on every write otherwise.
    """

    def __init__(self, store: VendorStore) -> None:
        self.store = store
        self._indexed: dict[str, dict[str, Any]] | None = None
        self._emails: dict[str, str] = {}
        self._external_ids: dict[str, str] = {}

    def _fresh(self) -> None:
        if self._indexed is self.store.records:
            return
        self._indexed = self.store.records
        self._emails, self._external_ids = {}, {}
        for record_id, record in self.store.records.items():
            if record_id not in self.store.deleted:
                self._add(record_id, record)

    def _add(self, record_id: str, record: dict[str, Any]) -> None:
        for email in record.get("emails", []):
            self._emails.setdefault(email.lower(), record_id)
        for external in record.get("external_ids", []):
            self._external_ids.setdefault(external["external_id"], record_id)

    def email_owner(self, email: str) -> str | None:
        self._fresh()
        return self._emails.get(email.lower())

    def external_id_owner(self, external_id: str) -> str | None:
        self._fresh()
        return self._external_ids.get(external_id)

    def replace(
        self, record_id: str, before: dict[str, Any] | None, after: dict[str, Any] | None
    ) -> None:
        """Move the index from ``before`` to ``after`` for one contact (None = absent)."""
        self._fresh()
        if before is not None:
            for email in before.get("emails", []):
                if self._emails.get(email.lower()) == record_id:
                    del self._emails[email.lower()]
            for external in before.get("external_ids", []):
                if self._external_ids.get(external["external_id"]) == record_id:
                    del self._external_ids[external["external_id"]]
        if after is not None:
            self._add(record_id, after)


class Body:
    """A decoded JSON request body with typed getters; null reads as absent (Go zero values)."""

    def __init__(self, raw: Any) -> None:
        if not isinstance(raw, dict):
            raise PylonError(400, "invalid request body: expected a JSON object")
        self.raw: dict[str, Any] = raw

    def has(self, key: str) -> bool:
        return self.raw.get(key) is not None

    def string(self, key: str) -> str | None:
        value = self.raw.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise PylonError(400, f'invalid request body: field "{key}" must be a string')
        return value

    def strings(self, key: str) -> list[str] | None:
        value = self.raw.get(key)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise PylonError(
                400, f'invalid request body: field "{key}" must be an array of strings'
            )
        return list(value)

    def objects(self, key: str) -> list[Body] | None:
        value = self.raw.get(key)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise PylonError(
                400, f'invalid request body: field "{key}" must be an array of objects'
            )
        return [Body(v) for v in value]

    def boolean(self, key: str) -> bool | None:
        value = self.raw.get(key)
        if value is None:
            return None
        if not isinstance(value, bool):
            raise PylonError(400, f'invalid request body: field "{key}" must be a boolean')
        return value


def checked_email(value: str) -> str:
    """The address as given (trimmed) when it is a valid email, else a 400."""
    candidate = value.strip()
    try:
        validate_email(candidate, check_deliverability=False)
    except EmailNotValidError:
        raise PylonError(400, f"invalid email: {candidate!r}") from None
    return candidate


def checked_phones(phones: list[str]) -> list[str]:
    for number in phones:
        if not _PHONE.fullmatch(number):
            raise PylonError(
                400,
                f"invalid phone number {number!r}: must contain only digits 0-9 "
                f"and be {MAX_PHONE_DIGITS} digits or less",
            )
    return phones


def primary_phone(phones: list[str], requested: str | None) -> str | None:
    """The spec: must be in phone_numbers; the first phone is primary when not given."""
    if requested is not None:
        if requested not in phones:
            raise PylonError(400, "primary_phone_number must be one of phone_numbers")
        return requested
    return phones[0] if phones else None


def checked_avatar(url: str) -> str:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise PylonError(400, f"invalid avatar_url {url!r}: must be an http(s) URL")  # (assumed)
    if not parsed.path.lower().endswith(AVATAR_SUFFIXES):
        raise PylonError(400, f"invalid avatar_url {url!r}: must be a .png, .jpg or .jpeg image")
    return url


def checked_portal_role(role: str) -> str:
    if role not in PORTAL_ROLES:
        raise PylonError(400, f"invalid portal_role {role!r}: must be one of {list(PORTAL_ROLES)}")
    return role


def checked_portal_role_id(role_id: str) -> str:
    # (assumed) the sandbox organization defines no custom portal roles
    raise PylonError(404, f"portal role {role_id} not found")


def checked_external_ids(
    entries: list[Body], index: ContactIndex, record_id: str | None
) -> list[dict[str, str]]:
    """ExternalID: external_id unique per object type, label unique per object."""
    result: list[dict[str, str]] = []
    labels: set[str] = set()
    values: set[str] = set()
    for entry in entries:
        external_id = entry.string("external_id")
        if not external_id:
            raise PylonError(400, "external_ids: external_id is required")  # (assumed)
        label = entry.string("label")
        if external_id in values:
            raise PylonError(400, f"external_ids: external_id {external_id!r} given twice")
        if label is not None and label in labels:
            raise PylonError(400, f"external_ids: label {label!r} must be unique per contact")
        owner = index.external_id_owner(external_id)
        if owner is not None and owner != record_id:
            raise PylonError(
                400, f"contact with external ID {external_id} already exists", exists_id=owner
            )
        values.add(external_id)
        item = {"external_id": external_id}
        if label is not None:
            labels.add(label)
            item["label"] = label
        result.append(item)
    return result


def applied_custom_fields(
    entries: list[Body], current: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Set or unset each given slug (``value`` for single-valued fields; neither = unset)."""
    result = copy.deepcopy(current)
    for entry in entries:
        slug = entry.string("slug")
        if not slug:
            raise PylonError(400, "custom_fields: slug is required")
        if slug not in CUSTOM_FIELDS:
            raise PylonError(400, f"custom field {slug!r} does not exist")  # (assumed) 400
        if entry.strings("values") is not None:
            raise PylonError(400, f"custom field {slug!r} is single-valued: use value, not values")
        value = entry.string("value")
        if value is None or value == "":
            result.pop(slug, None)
        else:
            result[slug] = {"slug": slug, "value": value}
    return result


def ensure_email_free(email: str, index: ContactIndex, record_id: str | None) -> None:
    owner = index.email_owner(email)
    if owner is not None and owner != record_id:
        raise PylonError(400, f"contact with email {email} already exists", exists_id=owner)


def checked_email_entries(entries: list[Body]) -> list[str]:
    """UpdateContactEmail[]: primary first; if none is marked primary the first is."""
    emails: list[str] = []
    primary_at: int | None = None
    for position, entry in enumerate(entries):
        raw = entry.string("email")
        if not raw:
            raise PylonError(400, "emails: each entry needs an email")
        email = checked_email(raw)
        if email.lower() in (e.lower() for e in emails):
            raise PylonError(400, f"emails: {email} given twice")  # (assumed)
        if entry.boolean("is_primary"):
            if primary_at is not None:
                raise PylonError(400, "emails: only one email can be primary")  # (assumed)
            primary_at = position
        emails.append(email)
    if primary_at:
        emails.insert(0, emails.pop(primary_at))
    return emails


def with_primary_email(emails: list[str], email: str) -> list[str]:
    """PATCH ``email``: an address the contact has becomes primary, otherwise it replaces
    the primary address (assumed)."""
    others = [e for e in emails if e.lower() != email.lower()]
    if len(others) < len(emails):
        return [email, *others]
    return [email, *emails[1:]]
