"""Values on their way through a mapping: emptiness, building a Contact, reading sources.

Inbound, :class:`ContactBuilder` collects canonical values as plain data and remembers
which rule fed each place, so a validation error on ``emails[1]`` can be reported
against the vendor field it came from. Outbound, :func:`read_source` reads one
source (``phones:work``, ``organization.channels:general:telephone`` ...) from a Contact.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import Enum
from typing import Any

from contactsync.mapping.paths import MISSING
from contactsync.mapping.schema import (
    CHANNELS,
    LIST_FIELDS,
    NAME_FIELDS,
    TEXT_FIELDS,
    InboundRule,
    Source,
)
from contactsync.mapping.transforms import TransformError, as_text, describe, parse_phone
from contactsync.model.contact import Contact, Phone, normalize_email

#: text made only of what a written phone number holds (digits, separators, an extension)
_PHONE_LIKE = re.compile(r"^\+?[\d\s().\-/]+(?:\s*(?:x|ext\.?)\s*\d{1,6})?$", re.IGNORECASE)


def is_empty(value: Any) -> bool:
    """Missing, null, blank text, or a list/object holding nothing but empties."""
    if value is MISSING or value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, dict):
        return all(is_empty(v) for v in value.values())
    if isinstance(value, list):
        return all(is_empty(v) for v in value)
    return False


def shown(value: Any) -> str | None:
    return None if isinstance(value, dict | list) else repr(value)[:200]


def read_source(contact: Contact, source: Source, system: str) -> Any:
    """The value an outbound source reads from ``contact`` (a list for ``[*]`` sources)."""
    name = source.field
    org = contact.organization
    if name == "name":
        return {key: getattr(contact, key) for key in NAME_FIELDS}
    if name == CHANNELS:
        channels = org.channels if org else []
        attr = source.attr or "telephone"
        matching = (getattr(c, attr) for c in channels if c.label.value == source.kind)
        return next((value for value in matching if value), None)
    if name in LIST_FIELDS:
        return _pick(_list_items(contact, name, source.kind), source)
    if name == "organization.ref":
        return org.refs.get(system) if org else None
    owner, _, attribute = name.rpartition(".")
    holder: Any = {"": contact, "organization": org, "address": contact.address}[owner]
    return getattr(holder, attribute) if holder is not None else None


def _render_phone(phone: Phone) -> str:
    return f"{phone.number} x{phone.extension}" if phone.extension else phone.number


def _list_items(contact: Contact, name: str, kind: str | None) -> list[str]:
    if name == "emails":
        return [e.address for e in contact.emails if kind is None or e.type.value == kind]
    if name == "phones":
        return [_render_phone(p) for p in contact.phones if kind is None or p.type.value == kind]
    return list(contact.address.lines) if contact.address else []


def _pick(items: list[str], source: Source) -> Any:
    if source.all:
        return items
    position = source.index or 0
    return items[position] if position < len(items) else None


def jsonable(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


class ContactBuilder:
    """Collects canonical values as plain data, remembering which rule fed each place."""

    def __init__(self, system: str, region: str) -> None:
        self.system = system
        self.region = region
        self.data: dict[str, Any] = {}
        self.origins: dict[str, str] = {}

    def put(self, rule: InboundRule, value: Any) -> None:
        target = rule.target
        if target in ("emails", "phones", "address.lines"):
            self._append(rule, value)
            return
        if target in TEXT_FIELDS:
            value = as_text(value).strip()
            if not value:
                return
        elif not isinstance(value, str | date):
            raise TransformError(f"expected a date or timestamp, got {describe(value)}")
        holder, key, location = self._place(target)
        if key not in holder:
            holder[key] = value
            self.origins[location] = rule.label

    def _place(self, target: str) -> tuple[dict[str, Any], str, str]:
        if target == "organization.ref":
            org = self.data.setdefault("organization", {})
            return org.setdefault("refs", {}), self.system, f"organization.refs.{self.system}"
        owner, _, key = target.rpartition(".")
        holder = self.data.setdefault(owner, {}) if owner else self.data
        return holder, key, target

    def _append(self, rule: InboundRule, value: Any) -> None:
        text = as_text(value).strip()
        if not text:
            return
        if rule.target == "address.lines":
            lines = self.data.setdefault("address", {}).setdefault("lines", [])
            self.origins[f"address.lines[{len(lines)}]"] = rule.label
            lines.append(text)
            return
        items = self.data.setdefault(rule.target, [])
        kind = rule.kind or "other"
        if rule.target == "emails":
            try:
                entry: dict[str, Any] = {"address": normalize_email(text), "type": kind}
            except ValueError as exc:
                raise TransformError(str(exc)) from None
            duplicate = any(item["address"] == entry["address"] for item in items)
        else:
            number, extension = parse_phone(text, self.region)
            entry = {"number": number, "type": kind, "extension": extension}
            # one entry per number *and* kind: a record holding one number as its mobile
            # and its work phone holds both, and the outbound mapping must see both (else
            # the work phone looks missing and is planned again on every run)
            duplicate = any(
                (item["number"], item["extension"], item["type"]) == (number, extension, kind)
                for item in items
            )
        if not duplicate:
            self.origins[f"{rule.target}[{len(items)}]"] = rule.label
            items.append(entry)

    def salvage(self, rule: InboundRule, value: Any) -> str | None:
        """Put a value that is clearly in the wrong column where it belongs: an email
        address found in a phone field goes to ``emails``, a phone number found in an
        email field to ``phones``. Returns the canonical field it went to, or None when
        the value is not clearly the other kind (it is then simply left out)."""
        if rule.target not in ("emails", "phones") or not isinstance(value, str | int):
            return None
        if isinstance(value, bool):  # an int to Python, but never an address or a number
            return None
        text = as_text(value).strip()
        moved_to = "phones" if rule.target == "emails" else "emails"
        if moved_to == "emails" and "@" not in text:
            return None
        if moved_to == "phones" and (not _PHONE_LIKE.match(text) or _digits(text) < 7):
            return None
        kind = rule.kind if rule.kind in LIST_FIELDS[moved_to] else "other"
        moved = InboundRule(
            rule.number, rule.line, rule.source, rule.path, moved_to, kind, rule.transforms
        )
        try:
            self._append(moved, text)
        except (ValueError, TypeError):
            return None
        return moved_to


def _digits(text: str) -> int:
    return sum(character.isdigit() for character in text)


_PATH_PART = re.compile(r"[^.\[\]]+|\[\d+\]")


def drop_value(data: dict[str, Any], path: str) -> bool:
    """Remove the value a validation error points at (``address.country``,
    ``phones[1].number``: the whole list element) from ``data``; False when ``path``
    names nothing that can be removed (``(record)``: the record as a whole)."""
    parts = _PATH_PART.findall(path)
    holder: Any = data
    for position, part in enumerate(parts):
        key: str | int = int(part[1:-1]) if part.startswith("[") else part
        in_list = isinstance(holder, list) and isinstance(key, int) and 0 <= key < len(holder)
        in_dict = isinstance(holder, dict) and isinstance(key, str) and key in holder
        if not (in_list or in_dict):
            return False
        if position == len(parts) - 1 or isinstance(key, int):  # a list element goes whole
            del holder[key]
            return True
        holder = holder[key]
    return False
    return False
