"""Deletes: propagated only where configured, and guarded against mass deletion."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from contactsync.config.settings import load_settings
from contactsync.engine.sync import Engine
from contactsync.model.contact import ActionKind
from contactsync.wiring import open_engine
from contactsync_sandbox.common import SandboxOptions
from contactsync_sandbox.server import SandboxServer
from contactsync_sandbox.write_config import read_env_file, write_sandbox_config

PEOPLE = 80


class World:
    def __init__(self, server: SandboxServer, engine: Engine, env: dict[str, str]) -> None:
        self.server = server
        self.engine = engine
        self.env = env
        self.http = httpx.Client(timeout=30)

    def live(self, system: str) -> dict[str, dict[str, Any]]:
        answer = self.http.get(f"{self.server.admin_urls[system]}/_sandbox/records")
        answer.raise_for_status()
        return {str(r["id"]): r for r in answer.json()["records"] if not r.get("_deleted")}

    def delete_in_pylon(self, contact_id: str) -> None:
        answer = self.http.delete(
            f"{self.server.urls['pylon']}/contacts/{contact_id}",
            headers={"Authorization": f"Bearer {self.env['PYLON_TOKEN']}"},
        )
        answer.raise_for_status()

    def records_of(self, person_id: str) -> dict[str, str]:
        state = self.engine.state
        return {
            r.system: r.external_id for r in state.records_for_person(person_id) if not r.deleted
        }


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    options = SandboxOptions(people=PEOPLE, seed=21)
    with SandboxServer(options, port_base=0) as server:
        config = tmp_path / "d.toml"
        env = read_env_file(
            write_sandbox_config(config, server.urls, options, simulators=server.simulators)
        )
        text = config.read_text().replace(
            "[systems.pylon]\n", '[systems.pylon]\ndeletes = "propagate"\nmax_delete_share = 0.2\n'
        )
        config.write_text(text)
        engine = open_engine(load_settings(config, env=env), env)
        try:
            assert engine.run("backfill").summary.status == "ok"
            yield World(server, engine, env)
        finally:
            engine.close()


def persons_held_everywhere(world: World, count: int) -> list[tuple[str, dict[str, str]]]:
    chosen = []
    for person in world.engine.state.iter_persons():
        held = world.records_of(person.person_id)
        if {"pylon", "rhythm", "trackops"} <= set(held):
            chosen.append((person.person_id, held))
        if len(chosen) == count:
            break
    assert len(chosen) == count
    return chosen


def test_a_delete_in_a_propagating_system_deletes_or_archives_elsewhere(world: World) -> None:
    ((_person, held),) = persons_held_everywhere(world, 1)
    world.delete_in_pylon(held["pylon"])
    outcome = world.engine.run("sync")
    assert outcome.summary.status == "ok", outcome.errors
    assert held["rhythm"] not in world.live("rhythm")
    if "xurrent" in held:
        assert held["xurrent"] not in world.live("xurrent")  # archived
    # Trackops has no delete API: the contact stays, and no action was even tried.
    assert held["trackops"] in world.live("trackops")
    assert outcome.summary.systems["trackops"].failed == 0
    assert world.engine.run("sync").summary.systems["rhythm"].deleted == 0


def test_a_delete_in_a_non_propagating_system_stays_there(world: World) -> None:
    ((_person, held),) = persons_held_everywhere(world, 1)
    rhythm = world.engine.adapters["rhythm"]
    rhythm.delete(held["rhythm"])
    outcome = world.engine.run("sync")
    assert outcome.summary.status == "ok", outcome.errors
    assert held["pylon"] in world.live("pylon")
    assert held["trackops"] in world.live("trackops")
    # ... and contactsync does not resurrect it in Rhythm either.
    assert held["rhythm"] not in world.live("rhythm")
    assert outcome.summary.systems["rhythm"].created == 0


def test_mass_deletion_is_refused_unless_forced(world: World) -> None:
    pylon = list(world.live("pylon"))
    doomed = pylon[: len(pylon) * 3 // 10]
    for contact_id in doomed:
        world.delete_in_pylon(contact_id)
    rhythm_before = set(world.live("rhythm"))
    refused = world.engine.run("sync")
    assert refused.summary.status == "partial"
    assert any("max_delete_share" in e for e in refused.errors)
    assert set(world.live("rhythm")) == rhythm_before

    forced = world.engine.run("sync", force_deletes=True)
    assert forced.summary.status == "ok", forced.errors
    assert forced.summary.systems["rhythm"].deleted > 0
    assert len(world.live("rhythm")) < len(rhythm_before)
    done = [
        e for e in world.engine.state.list_actions("done", "rhythm") if e.kind is ActionKind.DELETE
    ]
    assert len(done) == forced.summary.systems["rhythm"].deleted
