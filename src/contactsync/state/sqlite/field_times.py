"""The per-field change times the state keeps for each record (``records.field_times``).

:class:`FieldTimesMixin` works out, when a record is stored, the field times of the new
version from the old one (:func:`contactsync.model.field_changes.next_times`), and hands a
person's records' times to survivorship. How a changed field is dated:

* a user's edit in a system with timestamps: the record's own change time (``vendor``);
* a user's edit in a system without: the interval from the previous snapshot (when a
  pass last read the system, or when the old content was first seen, whichever is later) to
  now (``interval``); the very first sight of such a record is ``first_seen``;
* contactsync's own write (an echo, an adopted answer, a write's answer): the time of
  the edit the value came from, read from the person's golden provenance (``own``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from contactsync.model.field_changes import (
    FieldTime,
    FieldTimes,
    aware,
    baseline_times,
    next_times,
    own_stamp,
    record_stamp,
    times_from_json,
    times_to_json,
)
from contactsync.model.time import as_utc
from contactsync.state.sqlite.database import (
    Row,
    StoreCore,
    from_iso,
    from_json,
    json_object,
    opt_from_iso,
)
from contactsync.state.types import DEFAULT_STREAM, LAST_READ_STREAM


def _object_or_none(text: str | None) -> dict[str, Any] | None:
    value = from_json(text)
    return value if isinstance(value, dict) else None


def stored_times(row: Row) -> FieldTimes:
    """A stored record's field times; derived for a record stored before they were kept."""
    times = times_from_json(from_json(row["field_times"]))
    if times is not None:
        return times
    stamp = record_stamp(opt_from_iso(row["updated_at"]), from_iso(row["seen_at"]))
    return baseline_times(
        json_object(row["payload"]), _object_or_none(row["source_payload"]), stamp
    )


class FieldTimesMixin(StoreCore):
    def _times_after(
        self,
        system: str,
        before: Row | None,
        payload: Mapping[str, Any],
        *,
        source_updated_at: datetime | None,
        own_write: bool,
        person_id: str | None,
    ) -> dict[str, Any]:
        """The field times (as JSON) of ``payload``, the next version of ``before``."""
        before_payload = json_object(before["payload"]) if before is not None else None
        before_times = stored_times(before) if before is not None else None
        stamp: FieldTime | Any
        if own_write:
            owner = person_id or (before["person_id"] if before is not None else None)
            stamp = own_stamp(self._golden_provenance(owner))
        elif source_updated_at is not None:
            stamp = FieldTime(aware(source_updated_at), "vendor")
        else:
            stamp = self._untimed_stamp(system, before)
        return times_to_json(next_times(before_payload, before_times, payload, stamp))

    def _untimed_stamp(self, system: str, before: Row | None) -> FieldTime:
        now = as_utc(self._now())
        if before is None:
            return FieldTime(now, "first_seen")
        starts = [from_iso(before["seen_at"])]
        # the snapshot before this one: when a pass last read the system (older states,
        # and passes before that stream existed, have only the watermark)
        last_read = self._scalar(
            "SELECT value FROM watermarks WHERE system = ? AND stream IN (?, ?) "
            "ORDER BY value DESC LIMIT 1",
            (system, LAST_READ_STREAM, DEFAULT_STREAM),
        )
        if last_read is not None:
            starts.append(from_iso(last_read))
        return FieldTime(now, "interval", min(max(starts), now))

    def _golden_provenance(self, person_id: str | None) -> dict[str, Any]:
        if person_id is None:
            return {}
        live = self._resolve(person_id)
        if live is None:
            return {}
        text = self._scalar("SELECT provenance FROM persons WHERE person_id = ?", (live,))
        value = from_json(text)
        return value if isinstance(value, dict) else {}

    def field_times_of_person(self, person_id: str) -> dict[tuple[str, str], FieldTimes]:
        """(system, external id) -> field times, for every record of the person."""
        rows = self._all(
            "SELECT system, external_id, payload, source_payload, updated_at, seen_at, "
            "field_times FROM records WHERE person_id = ?",
            (person_id,),
        )
        return {(row["system"], row["external_id"]): stored_times(row) for row in rows}
