"""The ``duplicates`` policy against the sandbox: ``review merge`` joins two persons held
in every system, so each system holds two records of the one person afterwards.

* ``merge``: after the next sync each system that can delete holds one record of the
  person, the golden record keeps every email and phone either person held, and later
  syncs write nothing and warn about nothing. Trackops (no delete API) lists its pair.
* ``mark`` (the default): no record is deleted anywhere, each pair is listed once in
  ``status``, and later syncs write nothing and warn about nothing.
* ``keep``: nothing is deleted and nothing listed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs
from typer.testing import CliRunner

from contactsync.cli.app import app
from contactsync.state.sqlite.store import StateStore
from contactsync_sandbox.common import SandboxOptions
from tests.reliability.convergence import engine_for
from tests.reliability.helpers import Sandbox, sandbox

pytestmark = pytest.mark.slow

SYSTEMS = ("trackops", "growcrm", "rhythm", "pylon", "xurrent")


def cli(box: Sandbox, *args: str) -> str:
    answer = CliRunner().invoke(app, ["--config", str(box.config), *args], env=box.credentials)
    assert answer.exit_code == 0, answer.output
    return answer.stdout


def with_policy(box: Sandbox, policy: str | None, *extra: str) -> None:
    """``duplicates = POLICY`` (None: the default) and the ``extra`` lines in every
    system's table but Trackops' (which has no delete API)."""
    lines = [f'duplicates = "{policy}"'] if policy is not None else []
    text = box.config.read_text()
    for name in SYSTEMS:
        more = lines + ([] if name == "trackops" else list(extra))
        text = text.replace(f"[systems.{name}]\n", "\n".join([f"[systems.{name}]", *more, ""]))
    box.config.write_text(text)


def values(payload: dict[str, Any]) -> set[str]:
    """A canonical record's emails and phones."""
    return {e["address"] for e in payload.get("emails", [])} | {
        p["number"] for p in payload.get("phones", [])
    }


def sync(box: Sandbox) -> tuple[int, list[dict[str, Any]]]:
    """One sync: its writes (creates, updates, deletes) and the warnings it logged."""
    engine = engine_for(box)
    try:
        with capture_logs() as logs:
            outcome = engine.run("sync")
        assert outcome.summary.status == "ok", outcome.errors[:3]
        counts = outcome.summary.systems.values()
        return sum(c.updated + c.created + c.deleted for c in counts), [
            entry for entry in logs if entry["log_level"] in ("warning", "error")
        ]
    finally:
        engine.close()


def backfilled(box: Sandbox, policy: str | None, *extra: str) -> None:
    """Set the policy, then backfill and sync: everyone is held in every system."""
    with_policy(box, policy, *extra)
    engine = engine_for(box)
    try:
        assert engine.run("backfill").summary.status == "ok"
        assert engine.run("sync").summary.status == "ok"
    finally:
        engine.close()


def merge_two(box: Sandbox) -> tuple[dict[str, str], dict[str, str], str]:
    """``review merge`` two persons held in every system (their Pylon records staged as
    a review item): their record ids by system, and the surviving person."""
    with StateStore.open(box.state_path) as state:
        held: dict[str, dict[str, str]] = {}
        for stored in state.iter_records():
            if stored.person_id:
                person = state.resolve_person(stored.person_id)
                held.setdefault(person, {})[stored.system] = stored.external_id
        first, second = [ids for _, ids in sorted(held.items()) if set(ids) == set(SYSTEMS)][:2]
        item = state.add_review("pylon", first["pylon"], "pylon", second["pylon"], 0.7)
    assert "merged into" in cli(box, "review", "merge", str(item.id))
    with StateStore.open(box.state_path) as state:
        survivor = state.resolve_person(state.person_for("pylon", first["pylon"]) or "")
    return first, second, survivor


def live_ids(box: Sandbox, system: str) -> set[str]:
    return {str(r["id"]) for r in box.records(system)}


def test_merge_policy_leaves_one_record_per_system_and_loses_nothing(tmp_path: Path) -> None:
    with sandbox(tmp_path, SandboxOptions(people=30, seed=21)) as box:
        # deletes propagate: a duplicate's deletion must not be taken for the person's
        backfilled(box, "merge", 'deletes = "propagate"')
        with StateStore.open(box.state_path) as state:
            held_before = {
                (r.system, r.external_id): values(r.payload) for r in state.iter_records()
            }
        first, second, survivor = merge_two(box)
        either = set().union(
            *(held_before[(s, ids[s])] for ids in (first, second) for s in SYSTEMS)
        )
        plan: dict[str, Any] = json.loads(cli(box, "plan", "--json"))
        deletes = {(a["system"], a["external_id"]) for a in plan["queued"] if a["kind"] == "delete"}
        assert len(deletes) == 4, plan["queued"]  # the plan shows them before any is sent
        assert {s for s, _ in deletes} == {"growcrm", "rhythm", "pylon", "xurrent"}

        assert sync(box)[1] == []  # no warning, also in the pass that resolves them
        for resolving in (True, False):
            for system in ("growcrm", "rhythm", "pylon", "xurrent"):
                pair = {first[system], second[system]}
                assert len(pair & live_ids(box, system)) == 1, system  # one record per system
            assert {first["trackops"], second["trackops"]} <= live_ids(box, "trackops")
            with StateStore.open(box.state_path) as state:
                person = state.get_person(survivor)
                assert person is not None
                assert either <= values(person.golden)  # nothing lost that either held
                assert person.golden.get("status") != "deleted"
                listed = state.list_duplicates()
            if resolving:  # a survivor whose update met its duplicate still at the vendor
                assert sync(box)[1] == []
        assert sorted((d.system, d.status) for d in listed) == [
            ("growcrm", "deleted"),
            ("pylon", "deleted"),
            ("rhythm", "deleted"),
            ("trackops", "listed"),
            ("xurrent", "deleted"),
        ]
        for _ in range(2):
            writes, warnings = sync(box)
            assert (writes, warnings) == (0, [])


@pytest.mark.parametrize("policy", [None, "keep"])
def test_mark_and_keep_delete_nothing_and_warn_about_nothing(
    tmp_path: Path, policy: str | None
) -> None:
    with sandbox(tmp_path, SandboxOptions(people=30, seed=21)) as box:
        backfilled(box, policy)
        first, second, _ = merge_two(box)
        plan: dict[str, Any] = json.loads(cli(box, "plan", "--json"))
        assert not [a for a in plan["queued"] if a["kind"] == "delete"]
        assert sync(box)[1] == []  # the survivor's refused update is listed, not warned
        for system in SYSTEMS:  # never a delete unless asked for
            assert {first[system], second[system]} <= live_ids(box, system), system
        for _ in range(2):
            writes, warnings = sync(box)
            assert (writes, warnings) == (0, [])
        status = json.loads(cli(box, "status", "--json"))
        if policy == "keep":
            assert status["duplicates"] == []
            return
        listed = sorted((d["system"], d["status"], d["policy"]) for d in status["duplicates"])
        assert listed == [(system, "listed", "mark") for system in sorted(SYSTEMS)]
        ids = {d["record"] for d in status["duplicates"]} | {
            d["survivor"] for d in status["duplicates"]
        }
        assert ids == {ids_[s] for ids_ in (first, second) for s in SYSTEMS}
        assert (
            "duplicate records of one person kept: "
            "growcrm 1, pylon 1, rhythm 1, trackops 1, xurrent 1"
            in " ".join(cli(box, "status").split())
        )
