"""State safety: a state file that exists but is empty, damaged, unreadable or another
program's is refused with one clear message and exit 2, and left exactly as it was;
only a missing file is a new state.
"""

from __future__ import annotations

import hashlib
import os
import random
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from contactsync.state.sqlite.store import StateError, StateStore
from contactsync_sandbox.common import SandboxOptions
from tests.reliability.helpers import Sandbox, contactsync, sandbox

PAGE = 4096


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with sandbox(tmp_path_factory.mktemp("state"), SandboxOptions(people=20, seed=3)) as served:
        yield served


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_refused(box: Sandbox, command: str, why: str) -> None:
    before = digest(box.state_path)
    result = contactsync(*command.split(), config=box.config, env=box.env)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr  # one message, no traceback
    assert "not a contactsync state file" in lines[0], lines[0]
    assert why in lines[0], lines[0]
    assert f"mv {box.state_path}" in lines[0], "the message must say how to move it aside"
    assert digest(box.state_path) == before, "the refused file was changed"
    assert not box.state_path.with_name(box.state_path.name + "-wal").exists()


@pytest.mark.slow
def test_a_zero_byte_state_file_is_refused_never_taken_for_new(box: Sandbox) -> None:
    box.state_path.write_bytes(b"")
    for command in ("sync", "backfill", "status", "review list"):
        assert_refused(box, command, "zero bytes")
    box.state_path.unlink()


@pytest.mark.slow
def test_a_state_file_with_random_bytes_in_the_middle_is_refused(box: Sandbox) -> None:
    done = contactsync("backfill", config=box.config, env=box.env)
    assert done.returncode == 0, done.stderr
    size = box.state_path.stat().st_size
    assert size > 8 * PAGE, "the state is too small to corrupt in the middle"
    middle = (size // PAGE // 2) * PAGE
    with box.state_path.open("r+b") as handle:
        handle.seek(middle)
        handle.write(random.Random(5).randbytes(2 * PAGE))
    for command in ("sync", "status"):
        assert_refused(box, command, "damaged")
    box.state_path.unlink()


def test_an_unreadable_state_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "state.sqlite"
    StateStore.open(path).close()

    def denied(target: Path, mode: int) -> bool:
        # chmod 000 cannot make a file unreadable for root (the test may run as root)
        if target == path and mode == os.R_OK:
            return False
        return real_access(target, mode)

    real_access = os.access
    monkeypatch.setattr(os, "access", denied)
    with pytest.raises(StateError, match=r"not a contactsync state file \(cannot be read"):
        StateStore.open(path)


def test_a_directory_in_place_of_the_state_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "state.sqlite").mkdir()
    with pytest.raises(StateError, match="not a regular file"):
        StateStore.open(tmp_path / "state.sqlite")


def test_another_programs_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    other = sqlite3.connect(path)
    other.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    other.commit()
    other.close()
    with pytest.raises(StateError, match="another program"):
        StateStore.open(path)
    tables = sqlite3.connect(path).execute("SELECT name FROM sqlite_master").fetchall()
    assert tables == [("invoices",)], "contactsync's tables were added to it"


def test_a_missing_file_is_a_new_state_and_reopens(tmp_path: Path) -> None:
    path = tmp_path / "new" / "state.sqlite"
    StateStore.open(path).close()
    with StateStore.open(path) as store:
        assert store.list_runs() == []
