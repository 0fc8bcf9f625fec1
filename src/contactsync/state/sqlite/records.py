"""Watermarks, staged records (the crosswalk), pushed hashes and the quarantine."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from contactsync.state.sqlite.database import (
    Row,
    from_iso,
    from_json,
    json_object,
    opt_from_iso,
    opt_iso,
    opt_to_json,
    to_iso,
    to_json,
)
from contactsync.state.sqlite.field_times import FieldTimesMixin
from contactsync.state.types import (
    DEFAULT_STREAM,
    QuarantineEntry,
    RecordChange,
    StateError,
    StoredRecord,
    raw_hash,
)

_BATCH = 500


def _record(row: Row) -> StoredRecord:
    return StoredRecord(
        system=row["system"],
        external_id=row["external_id"],
        person_id=row["person_id"],
        hash=row["hash"],
        payload=json_object(row["payload"]),
        raw=from_json(row["raw"]),
        seen_at=from_iso(row["seen_at"]),
        source_updated_at=opt_from_iso(row["updated_at"]),
        deleted_at=opt_from_iso(row["deleted_at"]),
        unplanned=bool(row.get("unplanned", 0)),
        source_payload=_object_or_none(row.get("source_payload")),
    )


def digest_of(raw_digest: str | None, hash: str) -> str | None:
    """What ``records.raw_digest`` holds: the raw record's digest joined to its hash."""
    return None if raw_digest is None else f"{raw_digest}:{hash}"


def _object_or_none(text: str | None) -> dict[str, Any] | None:
    value = from_json(text)
    return value if isinstance(value, dict) else None


def _quarantined(row: Row) -> QuarantineEntry:
    return QuarantineEntry(
        system=row["system"],
        external_id=row["external_id"],
        reason=row["reason"],
        raw=from_json(row["raw"]),
        raw_hash=row["raw_hash"],
        first_seen=from_iso(row["first_seen"]),
        last_seen=from_iso(row["last_seen"]),
    )


class RecordsMixin(FieldTimesMixin):
    # --- watermarks ------------------------------------------------------------------

    def get_watermark(self, system: str, stream: str = DEFAULT_STREAM) -> datetime | None:
        """How far change detection for ``system``/``stream`` got (aware UTC), or None."""
        value = self._scalar(
            "SELECT value FROM watermarks WHERE system = ? AND stream = ?", (system, stream)
        )
        return None if value is None else from_iso(value)

    def set_watermark(self, system: str, value: datetime, stream: str = DEFAULT_STREAM) -> None:
        """Store the watermark (moving it back is allowed: a backfill resets it)."""
        self._write(
            """
            INSERT INTO watermarks (system, stream, value, updated_at) VALUES (?, ?, ?, ?)
            ON CONFLICT (system, stream)
            DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
            """,
            (system, stream, to_iso(value), to_iso(self._now())),
        )

    def watermarks(self, system: str) -> dict[str, datetime]:
        """Every stream's watermark for one system."""
        rows = self._all("SELECT stream, value FROM watermarks WHERE system = ?", (system,))
        return {row["stream"]: from_iso(row["value"]) for row in rows}

    # --- records and the crosswalk ---------------------------------------------------

    def upsert_record(
        self,
        system: str,
        external_id: str,
        *,
        hash: str,
        payload: Mapping[str, Any] | BaseModel,
        source_updated_at: datetime | None = None,
        person_id: str | None = None,
        raw: Any = None,
        unplanned: bool = False,
        own_write: bool = False,
        raw_digest: str | None = None,
        source_payload: Mapping[str, Any] | None = None,
    ) -> RecordChange:
        """Stage a record: store its canonical payload and hash, mark it seen now.

        ``person_id=None`` keeps whatever link the record already has; a person
        that was merged away stands for the one that absorbed it. A record
        seen again is no longer deleted, and a clean stage clears its quarantine.
        ``unplanned=True`` marks the record as waiting for a plan (see
        :meth:`unplanned_records`); False leaves an earlier mark in place.
        ``own_write=True`` says the content is contactsync's own write (read back):
        the record's source content and its times stay what its users last made them.
        ``source_payload`` (not with ``own_write``): the content its users made, when that
        is not all of ``payload`` (a revert's write: only what it restored).
        ``raw_digest`` identifies ``raw`` under the mapping that gave ``hash`` (see
        :meth:`RecordScansMixin.stage_glances`); None when there is no such raw record.
        The record's per-field change times follow from the diff with the stored
        version (see :mod:`contactsync.state.sqlite.field_times`).
        """
        now = to_iso(self._now())
        payload_json = (
            payload.model_dump(mode="json") if isinstance(payload, BaseModel) else dict(payload)
        )
        with self.transaction():
            stored = self._one(
                "SELECT hash, payload, source_payload, updated_at, seen_at, person_id, "
                "field_times FROM records WHERE system = ? AND external_id = ?",
                (system, external_id),
            )
            before = None if stored is None else stored["hash"]
            if person_id is not None:
                person_id = self._live_person(person_id, system, external_id)
            field_times = self._times_after(
                system,
                stored,
                payload_json,
                source_updated_at=source_updated_at,
                own_write=own_write,
                person_id=person_id,
            )
            self._write(
                """
                INSERT INTO records (system, external_id, person_id, hash, payload, raw,
                                     seen_at, updated_at, deleted_at, unplanned, source_payload,
                                     raw_digest, field_times)
                VALUES (:system, :external_id, :person_id, :hash, :payload, :raw, :now,
                        CASE WHEN :own THEN NULL ELSE :updated_at END, NULL, :unplanned,
                        CASE WHEN :own THEN NULL ELSE :source END, :raw_digest, :field_times)
                ON CONFLICT (system, external_id) DO UPDATE SET
                    person_id = COALESCE(excluded.person_id, records.person_id),
                    hash = excluded.hash, payload = excluded.payload, raw = excluded.raw,
                    seen_at = CASE WHEN :own THEN records.seen_at ELSE excluded.seen_at END,
                    updated_at = CASE WHEN :own THEN records.updated_at
                                      ELSE excluded.updated_at END,
                    source_payload = CASE WHEN :own THEN records.source_payload
                                          ELSE excluded.source_payload END,
                    deleted_at = NULL, unplanned = MAX(records.unplanned, excluded.unplanned),
                    raw_digest = excluded.raw_digest, field_times = excluded.field_times
                """,
                {
                    "system": system,
                    "external_id": external_id,
                    "person_id": person_id,
                    "hash": hash,
                    "payload": to_json(payload_json),
                    "source": to_json(payload_json if source_payload is None else source_payload),
                    "field_times": to_json(field_times),
                    "raw": opt_to_json(raw),
                    "now": now,
                    "updated_at": opt_iso(source_updated_at),
                    "unplanned": int(unplanned),
                    "own": int(own_write),
                    "raw_digest": digest_of(raw_digest, hash),
                },
            )
            self._write(
                "DELETE FROM quarantine WHERE system = ? AND external_id = ?",
                (system, external_id),
            )
        if before is None:
            return RecordChange.CREATED
        return RecordChange.UNCHANGED if before == hash else RecordChange.CHANGED

    def get_record(self, system: str, external_id: str) -> StoredRecord | None:
        row = self._one(
            "SELECT * FROM records WHERE system = ? AND external_id = ?", (system, external_id)
        )
        return None if row is None else _record(row)

    def record_raw(self, system: str, external_id: str) -> Any:
        """The vendor record as last read or written (None if unknown), without parsing
        the rest of the stored record."""
        return from_json(
            self._scalar(
                "SELECT raw FROM records WHERE system = ? AND external_id = ?",
                (system, external_id),
            )
        )

    def person_for(self, system: str, external_id: str) -> str | None:
        """The crosswalk: which person a system's record belongs to."""
        value = self._scalar(
            "SELECT person_id FROM records WHERE system = ? AND external_id = ?",
            (system, external_id),
        )
        return None if value is None else str(value)

    def records_for_person(
        self, person_id: str, *, include_deleted: bool = False
    ) -> list[StoredRecord]:
        deleted = "" if include_deleted else "AND deleted_at IS NULL"
        rows = self._all(
            f"SELECT * FROM records WHERE person_id = ? {deleted} ORDER BY system, external_id",  # noqa: S608
            (person_id,),
        )
        return [_record(row) for row in rows]

    def link(self, system: str, external_id: str, person_id: str) -> None:
        """Point an already staged record at a person (resolved through merges)."""
        with self.transaction():
            person_id = self._live_person(person_id, system, external_id)
            changed = self._write(
                "UPDATE records SET person_id = ? WHERE system = ? AND external_id = ?",
                (person_id, system, external_id),
            )
            if not changed:
                raise StateError(f"{system} record {external_id!r}: not staged, cannot link it")

    def mark_deleted(self, system: str, external_id: str, at: datetime | None = None) -> bool:
        """Note that a record disappeared from its system (it then waits for a plan, see
        :meth:`unplanned_records`); False if it was never staged."""
        return bool(
            self._write(
                """
                UPDATE records SET deleted_at = ?, unplanned = 1
                WHERE system = ? AND external_id = ? AND deleted_at IS NULL
                """,
                (to_iso(self._now(at)), system, external_id),
            )
        )

    def unplanned_records(self) -> list[StoredRecord]:
        """Records staged (or found deleted) whose plan never reached the outbox: a run
        was killed, or failed, between staging them and planning them."""
        rows = self._all("SELECT * FROM records WHERE unplanned = 1 ORDER BY system, external_id")
        return [_record(row) for row in rows]

    def mark_planned(self, keys: Iterable[tuple[str, str]]) -> None:
        """The plan for these ``(system, external_id)`` records is in the outbox."""
        with self.transaction():
            for system, external_id in keys:
                self._write(
                    "UPDATE records SET unplanned = 0 "
                    "WHERE system = ? AND external_id = ? AND unplanned = 1",
                    (system, external_id),
                )

    def iter_records(
        self, system: str | None = None, *, include_deleted: bool = False
    ) -> Iterator[StoredRecord]:
        """Every staged record, read in pages of a few hundred (never all at once)."""
        where = ["(system, external_id) > (:after_system, :after_id)"]
        if system is not None:
            where.append("system = :system")
        if not include_deleted:
            where.append("deleted_at IS NULL")
        sql = (
            f"SELECT * FROM records WHERE {' AND '.join(where)} "  # noqa: S608
            f"ORDER BY system, external_id LIMIT {_BATCH}"
        )
        after = ("", "")
        while True:
            params = {"after_system": after[0], "after_id": after[1], "system": system}
            rows = self._all(sql, params)
            for row in rows:
                yield _record(row)
            if len(rows) < _BATCH:
                return
            after = (rows[-1]["system"], rows[-1]["external_id"])

    def record_hashes(self, system: str) -> dict[str, str]:
        """external id -> hash of every live record of a system (for snapshot diffs)."""
        rows = self._all(
            "SELECT external_id, hash FROM records WHERE system = ? AND deleted_at IS NULL",
            (system,),
        )
        return {row["external_id"]: row["hash"] for row in rows}

    # --- what contactsync wrote (echo suppression) -----------------------------------

    def remember_push(
        self, system: str, external_id: str, hash: str, at: datetime | None = None
    ) -> None:
        self._write(
            """
            INSERT INTO pushed (system, external_id, hash, pushed_at) VALUES (?, ?, ?, ?)
            ON CONFLICT (system, external_id)
            DO UPDATE SET hash = excluded.hash, pushed_at = excluded.pushed_at
            """,
            (system, external_id, hash, to_iso(self._now(at))),
        )

    def pushed_hash(self, system: str, external_id: str) -> str | None:
        value = self._scalar(
            "SELECT hash FROM pushed WHERE system = ? AND external_id = ?", (system, external_id)
        )
        return None if value is None else str(value)

    def changed_by_users_since_push(self, system: str, external_id: str) -> bool:
        """Whether a user's change to the record was staged after contactsync last wrote
        it (so content equal to that write is no echo of it)."""
        row = self._one(
            "SELECT p.pushed_at, r.seen_at FROM pushed AS p JOIN records AS r "
            "ON r.system = p.system AND r.external_id = p.external_id "
            "WHERE p.system = ? AND p.external_id = ?",
            (system, external_id),
        )
        return row is not None and from_iso(row["seen_at"]) > from_iso(row["pushed_at"])

    def pushed_hashes(self, system: str) -> dict[str, str]:
        """external id -> last pushed hash, for checking a whole batch for echoes."""
        rows = self._all("SELECT external_id, hash FROM pushed WHERE system = ?", (system,))
        return {row["external_id"]: row["hash"] for row in rows}

    # --- quarantine ------------------------------------------------------------------

    def quarantine(self, system: str, external_id: str, reason: str, raw: Any) -> QuarantineEntry:
        """Keep a record that failed validation, with why; re-quarantining updates it.

        A record without a usable id still needs a key: pass a stand-in such as
        ``"?" + raw_hash(raw)``.
        """
        now = to_iso(self._now())
        with self.transaction():
            self._write(
                """
                INSERT INTO quarantine (system, external_id, reason, raw, raw_hash,
                                        first_seen, last_seen)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (system, external_id) DO UPDATE SET
                    reason = excluded.reason, raw = excluded.raw,
                    raw_hash = excluded.raw_hash, last_seen = excluded.last_seen
                """,
                (system, external_id, reason, opt_to_json(raw), raw_hash(raw), now, now),
            )
            row = self._one(
                "SELECT * FROM quarantine WHERE system = ? AND external_id = ?",
                (system, external_id),
            )
        assert row is not None
        return _quarantined(row)

    def clear_quarantine(self, system: str, external_id: str) -> bool:
        return bool(
            self._write(
                "DELETE FROM quarantine WHERE system = ? AND external_id = ?",
                (system, external_id),
            )
        )

    def list_quarantine(self, system: str | None = None) -> list[QuarantineEntry]:
        rows = self._all(
            """
            SELECT * FROM quarantine WHERE (:system IS NULL OR system = :system)
            ORDER BY system, external_id
            """,
            {"system": system},
        )
        return [_quarantined(row) for row in rows]

    def is_same_quarantined(self, system: str, external_id: str, raw_hash: str) -> bool:
        """True when exactly this raw record (by hash) is already in quarantine."""
        stored = self._scalar(
            "SELECT raw_hash FROM quarantine WHERE system = ? AND external_id = ?",
            (system, external_id),
        )
        return bool(stored == raw_hash)
