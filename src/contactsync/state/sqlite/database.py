"""The connection, lock and transaction shared by every part of the state store.

Times are stored as ISO-8601 text in UTC with microseconds
(``2026-06-15T09:30:00.000000+00:00``), one fixed width, so SQL compares them
correctly as strings. JSON columns hold canonical JSON (sorted keys).
"""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlite_utils import Database

from contactsync.model.time import as_utc, utc_now
from contactsync.state.types import StateError

Clock = Callable[[], datetime]
Row = dict[str, Any]
Params = Sequence[Any] | dict[str, Any]

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_RANDOM_BITS = 80
_id_lock = threading.Lock()
_last_id: tuple[int, int] = (-1, 0)


def to_iso(value: datetime) -> str:
    return as_utc(value).isoformat(timespec="microseconds")


def from_iso(text: str) -> datetime:
    return as_utc(datetime.fromisoformat(text))


def opt_iso(value: datetime | None) -> str | None:
    return None if value is None else to_iso(value)


def opt_from_iso(text: str | None) -> datetime | None:
    return None if text is None else from_iso(text)


def to_json(value: Any) -> str:
    """Canonical JSON; a pydantic model is dumped in JSON mode first."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def opt_to_json(value: Any) -> str | None:
    return None if value is None else to_json(value)


def from_json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def json_object(text: str | None) -> dict[str, Any]:
    """A JSON column that holds an object (``{}`` when empty)."""
    value = from_json(text)
    return value if isinstance(value, dict) else {}


def sortable_id(prefix: str, now: datetime | None = None) -> str:
    """``prefix`` + a 26-character ULID: 48 bits of milliseconds, 80 random bits.

    Ids made later sort after ids made earlier; within one process they are
    strictly increasing even inside the same millisecond.
    """
    global _last_id
    millis = int(as_utc(now or utc_now()).timestamp() * 1000)
    with _id_lock:
        last_millis, last_random = _last_id
        if millis <= last_millis:
            millis, random_part = last_millis, last_random + 1
        else:
            random_part = int.from_bytes(os.urandom(_RANDOM_BITS // 8), "big")
        if random_part >= 1 << _RANDOM_BITS:
            millis, random_part = millis + 1, 0
        _last_id = (millis, random_part)
    value = (millis << _RANDOM_BITS) | random_part
    chars = [_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5)]
    return prefix + "".join(chars)


class StoreCore:
    """Owns the SQLite connection; every public method of the store goes through here.

    One connection is shared by the threads of a process: a re-entrant lock
    serialises its use, and :meth:`transaction` holds that lock for the whole
    block, so another thread's writes never land inside someone else's
    transaction. Other processes are kept apart by SQLite itself (WAL,
    ``busy_timeout``, ``BEGIN IMMEDIATE``).
    """

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock
        self._lock = threading.RLock()
        self._savepoints = itertools.count(1)

    @property
    def _conn(self) -> sqlite3.Connection:
        return self._db.conn

    def _now(self, now: datetime | None = None) -> datetime:
        return as_utc(now) if now is not None else as_utc(self._clock())

    def _resolve(self, person_id: str) -> str | None:
        """The live person ``person_id`` is (or was merged into); None if unknown."""
        value = self._scalar(
            """
            WITH RECURSIVE chain (person_id, merged_into, depth) AS (
                SELECT person_id, merged_into, 0 FROM persons WHERE person_id = ?
                UNION ALL
                SELECT p.person_id, p.merged_into, chain.depth + 1
                FROM persons AS p JOIN chain ON p.person_id = chain.merged_into
                WHERE chain.depth < 10000
            )
            SELECT person_id FROM chain WHERE merged_into IS NULL
            """,
            (person_id,),
        )
        return None if value is None else str(value)

    def _live_person(self, person_id: str, system: str, external_id: str) -> str:
        """``person_id`` resolved through merges; a ``StateError`` naming the record if unknown."""
        live = self._resolve(person_id)
        if live is None:
            raise StateError(
                f"{system} record {external_id!r}: person {person_id!r} does not exist"
            )
        return live

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything inside commits together or not at all; nested blocks are savepoints.

        The outermost block starts with ``BEGIN IMMEDIATE`` so that two processes
        never both read and then both try to write.
        """
        with self._lock:
            conn = self._conn
            if conn.in_transaction:
                name = f"contactsync_sp_{next(self._savepoints)}"
                conn.execute(f"SAVEPOINT {name}")
                try:
                    yield
                except BaseException:
                    if conn.in_transaction:
                        conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
                        conn.execute(f"RELEASE SAVEPOINT {name}")
                    raise
                conn.execute(f"RELEASE SAVEPOINT {name}")
                return
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StateError(f"state database: cannot start a transaction: {exc}") from exc
            try:
                yield
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise StateError(f"state database: commit failed: {exc}") from exc

    @contextmanager
    def _snapshot(self) -> Iterator[None]:
        """Several reads that see one consistent state (a deferred, read-only transaction)."""
        with self._lock:
            if self._conn.in_transaction:
                yield
                return
            self._conn.execute("BEGIN")
            try:
                yield
            finally:
                if self._conn.in_transaction:
                    self._conn.execute("COMMIT")

    def _cursor(self, sql: str, params: Params) -> sqlite3.Cursor:
        """Run one statement; SQLite's errors come out as ``StateError``."""
        try:
            return self._db.execute(sql, params)
        except sqlite3.Error as exc:
            raise StateError(f"state database: {exc}") from exc

    def _all(self, sql: str, params: Params = ()) -> list[Row]:
        with self._lock:
            cursor = self._cursor(sql, params)
            keys = [column[0] for column in cursor.description or ()]
            return [dict(zip(keys, row, strict=True)) for row in cursor.fetchall()]

    def _one(self, sql: str, params: Params = ()) -> Row | None:
        rows = self._all(sql, params)
        return rows[0] if rows else None

    def _scalar(self, sql: str, params: Params = ()) -> Any:
        with self._lock:
            row = self._cursor(sql, params).fetchone()
            return None if row is None else row[0]

    def _write(self, sql: str, params: Params = ()) -> int:
        """Run one write statement (atomic on its own); returns the rows it changed."""
        with self._lock:
            return int(self._cursor(sql, params).rowcount)

    def _insert(self, sql: str, params: Params = ()) -> int:
        """Run one INSERT; returns the new row's id."""
        with self._lock:
            return int(self._cursor(sql, params).lastrowid or 0)
