"""Rules for what is already in the outbox when a run plans or loads: earlier runs'
leftovers superseded or retried, and the guard against deleting too much at once."""

from __future__ import annotations

from collections.abc import Iterable

import structlog

from contactsync.engine.ports import LoadingState
from contactsync.engine.queue import PlanQueue
from contactsync.engine.recovery import MAX_ATTEMPTS
from contactsync.model.contact import ActionKind

log = structlog.get_logger(__name__)

#: how a delete the guard held back is marked (``--force-deletes`` applies those)
DELETE_GUARD = "delete guard: "

__all__ = ["DELETE_GUARD", "guard_deletes", "retry_or_supersede"]


def retry_or_supersede(state: LoadingState, touched: Iterable[str], queue: PlanQueue) -> None:
    """Earlier runs' unfinished actions: those of a person planned again this run are
    superseded by the new plan (it re-queues whatever is still needed, with today's
    values), so a stale write never lands over a newer edit; the others' failed
    actions are retried."""
    planned = queue.planned_keys
    replanned = {state.resolve_person(p) for p in touched}
    for status in ("failed", "pending"):
        for entry in state.list_actions(status, except_run=queue.run_id):
            if entry.key in planned:
                continue  # queued again by the new plan
            if state.resolve_person(entry.action.person_id) in replanned:
                state.skip(entry.id, "superseded by a newer plan for the person")
            elif status == "failed" and entry.attempts < MAX_ATTEMPTS:
                state.requeue(entry.id)


def guard_deletes(state: LoadingState, system: str, max_share: float, force: bool) -> str | None:
    """Hold back a system's pending deletes when they are more than ``max_share`` of its
    records (the message saying so is returned); with ``force``, deletes an earlier
    run held back are queued again instead."""
    if force:
        for entry in state.list_actions("skipped", system):
            if entry.kind is ActionKind.DELETE and (entry.last_error or "").startswith(
                DELETE_GUARD
            ):
                state.requeue(entry.id)
        return None
    deletes = []
    after = 0  # read a page at a time: a backfill queues tens of thousands of updates
    while page := state.pending_page(system, creates=False, after_id=after, limit=500):
        deletes += [entry for entry in page if entry.kind is ActionKind.DELETE]
        after = page[-1].id
    if not deletes:
        return None
    held = state.count_live_records(system)
    share = len(deletes) / max(1, held)
    if share <= max_share:
        return None
    message = (
        f"{DELETE_GUARD}{system}: refusing to delete {len(deletes)} of {held} records "
        f"({share:.0%} > max_delete_share {max_share:.0%}); "
        "rerun with --force-deletes to apply"
    )
    for entry in deletes:
        state.skip(entry.id, message)
    log.error("delete guard", system=system, message=message)
    return message
