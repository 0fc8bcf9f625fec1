"""Isolation: whatever one system (or one person's planning) raises, a vendor's error or
a bug, the pass reports it for that system, goes on with the others, ends ``partial``
and commits what it finished; the next pass picks up what was left. A system that
refuses the credentials gets no more requests in the pass (its circuit opens), and its
writes wait without an attempt counted.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer

from contactsync.cli import run as commands
from contactsync.config.settings import load_settings
from contactsync.engine import sync
from contactsync.engine.load import Loader
from contactsync.engine.sync import Engine
from contactsync.http.client import SystemClient
from contactsync_sandbox.common import SandboxOptions
from tests.reliability.helpers import Sandbox, sandbox
from tests.reliability.test_faults import engine_for, status_json

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


def test_refused_credentials_stop_the_systems_requests_and_its_writes_wait_unblamed(
    box: Sandbox, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert engine.run("backfill").summary.status == "ok"
    growcrm = box.server.simulators["growcrm"]
    with growcrm.store.lock:  # users edit Grow CRM: updates for Trackops get planned
        for key in list(growcrm.store.records)[:8]:
            growcrm.mutate_record(key, random.Random(f"edit:{key}"))
    trackops = engine.adapters["trackops"].client
    assert isinstance(trackops, SystemClient)
    working_login = trackops.auth
    trackops.auth = httpx.BasicAuth("someone/token", "a-revoked-token")
    sent_before = trackops.stats.sent

    outcome = engine.run("sync")
    assert outcome.summary.status == "partial"
    assert trackops.stats.sent - sent_before == 1, "requests went on after the first 401"
    reported = "\n".join(outcome.errors)
    assert "trackops: no more requests in this pass: credentials refused (HTTP 401): " \
        "check TRACKOPS_USERNAME, TRACKOPS_TOKEN" in reported  # fmt: skip
    assert box.credentials["TRACKOPS_TOKEN"] not in reported
    waiting = engine.state.pending_actions("trackops")
    assert waiting, "no Trackops write was planned: the test proves nothing"
    assert all(entry.attempts == 0 for entry in waiting), "unsent writes counted attempts"
    assert engine.state.counts_by_status("trackops")["failed"] == 0
    assert outcome.summary.systems["growcrm"].requests > 0, "the other systems stopped too"
    answered_401 = [r for r in box.admin("trackops", "stats")["requests"] if r["status"] == 401]
    assert sum(r["count"] for r in answered_401) == 1
    report = status_json(box, capsys)
    trackops_now = report["systems"]["trackops"]
    assert (report["status"], trackops_now["result"]) == ("failed", "failed")
    assert "HTTP 401" in trackops_now["error"]
    assert trackops_now["circuit"].startswith("credentials refused (HTTP 401)")
    assert trackops_now["last_run"]["kind"] == "sync"
    assert {s["result"] for name, s in report["systems"].items() if name != "trackops"} == {"ok"}

    trackops.auth = working_login  # the token is fixed: the next pass tries again
    outcome = engine.run("sync")
    assert outcome.summary.status == "ok", outcome.errors
    report = status_json(box, capsys)
    assert (report["status"], report["systems"]["trackops"]["error"]) == ("ok", None)
    assert engine.state.counts_by_status("trackops")["pending"] == 0
    assert outcome.summary.systems["trackops"].updated >= len(waiting)
    settle(engine)


class RevokedForWrites(httpx.Auth):
    """The working login for reads, a revoked one for writes: the credentials are
    refused between the read and the write. Counts the writes sent."""

    def __init__(self, working: httpx.Auth) -> None:
        self.working = working
        self.writes_sent = 0

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        if request.method == "GET":
            yield from self.working.auth_flow(request)
            return
        yield from httpx.BasicAuth("someone/token", "a-revoked-token").auth_flow(request)
        self.writes_sent += 1  # resumed only once it was sent and answered


def test_a_write_refused_for_its_credentials_is_not_blamed_and_no_other_is_sent(
    box: Sandbox, engine: Engine
) -> None:
    assert engine.run("backfill").summary.status == "ok"
    growcrm = box.server.simulators["growcrm"]
    with growcrm.store.lock:
        for key in list(growcrm.store.records)[:24]:
            growcrm.mutate_record(key, random.Random(f"edit:{key}"))
    trackops = engine.adapters["trackops"].client
    working_login = trackops.auth
    revoked = RevokedForWrites(working_login)
    trackops.auth = revoked

    outcome = engine.run("sync")
    assert outcome.summary.status == "partial"
    waiting = engine.state.pending_actions("trackops")
    # only the writes already on their way when the first 401 came (one per worker)
    in_flight_at_most = engine.settings.systems["trackops"].concurrency + 1
    assert revoked.writes_sent <= in_flight_at_most, "writes went on after the first 401"
    assert len(waiting) > in_flight_at_most, "too few Trackops writes: the test proves nothing"
    assert all(entry.attempts == 0 for entry in waiting), "the refused write was blamed"
    assert engine.state.counts_by_status("trackops")["failed"] == 0

    trackops.auth = working_login
    assert engine.run("sync").summary.status == "ok"
    settle(engine)


def test_status_names_the_lease_holder_and_the_persons_a_system_cannot_hold(
    box: Sandbox, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert engine.run("backfill").summary.status == "ok"
    report = status_json(box, capsys)
    assert report["lease"] is None
    held_before = report["systems"]["trackops"]["unholdable"]
    assert held_before == len([u for u in report["unholdable"] if u["system"] == "trackops"])
    person = next(
        r.person_id
        for r in engine.state.iter_records()
        if r.person_id and not engine.state.is_unholdable("trackops", r.person_id)
    )
    engine.state.mark_unholdable("trackops", person, "its mailbox is another person's")
    assert engine.state.acquire_lease("scheduler", "worker-7:4242", timedelta(minutes=5))
    report = status_json(box, capsys)
    assert report["lease"]["holder"] == "worker-7:4242"
    trackops_now = report["systems"]["trackops"]
    assert trackops_now["schedule"] == "every 60s"  # the sandbox config's interval
    last_started = datetime.fromisoformat(trackops_now["last_run"]["started_at"])
    upcoming = datetime.fromisoformat(trackops_now["next_run"])
    assert upcoming == max(last_started + timedelta(seconds=60), upcoming)
    assert upcoming - datetime.now(UTC) <= timedelta(seconds=61)
    assert report["systems"]["trackops"]["unholdable"] == held_before + 1
    noted = {"system": "trackops", "person": person, "reason": "its mailbox is another person's"}
    assert noted in report["unholdable"]


def test_status_of_one_system_shows_only_its_lines(
    box: Sandbox, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert engine.run("backfill").summary.status == "ok"
    settings = load_settings(box.config, env=box.credentials)
    capsys.readouterr()
    commands.show_status(settings, as_json=True, system="rhythm")
    report = json.loads(capsys.readouterr().out)
    assert list(report["systems"]) == ["rhythm"]
    assert {u["system"] for u in report["unholdable"]} <= {"rhythm"}
    with pytest.raises(typer.Exit) as refused:
        commands.show_status(settings, as_json=True, system="nosuch")
    assert refused.value.exit_code == 2
    assert "one of: growcrm, pylon, rhythm, trackops, xurrent" in capsys.readouterr().err
