"""Survivorship: one golden record per person, built field by field from its records.

For every field:

* the newest change wins, by the source's own timestamp (``updated_at``; for a
  system without one, such as Pylon, when contactsync first saw that record's
  content: ``seen_at``);
* equally new changes are decided by the configured system priority (lower
  number wins; a system without one comes last), then by system name and record
  id, so the result never depends on the order of the sources;
* an empty value never overwrites a filled one;
* multi-valued fields (emails, phones, the organization's channels and refs) are
  the union of all sources, the winning source's primary first;
* the address is one value (its lines, city and postal code belong together).

Every golden field keeps its provenance: which system and record said it, and when.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from contactsync.models import Contact, Organization, OrgChannel, Phone

SCALAR_FIELDS = (
    "first_name",
    "middle_name",
    "last_name",
    "full_name",
    "nickname",
    "maiden_name",
    "job_title",
    "birthday",
    "language",
    "notes",
    "reference",
    "status",
    "address",
)
_NEVER = datetime.min.replace(tzinfo=UTC)
_LAST_PRIORITY = 1 << 30


@dataclass(frozen=True)
class SourceContact:
    """One system's record of the person, with the system's own timestamp of its last change."""

    system: str
    external_id: str
    contact: Contact
    updated_at: datetime | None = None
    seen_at: datetime | None = None  # when contactsync first saw this content (no own timestamp)

    @property
    def changed_at(self) -> datetime | None:
        return _aware(self.updated_at) or _aware(self.seen_at)


@dataclass(frozen=True)
class Provenance:
    """Where a golden value came from."""

    system: str
    external_id: str
    at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "external_id": self.external_id,
            "at": self.at.isoformat() if self.at else None,
        }

    @classmethod
    def of(cls, source: SourceContact) -> Provenance:
        return cls(source.system, source.external_id, source.changed_at)


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def precedence(
    sources: Sequence[SourceContact], priority: Mapping[str, int]
) -> list[SourceContact]:
    """Sources from the one that wins ties of every field to the one that loses them."""

    def rank(source: SourceContact) -> tuple[Any, ...]:
        moment = source.changed_at or _NEVER
        return (
            -moment.timestamp(),
            priority.get(source.system, _LAST_PRIORITY),
            source.system,
            source.external_id,
        )

    return sorted(sources, key=rank)


def _filled(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    if hasattr(value, "is_empty"):
        return not value.is_empty()
    return True


def merge(
    sources: Sequence[SourceContact], priority: Mapping[str, int]
) -> tuple[Contact, dict[str, Provenance]]:
    """The golden contact of one person, and the provenance of each of its fields."""
    if not sources:
        raise ValueError("merge needs at least one source record")
    ordered = precedence(sources, priority)
    values: dict[str, Any] = {}
    provenance: dict[str, Provenance] = {}
    for name in SCALAR_FIELDS:
        for source in ordered:
            value = getattr(source.contact, name)
            if _filled(value):
                values[name] = value
                provenance[name] = Provenance.of(source)
                break
    values["emails"] = _union(
        ordered, lambda c: c.emails, lambda e: e.address, "emails", provenance
    )
    values["phones"] = _with_extensions(
        _union(ordered, lambda c: c.phones, lambda p: p.number, "phones", provenance), ordered
    )
    organization = _organization(ordered, provenance)
    if organization is not None:
        values["organization"] = organization
    moments = [s.changed_at for s in ordered if s.changed_at is not None]
    values["updated_at"] = max(moments) if moments else None
    return Contact.model_validate(values), provenance


def _union(
    ordered: Sequence[SourceContact],
    items_of: Callable[[Contact], Sequence[Any]],
    identity: Callable[[Any], Any],
    path: str,
    provenance: dict[str, Provenance],
) -> list[Any]:
    """All sources' items, once each, in precedence order (the winner's primary first)."""
    seen: set[Any] = set()
    merged: list[Any] = []
    for source in ordered:
        for item in items_of(source.contact):
            key = identity(item)
            if key in seen:
                continue
            seen.add(key)
            provenance[f"{path}[{len(merged)}]"] = Provenance.of(source)
            merged.append(item.model_copy())
    return merged


def _with_extensions(phones: list[Phone], ordered: Sequence[SourceContact]) -> list[Phone]:
    """A number's extension from the first source that has one (empty never overwrites)."""
    for phone in phones:
        if phone.extension:
            continue
        for source in ordered:
            known = next(
                (p.extension for p in source.contact.phones if p.number == phone.number), None
            )
            if known:
                phone.extension = known
                break
    return phones


def _organization(
    ordered: Sequence[SourceContact], provenance: dict[str, Provenance]
) -> Organization | None:
    holders = [s for s in ordered if s.contact.organization is not None]
    if not holders:
        return None
    name = None
    for source in holders:
        org = source.contact.organization
        if org is not None and _filled(org.name):
            name = org.name
            provenance["organization.name"] = Provenance.of(source)
            break
    refs: dict[str, str] = {}
    for source in holders:
        org = source.contact.organization
        for system, ref in (org.refs if org else {}).items():
            if system not in refs and ref:
                refs[system] = ref
                provenance[f"organization.refs.{system}"] = Provenance.of(source)
    channels: list[OrgChannel] = _union(
        holders,
        lambda c: c.organization.channels if c.organization else [],
        lambda ch: (ch.label, ch.telephone, ch.email, ch.website),
        "organization.channels",
        provenance,
    )
    if name is None and not refs and not channels:
        return None
    return Organization(name=name, refs=refs, channels=channels)


__all__ = ["Provenance", "SourceContact", "merge", "precedence"]
