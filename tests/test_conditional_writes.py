"""Conditional writes against the sandbox: a user's edit made after a sync planned an
update of that record, and before the update is sent, is never overwritten; the edit
wins and reaches the other systems.

The edit is injected deterministically between planning and loading (the engine's
load step is wrapped), through the vendors' own APIs, the way a user makes it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from contactsync.config import load_settings
from contactsync.sandbox.common import SandboxOptions
from contactsync.sandbox.server import SandboxServer
from contactsync.sandbox.write_config import read_env_file, write_sandbox_config
from contactsync.sync import Engine

PEOPLE = 40
SEED = 11
#: where each system keeps a person's job title (read, and written by a user)
TITLE_FIELD = {"trackops": "title", "rhythm": "job_title", "xurrent": "job_title"}
EDITED = ("trackops", "rhythm")  # a GET-checked system and an atomically checked one


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    options = SandboxOptions(people=PEOPLE, seed=SEED, rate_limits="off")
    with SandboxServer(options, port_base=0) as server:
        config = tmp_path / "cond.toml"
        env = read_env_file(
            write_sandbox_config(config, server.urls, options, simulators=server.simulators)
        )
        engine = Engine.from_settings(load_settings(config, env=env), env)
        try:
            yield engine
        finally:
            engine.close()


def held_everywhere(engine: Engine) -> tuple[str, dict[str, str]]:
    """A person held in every system that has a title field, and their record ids."""
    by_person: dict[str, dict[str, str]] = {}
    for record in engine.state.iter_records():
        if record.person_id and not record.deleted and record.system in TITLE_FIELD:
            person = engine.state.resolve_person(record.person_id)
            by_person.setdefault(person, {})[record.system] = record.external_id
    for person, ids in sorted(by_person.items()):
        if ids.keys() == TITLE_FIELD.keys():
            return person, ids
    raise AssertionError("no person is held in every system")


def title_in(engine: Engine, system: str, external_id: str) -> Any:
    record = engine.adapters[system].read_record(external_id)
    return record.payload.get(TITLE_FIELD[system])


def user_sets_title(engine: Engine, system: str, external_id: str, title: str) -> None:
    """A user's edit through the vendor's API (the engine's adapter as a plain client)."""
    adapter = engine.adapters[system]
    current = adapter.read_record(external_id).payload
    adapter.update(external_id, {TITLE_FIELD[system]: title}, current=current)


def test_an_edit_between_plan_and_load_is_not_overwritten_and_propagates(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert engine.run("backfill").summary.status == "ok"
    engine.run("sync")
    person, ids = held_everywhere(engine)
    user_sets_title(engine, "xurrent", ids["xurrent"], "Head of Planning")
    time.sleep(1.1)  # the later edit carries a later vendor timestamp (seconds suffice)

    real_load = engine._load

    def edit_then_load(*args: Any, **kwargs: Any) -> None:
        # The plan is in the outbox (Xurrent's title on its way to the others); now, while
        # the sync writes, users change the same field in two of the target systems.
        for system in EDITED:
            user_sets_title(engine, system, ids[system], "Chief Listener")
        real_load(*args, **kwargs)

    monkeypatch.setattr(engine, "_load", edit_then_load)
    engine.run("sync")
    monkeypatch.setattr(engine, "_load", real_load)

    for system in EDITED:  # never overwritten with the older Xurrent value
        assert title_in(engine, system, ids[system]) == "Chief Listener", system
    refused = [
        entry
        for entry in engine.state.list_actions("skipped")
        if "changed since it was read" in (entry.last_error or "")
    ]
    assert {entry.action.system for entry in refused} == set(EDITED)

    engine.run("sync")  # whatever the first pass queued behind the other systems' loads
    for system, external_id in ids.items():
        assert title_in(engine, system, external_id) == "Chief Listener", system
    golden = engine.state.get_person(person)
    assert golden is not None
    assert golden.golden.get("job_title") == "Chief Listener"
