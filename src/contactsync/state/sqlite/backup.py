"""The state as JSON lines, and back: ``contactsync state export|import FILE``.

A backup that outlives SQLite versions and can be read (or diffed) by anyone. The first
line names the format and the schema (the migrations applied); then one object per row,
``{"table": NAME, "row": {column: value}}``, tables in name order, rows in rowid order,
so the same state always exports to the same bytes. Bytes are ``{"$bytes": base64}``.

Export reads one consistent snapshot through a read-only connection: it never waits
for, nor holds up, a scheduler that holds the lease (readers do not block a WAL writer).
Import only creates a new state, with this version's schema; an export of another
schema is refused (run that version's contactsync, or upgrade the state first).
"""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from sqlite_utils import Database

from contactsync.state.sqlite.store import StateStore
from contactsync.state.types import StateError

FORMAT = "contactsync-state"
FORMAT_VERSION = 1
MIGRATIONS_TABLE = "_sqlite_migrations"  # sqlite-utils' bookkeeping: the header carries it


@dataclass(frozen=True)
class BackupCounts:
    tables: int
    rows: int


def _encoded(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    return value


def _decoded(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"$bytes"}:
        return base64.b64decode(value["$bytes"])
    return value


def _applied(db: Database) -> list[str]:
    if MIGRATIONS_TABLE not in db.table_names():
        return []
    rows = db.execute(f"SELECT name FROM {MIGRATIONS_TABLE} ORDER BY name").fetchall()  # noqa: S608
    return [str(row[0]) for row in rows]


def _data_tables(db: Database) -> list[str]:
    return sorted(
        n for n in db.table_names() if n != MIGRATIONS_TABLE and not n.startswith("sqlite_")
    )


def export_state(state_path: Path, out: TextIO) -> BackupCounts:
    """Write the state at ``state_path`` to ``out``; the file is only read."""
    if not state_path.exists():
        raise StateError(f"{state_path}: no state file to export")
    try:
        conn = sqlite3.connect(f"{state_path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise StateError(f"{state_path}: cannot open the state database: {exc}") from exc
    try:
        conn.execute("BEGIN")  # one snapshot for every table
        db = Database(conn)
        header = {"format": FORMAT, "version": FORMAT_VERSION, "migrations": _applied(db)}
        if not header["migrations"]:
            raise StateError(f"{state_path}: not a contactsync state (no migrations applied)")
        out.write(json.dumps(header, sort_keys=True) + "\n")
        tables = _data_tables(db)
        rows = 0
        for table in tables:
            cursor = conn.execute(f"SELECT * FROM [{table}] ORDER BY rowid")  # noqa: S608
            columns = [d[0] for d in cursor.description]
            for values in cursor:
                row = {c: _encoded(v) for c, v in zip(columns, values, strict=True)}
                out.write(json.dumps({"row": row, "table": table}, sort_keys=True) + "\n")
                rows += 1
        return BackupCounts(len(tables), rows)
    except sqlite3.Error as exc:
        raise StateError(f"{state_path}: cannot read the state database: {exc}") from exc
    finally:
        conn.close()


def _lines(source: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with source.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise StateError(f"{source}:{number}: not JSON: {exc.msg}") from None
            if not isinstance(item, dict):
                raise StateError(f"{source}:{number}: expected a JSON object")
            yield number, item


def import_state(source: Path, state_path: Path) -> BackupCounts:
    """A new state at ``state_path`` holding what ``source`` (an export) holds."""
    if state_path.exists():
        raise StateError(
            f"{state_path}: exists; import only creates a new state (move it away first)"
        )
    items = _lines(source)
    first = next(items, None)
    if first is None or first[1].get("format") != FORMAT:
        raise StateError(f"{source}:1: not a contactsync state export (no {FORMAT} header)")
    if first[1].get("version") != FORMAT_VERSION:
        raise StateError(f"{source}:1: export format {first[1].get('version')} is not supported")
    made = False
    try:
        with StateStore.open(state_path) as store:
            made = True
            counts = _fill(store, source, first[1], items)
    except BaseException:
        if made:  # no half-imported state left behind to pass for a real one
            for suffix in ("", "-wal", "-shm"):
                state_path.with_name(state_path.name + suffix).unlink(missing_ok=True)
        raise
    return counts


def _fill(
    store: StateStore,
    source: Path,
    header: dict[str, Any],
    items: Iterator[tuple[int, dict[str, Any]]],
) -> BackupCounts:
    db = store._db
    ours = _applied(db)
    if header.get("migrations") != ours:
        raise StateError(
            f"{source}:1: exported from another schema ({len(header.get('migrations') or [])} "
            f"migrations, this version has {len(ours)}); import it with the version that "
            "exported it"
        )
    known = set(_data_tables(db))
    tables: set[str] = set()
    rows = 0
    with store.transaction():
        db.execute("PRAGMA defer_foreign_keys = ON")  # rows arrive in table-name order
        for name in known:  # a new state may seed rows of its own: the export's replace them
            db.execute(f"DELETE FROM [{name}]")  # noqa: S608
        for number, item in items:
            table, row = item.get("table"), item.get("row")
            if not isinstance(table, str) or table not in known or not isinstance(row, dict):
                raise StateError(f"{source}:{number}: unknown table {table!r} or no row")
            columns = list(row)
            marks = ", ".join("?" for _ in columns)
            names = ", ".join(f"[{c}]" for c in columns)
            try:
                db.execute(
                    f"INSERT INTO [{table}] ({names}) VALUES ({marks})",  # noqa: S608
                    [_decoded(row[c]) for c in columns],
                )
            except sqlite3.Error as exc:
                raise StateError(f"{source}:{number}: {table}: {exc}") from None
            tables.add(table)
            rows += 1
    return BackupCounts(len(tables), rows)
