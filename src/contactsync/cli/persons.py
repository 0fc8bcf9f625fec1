"""``contactsync persons split PERSON --records SYSTEM:ID ...``: records the matcher (or a
review merge) gave one person wrongly, made a person of their own.

The named records move to a new person. When the history says since when they were
this person's (the merge that brought them), the writes made for the person since then
are restored, as ``revert`` restores a run's (queued: ``plan`` shows them, the next sync
sends them); otherwise both persons are planned again, and ``revert RUN_ID`` undoes a
run's writes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from contactsync.cli.revert import queue_restore
from contactsync.cli.run import console, engine_for, fail, load
from contactsync.state.sqlite.store import PersonEventKind, StateError, StateStore

persons_app = typer.Typer(help="Correct who is who.", no_args_is_help=True)


def _record_keys(records: list[str]) -> list[tuple[str, str]]:
    keys = []
    for text in records:
        system, _, external_id = text.partition(":")
        if not system or not external_id:
            raise fail(f"--records {text!r}: expected SYSTEM:ID, e.g. pylon:4f1c...")
        keys.append((system, external_id))
    return keys


@persons_app.command("split")
def split(
    ctx: typer.Context,
    person: Annotated[str, typer.Argument(help="The person id (see `contactsync person`).")],
    records: Annotated[
        list[str], typer.Option("--records", help="SYSTEM:ID of a record to split off; repeat.")
    ],
) -> None:
    """Make a person of these records, and restore what was written since they joined."""
    keys = _record_keys(records)
    settings = load(ctx.find_root().obj.config, ctx.find_root().obj.log_format)
    with engine_for(settings) as engine:
        state = engine.state
        try:
            person_id = state.resolve_person(person)
            joined = _joined_at(state, person_id, keys)
            new_person = state.split_records(person_id, keys)
        except StateError as exc:
            raise fail(str(exc)) from None
        if joined is not None:
            queued = queue_restore(engine, f"split-{new_person}", [person_id], joined)
            said = f"{queued} restoring write(s) queued for the next sync"
        else:
            queued = len(engine.replan([person_id, new_person]))
            said = (
                f"no merge in the history says since when they were one person: "
                f"{queued} action(s) planned; `contactsync revert RUN_ID` undoes a run's writes"
            )
    console.print(f"records {', '.join(records)} are person {new_person} now; {said}")


def _joined_at(state: StateStore, person_id: str, keys: list[tuple[str, str]]) -> datetime | None:
    """When the latest merge moved any of these records to the person, if one did."""
    wanted = set(keys)
    for event in reversed(state.person_events(person_id)):
        moved = {(s, x) for s, x in event.detail.get("records", [])}
        if event.kind is PersonEventKind.MERGE and event.person_id == person_id and moved & wanted:
            return event.at
    return None
