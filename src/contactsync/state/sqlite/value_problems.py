"""Bad values kept apart from their records: what staging left out, what a target refused.

A bad value costs that value, not the record (issues 13 and 14). Two tables keep
what was left out, so ``status`` can list it per record and field:

* ``value_problems``: values staging could not use (an invalid phone, email, date,
  id...) or moved to the field they belong in (a phone in an email field), per
  source record. A record's rows are replaced each time it is mapped, so they go
  away once its value changes or becomes valid.
* ``field_refusals``: values a target refused for one field (a 422 naming it). The
  write was sent again without the field; the value is left out of later writes to
  that system (see :mod:`contactsync.engine.field_fit`), so it is not retried every run.
"""

from __future__ import annotations

from collections.abc import Iterable

from contactsync.state.sqlite.database import StoreCore, from_iso, to_iso
from contactsync.state.types import FieldRefusal, StoredValueProblem, ValueProblem


class ValueProblemsMixin(StoreCore):
    """Value problems of staged records and field refusals of targets."""

    def replace_value_problems(
        self, system: str, external_id: str, problems: Iterable[ValueProblem]
    ) -> None:
        """The record's problems are now ``problems`` (none: its earlier ones are cleared)."""
        rows = [(system, external_id, p.field, p.value, p.reason, p.moved_to) for p in problems]
        now = to_iso(self._now())
        with self.transaction():
            self._write(
                "DELETE FROM value_problems WHERE system = ? AND external_id = ?",
                (system, external_id),
            )
            for row in rows:
                self._write(
                    """
                    INSERT INTO value_problems
                        (system, external_id, field, value, reason, moved_to, seen_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                    (*row, now),
                )

    def list_value_problems(self, system: str | None = None) -> list[StoredValueProblem]:
        """Every record's left-out values, but those of records since deleted there."""
        rows = self._all(
            """
            SELECT v.* FROM value_problems v
            LEFT JOIN records r ON r.system = v.system AND r.external_id = v.external_id
            WHERE (:system IS NULL OR v.system = :system) AND r.deleted_at IS NULL
            ORDER BY v.system, v.external_id, v.id
            """,
            {"system": system},
        )
        return [
            StoredValueProblem(
                row["system"],
                row["external_id"],
                ValueProblem(row["field"], row["reason"], row["value"], row["moved_to"]),
                from_iso(row["seen_at"]),
            )
            for row in rows
        ]

    def record_field_refusal(self, refusal: FieldRefusal) -> None:
        """Remember that ``refusal.system`` refused this value for this field."""
        self._write(
            """
            INSERT INTO field_refusals (system, field, value_digest, value, external_id,
                                        person_id, reason, refused_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (system, field, value_digest) DO UPDATE SET
                external_id = excluded.external_id, person_id = excluded.person_id,
                reason = excluded.reason, refused_at = excluded.refused_at
            """,
            (
                refusal.system,
                refusal.field,
                refusal.value_digest,
                refusal.value,
                refusal.external_id,
                refusal.person_id,
                refusal.reason,
                to_iso(refusal.refused_at),
            ),
        )

    def clear_field_refusal(self, system: str, field: str, value_digest: str) -> None:
        """Forget a refusal: the person no longer has that value (it changed, or left)."""
        self._write(
            "DELETE FROM field_refusals WHERE system = ? AND field = ? AND value_digest = ?",
            (system, field, value_digest),
        )

    def list_field_refusals(self, system: str | None = None) -> list[FieldRefusal]:
        rows = self._all(
            """
            SELECT * FROM field_refusals WHERE (:system IS NULL OR system = :system)
            ORDER BY system, field, refused_at
            """,
            {"system": system},
        )
        return [
            FieldRefusal(
                row["system"],
                row["field"],
                row["value_digest"],
                row["value"],
                row["external_id"],
                row["person_id"],
                row["reason"],
                from_iso(row["refused_at"]),
            )
            for row in rows
        ]
