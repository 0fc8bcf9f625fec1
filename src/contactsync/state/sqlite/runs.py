"""The log of runs: each pass opened as ``running`` and closed with its outcome."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from contactsync.state.sqlite.database import (
    Row,
    StoreCore,
    from_iso,
    from_json,
    opt_from_iso,
    opt_to_json,
    sortable_id,
    to_iso,
)
from contactsync.state.types import RunKind, RunRecord, RunStatus, StateError


def _run(row: Row) -> RunRecord:
    systems = from_json(row["systems"])
    summary = from_json(row["summary"])
    return RunRecord(
        run_id=row["run_id"],
        kind=RunKind(row["kind"]),
        systems=None if systems is None else tuple(str(s) for s in systems),
        started_at=from_iso(row["started_at"]),
        finished_at=opt_from_iso(row["finished_at"]),
        status=RunStatus(row["status"]),
        summary=summary if isinstance(summary, dict) else None,
    )


class RunsMixin(StoreCore):
    def start_run(self, kind: RunKind | str, systems: Sequence[str] | None = None) -> str:
        """Open a run (status ``running``); ``systems=None`` means all of them."""
        run_id = sortable_id("r_", self._now())
        self._write(
            "INSERT INTO runs (run_id, kind, systems, started_at, status) VALUES (?, ?, ?, ?, ?)",
            (
                run_id,
                RunKind(kind).value,
                opt_to_json(None if systems is None else list(systems)),
                to_iso(self._now()),
                RunStatus.RUNNING.value,
            ),
        )
        return run_id

    def finish_run(
        self,
        run_id: str,
        status: RunStatus | str,
        summary: BaseModel | Mapping[str, Any] | None = None,
    ) -> None:
        outcome = RunStatus(status)
        if outcome is RunStatus.RUNNING:
            raise StateError(f"run {run_id}: finish it as ok, partial or failed")
        changed = self._write(
            "UPDATE runs SET status = ?, finished_at = ?, summary = ? WHERE run_id = ?",
            (outcome.value, to_iso(self._now()), opt_to_json(summary), run_id),
        )
        if not changed:
            raise StateError(f"run {run_id}: no such run")

    def get_run(self, run_id: str) -> RunRecord | None:
        row = self._one("SELECT * FROM runs WHERE run_id = ?", (run_id,))
        return None if row is None else _run(row)

    def last_run(
        self, system: str | None = None, *, kind: RunKind | str | None = None
    ) -> RunRecord | None:
        """The most recently started run (that covered ``system``, of ``kind``)."""
        row = self._one(
            """
            SELECT * FROM runs
            WHERE (:kind IS NULL OR kind = :kind)
              AND (:system IS NULL OR systems IS NULL
                   OR EXISTS (SELECT 1 FROM json_each(runs.systems) WHERE value = :system))
            ORDER BY started_at DESC, run_id DESC LIMIT 1
            """,
            {"kind": None if kind is None else RunKind(kind).value, "system": system},
        )
        return None if row is None else _run(row)

    def last_pass(self, system: str) -> RunRecord | None:
        """The latest finished pass (not a ``plan``: it writes nothing) that covered
        ``system``: what ``status`` reports the system by."""
        row = self._one(
            """
            SELECT * FROM runs
            WHERE kind != 'plan' AND status != 'running'
              AND (systems IS NULL
                   OR EXISTS (SELECT 1 FROM json_each(runs.systems) WHERE value = :system))
            ORDER BY started_at DESC, run_id DESC LIMIT 1
            """,
            {"system": system},
        )
        return None if row is None else _run(row)

    def list_runs(self, limit: int = 20) -> list[RunRecord]:
        """The latest runs, newest first."""
        rows = self._all(
            "SELECT * FROM runs ORDER BY started_at DESC, run_id DESC LIMIT ?", (limit,)
        )
        return [_run(row) for row in rows]
