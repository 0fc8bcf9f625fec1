"""Duplicate records: two live records of one system that turned out to be one person
(a ``review merge``, or the matcher linking them later).

``duplicates``
    One row per duplicate record (not the survivor): the person, the survivor it
    duplicates, the system's policy when it was found (``mark`` or ``merge``) and
    whether contactsync ``deleted`` it (or archived it) or only ``listed`` it. Recorded
    once, so ``status`` lists it once and later passes do not report it again.

A record contactsync deleted as a duplicate stays linked, marked deleted: the golden
record still merges what it held (nothing either record held is lost, also when the
survivor's write has not landed yet), but its deletion is not the person's (it must not
mark the person deleted where deletes propagate). The survivor is marked unplanned, so
the next pass plans it again: its update then meets no duplicate at the vendor, in
whatever order this pass's writes ran.
"""

from __future__ import annotations

from sqlite_utils import Database

from contactsync.state.sqlite.database import Row, StoreCore, from_iso, to_iso
from contactsync.state.types import DuplicateEntry


def create_duplicates_table(db: Database) -> None:
    """Migration ``0010_duplicates`` (registered in :mod:`contactsync.state.sqlite.schema`)."""
    db.execute(
        """
        CREATE TABLE duplicates (
            system TEXT NOT NULL,
            external_id TEXT NOT NULL,
            person_id TEXT NOT NULL,
            survivor_id TEXT NOT NULL,
            policy TEXT NOT NULL CHECK (policy IN ('mark', 'merge')),
            status TEXT NOT NULL DEFAULT 'listed' CHECK (status IN ('listed', 'deleted')),
            recorded_at TEXT NOT NULL,
            PRIMARY KEY (system, external_id)
        )
        """
    )


def _entry(row: Row) -> DuplicateEntry:
    return DuplicateEntry(
        system=row["system"],
        external_id=row["external_id"],
        person_id=row["person_id"],
        survivor_id=row["survivor_id"],
        policy=row["policy"],
        status=row["status"],
        recorded_at=from_iso(row["recorded_at"]),
    )


class DuplicatesMixin(StoreCore):
    def note_duplicate(
        self, system: str, external_id: str, person_id: str, survivor_id: str, policy: str
    ) -> bool:
        """Record ``external_id`` as a duplicate of ``survivor_id``; True only the first
        time (a later pass finding it again changes nothing, so it is reported once)."""
        return bool(
            self._write(
                "INSERT INTO duplicates (system, external_id, person_id, survivor_id, policy, "
                "recorded_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (system, external_id) DO "
                "UPDATE SET person_id = excluded.person_id, survivor_id = excluded.survivor_id, "
                "policy = excluded.policy WHERE duplicates.status = 'listed' AND "
                "(duplicates.person_id, duplicates.survivor_id, duplicates.policy) IS NOT "
                "(excluded.person_id, excluded.survivor_id, excluded.policy)",
                (system, external_id, person_id, survivor_id, policy, to_iso(self._now())),
            )
        )

    def duplicate_deleted(self, system: str, external_id: str) -> bool:
        """After the vendor deleted (or archived) a duplicate (see the module docstring).
        False for a record not noted as a duplicate (a deletion planned for a deleted
        person)."""
        with self.transaction():
            if not self._write(
                "UPDATE duplicates SET status = 'deleted' WHERE system = ? AND external_id = ?",
                (system, external_id),
            ):
                return False
            self._write(
                "UPDATE records SET deleted_at = COALESCE(deleted_at, ?) "
                "WHERE system = ? AND external_id = ?",
                (to_iso(self._now()), system, external_id),
            )
            self._write(
                "UPDATE records SET unplanned = 1 WHERE (system, external_id) IN "
                "(SELECT system, survivor_id FROM duplicates WHERE system = ? AND external_id = ?)",
                (system, external_id),
            )
        return True

    def is_deleted_duplicate(self, system: str, external_id: str) -> bool:
        return bool(
            self._scalar(
                "SELECT 1 FROM duplicates WHERE system = ? AND external_id = ? "
                "AND status = 'deleted'",
                (system, external_id),
            )
        )

    def list_duplicates(self, system: str | None = None) -> list[DuplicateEntry]:
        """The duplicates deleted, and those kept that still are duplicates: a pair a
        ``review undo`` or ``persons split`` parted, or whose record a user deleted, is
        no longer one (it is noted again should it become one again)."""
        rows = self._all(
            "SELECT d.* FROM duplicates d "
            "JOIN records r ON r.system = d.system AND r.external_id = d.external_id "
            "JOIN records s ON s.system = d.system AND s.external_id = d.survivor_id "
            "WHERE (:system IS NULL OR d.system = :system) AND (d.status = 'deleted' OR "
            "(r.deleted_at IS NULL AND s.deleted_at IS NULL AND r.person_id = s.person_id)) "
            "ORDER BY d.system, d.person_id, d.external_id",
            {"system": system},
        )
        return [_entry(row) for row in rows]
