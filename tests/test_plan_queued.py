"""`plan` shows what is already queued for the next sync, not only what it plans anew
(issue 17: after `review merge`, plan said "0 actions" while the merge's writes waited)."""

from __future__ import annotations

from pathlib import Path

from contactsync.config.settings import load_settings
from contactsync.wiring import open_engine
from contactsync_sandbox.common import SandboxOptions
from tests.reliability.helpers import sandbox


def test_plan_lists_the_writes_a_merge_queued_and_changes_nothing(tmp_path: Path) -> None:
    with sandbox(tmp_path, SandboxOptions(people=20, seed=6)) as box:
        settings = load_settings(box.config, env=box.credentials)
        engine = open_engine(settings, box.credentials)
        try:
            assert engine.run("backfill").summary.status == "ok"
            state = engine.state
            first, second = sorted(
                {
                    state.person_for("trackops", r.external_id) or ""
                    for r in state.iter_records("trackops")
                }
                - {""}
            )[:2]
            survivor = state.merge_persons(first, second)  # what `review merge` does
            merged = engine.replan([survivor])
            assert merged, "a merge of two people queues writes"
            pending_before = len(state.pending_actions())
            planned = engine.run("plan")
            assert {a.key for a in planned.queued} >= {a.key for a in merged}
            assert not {a.key for a in planned.queued} & {a.key for a in planned.actions}
            assert len(state.pending_actions()) == pending_before  # plan changed nothing
        finally:
            engine.close()
