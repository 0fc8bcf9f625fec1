"""``status`` from facts: how each system's last pass went, why, and what waits.

Each system's result is its own line of its last finished pass (``sync``, ``backfill``
or a scheduled one; ``plan`` writes nothing and does not count): the per-system
``status`` and ``error`` the pass stored in its summary
(:class:`contactsync.model.run_summary.SystemCounts`). The overall status is the worst of
them, and at least ``partial`` while failed writes wait in the outbox. A pass stored
before summaries carried a per-system result counts with the run's own status.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from rich.markup import escape
from rich.table import Table

from contactsync.cli.render import entries_json, plain_row
from contactsync.config.settings import Settings
from contactsync.config.systems import Schedule
from contactsync.model.run_summary import Outcome, worst
from contactsync.state.sqlite.store import RunRecord, RunStatus, StatusReport, SystemStatus
from contactsync.state.types import DuplicateEntry

#: how a system's last pass went, as ``status`` shows it
Result = str  # ok | partial | failed | interrupted | never


def system_result(name: str, run: RunRecord | None) -> tuple[Result, str | None, str | None]:
    """(result, error, why the circuit opened) of ``name`` in its last pass ``run``."""
    if run is None:
        return "never", None, None
    if run.status is RunStatus.INTERRUPTED:
        return "interrupted", "the pass died while running (killed, or the machine went down)", None
    systems = (run.summary or {}).get("systems") or {}
    own = systems.get(name) if isinstance(systems, dict) else None
    if isinstance(own, dict) and "status" in own:
        return str(own["status"]), own.get("error"), own.get("circuit")
    return run.status.value, None, None


#: how each result counts in the overall status ("never" and "ok" count as ok)
_COUNTS_AS: dict[Result, Outcome] = {
    "failed": "failed",
    "partial": "partial",
    "interrupted": "partial",
}


def _as_outcome(result: Result, system: SystemStatus) -> Outcome:
    return worst([_COUNTS_AS.get(result, "ok"), "partial" if system.outbox_failed else "ok"])


def overall(report: StatusReport) -> Outcome:
    """The worst of the systems' last passes (failed writes waiting: at least partial)."""
    return worst(
        [
            _as_outcome(system_result(name, status.last_run)[0], status)
            for name, status in report.systems.items()
        ]
    )


def _run_json(run: RunRecord | None, result: Result) -> dict[str, Any] | None:
    if run is None:
        return None
    return {
        "run_id": run.run_id,
        "kind": run.kind.value,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "result": result,
    }


def status_payload(report: StatusReport) -> dict[str, Any]:
    systems: dict[str, Any] = {}
    for name, status in report.systems.items():
        result, error, circuit = system_result(name, status.last_run)
        systems[name] = {
            "result": result,
            "error": error,
            "circuit": circuit,
            "last_run": _run_json(status.last_run, result),
            "records": status.records,
            "deleted": status.deleted,
            "quarantined": status.quarantined,
            "outbox_pending": status.outbox_pending,
            "outbox_failed": status.outbox_failed,
            "watermarks": {k: v.isoformat() for k, v in status.watermarks.items()},
        }
    return {
        "status": overall(report),
        "systems": systems,
        "persons": {"total": report.persons_total, "merged": report.persons_merged},
        "review": {"open": report.review_open},
    }


_MARKS = {"ok": "green", "partial": "yellow", "failed": "red", "interrupted": "yellow"}


def status_table(report: StatusReport) -> Table:
    """One row per system; narrow enough for 80 columns (cells wrap, never cut)."""
    table = Table(title=f"contactsync status: {overall(report)}")
    for column in ("system", "last pass", "watermark", "records", "quar.", "pending", "failed"):
        table.add_column(column, overflow="fold")
    for name, status in report.systems.items():
        result, _error, _circuit = system_result(name, status.last_run)
        run = status.last_run
        when = run.started_at.strftime("%Y-%m-%d %H:%M") if run is not None else ""
        colour = _MARKS.get(result)
        shown = f"[{colour}]{result}[/{colour}]" if colour else escape(result)
        kind = f"{run.kind.value} " if run is not None else ""
        mark = (
            max(status.watermarks.values()).strftime("%Y-%m-%d %H:%M:%S")
            if status.watermarks
            else "—"
        )
        table.add_row(
            escape(name),
            f"{escape(kind)}{shown}\n{when}".strip(),
            mark,
            str(status.records),
            str(status.quarantined),
            str(status.outbox_pending),
            str(status.outbox_failed),
        )
    table.caption = (
        f"persons: {report.persons_total} ({report.persons_merged} merged away); "
        f"review queue: {report.review_open} open; deleted records: "
        f"{sum(s.deleted for s in report.systems.values())}"
    )
    return table


def errors_table(report: StatusReport) -> Table | None:
    """Each system whose last pass reported an error, with it (None when none did)."""
    rows = []
    for name, status in report.systems.items():
        result, error, _circuit = system_result(name, status.last_run)
        if error:
            rows.append((name, result, error))
    if not rows:
        return None
    table = Table(title="last errors (each system's last pass)")
    for column in ("system", "result", "error"):
        table.add_column(column, overflow="fold")
    for name, result, error in rows:
        table.add_row(escape(name), escape(result), escape(error))
    return table


def next_run(schedule: Schedule, last: RunRecord | None, now: datetime) -> datetime | None:
    """When ``contactsync run`` passes this system next: the interval after the last
    pass started (now when it is already due), or the cron expression's next time."""
    trigger = schedule.trigger()
    if isinstance(trigger, timedelta):
        if last is None:
            return now
        return max(last.started_at + trigger, now)
    fire: datetime | None = trigger.get_next_fire_time(None, now)
    return fire


def schedule_text(schedule: Schedule) -> str:
    if schedule.cron is not None:
        return f"cron {schedule.cron}"
    assert schedule.interval is not None
    return f"every {int(schedule.interval.total_seconds())}s"


def next_passes(settings: Settings, report: StatusReport, now: datetime) -> str:
    """One line: when ``contactsync run`` passes each enabled system next (UTC)."""
    parts = []
    for name, configured in settings.enabled_systems().items():
        last = report.systems[name].last_run if name in report.systems else None
        when = next_run(configured.schedule, last, now)
        if when is not None:
            parts.append(f"{name} {when:%H:%M:%S}")
    return "next passes (UTC): " + ", ".join(parts)


def duplicates_line(entries: Sequence[DuplicateEntry], details: bool) -> str | None:
    """One line for the duplicate records each system still holds beside their survivor
    (``duplicates`` setting), or None when there are none: the ones contactsync deleted
    are resolved (``--details`` and ``--json`` list them too)."""
    listed = Counter(e.system for e in entries if e.status == "listed")
    if not listed:
        return None
    parts = [f"{name} {n}" for name, n in sorted(listed.items())]
    more = "" if details else " (--details lists them)"
    return f"duplicate records of one person kept: {', '.join(parts)}{more}"


def duplicates_table(entries: Sequence[DuplicateEntry]) -> Table:
    table = Table(title=f"duplicate records of one person: {len(entries)}")
    for column in ("system", "record", "survivor", "person", "policy", "status"):
        table.add_column(column, overflow="fold")
    for e in entries:
        plain_row(table, e.system, e.external_id, e.survivor_id, e.person_id, e.policy, e.status)
    return table


def duplicates_json(entries: Sequence[DuplicateEntry]) -> list[dict[str, Any]]:
    return entries_json(
        entries,
        {
            "system": "system",
            "record": "external_id",
            "survivor": "survivor_id",
            "person": "person_id",
            "policy": "policy",
            "status": "status",
        },
    )
