"""``review undo`` against the sandbox: a wrong ``review merge`` of two people spread the
merged golden record into their records; undoing it makes them two persons again and
restores every system as it was before the merge (values compared); ``plan`` shows the
restoring writes before they are sent; the item is open again; later syncs write nothing."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from contactsync.cli.app import app
from contactsync.state.sqlite.store import StateStore
from contactsync_sandbox.common import SandboxOptions
from tests.reliability.convergence import engine_for
from tests.reliability.helpers import EndState, Sandbox, describe_difference, sandbox
from tests.reliability.test_pylon_job_title import records_by_person

pytestmark = pytest.mark.slow


def cli(box: Sandbox, *args: str) -> str:
    answer = CliRunner().invoke(app, ["--config", str(box.config), *args], env=box.credentials)
    assert answer.exit_code == 0, answer.output
    return answer.stdout


def nulls_dropped(state: EndState) -> EndState:
    """An end state with null fields left out: restoring a field that was absent before
    sends null (no vendor here tells a null optional field from a missing one)."""

    def drop(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: drop(v) for k, v in value.items() if v is not None}
        return [drop(v) for v in value] if isinstance(value, list) else value

    return {
        system: Counter(json.dumps(drop(json.loads(r)), sort_keys=True) for r in records.elements())
        for system, records in state.items()
    }


def settle(box: Sandbox, passes: int = 3) -> int:
    """Sync ``passes`` times; the writes of the last pass."""
    engine = engine_for(box)
    try:
        for _ in range(passes):
            outcome = engine.run("sync")
            assert outcome.summary.status == "ok", outcome.errors[:3]
        return sum(c.updated + c.created for c in outcome.summary.systems.values())
    finally:
        engine.close()


def two_people_in_review(box: Sandbox) -> tuple[EndState, Any, dict[str, str], dict[str, str]]:
    """Backfill and sync; then a review item between two people held in Trackops, Rhythm
    and Pylon. The end state before any merge, the item, and each one's records."""
    engine = engine_for(box)
    try:
        assert engine.run("backfill").summary.status == "ok"
        assert engine.run("sync").summary.status == "ok"
        held = records_by_person(engine)
    finally:
        engine.close()
    wanted = {"trackops", "rhythm", "pylon"}
    first, second = [ids for _, ids in sorted(held.items()) if wanted <= set(ids)][:2]
    with StateStore.open(box.state_path) as state:
        item = state.add_review("trackops", first["trackops"], "rhythm", second["rhythm"], 0.7)
    return box.end_state(), item, first, second


def test_undoing_a_wrong_merge_restores_both_people_everywhere(tmp_path: Path) -> None:
    with sandbox(tmp_path, SandboxOptions(people=30, seed=21)) as box:
        before, item, first, second = two_people_in_review(box)
        with StateStore.open(box.state_path) as state:
            persons = {state.person_for("trackops", first["trackops"]),
                       state.person_for("rhythm", second["rhythm"])}  # fmt: skip
        cli(box, "review", "merge", str(item.id))
        settle(box, passes=2)
        merged = box.end_state()
        with StateStore.open(box.state_path) as state:
            survivor = state.resolve_person(next(iter(persons - {None})) or "")
            written = {
                (e.action.system, e.action.external_id)
                for e in state.list_actions("done")
                if e.action.person_id == survivor and e.action.kind.value == "update"
            }
        assert describe_difference(before, merged) != "", "the merge wrote nothing anywhere"

        said = cli(box, "review", "undo", str(item.id))
        assert "open again" in said
        plan: dict[str, Any] = json.loads(cli(box, "plan", "--json"))
        assert plan["queued"], "the undo queued no writes"
        assert all(a["changes"] for a in plan["queued"])
        # plan shows, before any is sent, a restoring write for records the merge wrote
        assert {(a["system"], a["external_id"]) for a in plan["queued"]} <= written
        with StateStore.open(box.state_path) as state:
            reopened = state.get_review(item.id)
            assert reopened is not None
            assert reopened.status.value == "open"
            now = {state.person_for("trackops", first["trackops"]),
                   state.person_for("rhythm", second["rhythm"])}  # fmt: skip
            assert now == persons  # two persons again, under their own ids

        assert settle(box) == 0
        assert describe_difference(nulls_dropped(before), nulls_dropped(box.end_state())) == ""


def test_persons_split_after_a_wrong_merge_restores_both_people(tmp_path: Path) -> None:
    with sandbox(tmp_path, SandboxOptions(people=30, seed=21)) as box:
        before, item, first, second = two_people_in_review(box)
        cli(box, "review", "merge", str(item.id))
        settle(box, passes=2)
        assert describe_difference(before, box.end_state()) != "", "the merge wrote nothing"
        with StateStore.open(box.state_path) as state:
            merged = state.resolve_person(state.person_for("rhythm", second["rhythm"]) or "")
            (event,) = [e for e in state.person_events(merged) if e.kind.value == "merge"]
            absorbed = [f"{s}:{x}" for s, x in event.detail["records"]]
        args = [arg for record in absorbed for arg in ("--records", record)]
        said = cli(box, "persons", "split", merged, *args)
        assert "restoring write(s) queued" in " ".join(said.split())
        queued = json.loads(cli(box, "plan", "--json"))["queued"]
        assert queued, "the split queued no restoring writes"
        with StateStore.open(box.state_path) as state:
            assert state.person_for("trackops", first["trackops"]) != state.person_for(
                "rhythm", second["rhythm"]
            )
        assert settle(box) == 0
        assert describe_difference(nulls_dropped(before), nulls_dropped(box.end_state())) == ""
