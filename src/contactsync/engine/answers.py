"""A vendor's answer to a write, mapped in the way an extract would map it, so that the
next extract of that record is recognised as contactsync's own echo."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from contactsync.mapping.mapper import Mapping
from contactsync.model.contact import SourceRef, dumped_content_hash

__all__ = ["Answer", "mapped_answer"]


@dataclass(frozen=True)
class Answer:
    """What the state keeps of a record as the vendor answered a write."""

    payload: dict[str, Any]
    digest: str
    updated_at: datetime | None


def mapped_answer(
    mapping: Mapping, default_region: str, system: str, external_id: str, record: dict[str, Any]
) -> Answer | None:
    """``record`` (the vendor's answer) mapped in; None when it says nothing usable."""
    if not record:
        return None
    contact, _errors = mapping.inbound(record, default_region=default_region)
    if contact is None:
        return None
    source = SourceRef(system=system, external_id=external_id)
    payload = contact.model_copy(update={"source": source}).model_dump(mode="json")
    return Answer(payload, dumped_content_hash(payload), contact.updated_at)
