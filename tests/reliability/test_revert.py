"""``contactsync revert RUN_ID`` against the sandbox: a title a user typed in Trackops
spread to the other systems in a sync; reverting that sync restores every system as it
was before the edit (values compared), ``plan`` shows the revert's writes before they are
sent, and the syncs after it write nothing more."""

from __future__ import annotations

import json
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from contactsync.cli.app import app
from contactsync_sandbox.common import SandboxOptions
from tests.reliability.convergence import engine_for
from tests.reliability.helpers import Sandbox, describe_difference, sandbox
from tests.reliability.test_faults import _user_adapter
from tests.reliability.test_pylon_job_title import record, records_by_person

pytestmark = pytest.mark.slow


def cli(box: Sandbox, *args: str) -> Any:
    answer = CliRunner().invoke(app, ["--config", str(box.config), *args], env=box.credentials)
    assert answer.exit_code == 0, answer.output
    return json.loads(answer.stdout)


def writes(actions: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    return sorted(
        (a["kind"], a["system"], str(a["external_id"]), json.dumps(a["changes"], sort_keys=True))
        for a in actions
    )


def test_reverting_a_sync_restores_every_system(tmp_path: Path) -> None:
    with sandbox(tmp_path, SandboxOptions(people=30, seed=21)) as box:
        engine = engine_for(box)
        try:
            assert engine.run("backfill").summary.status == "ok"
            assert engine.run("sync").summary.status == "ok"
            before = box.end_state()
            held = records_by_person(engine)
            ids = next(i for _, i in sorted(held.items()) if {"trackops", "rhythm"} <= set(i))
            with closing(_user_adapter(box, "trackops")) as user:
                current = record(box, "trackops", ids["trackops"])
                user.update(ids["trackops"], {"title": "Chief Pilot"}, current=current)
            spread = engine.run("sync")
            assert spread.summary.status == "ok"
            assert record(box, "rhythm", ids["rhythm"])["job_title"] == "Chief Pilot"
        finally:
            engine.close()
        run_id = spread.summary.run_id

        shown = cli(box, "revert", run_id, "--dry-run", "--json")
        assert shown["queued"] == 0
        assert shown["actions"], "the sync wrote the title somewhere; reverting it writes"
        assert all(a["system"] != "trackops" for a in shown["actions"])  # not written there
        queued = cli(box, "revert", run_id, "--json")
        assert queued["queued"] == len(shown["actions"])
        assert writes(cli(box, "plan", "--json")["queued"]) == writes(shown["actions"])

        engine = engine_for(box)
        try:
            for _ in range(3):
                last = engine.run("sync")
                assert last.summary.status == "ok"
            assert describe_difference(before, box.end_state()) == ""
            quiet = engine.run("sync")
            assert sum(c.updated + c.created for c in quiet.summary.systems.values()) == 0
        finally:
            engine.close()
