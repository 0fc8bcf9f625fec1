"""Isolation: whatever one system (or one person's planning) raises, a vendor's error or
a bug, the pass reports it for that system, goes on with the others, ends ``partial``
and commits what it finished; the next pass picks up what was left.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from contactsync import sync
from contactsync.sandbox.common import SandboxOptions
from contactsync.sync import Engine
from contactsync.sync_load import Loader
from tests.reliability.helpers import Sandbox, sandbox
from tests.reliability.test_faults import engine_for

pytestmark = pytest.mark.slow

OPTIONS = SandboxOptions(people=30, seed=11, rate_limits="off")


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Sandbox]:
    with sandbox(tmp_path, OPTIONS) as served:
        yield served


@pytest.fixture
def engine(box: Sandbox) -> Iterator[Engine]:
    built = engine_for(box)
    try:
        yield built
    finally:
        built.close()


def settle(engine: Engine) -> None:
    """A pass with nothing broken: it must end ok with nothing left to do."""
    outcome = engine.run("sync")
    assert outcome.summary.status == "ok", outcome.errors
    counts = engine.state.counts_by_status()
    assert counts["pending"] == counts["failed"] == counts["in_flight"] == 0, counts
    assert engine.state.unplanned_keys() == []


def test_a_crash_in_one_systems_extract_stops_only_that_system(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("adapter bug")

    monkeypatch.setattr(engine.adapters["pylon"], "extract", broken)
    outcome = engine.run("backfill")
    assert outcome.summary.status == "partial"
    assert any("pylon" in e and "RuntimeError: adapter bug" in e for e in outcome.errors)
    assert engine.state.get_watermark("pylon") is None, "a failed extract advanced its mark"
    for other in ("trackops", "growcrm", "rhythm", "xurrent"):
        assert engine.state.get_watermark(other) is not None, other
    assert outcome.summary.systems["rhythm"].created > 0, "the others were not loaded"
    monkeypatch.undo()
    engine.run("backfill")
    settle(engine)


def test_a_crash_in_one_systems_load_stops_only_that_system(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_run = Loader.run

    def run_unless_rhythm(self: Loader, concurrency: int) -> None:
        if self.system == "rhythm":
            raise RuntimeError("loader bug")
        real_run(self, concurrency)

    monkeypatch.setattr(Loader, "run", run_unless_rhythm)
    outcome = engine.run("backfill")
    assert outcome.summary.status == "partial"
    assert any(e.startswith("rhythm: load failed: RuntimeError") for e in outcome.errors)
    assert engine.state.counts_by_status("rhythm")["pending"] > 0
    assert engine.state.counts_by_status("pylon")["pending"] == 0
    assert outcome.summary.systems["pylon"].created > 0
    monkeypatch.undo()
    settle(engine)


def test_a_system_whose_interrupted_writes_cannot_be_recovered_sits_the_pass_out(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert engine.run("backfill").summary.status == "ok"
    marks_before = engine.state.get_watermark("growcrm")
    real_recover = Loader.recover_interrupted

    def recover_unless_growcrm(self: Loader) -> None:
        if self.system == "growcrm":
            raise RuntimeError("lookup bug")
        real_recover(self)

    monkeypatch.setattr(Loader, "recover_interrupted", recover_unless_growcrm)
    outcome = engine.run("sync")
    assert outcome.summary.status == "partial"
    assert any("growcrm: recovering interrupted writes failed" in e for e in outcome.errors)
    assert engine.state.get_watermark("growcrm") == marks_before, "growcrm was read anyway"
    assert engine.state.get_watermark("trackops") != marks_before
    monkeypatch.undo()
    settle(engine)


def test_a_person_whose_planning_crashes_costs_only_that_person(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_plan = sync.plan_for_person
    victims: list[str] = []

    def plan_or_crash(state: Any, person_id: str, *args: Any, **kwargs: Any) -> Any:
        if not victims or victims[0] == person_id:
            victims[:1] = [person_id]
            raise ValueError("odd data")
        return real_plan(state, person_id, *args, **kwargs)

    monkeypatch.setattr(sync, "plan_for_person", plan_or_crash)
    outcome = engine.run("backfill")
    victim = victims[0]
    assert outcome.summary.status == "partial"
    assert f"person {victim}: planning failed: ValueError: odd data" in outcome.errors
    assert outcome.summary.systems["trackops"].created > 0, "nobody else was planned"
    planned_for = {entry.action.person_id for entry in engine.state.list_actions("done")}
    assert victim not in planned_for
    waiting = engine.state.unplanned_keys()
    assert waiting, "the person's records were marked planned: they would never be planned"
    assert {
        engine.state.resolve_person(engine.state.person_for(*key) or "") for key in waiting
    } == {victim}
    monkeypatch.undo()
    outcome = engine.run("sync")
    assert outcome.summary.status == "ok", outcome.errors
    assert victim in {entry.action.person_id for entry in engine.state.list_actions("done")}
    settle(engine)
