"""Persons (golden records), merges and splits, the review queue, unholdable persons."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from contactsync.state_core import (
    Row,
    StoreCore,
    from_iso,
    json_object,
    opt_from_iso,
    sortable_id,
    to_iso,
    to_json,
)
from contactsync.state_types import (
    OutboxStatus,
    Person,
    PersonEvent,
    PersonEventKind,
    ReviewItem,
    ReviewStatus,
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


def _review(row: Row) -> ReviewItem:
    return ReviewItem(
        id=row["id"],
        left_system=row["left_system"],
        left_id=row["left_id"],
        right_system=row["right_system"],
        right_id=row["right_id"],
        score=float(row["score"]),
        evidence=json_object(row["evidence"]),
        status=ReviewStatus(row["status"]),
        created_at=from_iso(row["created_at"]),
        decided_at=opt_from_iso(row["decided_at"]),
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

    # --- review queue ----------------------------------------------------------------

    def add_review(
        self,
        left_system: str,
        left_id: str,
        right_system: str,
        right_id: str,
        score: float,
        evidence: Mapping[str, Any] | None = None,
    ) -> ReviewItem:
        """Queue a possible match for a human, or return the review the pair already has.

        The pair is unordered. An open review for it is refreshed with the new
        score and evidence. A pair a human already judged different (``split``
        or ``dismissed``) is not reopened: that decided review is returned.
        """
        (ls, li), (rs, ri) = sorted([(left_system, left_id), (right_system, right_id)])
        if (ls, li) == (rs, ri):
            raise StateError(f"{ls} record {li!r}: cannot review a record against itself")
        pair = (ls, li, rs, ri)
        pair_sql = "left_system = ? AND left_id = ? AND right_system = ? AND right_id = ?"
        with self.transaction():
            existing = self._one(
                f"SELECT * FROM review WHERE {pair_sql} AND status IN (?, ?, ?) "  # noqa: S608
                "ORDER BY status = 'open' DESC, id DESC LIMIT 1",
                (
                    *pair,
                    ReviewStatus.OPEN.value,
                    ReviewStatus.SPLIT.value,
                    ReviewStatus.DISMISSED.value,
                ),
            )
            if existing is not None and existing["status"] != ReviewStatus.OPEN.value:
                return _review(existing)
            if existing is not None:
                self._write(
                    "UPDATE review SET score = ?, evidence = ? WHERE id = ?",
                    (score, to_json(evidence or {}), existing["id"]),
                )
                review_id = int(existing["id"])
            else:
                review_id = self._insert(
                    "INSERT INTO review (left_system, left_id, right_system, right_id, "
                    "score, evidence, status, created_at) VALUES (?, ?, ?, ?, ?, ?, 'open', ?)",
                    (*pair, score, to_json(evidence or {}), to_iso(self._now())),
                )
            item = self.get_review(review_id)
        assert item is not None
        return item

    def get_review(self, review_id: int) -> ReviewItem | None:
        row = self._one("SELECT * FROM review WHERE id = ?", (review_id,))
        return None if row is None else _review(row)

    def list_review(
        self, status: ReviewStatus | str | None = ReviewStatus.OPEN
    ) -> list[ReviewItem]:
        """Reviews with that status (all of them for None), highest score first."""
        wanted = None if status is None else ReviewStatus(status).value
        rows = self._all(
            "SELECT * FROM review WHERE (:status IS NULL OR status = :status) "
            "ORDER BY score DESC, id",
            {"status": wanted},
        )
        return [_review(row) for row in rows]

    def decide_review(self, review_id: int, status: ReviewStatus | str) -> ReviewItem:
        """Record a human's decision. Acting on it (merge, split) is the caller's job."""
        decision = ReviewStatus(status)
        if decision is ReviewStatus.OPEN:
            raise StateError(f"review {review_id}: a decision must be merged, split or dismissed")
        changed = self._write(
            "UPDATE review SET status = ?, decided_at = ? WHERE id = ?",
            (decision.value, to_iso(self._now()), review_id),
        )
        item = self.get_review(review_id)
        if not changed or item is None:
            raise StateError(f"review {review_id}: no such review")
        return item
