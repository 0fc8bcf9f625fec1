"""Is an existing state file really a contactsync state? Checked before it is used.

Only a missing file is a new state. A file that is there but empty (a zero-byte
file left by a failed copy or a full disk), unreadable, not SQLite, damaged (pages
overwritten: SQLite's ``quick_check`` reads every page, about 0.1 s per 100 MB) or
another program's database is refused with one message saying what is wrong and how
to move the file aside. Taken for new, it would be filled from the systems again:
every record would look unknown, and people would be merged or created twice.
"""

from __future__ import annotations

import os
import shlex
import sqlite3
from pathlib import Path

from contactsync.state_types import StateError

SQLITE_HEADER = b"SQLite format 3\x00"
#: the table sqlite-utils keeps its applied migrations in (``state_schema.migrate``)
MIGRATIONS_TABLE = "_sqlite_migrations"


def not_a_state(path: Path, why: str) -> StateError:
    """The one message for a state file that cannot be used: what and how to go on."""
    quoted = shlex.quote(str(path))
    aside = shlex.quote(f"{path}.broken")
    return StateError(
        f"{path}: not a contactsync state file ({why}). contactsync starts a new state "
        f"only where no file exists, and will not take this one for new. Restore it from "
        f"a backup, or move it aside (mv {quoted} {aside}) to start a new state."
    )


def check_existing(path: Path) -> None:
    """Refuse an existing ``path`` that cannot be a state file (before SQLite opens it)."""
    if not path.is_file():
        raise not_a_state(path, "not a regular file")
    try:
        with path.open("rb") as handle:
            header = handle.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise not_a_state(path, f"cannot be read: {exc.strerror or exc}") from exc
    if not os.access(path, os.W_OK):
        raise not_a_state(path, "not writable by this user")
    if not header and not _wal_holds_data(path):
        raise not_a_state(path, "the file is empty: zero bytes")
    if header and header != SQLITE_HEADER:
        raise not_a_state(path, "not an SQLite database")


def check_opened(conn: sqlite3.Connection, path: Path) -> None:
    """Refuse a database that is damaged or another program's (it has tables of its own
    but none of contactsync's migrations)."""
    try:
        problems = [str(row[0]) for row in conn.execute("PRAGMA quick_check").fetchall()]
        tables = {
            str(row[0])
            for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
    except sqlite3.DatabaseError as exc:
        raise not_a_state(path, f"damaged: {exc}") from exc
    if problems != ["ok"]:
        raise not_a_state(path, f"damaged: {'; '.join(problems[:3])}")
    if tables and MIGRATIONS_TABLE not in tables:
        raise not_a_state(path, "an SQLite database of another program")


def _wal_holds_data(path: Path) -> bool:
    """Whether the write-ahead log beside an empty main file has content (a state whose
    first writes are not checkpointed yet: not empty at all)."""
    wal = path.with_name(path.name + "-wal")
    try:
        return wal.stat().st_size > 0
    except OSError:
        return False
