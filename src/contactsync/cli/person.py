"""``contactsync person PERSON_ID|EMAIL``: one person's records, golden record and events.

Read-only, like ``runs`` (:func:`contactsync.cli.history.read_only_state`).
"""

from __future__ import annotations

import json
import sqlite3
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from contactsync.cli.history import StateReader, read_only_state
from contactsync.cli.run import console, fail, load
from contactsync.state.types import Person, StateError


def find_person(state: StateReader, key: str) -> Person | None:
    """By person id (following merges), else by any email address of the golden record."""
    person = state.get_person(key)
    if person is not None:
        if person.merged_into:
            return state.get_person(state.resolve_person(key)) or person
        return person
    wanted = key.strip().lower()
    for candidate in state.iter_persons():
        emails = candidate.golden.get("emails") or []
        addresses = {str(e.get("address", "")).lower() for e in emails if isinstance(e, dict)}
        if wanted in addresses:
            return candidate
    return None


def person_json(state: StateReader, person: Person) -> dict[str, Any]:
    """Keys: person_id, golden, provenance, records (list of {system, external_id, payload,
    seen_at, source_updated_at, deleted_at}), events (list of {kind, other_person_id, at,
    detail})."""
    records = state.records_for_person(person.person_id, include_deleted=True)
    events = state.person_events(person.person_id)
    return {
        "person_id": person.person_id,
        "golden": person.golden,
        "provenance": person.provenance,
        "records": [
            {
                "system": r.system,
                "external_id": r.external_id,
                "payload": r.payload,
                "seen_at": r.seen_at.isoformat(),
                "source_updated_at": None
                if r.source_updated_at is None
                else r.source_updated_at.isoformat(),
                "deleted_at": None if r.deleted_at is None else r.deleted_at.isoformat(),
            }
            for r in records
        ],
        "events": [
            {
                "kind": str(e.kind),
                "other_person_id": e.other_person_id,
                "at": e.at.isoformat(),
                "detail": e.detail,
            }
            for e in events
        ],
    }


def _cell(value: Any) -> str:
    return escape(value if isinstance(value, str) else json.dumps(value, sort_keys=True))


def print_person(payload: dict[str, Any]) -> None:
    golden = Table(title=f"person {escape(payload['person_id'])}: golden record")
    golden.add_column("field", no_wrap=True)
    golden.add_column("value", overflow="fold")
    for name, value in sorted(payload["golden"].items()):
        golden.add_row(escape(name), _cell(value))
    console.print(golden)
    records = Table(title=f"records in each system: {len(payload['records'])}")
    for column in ("system", "record", "seen", "deleted", "payload"):
        records.add_column(column, overflow="fold")
    for record in payload["records"]:
        records.add_row(
            escape(record["system"]),
            escape(record["external_id"]),
            record["seen_at"][:19],
            (record["deleted_at"] or "")[:19],
            _cell(record["payload"]),
        )
    console.print(records)
    events = Table(title=f"events: {len(payload['events'])}")
    for column in ("at", "event", "other person", "detail"):
        events.add_column(column, overflow="fold")
    for event in payload["events"]:
        events.add_row(
            event["at"][:19],
            escape(event["kind"]),
            escape(event["other_person_id"] or ""),
            _cell(event["detail"]),
        )
    console.print(events)


def person_command(
    ctx: typer.Context,
    person: Annotated[str, typer.Argument(help="A person id, or one of their email addresses.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """One person: the records in each system, the golden record, the events (read-only)."""
    options = ctx.find_root().obj
    settings = load(options.config, options.log_format, as_json=as_json)
    try:
        with read_only_state(settings.state_path) as state:
            found = find_person(state, person)
            payload = None if found is None else person_json(state, found)
    except (StateError, sqlite3.Error) as exc:
        raise fail(str(exc)) from None
    if payload is None:
        raise fail(f"no person {person!r} in {settings.state_path} (a person id or an email)")
    if as_json:
        typer.echo(json.dumps(payload, sort_keys=True, default=str))
        return
    print_person(payload)
