"""The sync engine end to end against the sandbox (issue 6's acceptance criteria).

One module-scoped sandbox and one backfill, done once by a fixture: the sandbox's
records right after it become what ``/_sandbox/reset`` returns to, and the state file
is kept. Each test then starts from that point (the sandbox reset, a copy of the
state) and takes the further steps it needs (quiet sync, mutate, plan, sync, quiet
again) itself or from a fixture, whichever tests ran before it.
"""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from contactsync.config.settings import Settings, load_settings
from contactsync.engine.sync import Engine, RunOutcome
from contactsync.model.contact import Action, ActionKind
from contactsync.wiring import open_engine
from contactsync_sandbox.common import SandboxOptions
from contactsync_sandbox.server import SandboxServer
from contactsync_sandbox.write_config import read_env_file, write_sandbox_config

PEOPLE = 150
SEED = 5
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class Sandbox:
    def __init__(self, server: SandboxServer, settings: Settings, env: dict[str, str]) -> None:
        self.server = server
        self.settings = settings
        self.env = env
        self.http = httpx.Client(timeout=30)

    def admin(self, system: str, what: str) -> Any:
        answer = self.http.get(f"{self.server.admin_urls[system]}/_sandbox/{what}")
        answer.raise_for_status()
        return answer.json()

    def stats(self) -> dict[str, list[dict[str, Any]]]:
        return {s: self.admin(s, "stats")["requests"] for s in self.server.admin_urls}

    def live_records(self, system: str) -> list[dict[str, Any]]:
        return [r for r in self.admin(system, "records")["records"] if not r.get("_deleted")]

    def reset(self) -> None:
        """Every simulator back to its reset point (``/_sandbox/reset``), no requests counted."""
        for system in self.server.admin_urls:
            self.http.post(f"{self.server.admin_urls[system]}/_sandbox/reset").raise_for_status()

    def mutate(self, system: str, count: int, seed: int) -> list[str]:
        answer = self.http.post(
            f"{self.server.admin_urls[system]}/_sandbox/mutate", json={"count": count, "seed": seed}
        )
        answer.raise_for_status()
        return [str(i) for i in answer.json()["mutated"]]


def writes_between(
    before: dict[str, list[dict[str, Any]]], after: dict[str, list[dict[str, Any]]]
) -> Counter[str]:
    """Write requests per system made between two stats snapshots."""

    def count(rows: list[dict[str, Any]]) -> int:
        return sum(
            r["count"]
            for r in rows
            if r["method"] in WRITE_METHODS
            and not r["path"].endswith("/search")
            and "oauth" not in r["path"]
        )

    return Counter({s: count(after[s]) - count(before.get(s, [])) for s in after})


def list_requests_between(
    before: dict[str, list[dict[str, Any]]],
    after: dict[str, list[dict[str, Any]]],
    system: str,
    path: str,
) -> int:
    def count(rows: list[dict[str, Any]]) -> int:
        return sum(r["count"] for r in rows if r["method"] == "GET" and r["path"] == path)

    return count(after[system]) - count(before[system])


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    folder: Path = tmp_path_factory.mktemp("e2e")
    options = SandboxOptions(people=PEOPLE, seed=SEED, rate_limits="off")
    with SandboxServer(options, port_base=0) as server:
        config = folder / "e2e.toml"
        env = read_env_file(
            write_sandbox_config(config, server.urls, options, simulators=server.simulators)
        )
        settings = load_settings(config, env=env)
        yield Sandbox(server, settings, env)


@dataclass(frozen=True)
class Backfilled:
    """The module's one backfill: the live records per system before it, its outcome,
    the state file it left and when it ended (``time.monotonic()``)."""

    seeded: dict[str, int]
    outcome: RunOutcome
    state_path: Path
    ended: float


@pytest.fixture(scope="module")
def backfilled(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Backfilled:
    """Backfill once; the sandbox's records after it become its reset point."""
    sandbox.reset()  # the seed, whatever ran in this module before
    seeded = {system: len(sandbox.live_records(system)) for system in sandbox.server.admin_urls}
    state_path = tmp_path_factory.mktemp("e2e-backfilled") / "backfilled.sqlite"
    engine = open_engine(sandbox.settings, sandbox.env, state_path=state_path)
    try:
        outcome = engine.run("backfill")
    finally:
        engine.close()
    for simulator in sandbox.server.simulators.values():
        with simulator.store.lock:
            simulator.store.freeze_seed()  # what /_sandbox/reset returns to from now on
    return Backfilled(seeded, outcome, state_path, time.monotonic())


@pytest.fixture
def engine(sandbox: Sandbox, backfilled: Backfilled, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a copy of the backfilled state, the sandbox as the backfill left it."""
    sandbox.reset()
    state_path = tmp_path / "e2e.sqlite"
    with (
        closing(sqlite3.connect(backfilled.state_path)) as source,
        closing(sqlite3.connect(state_path)) as copy,
    ):
        source.backup(copy)
    engine = open_engine(sandbox.settings, sandbox.env, state_path=state_path)
    yield engine
    engine.close()


def test_backfill_puts_every_person_in_every_system_that_can_hold_them(
    sandbox: Sandbox, backfilled: Backfilled, engine: Engine
) -> None:
    seeded, outcome = backfilled.seeded, backfilled.outcome
    assert outcome.summary.status == "ok", outcome.errors
    persons = {r.person_id for r in engine.state.iter_records() if r.person_id}
    for system in sandbox.server.admin_urls:
        records = sandbox.live_records(system)
        holders = Counter(
            engine.state.resolve_person(p)
            for r in engine.state.iter_records(system)
            if (p := r.person_id)
        )
        duplicates = {p: n for p, n in holders.items() if n > 1}
        created = outcome.summary.systems[system].created
        # No person was created twice in a system by the sync.
        created_twice = [
            p for p, n in duplicates.items() if n > 1 and _created_by_us(engine, system, p) > 1
        ]
        assert not created_twice, f"{system}: persons created twice: {created_twice[:5]}"
        unholdable = {e.person_id for e in engine.state.list_unholdable(system)}
        missing = persons - set(holders) - unholdable
        assert len(records) >= len(holders)
        assert not missing, f"{system}: {len(missing)} persons not held and not reported"
        assert len(records) == seeded[system] + created  # every create landed, once


def _created_by_us(engine: Engine, system: str, person_id: str) -> int:
    return sum(
        1
        for entry in engine.state.list_actions("done", system)
        if entry.kind is ActionKind.CREATE and entry.action.person_id == person_id
    )


def test_a_sync_right_after_writes_nothing(sandbox: Sandbox, engine: Engine) -> None:
    before = sandbox.stats()
    outcome = engine.run("sync")
    assert outcome.summary.status == "ok", outcome.errors
    assert sum(writes_between(before, sandbox.stats()).values()) == 0


def test_once_the_overlap_passed_a_sync_makes_one_list_request_per_window_system(
    sandbox: Sandbox, backfilled: Backfilled, engine: Engine
) -> None:
    # The next window starts at the previous run's start minus the overlap; once a
    # run has started an overlap after the last write (the backfill's), windows hold
    # no echoes. A real wait: the engine reads the wall clock (it takes no clock) and
    # the vendors compare windows with their own timestamps, Trackops' and Xurrent's
    # to the second (hence the extra second).
    overlap = sandbox.settings.systems["trackops"].overlap.total_seconds()
    time.sleep(max(0.0, backfilled.ended + overlap + 1.1 - time.monotonic()))
    engine.run("sync")
    before = sandbox.stats()
    engine.run("sync")
    after = sandbox.stats()
    assert list_requests_between(before, after, "trackops", "/api/v1/client/contacts") == 1
    assert list_requests_between(before, after, "growcrm", "/api/contacts") == 1
    assert list_requests_between(before, after, "xurrent", "/v1/people") == 1


def test_plan_after_a_mutate_lists_the_updates_and_writes_nothing(
    sandbox: Sandbox, engine: Engine
) -> None:
    mutated = sandbox.mutate("trackops", 10, seed=3)
    before = sandbox.stats()
    planned = engine.run("plan")
    assert sum(writes_between(before, sandbox.stats()).values()) == 0
    assert planned.actions, "a mutate of 10 records must plan updates elsewhere"
    planned_keys = sorted(_key(a) for a in planned.actions)

    before = sandbox.stats()
    synced = engine.run("sync")
    assert synced.summary.status == "ok", synced.errors
    # Every edited record is read again; an edit that changes nothing canonical (a
    # phone reformatted, say) is recognised as unchanged and goes no further.
    assert synced.summary.systems["trackops"].extracted >= len(mutated)
    assert synced.summary.systems["trackops"].staged >= 1
    done = sorted(
        _key(e.action)
        for e in engine.state.list_actions("done")
        if e.run_id == synced.summary.run_id
    )
    assert done == planned_keys
    writes = writes_between(before, sandbox.stats())
    assert sum(writes.values()) == len(planned_keys)


def _key(action: Action) -> tuple[str, str, str]:
    """What an action does to whom: creates by person, the rest by record."""
    if action.kind is ActionKind.CREATE:
        return (action.kind.value, action.system, action.person_id)
    return (action.kind.value, action.system, action.external_id or "")


@pytest.fixture
def propagated(sandbox: Sandbox, engine: Engine) -> Engine:
    """``engine`` after 10 Trackops records were edited and the changes synced."""
    sandbox.mutate("trackops", 10, seed=3)
    outcome = engine.run("sync")
    assert outcome.summary.status == "ok", outcome.errors
    return engine


def test_no_ping_pong_after_propagating_a_change(sandbox: Sandbox, propagated: Engine) -> None:
    engine = propagated
    before = sandbox.stats()
    outcome = engine.run("sync")
    assert outcome.summary.status == "ok", outcome.errors
    assert sum(writes_between(before, sandbox.stats()).values()) == 0


def test_golden_records_carry_their_organizations_channels(
    sandbox: Sandbox, engine: Engine
) -> None:
    """Xurrent organization contacts land in the golden organization, usable outbound."""
    outcome = engine.run("sync")  # a run reads the organizations' channels
    assert outcome.summary.status == "ok", outcome.errors
    channels = {key: chans for key, chans in engine.org_channels.items() if chans}
    assert channels, "the sandbox's organizations have channels"
    with_org = [
        p
        for p in engine.state.iter_persons()
        if (p.golden.get("organization") or {}).get("refs", {}).get("xurrent")
    ]
    assert with_org
    carried = [p for p in with_org if p.golden["organization"].get("channels")]
    touched_ids = {p.person_id for p in carried}
    assert carried, "persons in a synced organization carry its channels"
    for person in carried:
        org_id = person.golden["organization"]["refs"]["xurrent"]
        expected = [c.model_dump(mode="json") for c in engine.org_channels[("xurrent", org_id)]]
        assert person.golden["organization"]["channels"] == expected
    assert touched_ids
