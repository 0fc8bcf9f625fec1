"""A state file deleted without its ``-wal``: the next state must not inherit that log."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from contactsync.state.sqlite.store import StateStore


def _state_with_an_unreplayed_log(path: Path) -> bytes:
    """A state whose ``-wal`` holds commits, then the main file deleted and the log
    left behind (as ``rm contactsync.sqlite`` leaves it). Returns the log's bytes."""
    store = StateStore.open(path)
    store.set_watermark("trackops", datetime(2026, 1, 1, tzinfo=UTC))
    wal = path.with_name(path.name + "-wal")
    keep = path.with_name("kept-wal")
    shutil.copyfile(wal, keep)
    store.close()
    path.unlink()
    for suffix in ("-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    keep.rename(wal)
    return wal.read_bytes()


def test_a_new_state_sets_aside_the_log_of_a_deleted_one(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    old_log = _state_with_an_unreplayed_log(path)
    assert old_log  # the log held frames of the old database

    store = StateStore.open(path)  # a new state: no "damaged", no old rows
    try:
        assert store.get_watermark("trackops") is None
    finally:
        store.close()
    check = sqlite3.connect(path)
    try:
        assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        check.close()
    orphans = list(tmp_path.glob("state.sqlite-wal.orphaned-*"))
    assert len(orphans) == 1  # kept, never deleted: it may hold the old state's commits
    assert orphans[0].read_bytes() == old_log
