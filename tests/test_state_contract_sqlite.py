"""The SQLite state passes the state contract (tests/state_contract.py)."""

from __future__ import annotations

from pathlib import Path

from contactsync.state.sqlite.store import StateStore
from tests.state_contract import FakeClock, StateContract


class TestSqliteState(StateContract):
    def open_state(self, folder: Path, clock: FakeClock) -> StateStore:
        return StateStore.open(folder / "state.sqlite", clock=clock)
