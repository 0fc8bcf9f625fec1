"""Terminal output: run summaries, plans and status as rich tables, or one JSON object."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich.console import Console, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from contactsync.model.contact import Action
from contactsync.model.run_summary import RunSummary
from contactsync.state.sqlite.store import (
    FieldRefusal,
    QuarantineEntry,
    StoredValueProblem,
)


def plain_row(table: Table, *cells: RenderableType | None) -> None:
    """A row shown as it is: text from vendors and users (``[record 1007]``) is never
    read as Rich markup, which would swallow it."""
    table.add_row(*(Text(cell) if isinstance(cell, str) else cell for cell in cells))


COUNT_COLUMNS = (
    "extracted",
    "unchanged",
    "staged",
    "echoes",
    "quarantined",
    "created",
    "updated",
    "deleted",
    "failed",
    "requests",
)


def summary_json(summary: RunSummary, **extra: Any) -> str:
    payload = summary.model_dump(mode="json")
    payload.update(extra)
    return json.dumps(payload, sort_keys=True)


def summary_table(summary: RunSummary, title: str) -> Table:
    """One column per system, one row per count: five systems fit 80 columns, where ten
    counts side by side were cut to "extr…"."""
    table = Table(title=f"{title}: {summary.status} (run {summary.run_id})")
    table.add_column("")
    for name in summary.systems:
        table.add_column(name, justify="right")
    for column in COUNT_COLUMNS:
        plain_row(table, column, *(str(getattr(c, column)) for c in summary.systems.values()))
    persons = summary.persons
    table.caption = (
        f"persons: {persons.total} total, {persons.new} new, {persons.merged} merged, "
        f"{persons.review} awaiting review"
    )
    return table


def _short(value: Any, limit: int = 40) -> str:
    text = "—" if value in (None, "", [], {}) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def plan_table(
    actions: list[Action], limit: int | None = None, queued: Sequence[Action] = ()
) -> Table:
    """``actions`` this pass plans, then ``queued``: what earlier runs or commands left
    in the outbox (``review merge``, a failed write), which the next sync sends too."""
    title = f"plan: {len(actions)} action(s)"
    table = Table(title=title + (f", {len(queued)} queued earlier" if queued else ""))
    every = [(action, action.kind.value) for action in actions]
    every += [(action, f"{action.kind.value} (queued)") for action in queued]
    shown = every if limit is None else every[:limit]
    if len(shown) < len(every):
        table.caption = f"… and {len(every) - len(shown)} more (contactsync plan --json lists all)"
    for column in ("action", "system", "record", "person", "field", "before", "after"):
        table.add_column(column)
    for action, label in shown:
        record = action.external_id or "(new)"
        changes = action.changes or []
        if not changes:
            plain_row(table, label, action.system, record, action.person_id, "", "", "")
        for index, change in enumerate(changes):
            head = (label, action.system, record, action.person_id) if index == 0 else ("",) * 4
            plain_row(table, *head, change.field, _short(change.before), _short(change.after))
    return table


def plan_json(summary: RunSummary, actions: list[Action], queued: Sequence[Action] = ()) -> str:
    def listed(some: Sequence[Action]) -> list[dict[str, Any]]:
        return [a.model_dump(mode="json", exclude={"payload"}) for a in some]

    return summary_json(summary, actions=listed(actions), queued=listed(queued))


def quarantine_table(entries: list[QuarantineEntry]) -> Table:
    table = Table(title=f"quarantined records: {len(entries)}")
    for column in ("system", "record", "since", "reason"):
        table.add_column(column)
    for entry in entries:
        plain_row(
            table,
            entry.system,
            entry.external_id,
            entry.first_seen.isoformat(timespec="seconds"),
            entry.reason,
        )
    return table


def value_problems_json(entries: list[StoredValueProblem]) -> list[dict[str, Any]]:
    """Values staging left out of a record (or moved), per record and field."""
    return [
        {
            "system": entry.system,
            "record": entry.external_id,
            "field": entry.problem.field,
            "value": entry.problem.value,
            "reason": entry.problem.reason,
            "moved_to": entry.problem.moved_to,
        }
        for entry in entries
    ]


def value_problems_table(entries: list[StoredValueProblem]) -> Table:
    table = Table(title=f"values left out of staged records: {len(entries)}")
    for column in ("system", "record", "field", "value", "reason"):
        table.add_column(column)
    for entry in entries:
        problem = entry.problem
        reason = problem.reason if problem.moved_to is None else f"{problem.reason} (kept)"
        plain_row(
            table, entry.system, entry.external_id, problem.field, problem.value or "", reason
        )
    return table


def entries_json(entries: Iterable[Any], columns: Mapping[str, str]) -> list[dict[str, Any]]:
    """Each entry as one JSON object: ``columns`` maps an output key to its attribute."""
    return [{key: getattr(entry, name) for key, name in columns.items()} for entry in entries]


def field_refusals_json(entries: list[FieldRefusal]) -> list[dict[str, Any]]:
    """Values a target refused for one field: the rest of the write was sent without them."""
    return entries_json(
        entries,
        {
            "system": "system",
            "field": "field",
            "value": "value",
            "record": "external_id",
            "person": "person_id",
            "reason": "reason",
        },
    )


def field_refusals_table(entries: list[FieldRefusal]) -> Table:
    table = Table(title=f"fields left out of writes (the target refused the value): {len(entries)}")
    for column in ("system", "field", "value", "record", "person", "reason"):
        table.add_column(column)
    for entry in entries:
        plain_row(
            table,
            entry.system,
            entry.field,
            entry.value or "",
            entry.external_id or "(new)",
            entry.person_id,
            entry.reason,
        )
    return table


def print_errors(console: Console, errors: list[str]) -> None:
    for error in errors:
        console.print(f"[red]error:[/red] {escape(error)}", highlight=False, soft_wrap=True)
