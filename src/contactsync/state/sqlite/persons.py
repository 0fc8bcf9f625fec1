"""Persons (golden records), merges and splits, unholdable persons."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from contactsync.state.sqlite.database import (
    Row,
    StoreCore,
    from_iso,
    json_object,
    sortable_id,
    to_iso,
    to_json,
)
from contactsync.state.types import (
    OutboxStatus,
    Person,
    PersonEvent,
    PersonEventKind,
    StateError,
    UnholdableEntry,
)

_BATCH = 500


def new_person_id(now: datetime | None = None) -> str:
    """``p_`` + a time-ordered ULID: a person made earlier has the smaller id."""
    return sortable_id("p_", now)


def _person(row: Row) -> Person:
    return Person(
        person_id=row["person_id"],
        golden=json_object(row["golden"]),
        provenance=json_object(row["provenance"]),
        created_at=from_iso(row["created_at"]),
        updated_at=from_iso(row["updated_at"]),
        merged_into=row["merged_into"],
    )


class PersonsMixin(StoreCore):
    # --- persons ---------------------------------------------------------------------

    def new_person_id(self) -> str:
        return new_person_id(self._now())

    def create_person(
        self,
        golden: Mapping[str, Any] | BaseModel | None = None,
        provenance: Mapping[str, Any] | None = None,
        *,
        person_id: str | None = None,
    ) -> str:
        """Start a new person (a ``create`` event is recorded) and return its id."""
        person_id = person_id or self.new_person_id()
        with self.transaction():
            if self._scalar("SELECT 1 FROM persons WHERE person_id = ?", (person_id,)):
                raise StateError(f"person {person_id!r} already exists")
            self.save_person(person_id, golden or {}, provenance or {})
            self._event(PersonEventKind.CREATE, person_id, None, {})
        return person_id

    def save_person(
        self,
        person_id: str,
        golden: Mapping[str, Any] | BaseModel,
        provenance: Mapping[str, Any],
    ) -> None:
        """Store a person's golden record and provenance (creating the row if new)."""
        now = to_iso(self._now())
        self._write(
            """
            INSERT INTO persons (person_id, golden, provenance, created_at, updated_at)
            VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (person_id) DO UPDATE SET
                golden = excluded.golden, provenance = excluded.provenance,
                updated_at = excluded.updated_at
            """,
            (person_id, to_json(golden), to_json(provenance), now, now),
        )

    def get_person(self, person_id: str) -> Person | None:
        row = self._one("SELECT * FROM persons WHERE person_id = ?", (person_id,))
        return None if row is None else _person(row)

    def resolve_person(self, person_id: str) -> str:
        """Follow ``merged_into`` links to the person that absorbed ``person_id``."""
        live = self._resolve(person_id)
        if live is None:
            raise StateError(f"person {person_id!r} does not exist")
        return live

    def iter_persons(self, *, include_merged: bool = False) -> Iterator[Person]:
        """Every person, oldest id first, read in pages."""
        merged = "" if include_merged else "AND merged_into IS NULL"
        sql = (
            f"SELECT * FROM persons WHERE person_id > ? {merged} "  # noqa: S608
            f"ORDER BY person_id LIMIT {_BATCH}"
        )
        after = ""
        while True:
            rows = self._all(sql, (after,))
            for row in rows:
                yield _person(row)
            if len(rows) < _BATCH:
                return
            after = rows[-1]["person_id"]

    def merge_persons(self, person_id: str, other_person_id: str) -> str:
        """Merge two persons; the older id (smaller) survives and is returned.

        The absorbed person's records move to the survivor, it gets
        ``merged_into``, its pending/failed outbox actions are skipped (the
        planner plans again for the survivor), its unholdable notes are dropped,
        and a ``merge`` event is recorded. Rebuilding the survivor's golden
        record is the merge step's job.
        """
        with self.transaction():
            first, second = self.resolve_person(person_id), self.resolve_person(other_person_id)
            if first == second:
                return first
            survivor, absorbed = min(first, second), max(first, second)
            moved = self._all(
                "SELECT system, external_id FROM records WHERE person_id = ? "
                "ORDER BY system, external_id",
                (absorbed,),
            )
            self._write(
                "UPDATE records SET person_id = ? WHERE person_id = ?", (survivor, absorbed)
            )
            now = to_iso(self._now())
            self._write(
                "UPDATE persons SET merged_into = ?, updated_at = ? WHERE person_id = ?",
                (survivor, now, absorbed),
            )
            self._write(
                "UPDATE persons SET merged_into = ?, updated_at = ? WHERE merged_into = ?",
                (survivor, now, absorbed),
            )
            self._write(
                """
                UPDATE outbox SET status = ?, last_error = ?, updated_at = ?
                WHERE person_id = ? AND status IN (?, ?)
                """,
                (
                    OutboxStatus.SKIPPED.value,
                    f"person merged into {survivor}",
                    now,
                    absorbed,
                    OutboxStatus.PENDING.value,
                    OutboxStatus.FAILED.value,
                ),
            )
            self._write("DELETE FROM unholdable WHERE person_id = ?", (absorbed,))
            detail = {"records": [[row["system"], row["external_id"]] for row in moved]}
            self._event(PersonEventKind.MERGE, survivor, absorbed, detail)
        return survivor

    def split_record(self, system: str, external_id: str) -> str:
        """Detach one record from its person into a new person; returns the new id."""
        with self.transaction():
            old_person = self._scalar(
                "SELECT person_id FROM records WHERE system = ? AND external_id = ?",
                (system, external_id),
            )
            if old_person is None:
                raise StateError(f"{system} record {external_id!r}: not linked to a person")
            new_id = self.new_person_id()
            self.save_person(new_id, {}, {})
            self._write(
                "UPDATE records SET person_id = ? WHERE system = ? AND external_id = ?",
                (new_id, system, external_id),
            )
            detail = {"records": [[system, external_id]]}
            self._event(PersonEventKind.SPLIT, new_id, str(old_person), detail)
        return new_id

    def split_records(self, person_id: str, records: Sequence[tuple[str, str]]) -> str:
        """Move these records of one person to a new person (``persons split``); at least
        one record stays. Returns the new person's id; a ``split`` event records it."""
        person = self.resolve_person(person_id)
        with self.transaction():
            held = {
                (row["system"], row["external_id"])
                for row in self._all(
                    "SELECT system, external_id FROM records WHERE person_id = ?", (person,)
                )
            }
            wanted = list(dict.fromkeys(records))
            foreign = [f"{s}:{x}" for s, x in wanted if (s, x) not in held]
            if foreign:
                raise StateError(f"not records of person {person}: {', '.join(foreign)}")
            if not wanted or len(wanted) == len(held):
                raise StateError(f"person {person}: name some of its records, not none or all")
            new_id = self.new_person_id()
            self.save_person(new_id, {}, {})
            for system, external_id in wanted:
                self._write(
                    "UPDATE records SET person_id = ? WHERE system = ? AND external_id = ?",
                    (new_id, system, external_id),
                )
            self._event(
                PersonEventKind.SPLIT, new_id, person, {"records": [list(r) for r in wanted]}
            )
        return new_id

    def unmerge(self, event: PersonEvent) -> list[tuple[str, str]]:
        """Undo a ``merge`` event: the absorbed person lives again and gets back the
        records the merge moved (those still with the survivor); a ``split`` event
        records it. Returns the records moved back."""
        if event.kind is not PersonEventKind.MERGE or event.other_person_id is None:
            raise StateError(f"person event {event.id}: not a merge")
        survivor, absorbed = event.person_id, event.other_person_id
        moved: list[tuple[str, str]] = []
        with self.transaction():
            self._write(
                "UPDATE persons SET merged_into = NULL, updated_at = ? WHERE person_id = ?",
                (to_iso(self._now()), absorbed),
            )
            for system, external_id in event.detail.get("records", []):
                if self._write(
                    "UPDATE records SET person_id = ? "
                    "WHERE system = ? AND external_id = ? AND person_id = ?",
                    (absorbed, system, external_id, self.resolve_person(survivor)),
                ):
                    moved.append((system, external_id))
            detail = {"records": [list(r) for r in moved], "undoes": event.id}
            self._event(PersonEventKind.SPLIT, absorbed, survivor, detail)
        return moved

    def person_events(self, person_id: str) -> list[PersonEvent]:
        """Events where the person is either side, oldest first."""
        rows = self._all(
            "SELECT * FROM person_events WHERE person_id = ? OR other_person_id = ? ORDER BY id",
            (person_id, person_id),
        )
        return [
            PersonEvent(
                id=row["id"],
                kind=PersonEventKind(row["kind"]),
                person_id=row["person_id"],
                other_person_id=row["other_person_id"],
                at=from_iso(row["at"]),
                detail=json_object(row["detail"]),
            )
            for row in rows
        ]

    def _event(
        self,
        kind: PersonEventKind,
        person_id: str,
        other_person_id: str | None,
        detail: Mapping[str, Any],
    ) -> None:
        self._write(
            "INSERT INTO person_events (kind, person_id, other_person_id, at, detail) "
            "VALUES (?, ?, ?, ?, ?)",
            (kind.value, person_id, other_person_id, to_iso(self._now()), to_json(detail)),
        )

    # --- unholdable ------------------------------------------------------------------

    def mark_unholdable(self, system: str, person_id: str, reason: str) -> bool:
        """Note that ``system`` cannot hold this person; True only the first time."""
        return bool(
            self._write(
                "INSERT OR IGNORE INTO unholdable (system, person_id, reason, recorded_at) "
                "VALUES (?, ?, ?, ?)",
                (system, person_id, reason, to_iso(self._now())),
            )
        )

    def is_unholdable(self, system: str, person_id: str) -> bool:
        return bool(
            self._scalar(
                "SELECT 1 FROM unholdable WHERE system = ? AND person_id = ?", (system, person_id)
            )
        )

    def clear_unholdable(self, system: str, person_id: str) -> bool:
        """Forget the note (the person changed, e.g. gained an email)."""
        return bool(
            self._write(
                "DELETE FROM unholdable WHERE system = ? AND person_id = ?", (system, person_id)
            )
        )

    def unholdable_systems(self, person_id: str) -> list[str]:
        """The systems noted as unable to hold ``person_id``."""
        rows = self._all(
            "SELECT system FROM unholdable WHERE person_id = ? ORDER BY system", (person_id,)
        )
        return [row["system"] for row in rows]

    def unholdable_count(self) -> int:
        return int(self._scalar("SELECT COUNT(*) FROM unholdable") or 0)

    def list_unholdable(self, system: str | None = None) -> list[UnholdableEntry]:
        rows = self._all(
            "SELECT * FROM unholdable WHERE (:system IS NULL OR system = :system) "
            "ORDER BY system, person_id",
            {"system": system},
        )
        return [
            UnholdableEntry(
                system=row["system"],
                person_id=row["person_id"],
                reason=row["reason"],
                recorded_at=from_iso(row["recorded_at"]),
            )
            for row in rows
        ]
