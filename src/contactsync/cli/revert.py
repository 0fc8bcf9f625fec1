"""``contactsync revert RUN_ID [--dry-run] [--json]``: queue the writes that restore what
a run changed (see :mod:`contactsync.engine.revert`); ``plan`` shows them, the next sync sends
them."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime

import typer

from contactsync.cli.render import plan_table
from contactsync.cli.run import console, engine_for, fail
from contactsync.config.settings import Settings
from contactsync.engine.revert import Outbound, RevertPlan, plan_revert, plan_revert_since
from contactsync.engine.sync import Engine
from contactsync.state.sqlite.store import StateStore


def restoring_inputs(engine: Engine[StateStore]) -> tuple[dict[str, Outbound], frozenset[str]]:
    """Each system's outbound mapping, and the systems whose deletes propagate."""
    propagating = frozenset(
        name for name, system in engine.settings.systems.items() if system.deletes == "propagate"
    )
    return {name: mapping.outbound for name, mapping in engine.mappings.items()}, propagating


def queue_restore(
    engine: Engine[StateStore], label: str, persons: Iterable[str], since: datetime
) -> int:
    """Queue the writes restoring what was written for these persons since ``since``
    (an undone review decision, a split); print them. Returns how many were queued."""
    outbound, propagating = restoring_inputs(engine)
    plan = plan_revert_since(engine.state, label, persons, since, outbound, propagating)
    queued = engine.state.enqueue(plan.actions, plan.queue_as)
    print_restore(plan)
    return queued


def print_restore(plan: RevertPlan) -> None:
    console.print(plan_table(plan.actions))
    for note in plan.notes:
        console.print(f"not restored: {note}", markup=False)


def run_revert(settings: Settings, run_id: str, *, dry_run: bool, as_json: bool) -> None:
    with engine_for(settings) as engine:
        state = engine.state
        if state.get_run(run_id) is None:
            raise fail(f"no run {run_id} in {settings.state_path} (contactsync runs lists them)")
        plan = plan_revert(state, run_id, *restoring_inputs(engine))
        queued = 0 if dry_run else state.enqueue(plan.actions, plan.queue_as)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "run_id": run_id,
                    "queued": queued,
                    "dry_run": dry_run,
                    "actions": [
                        a.model_dump(mode="json", exclude={"payload"}) for a in plan.actions
                    ],
                    "not_reverted": plan.notes,
                },
                sort_keys=True,
            )
        )
        return
    print_restore(plan)
    if dry_run:
        console.print(f"dry run: nothing queued ({len(plan.actions)} action(s) would be)")
    else:
        console.print(
            f"{queued} action(s) queued as run {plan.queue_as}: `contactsync plan` shows them, "
            "the next sync sends them",
            markup=False,
        )
