"""``match-file``'s field-level validation: one row's values to a Contact.

A value that does not validate costs that value only: it is dropped and reported
(:class:`ValueProblem`), and the row is matched on the rest. A value clearly in the
wrong column is moved to the right field and reported as salvaged: a phone number in
an email column, an email address in a phone column. A row is left out only when
nothing in it can identify anyone: no usable name, email, phone or reference id.

Invisible format characters (zero-width spaces and joiners, byte-order marks) are
removed from every value first: they come from copy and paste, never carry meaning,
and would make a good address or number fail validation.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from contactsync.model.contact import (
    Contact,
    Email,
    EmailType,
    Phone,
    PhoneType,
    normalize_email,
    normalize_phone,
    parse_contact,
)

NAME_FIELDS = ("first_name", "middle_name", "last_name", "full_name")
ADDRESS_FIELDS = ("city", "region", "postal_code", "country")
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
# Digits and the punctuation phone numbers are written with, optionally an extension.
_PHONE_LIKE = re.compile(r"^\+?[\d\s().\-/]{7,}((\s*(x|ext\.?|extension)\s*)\d{1,6})?$", re.I)
# What a placeholder name stands in for while the other fields of a nameless row validate.
_PLACEHOLDER_NAME = "\x00"
NOTHING_TO_IDENTIFY = "nothing to identify anyone by (no usable name, email, phone or id)"


@dataclass(frozen=True)
class ValueProblem:
    """One value dropped (or moved to another field) in one row."""

    line: int
    column: str
    target: str  # the canonical field the column is mapped to
    reason: str
    salvaged: bool = False

    def __str__(self) -> str:
        return f"line {self.line}: {self.column} ({self.target}): {self.reason}"


def clean_value(text: str) -> str:
    """The value without invisible format characters, trimmed."""
    if text.isascii():
        return text.strip()
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf").strip()


# A file repeats its addresses and numbers in many rows, in many spellings; parsing is
# most of the cost of reading a row (0.1-0.2 ms a value), so the results are cached by a
# key every spelling of one value shares, in caches sized for a file of 200,000 rows.
CACHE_SIZE = 1 << 17
_PLAIN_PHONE = re.compile(r"^\+?[\d\s().-]+$")


def email_or_error(text: str) -> tuple[str | None, str]:
    """The normalised address, or None and the reason (naming the value as typed)."""
    address = _cached_email(text.lower())
    if address is not None:
        return address, ""
    try:
        normalize_email(text)
    except ValueError as exc:
        return None, str(exc)
    return None, f"invalid email {text!r}"  # pragma: no cover - lower case made it invalid


@lru_cache(maxsize=CACHE_SIZE)
def _cached_email(key: str) -> str | None:
    try:
        return normalize_email(key)
    except ValueError:
        return None


def phone_or_error(text: str, region: str) -> tuple[tuple[str, str | None] | None, str]:
    """(E.164, extension), or None and the reason (naming the value as typed)."""
    phone = _cached_phone(_phone_key(text), region)
    if phone is not None:
        return phone, ""
    try:
        normalize_phone(text, region)
    except ValueError as exc:
        return None, str(exc)
    return None, f"invalid phone {text!r}"  # pragma: no cover - the key parses as the text


def _phone_key(text: str) -> str:
    """A number written with digits and punctuation only parses as its digits do
    (``(404) 555-0101`` like ``404.555.0101``): one cache entry for every format."""
    if _PLAIN_PHONE.match(text):
        return ("+" if text.startswith("+") else "") + "".join(ch for ch in text if ch.isdigit())
    return text


@lru_cache(maxsize=CACHE_SIZE)
def _cached_phone(key: str, region: str) -> tuple[str, str | None] | None:
    try:
        return normalize_phone(key, region)
    except ValueError:
        return None


def _date(text: str) -> dt.date | None:
    compact = _COMPACT_DATE.match(text)
    try:
        return dt.date.fromisoformat("-".join(compact.groups()) if compact else text)
    except ValueError:
        return None


class RowBuilder:
    """Collects one row's values field by field, then builds the Contact."""

    def __init__(self, line: int, region: str) -> None:
        self.line = line
        self.region = region
        self.problems: list[ValueProblem] = []
        self.emails: dict[str, Email] = {}
        self.phones: dict[str, Phone] = {}
        self.data: dict[str, Any] = {}
        self.address: dict[str, Any] = {}
        self._columns: dict[str, str] = {}  # field -> the column its value came from

    def problem(self, column: str, target: str, reason: str, salvaged: bool = False) -> None:
        self.problems.append(ValueProblem(self.line, column, target, reason, salvaged))

    def add(self, column: str, target: str, raw: str) -> None:
        text = clean_value(raw)
        if not text:
            return
        if target == "email":
            self._email(column, text)
        elif target == "phone":
            self._phone(column, text)
        elif target == "birthday":
            day = _date(text)
            if day is None:
                self.problem(column, target, f"not a date: {text!r} (expected YYYY-MM-DD)")
            else:
                self._set(column, target, day)
        elif target in NAME_FIELDS and not any(ch.isalpha() for ch in text):
            self.problem(column, target, f"not a name (no letters): {text!r}")
        elif target == "country" and not (len(text) == 2 and text.isascii() and text.isalpha()):
            self.problem(column, target, f"not an ISO 3166-1 alpha-2 code: {text!r}")
        elif target == "street":
            self.address.setdefault("lines", []).append(text)
        elif target in ADDRESS_FIELDS:
            self.address[target] = text
            self._columns[target] = column
        elif target == "organization":
            self._set(column, target, {"name": text})
        else:
            self._set(column, target, text)

    def _set(self, column: str, target: str, value: Any) -> None:
        self.data[target] = value
        self._columns[target] = column

    def _add_email(self, address: str) -> None:
        self.emails.setdefault(
            address, Email.model_construct(address=address, type=EmailType.OTHER)
        )

    def _add_phone(self, number: str, extension: str | None) -> None:
        self.phones.setdefault(
            number,
            Phone.model_construct(number=number, type=PhoneType.OTHER, extension=extension),
        )

    def _email(self, column: str, text: str) -> None:
        address, error = email_or_error(text)
        if address is not None:
            self._add_email(address)
            return
        if "@" not in text and _PHONE_LIKE.match(text):
            phone, _ = phone_or_error(text, self.region)
            if phone is not None:
                self._add_phone(*phone)
                self.problem(column, "email", f"{text!r} is a phone number: used as a phone", True)
                return
        self.problem(column, "email", error)

    def _phone(self, column: str, text: str) -> None:
        if "@" in text:
            address, _ = email_or_error(text)
            if address is not None:
                self._add_email(address)
                self.problem(column, "phone", f"{text!r} is an email: used as an email", True)
                return
        phone, error = phone_or_error(text, self.region)
        if phone is None:
            self.problem(column, "phone", error)
        else:
            self._add_phone(*phone)

    def identifiable(self) -> bool:
        named = any(self.data.get(name) for name in NAME_FIELDS)
        return named or bool(self.emails or self.phones or self.data.get("reference"))

    def contact(self) -> Contact | None:
        """The row's Contact (None when nothing identifies anyone); fields the model
        still refuses are dropped one by one and reported."""
        if not self.identifiable():
            return None
        data = dict(self.data)
        if self.address:
            data["address"] = self.address
        nameless = not any(data.get(name) for name in NAME_FIELDS)
        if nameless:  # validate everything else; the contact is matched without a name
            data["full_name"] = _PLACEHOLDER_NAME
        contact: Contact | None = None
        for _ in range(len(data) + len(self.address) + 1):  # each round drops a field
            contact, errors = parse_contact(data, self.region)
            if contact is not None:
                break
            for error in errors:
                top = re.split(r"[.\[]", error.field, maxsplit=1)[0]
                self._drop(data, error.field, top, str(error))
        if contact is None:
            return None
        if nameless:
            contact = contact.model_copy(update={"full_name": None})
        contact.emails, contact.phones = list(self.emails.values()), list(self.phones.values())
        return contact

    def _drop(self, data: dict[str, Any], path: str, top: str, reason: str) -> None:
        if top == "address" and isinstance(data.get("address"), dict):
            part = path.split(".")[1] if "." in path else ""
            part = re.split(r"[\[]", part, maxsplit=1)[0]
            address = dict(data["address"])
            address.pop(part, None) if part else address.clear()
            self.problem(self._columns.get(part, "address"), part or "address", reason)
            data["address"] = address
            return
        data.pop(top, None)
        self.problem(self._columns.get(top, top), top, reason)


def build_row(
    line: int, values: Sequence[tuple[str, str, str]], region: str
) -> tuple[Contact | None, list[ValueProblem]]:
    """(column, field, text) values of one row -> its Contact and the value problems."""
    builder = RowBuilder(line, region)
    for column, target, text in values:
        builder.add(column, target, text)
    return builder.contact(), builder.problems
