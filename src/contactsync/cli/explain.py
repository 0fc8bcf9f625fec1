"""``contactsync explain PERSON FIELD``: where a golden value came from and what it overrode.

The winner is the golden record's provenance for FIELD (system, record, change time and
how that time was known); the others are every other record of the person with its own
value and field time for FIELD. Read-only, like ``runs``.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from contactsync.cli.history import StateReader, read_only_state
from contactsync.cli.person import find_person
from contactsync.cli.run import console, fail, load
from contactsync.state.sqlite.database import json_object
from contactsync.state.sqlite.field_times import stored_times
from contactsync.state.types import Person, StateError


def explanation(state: StateReader, person: Person, field: str) -> dict[str, Any]:
    """Keys: person_id, field, value, source ({system, external_id, at, how, since?} or
    null), others (list of {system, external_id, value, at, how, since?})."""
    source = person.provenance.get(field)
    rows = state._all(
        "SELECT * FROM records WHERE person_id = ? AND deleted_at IS NULL "
        "ORDER BY system, external_id",
        (person.person_id,),
    )
    others = []
    for row in rows:
        winner = isinstance(source, dict) and (
            source.get("system"),
            source.get("external_id"),
        ) == (row["system"], row["external_id"])
        if winner:
            continue
        time = stored_times(row).get(field)
        others.append(
            {
                "system": row["system"],
                "external_id": row["external_id"],
                "value": json_object(row["payload"]).get(field),
                **(time.as_dict() if time is not None else {"at": None, "how": None}),
            }
        )
    return {
        "person_id": person.person_id,
        "field": field,
        "value": person.golden.get(field),
        "source": source if isinstance(source, dict) else None,
        "others": others,
    }


def _cell(value: Any) -> str:
    return "" if value is None else escape(value if isinstance(value, str) else json.dumps(value))


def print_explanation(payload: dict[str, Any]) -> None:
    source = payload["source"]
    head = f"{escape(payload['person_id'])} {escape(payload['field'])} = {_cell(payload['value'])}"
    if source is None:
        console.print(f"{head}\nno recorded source for this field")
    else:
        console.print(
            f"{head}\nfrom {escape(str(source.get('system')))} record "
            f"{escape(str(source.get('external_id')))}, changed at {_cell(source.get('at'))} "
            f"(time known by: {_cell(source.get('how'))})"
        )
    table = Table(title=f"overrode: {len(payload['others'])} other record(s)")
    for column in ("system", "record", "value", "changed at", "how known"):
        table.add_column(column, overflow="fold")
    for other in payload["others"]:
        table.add_row(
            escape(other["system"]),
            escape(other["external_id"]),
            _cell(other["value"]),
            _cell(other["at"]),
            _cell(other["how"]),
        )
    console.print(table)


def explain_command(
    ctx: typer.Context,
    person: Annotated[str, typer.Argument(help="A person id, or one of their email addresses.")],
    field: Annotated[str, typer.Argument(help="A golden field, e.g. first_name.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Which system and change gave this value, when, and what it overrode (read-only)."""
    options = ctx.find_root().obj
    settings = load(options.config, options.log_format, as_json=as_json)
    try:
        with read_only_state(settings.state_path) as state:
            found = find_person(state, person)
            payload = None if found is None else explanation(state, found, field)
    except (StateError, sqlite3.Error) as exc:
        raise fail(str(exc)) from None
    if payload is None:
        raise fail(f"no person {person!r} in {settings.state_path} (a person id or an email)")
    if as_json:
        typer.echo(json.dumps(payload, sort_keys=True, default=str))
        return
    print_explanation(payload)
