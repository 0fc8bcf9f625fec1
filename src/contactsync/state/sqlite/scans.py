"""Reads of the records table that a run makes for many records at once: what staging
needs to know of a batch, a system's live ids and counts, and the linked records the
matcher and the planner start from. None of them parses a payload it does not need."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from contactsync.state.sqlite.database import StoreCore, json_object, opt_to_json
from contactsync.state.sqlite.records import digest_of
from contactsync.state.types import RecordGlance

_BATCH = 500


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


class RecordScansMixin(StoreCore):
    def stage_glances(self, system: str, external_ids: Iterable[str]) -> dict[str, RecordGlance]:
        """external id -> what staging needs to know of a stored record, without its
        payloads: one query per batch of ids (a snapshot lists every record every run).
        ``RecordGlance.unchanged_by(digest)`` says the same raw record under the same
        mapping was staged into the stored hash, so mapping it again would change nothing."""
        wanted = list(dict.fromkeys(external_ids))
        found: dict[str, RecordGlance] = {}
        for start in range(0, len(wanted), _BATCH):
            chunk = wanted[start : start + _BATCH]
            marks = ", ".join("?" * len(chunk))
            where = f"system = ? AND external_id IN ({marks})"
            columns = "external_id, hash, raw_digest, deleted_at IS NOT NULL AS deleted, unplanned"
            sql = f"SELECT {columns} FROM records WHERE {where}"  # noqa: S608
            with self._lock:
                rows = self._conn.execute(sql, (system, *chunk)).fetchall()
            for external_id, hash, raw_digest, deleted, unplanned in rows:
                found[external_id] = RecordGlance(hash, raw_digest, bool(deleted), bool(unplanned))
        return found

    def refresh_raw(
        self, system: str, external_id: str, *, hash: str, raw: Any, raw_digest: str
    ) -> None:
        """Keep the raw record last seen (and its digest) of a record whose content, by
        ``hash``, did not change: the next update starts from it, the next extract of it
        is recognised without mapping. Nothing else about the record changes."""
        self._write(
            "UPDATE records SET raw = ?, raw_digest = ? "
            "WHERE system = ? AND external_id = ? AND hash = ?",
            (opt_to_json(raw), digest_of(raw_digest, hash), system, external_id, hash),
        )

    def live_external_ids(self, system: str) -> set[str]:
        """The ids of a system's records not marked deleted (no payloads read)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT external_id FROM records WHERE system = ? AND deleted_at IS NULL",
                (system,),
            ).fetchall()
        return {row[0] for row in rows}

    def count_live_records(self, system: str) -> int:
        return int(
            self._scalar(
                "SELECT COUNT(*) FROM records WHERE system = ? AND deleted_at IS NULL", (system,)
            )
            or 0
        )

    def iter_linked_contacts(self) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
        """(system, external id, person id, canonical payload) of every live record
        linked to a person, in pages: what the matcher's index is built from."""
        sql = (
            "SELECT system, external_id, person_id, payload FROM records "
            "WHERE (system, external_id) > (?, ?) AND deleted_at IS NULL "
            "AND person_id IS NOT NULL ORDER BY system, external_id LIMIT ?"
        )
        after = ("", "")
        while True:
            with self._lock:
                rows = self._conn.execute(sql, (*after, _BATCH)).fetchall()
            for row in rows:
                yield row[0], row[1], row[2], json_object(row[3])
            if len(rows) < _BATCH:
                return
            after = (rows[-1][0], rows[-1][1])

    def linked_names(self, systems: Iterable[str]) -> Iterator[tuple[str, str, str, str]]:
        """(system, person id, first name, last name) of every live linked record of
        ``systems``, read by SQLite from the stored payloads (no JSON parsed here)."""
        wanted = list(dict.fromkeys(systems))
        if not wanted:
            return
        marks = ", ".join("?" * len(wanted))
        names = "json_extract(payload, '$.first_name'), json_extract(payload, '$.last_name')"
        where = f"system IN ({marks}) AND person_id IS NOT NULL AND deleted_at IS NULL"
        with self._lock:
            rows = self._conn.execute(
                f"SELECT system, person_id, {names} FROM records WHERE {where}",  # noqa: S608
                wanted,
            ).fetchall()
        for system, person_id, first, last in rows:
            yield system, person_id, _text(first), _text(last)

    def linked_unique_values(
        self, system: str, fields: Iterable[str]
    ) -> list[tuple[str, str, str]]:
        """(value, person id, external id) for each text value of the top-level ``fields``
        of the raw record of every live linked record of ``system`` (a list field gives
        each of its text items), in external id order: one query, read by SQLite."""
        paths = ['$."' + name.replace('"', "") + '"' for name in dict.fromkeys(fields)]
        if not paths:
            return []
        items = " UNION ALL ".join(
            "SELECT item.value, person_id, external_id FROM records, json_each(raw, ?) AS item "
            "WHERE system = ? AND person_id IS NOT NULL AND deleted_at IS NULL "
            "AND item.type = 'text'"
            for _ in paths
        )
        parameters = [value for path in paths for value in (path, system)]
        with self._lock:
            rows = self._conn.execute(
                f"SELECT * FROM ({items}) ORDER BY 3, 1",  # noqa: S608
                parameters,
            ).fetchall()
        return [(row[0], row[1], row[2]) for row in rows]

    def unplanned_keys(self) -> list[tuple[str, str]]:
        """(system, external id) of every record waiting for a plan (see
        :meth:`RecordsMixin.unplanned_records`), without reading the records."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT system, external_id FROM records WHERE unplanned = 1 "
                "ORDER BY system, external_id"
            ).fetchall()
        return [(row[0], row[1]) for row in rows]

    def linked_payload(
        self, system: str, external_id: str
    ) -> tuple[str | None, dict[str, Any]] | None:
        """(person id, canonical payload) of one stored record, or None if it is unknown:
        what matching needs of a staged record, without its raw and source copies."""
        with self._lock:
            row = self._conn.execute(
                "SELECT person_id, payload FROM records WHERE system = ? AND external_id = ?",
                (system, external_id),
            ).fetchone()
        return None if row is None else (row[0], json_object(row[1]))
