"""One system's record of a person as survivorship reads it (:mod:`.golden`), with
its change times; shared by the golden record and the displaced-values rule."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from contactsync.model.contact import Contact
from contactsync.model.field_changes import FieldTime, aware, record_stamp

__all__ = ["SourceContact"]


@dataclass(frozen=True)
class SourceContact:
    """One system's record of the person: its content, its change times (the record's
    own, and per field where known)."""

    system: str
    external_id: str
    contact: Contact
    updated_at: datetime | None = None
    seen_at: datetime | None = None  # when contactsync first saw this content (no own timestamp)
    field_times: Mapping[str, FieldTime] | None = None
    users_content: Mapping[str, Any] | None = None  # what its users last left (displaced.py)

    @property
    def changed_at(self) -> datetime | None:
        return aware(self.updated_at) or aware(self.seen_at)

    def time_of(self, key: str) -> FieldTime:
        """When the field ``key`` last changed here (the record's time if not known)."""
        if self.field_times is not None and key in self.field_times:
            return self.field_times[key]
        return record_stamp(self.updated_at, self.seen_at)

    def has_opinion(self, key: str) -> bool:
        return self.field_times is not None and key in self.field_times

    @property
    def made_by_users(self) -> bool:
        """False for a record holding only what contactsync wrote there."""
        times = self.field_times
        return times is None or not times or any(not t.own for t in times.values())
