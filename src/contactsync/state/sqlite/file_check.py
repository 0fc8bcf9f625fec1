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

from contactsync.state.types import StateError

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
    """Refuse an existing ``path`` that cannot be a state file (before SQLite opens it).

    Only ``stat`` and ``access``, never a descriptor of our own: closing one would drop
    the POSIX locks every SQLite connection of this process holds on the file, and
    another process could then checkpoint and remove the WAL under them. What is in
    the file is SQLite's to read (:func:`check_opened`)."""
    if not path.is_file():
        raise not_a_state(path, "not a regular file")
    if not os.access(path, os.R_OK):
        raise not_a_state(path, "cannot be read by this user")
    if not os.access(path, os.W_OK):
        raise not_a_state(path, "not writable by this user")
    if path.stat().st_size == 0 and not _wal_holds_data(path):
        raise not_a_state(path, "the file is empty: zero bytes")


def check_opened(conn: sqlite3.Connection, path: Path) -> None:
    """Refuse a database that is damaged or another program's (it has tables of its own
    but none of contactsync's migrations)."""
    try:
        problems = [str(row[0]) for row in conn.execute("PRAGMA quick_check").fetchall()]
        tables = {
            str(row[0])
            for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
    except sqlite3.DatabaseError as exc:  # "file is not a database", "malformed"
        raise not_a_state(path, f"damaged or not SQLite: {exc}") from exc
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


def copy_state(source: Path, target: Path) -> bool:
    """Copy the state at ``source`` to ``target`` (one consistent snapshot, read-only on
    ``source``, through SQLite's online backup: a writer there is never blocked). False,
    and nothing copied, when ``source`` does not exist (a new state)."""
    if not source.exists():
        return False
    check_existing(source)
    try:
        reader = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise not_a_state(source, f"cannot be opened: {exc}") from exc
    try:
        check_opened(reader, source)
        fd = os.open(target, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)  # private, like it
        os.close(fd)
        writer = sqlite3.connect(target)
        try:
            reader.backup(writer)
        finally:
            writer.close()
    except sqlite3.Error as exc:
        raise StateError(f"{source}: cannot copy the state: {exc}") from exc
    finally:
        reader.close()
    return True
