"""The review queue: possible matches waiting for a human, and the items contactsync
closes itself once their question went away."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import structlog

from contactsync.state.sqlite.database import (
    Row,
    StoreCore,
    from_iso,
    json_object,
    opt_from_iso,
    to_iso,
    to_json,
)
from contactsync.state.types import ReviewItem, ReviewStatus, StateError

log = structlog.get_logger(__name__)


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
        note=row["note"],
    )


class ReviewMixin(StoreCore):
    """The ``review`` table (see ``state_schema``)."""

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

    def close_stale_reviews(self) -> list[ReviewItem]:
        """Close the open reviews whose question went away, each with a note: both
        records now belong to one person (a merge, by review or by the matcher), or one
        of them is deleted or no longer linked. The items closed, in id order."""
        closed: list[ReviewItem] = []
        for item in sorted(self.list_review(), key=lambda found: found.id):
            note = self._stale_because(item)
            if note is not None:
                self._write(
                    "UPDATE review SET status = ?, decided_at = ?, note = ? WHERE id = ?",
                    (ReviewStatus.CLOSED.value, to_iso(self._now()), note, item.id),
                )
                closed.append(replace(item, status=ReviewStatus.CLOSED, note=note))
                log.info("review item closed", review=item.id, why=note)
        return closed

    def _stale_because(self, item: ReviewItem) -> str | None:
        persons = []
        sides = ((item.left_system, item.left_id), (item.right_system, item.right_id))
        for system, external_id in sides:
            record = self._one(
                "SELECT person_id, deleted_at FROM records WHERE system = ? AND external_id = ?",
                (system, external_id),
            )
            if record is None or record["deleted_at"] is not None:
                return f"{system} record {external_id} was deleted"
            if record["person_id"] is None:
                return f"{system} record {external_id} is no longer linked to a person"
            persons.append(self._resolve(record["person_id"]) or record["person_id"])
        if persons[0] == persons[1]:
            return f"both records are now person {persons[0]}"
        return None

    def decide_review(self, review_id: int, status: ReviewStatus | str) -> ReviewItem:
        """Record a human's decision. Acting on it (merge, split) is the caller's job."""
        decision = ReviewStatus(status)
        if decision in (ReviewStatus.OPEN, ReviewStatus.CLOSED):
            raise StateError(f"review {review_id}: a decision must be merged, split or dismissed")
        changed = self._write(
            "UPDATE review SET status = ?, decided_at = ? WHERE id = ?",
            (decision.value, to_iso(self._now()), review_id),
        )
        item = self.get_review(review_id)
        if not changed or item is None:
            raise StateError(f"review {review_id}: no such review")
        return item

    def reopen_review(self, review_id: int) -> ReviewItem:
        """Back to ``open``, as before its decision (``review undo``)."""
        changed = self._write(
            "UPDATE review SET status = 'open', decided_at = NULL, note = NULL WHERE id = ?",
            (review_id,),
        )
        item = self.get_review(review_id)
        if not changed or item is None:
            raise StateError(f"review {review_id}: no such review")
        return item
