"""What the run commands do: load the config, open an engine, run, print, exit.

Kept apart from ``cli.py`` (which only declares options) so that the demo and the
scheduler reuse the very same steps.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from contactsync.cli import render, status_view
from contactsync.config.settings import ConfigError, Settings, load_settings
from contactsync.engine.foreign_state import foreign_refusal
from contactsync.engine.preflight import unreachable
from contactsync.engine.sync import Engine, RunOutcome
from contactsync.http.errors import set_default_redactor
from contactsync.logs import configure_logging, redact
from contactsync.mapping.mapper import MappingError
from contactsync.state.sqlite.file_check import copy_state
from contactsync.state.sqlite.lease import LEASE_NAME
from contactsync.state.sqlite.store import (
    OutboxEntry,
    OutboxStatus,
    RunRecord,
    RunStatus,
    StateError,
    StateStore,
    UnholdableEntry,
)
from contactsync.wiring import open_engine

USAGE_EXIT = 2
RECENT_RUNS = 50  # status lists the interrupted runs among these
console = Console(stderr=False)
err_console = Console(stderr=True)


class _CommandLine:
    """What the global options said, for the whole process (logging is process-wide too).

    ``json_errors``: the command prints JSON, so an error is also one JSON object on
    stdout (a caller parsing stdout gets an answer, not nothing)."""

    log_level: str | None = None
    json_errors: bool = False


def set_log_level(level: str | None) -> None:
    """``--log-level``/``-v`` from the command line; overrides the config's ``log_level``."""
    _CommandLine.log_level = level


def fail(message: str, code: int = USAGE_EXIT) -> typer.Exit:
    text = redact(message)
    typer.echo(f"error: {text}", err=True)
    if _CommandLine.json_errors:
        typer.echo(json.dumps({"status": "failed", "error": text, "exit_code": code}))
    return typer.Exit(code)


def load(config: Path, log_format: str | None, *, as_json: bool = False) -> Settings:
    """Settings with logging configured and every secret registered for redaction."""
    _CommandLine.json_errors = as_json
    try:
        settings = load_settings(config)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    except FileNotFoundError:
        raise fail(f"{config}: config file not found (see config.example.toml)") from None
    fmt = log_format or settings.log_format
    try:
        secrets = settings.secret_values()
    except ConfigError as exc:
        raise fail(str(exc)) from None
    level = _CommandLine.log_level or settings.log_level
    configure_logging(fmt, secrets=secrets, level=level)  # type: ignore[arg-type]
    set_default_redactor(redact)
    return settings


@contextmanager
def engine_for(settings: Settings, state_path: Path | None = None) -> Iterator[Engine[StateStore]]:
    try:
        engine = open_engine(settings, dict(os.environ), state_path=state_path)
    except (ConfigError, MappingError, StateError) as exc:
        raise fail(str(exc)) from None
    try:
        yield engine
    finally:
        engine.close()


@contextmanager
def progress_bars(enabled: bool) -> Iterator[Progress | None]:
    if not enabled:
        yield None
        return
    with Progress(
        TextColumn("{task.description:<10}"),
        BarColumn(),
        TextColumn("{task.completed} records"),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
    ) as progress:
        yield progress


def run_pass(
    settings: Settings,
    kind: Literal["backfill", "sync", "plan"],
    *,
    as_json: bool,
    since: datetime | None = None,
    systems: Sequence[str] | None = None,
    force_deletes: bool = False,
    wait: bool = False,
) -> RunOutcome:
    unknown = [s for s in systems or () if s not in settings.systems]
    if unknown:
        raise fail(f"unknown system(s): {', '.join(unknown)}; known: {', '.join(settings.systems)}")
    problem = unreachable(settings, systems)  # before anything is opened or changed
    if problem is not None:
        raise fail(problem)
    interactive = not as_json and sys.stderr.isatty()
    with (
        pass_state(settings, kind, wait=wait) as state_path,
        engine_for(settings, state_path) as engine,
        progress_bars(interactive) as progress,
    ):
        tasks: dict[str, TaskID] = {}

        def tick(system: str) -> None:
            if progress is None:
                return
            if system not in tasks:
                tasks[system] = progress.add_task(system, total=None)
            progress.advance(tasks[system])

        outcome = engine.run(
            kind, since=since, systems=systems, force_deletes=force_deletes, progress=tick
        )
    refused = foreign_refusal(outcome.errors)  # a state of another installation: exit 2
    if refused is not None:
        raise fail(refused)
    return outcome


@contextmanager
def pass_state(
    settings: Settings, kind: Literal["backfill", "sync", "plan"], *, wait: bool
) -> Iterator[Path]:
    """The state file a pass works on. ``sync`` and ``backfill`` work on the state under
    the lease ``run`` holds (refused when another run holds it, exit 1; with ``wait``
    they stand by). ``plan`` changes nothing, so it takes no lease and works on a
    private copy: it never waits for, nor holds up, a scheduler that is running."""
    from contactsync.scheduler import lease_ttl
    from contactsync.state.sqlite.lease import LeaseHeld, held

    if kind == "plan":
        with tempfile.TemporaryDirectory(prefix="contactsync-plan-") as folder:  # mode 0700
            copy = Path(folder) / "state.sqlite"
            try:
                copy_state(settings.state_path, copy)
            except StateError as exc:
                raise fail(str(exc)) from None
            yield copy
        return
    try:
        ttl = lease_ttl()
    except ValueError as exc:
        raise fail(str(exc)) from None
    try:
        with held(settings.state_path, ttl, wait=wait) as ours:
            if not ours:
                raise fail("stopped while waiting for the lease", code=1)
            yield settings.state_path
    except LeaseHeld as exc:
        raise fail(f"{exc} (with --wait, this command waits for it)", code=1) from None
    except StateError as exc:
        raise fail(str(exc)) from None


def report(outcome: RunOutcome, kind: str, *, as_json: bool) -> None:
    if as_json:
        if kind == "plan":
            typer.echo(render.plan_json(outcome.summary, outcome.actions, outcome.queued))
        else:
            typer.echo(render.summary_json(outcome.summary, errors=outcome.errors))
        return
    if kind == "plan":
        console.print(render.plan_table(outcome.actions, queued=outcome.queued))
    console.print(render.summary_table(outcome.summary, kind))
    render.print_errors(err_console, outcome.errors)


def show_status(
    settings: Settings, *, as_json: bool, details: bool = False, system: str | None = None
) -> None:
    try:
        store = StateStore.open(settings.state_path)
    except StateError as exc:
        raise fail(str(exc)) from None
    with store:
        status = store.status_counts()
        quarantined = store.list_quarantine()
        failed = store.list_actions(OutboxStatus.FAILED)
        interrupted = [r for r in store.list_runs(RECENT_RUNS) if r.status is RunStatus.INTERRUPTED]
        value_problems = store.list_value_problems()
        refusals = store.list_field_refusals()
        lease = store.lease_holder(LEASE_NAME)
        unholdable = store.list_unholdable()
        duplicates = store.list_duplicates(system)
    if system is not None:  # `status SYSTEM`: that system's lines only, listed in full
        if system not in status.systems:
            known = ", ".join(sorted(status.systems))
            raise fail(f"unknown system {system!r}; one of: {known}", code=2)
        status = dataclasses.replace(status, systems={system: status.systems[system]})
        quarantined = [q for q in quarantined if q.system == system]
        failed = [e for e in failed if e.action.system == system]
        value_problems = [v for v in value_problems if v.system == system]
        refusals = [r for r in refusals if r.system == system]
        unholdable = [u for u in unholdable if u.system == system]
        details = True
    if as_json:
        payload = status_view.status_payload(status)
        payload["quarantine"] = [
            {"system": q.system, "record": q.external_id, "reason": q.reason} for q in quarantined
        ]
        payload["failed_actions"] = [
            {
                "system": e.action.system,
                "action": e.key,
                "attempts": e.attempts,
                "error": e.last_error,
            }
            for e in failed
        ]
        payload["value_problems"] = render.value_problems_json(value_problems)
        payload["field_refusals"] = render.field_refusals_json(refusals)
        payload["lease"] = (
            None
            if lease is None
            else {"holder": lease.holder, "expires_at": lease.expires_at.isoformat()}
        )
        now = datetime.now(UTC)
        for name, counts in payload["systems"].items():
            counts["unholdable"] = sum(1 for u in unholdable if u.system == name)
            configured = settings.systems.get(name)
            if configured is not None and configured.enabled:
                last = status.systems[name].last_run
                upcoming = status_view.next_run(configured.schedule, last, now)
                counts["schedule"] = status_view.schedule_text(configured.schedule)
                counts["next_run"] = upcoming.isoformat() if upcoming else None
        payload["unholdable"] = [
            {"system": u.system, "person": u.person_id, "reason": u.reason} for u in unholdable
        ]
        payload["duplicates"] = status_view.duplicates_json(duplicates)
        payload["interrupted_runs"] = [
            {"run_id": r.run_id, "kind": r.kind.value, "started_at": r.started_at.isoformat()}
            for r in interrupted
        ]
        typer.echo(json.dumps(payload, sort_keys=True))
        return
    console.print(status_view.status_table(status))
    holder = (
        "free" if lease is None else f"held by {lease.holder} until {lease.expires_at:%H:%M:%S}"
    )
    console.print(f"lease (scheduler, one-shot passes): {escape(holder)}")
    if lease is not None:  # a scheduler may be running: when it passes each system next
        console.print(escape(status_view.next_passes(settings, status, datetime.now(UTC))))
    if unholdable:
        per_system = Counter(u.system for u in unholdable)
        listed = ", ".join(f"{name} {n}" for name, n in sorted(per_system.items()))
        more = "" if details else " (--details lists them)"
        console.print(f"persons a system cannot hold: {listed}{more}")
        if details:
            console.print(unholdable_table(unholdable))
    if (line := status_view.duplicates_line(duplicates, details)) is not None:
        console.print(escape(line))
    if duplicates and details:  # the records, their survivors and persons
        console.print(status_view.duplicates_table(duplicates))
    if (errors := status_view.errors_table(status)) is not None:
        console.print(errors)
    if quarantined:
        console.print(render.quarantine_table(quarantined))
    if value_problems:
        console.print(render.value_problems_table(value_problems))
    if refusals:
        console.print(render.field_refusals_table(refusals))
    if failed:
        console.print(failed_actions_table(failed))
    if interrupted:
        console.print(interrupted_runs_table(interrupted))


def unholdable_table(entries: Sequence[UnholdableEntry]) -> Table:
    """Persons a system refused (a unique value another person holds there, say)."""
    table = Table(title=f"persons a system cannot hold: {len(entries)}")
    for column in ("system", "person", "reason"):
        table.add_column(column, overflow="fold")
    for entry in entries:
        render.plain_row(table, entry.system, entry.person_id, entry.reason)
    return table


def interrupted_runs_table(runs: Sequence[RunRecord]) -> Table:
    """Recent runs whose process died (killed, or the machine went down) mid-run."""
    table = Table(title=f"interrupted runs (died while running): {len(runs)}")
    for column in ("run", "kind", "started"):
        table.add_column(column)
    for run in runs:
        render.plain_row(
            table, run.run_id, run.kind.value, run.started_at.isoformat(timespec="seconds")
        )
    return table


def failed_actions_table(entries: Sequence[OutboxEntry]) -> Table:
    """Writes that failed and wait for the next run to retry them, with why."""
    table = Table(title=f"failed writes (retried on the next run): {len(entries)}")
    for column in ("system", "action", "attempts", "error"):
        table.add_column(column)
    for entry in entries:
        render.plain_row(
            table, entry.action.system, entry.key, str(entry.attempts), entry.last_error or ""
        )
    return table


def serve_scheduler(settings: Settings, *, wait: bool = False) -> None:
    """``contactsync run``: hold the lease (refuse, or with ``wait`` stand by until it is
    free), then run each system's sync on its schedule."""
    from contactsync.scheduler import LeaseHeld, Scheduler, lease_ttl

    try:
        ttl = lease_ttl()
    except ValueError as exc:
        raise fail(str(exc)) from None
    with engine_for(settings) as engine:

        def run_system(name: str) -> None:
            outcome = engine.run("sync", systems=[name])
            log_summary(outcome)

        scheduler = Scheduler(settings, run_system, lease_ttl=ttl)
        if wait:
            if not scheduler.wait_for_lease():
                return
        else:
            try:
                scheduler.acquire()
            except LeaseHeld as exc:
                raise fail(str(exc), code=1) from None
        scheduler.serve()


def log_summary(outcome: RunOutcome) -> None:
    import structlog

    summary = outcome.summary
    structlog.get_logger("contactsync.run").info(
        "pass finished",
        run_id=summary.run_id,
        status=summary.status,
        **{name: counts.model_dump() for name, counts in summary.systems.items()},
        errors=outcome.errors,
    )
