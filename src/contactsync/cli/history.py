"""``contactsync runs`` and ``contactsync runs show RUN_ID``: the run log and its writes.

Read-only: the state is opened with SQLite's ``mode=ro``, no migration and no write
transaction, so these commands work while ``run`` holds the lease and never change the state.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from sqlite_utils import Database

from contactsync.cli.run import console, fail, load
from contactsync.model.time import utc_now
from contactsync.state.sqlite.outbox import OutboxMixin, _entry
from contactsync.state.sqlite.persons import PersonsMixin
from contactsync.state.sqlite.runs import RunsMixin
from contactsync.state.types import OutboxEntry, RunRecord, StateError

runs_app = typer.Typer(
    help="The log of runs, and every write a run queued (before/after per field).",
    invoke_without_command=True,
)


class StateReader(RunsMixin, OutboxMixin, PersonsMixin):
    """The store's read helpers on a read-only connection (its write helpers would fail)."""

    def actions_of_run(self, run_id: str) -> list[OutboxEntry]:
        rows = self._all("SELECT * FROM outbox WHERE run_id = ? ORDER BY id", (run_id,))
        return [_entry(row) for row in rows]


@contextmanager
def read_only_state(path: Path) -> Iterator[StateReader]:
    if not path.is_file():
        raise StateError(f"{path}: no state file (run `contactsync backfill` first)")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise StateError(f"{path}: cannot open the state read-only: {exc}") from exc
    try:
        yield StateReader(Database(conn), utc_now)
    finally:
        conn.close()


def run_json(run: RunRecord) -> dict[str, Any]:
    """Keys: run_id, kind, systems (null = all), started_at, finished_at, status, summary."""
    return {
        "run_id": run.run_id,
        "kind": run.kind.value,
        "systems": None if run.systems is None else list(run.systems),
        "started_at": run.started_at.isoformat(),
        "finished_at": None if run.finished_at is None else run.finished_at.isoformat(),
        "status": run.status.value,
        "summary": run.summary,
    }


def write_json(entry: OutboxEntry) -> dict[str, Any]:
    """Keys: id, system, kind, person_id, external_id, status, attempts, error,
    changes (list of {field, before, after})."""
    action = entry.action
    return {
        "id": entry.id,
        "system": action.system,
        "kind": action.kind.value,
        "person_id": action.person_id,
        "external_id": action.external_id,
        "status": entry.status.value,
        "attempts": entry.attempts,
        "error": entry.last_error,
        "changes": [c.model_dump(mode="json") for c in action.changes],
    }


def _text(value: Any) -> str:
    return "" if value is None else escape(value if isinstance(value, str) else json.dumps(value))


def runs_table(runs: list[RunRecord]) -> Table:
    table = Table(title=f"runs (newest first): {len(runs)}")
    # the id whole on one line: it is what `runs show` takes, so it must copy cleanly
    table.add_column("run", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("systems", overflow="fold")
    table.add_column("started (UTC)")  # wraps at the space between date and time
    table.add_column("took", no_wrap=True)
    table.add_column("status", no_wrap=True)
    for run in runs:
        took = (
            ""
            if run.finished_at is None
            else f"{(run.finished_at - run.started_at).total_seconds():.0f}s"
        )
        table.add_row(
            escape(run.run_id),
            run.kind.value,
            "all" if run.systems is None else escape(",".join(run.systems)),
            run.started_at.strftime("%Y-%m-%d %H:%M:%S"),
            took,
            run.status.value,
        )
    return table


def writes_table(run: RunRecord, writes: list[OutboxEntry]) -> Table:
    table = Table(
        title=f"run {escape(run.run_id)} ({run.kind.value}, {run.status.value}): "
        f"{len(writes)} write(s)"
    )
    for column in ("system", "write", "record", "status", "field", "before", "after"):
        table.add_column(column, overflow="fold")
    for entry in writes:
        action = entry.action
        head = [
            escape(action.system),
            action.kind.value,
            escape(action.external_id or action.person_id),
            entry.status.value,
        ]
        changes = action.changes or []
        if not changes:
            table.add_row(*head, "", "", "")
        for index, change in enumerate(changes):
            lead = head if index == 0 else ["", "", "", ""]
            table.add_row(*lead, escape(change.field), _text(change.before), _text(change.after))
    return table


JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


@runs_app.callback()
def list_runs(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many runs.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """The latest runs, newest first (read-only)."""
    if ctx.invoked_subcommand is not None:
        return
    options = ctx.find_root().obj
    settings = load(options.config, options.log_format, as_json=as_json)
    try:
        with read_only_state(settings.state_path) as state:
            runs = state.list_runs(limit)
    except (StateError, sqlite3.Error) as exc:
        raise fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps({"runs": [run_json(r) for r in runs]}, sort_keys=True))
        return
    console.print(runs_table(runs))


@runs_app.command("show")
def show_run(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="A run id from `contactsync runs`.")],
    as_json: JsonOption = False,
) -> None:
    """Every write the run queued, with before/after per field (read-only)."""
    options = ctx.find_root().obj
    settings = load(options.config, options.log_format, as_json=as_json)
    try:
        with read_only_state(settings.state_path) as state:
            run = state.get_run(run_id)
            writes = [] if run is None else state.actions_of_run(run_id)
    except (StateError, sqlite3.Error) as exc:
        raise fail(str(exc)) from None
    if run is None:
        raise fail(f"no run {run_id!r} in {settings.state_path} (see `contactsync runs`)")
    if as_json:
        payload = {"run": run_json(run), "writes": [write_json(w) for w in writes]}
        typer.echo(json.dumps(payload, sort_keys=True))
        return
    console.print(writes_table(run, writes))
