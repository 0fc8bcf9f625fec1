"""Before a pass reads anything: finish the writes a killed run left in flight, and
look up creates that failed (their answer may have been lost while they landed).

Done first, so that the next extract sees these writes as ours. Each lookup costs
that action alone when it goes wrong, and at most :data:`RECONCILE_PER_RUN` failed
creates are looked up per run: a run after many failed writes must not spend itself
on lookups (the others wait for a later run, longest-waiting first).
"""

from __future__ import annotations

from contextlib import suppress

import structlog

from contactsync.adapters.base import WriteResult
from contactsync.engine.conditional import AlreadyHandled
from contactsync.engine.loader_view import LoaderView
from contactsync.http.errors import SyncError
from contactsync.model.contact import ActionKind
from contactsync.state.types import OutboxEntry, StateError

log = structlog.get_logger(__name__)

#: attempts after which an action is left failed (visible in ``status``) until a new
#: plan for different content replaces it
MAX_ATTEMPTS = 5
#: failed creates looked up per system before a run reads anything
RECONCILE_PER_RUN = 20


def recover_interrupted(loader: LoaderView) -> None:
    """In queue order: a create in flight is looked up and sent only if certainly
    absent; an update is checked against the record first; a delete is sent again.
    Then up to :data:`RECONCILE_PER_RUN` failed creates are looked up."""
    state = loader.state
    for entry in state.in_flight_actions(loader.system):
        if state.requeue(entry.id):
            fresh = state.get_action(entry.id)
            if fresh is not None:
                loader.execute(fresh, recovering=True)
    failed = [
        entry
        for entry in state.list_actions("failed", loader.system)
        if entry.kind is ActionKind.CREATE and entry.attempts < MAX_ATTEMPTS
    ]
    for entry in sorted(failed, key=lambda e: e.updated_at)[:RECONCILE_PER_RUN]:
        reconcile_failed_create(loader, entry)


def reconcile_failed_create(loader: LoaderView, entry: OutboxEntry) -> None:
    """Look the failed create up (nothing is sent) and record it if it is there. What
    goes wrong is recorded on the action (putting it behind the others for the next
    run's lookups) and the run goes on."""
    try:
        existing = loader.landed(entry)
        if existing is not None:
            with suppress(AlreadyHandled):
                loader.link(entry, WriteResult(existing))
        else:  # the same error again, stamped now: the next run looks up the others first
            loader.state.fail(entry.id, entry.last_error or "create failed")
    except Exception as exc:
        message = loader.redact(f"lookup of the failed create failed: {described(exc)}")
        log.warning("lookup of a failed create failed", action=entry.key, error=message)
        with suppress(StateError):  # completed meanwhile: nothing to report on it
            loader.state.fail(entry.id, message)


def described(exc: Exception) -> str:
    """An error as a report line: a sync error's own text, else its type and text."""
    return str(exc) if isinstance(exc, SyncError) else f"{type(exc).__name__}: {exc}"
