"""Load: execute the outbox against the systems, exactly once per action.

Each action is claimed (``pending -> in_flight``) before it is sent. A create
records the new external id in the crosswalk in the same transaction that marks
it done. A create found ``in_flight`` at the start of a run was interrupted
between the vendor's answer and the commit: it is reconciled first (the adapter
looks the record up by the stamped person id or by email) and only re-sent when
it is certainly absent. A create whose answer was lost on the wire
(``maybe_applied``) is reconciled the same way. Updates and deletes are
idempotent and simply re-sent.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import structlog

from contactsync import faultpoints
from contactsync.adapters.base import Adapter, WriteResult
from contactsync.errors import DuplicateError, RetriableError, SyncError
from contactsync.mapping import Mapping
from contactsync.models import ActionKind, Contact, SourceRef, SystemCounts
from contactsync.state import OutboxEntry, StateError, StateStore

log = structlog.get_logger(__name__)

#: attempts after which an action is left failed (visible in ``status``) until a new
#: plan for different content replaces it
MAX_ATTEMPTS = 5


class _AlreadyHandled(Exception):
    """The action's outcome was already recorded (skipped as a conflict)."""


@dataclass
class Loader:
    state: StateStore
    adapter: Adapter
    mapping: Mapping
    default_region: str
    counts: SystemCounts
    redact: Callable[[str], str] = str

    @property
    def system(self) -> str:
        return self.adapter.system

    def recover_interrupted(self) -> None:
        """Actions left in flight by a crash go back to pending (creates reconcile)."""
        for entry in self.state.in_flight_actions(self.system):
            self.state.requeue(entry.id)

    def run(self, concurrency: int) -> None:
        entries = self.state.pending_actions(self.system)
        if not entries:
            return
        creates = [e for e in entries if e.kind is ActionKind.CREATE]
        others = [e for e in entries if e.kind is not ActionKind.CREATE]
        with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
            list(pool.map(self.execute, creates))
            list(pool.map(self.execute, others))

    def execute(self, entry: OutboxEntry) -> None:
        if entry.attempts >= MAX_ATTEMPTS:
            self.state.fail(
                entry.id, f"gave up after {entry.attempts} attempts: {entry.last_error}"
            )
            return
        reconcile = entry.attempts > 0 and entry.kind is ActionKind.CREATE
        if not self.state.mark_in_flight(entry.id):
            return
        faultpoints.hit("load")
        try:
            if entry.kind is ActionKind.CREATE:
                self._create(entry, reconcile=reconcile)
            elif entry.kind is ActionKind.UPDATE:
                self._update(entry)
            else:
                self._delete(entry)
        except _AlreadyHandled:
            return
        except SyncError as exc:
            self.counts.failed += 1
            self.state.fail(entry.id, self.redact(str(exc)))
            log.warning("action failed", system=self.system, action=entry.key, error=str(exc))
        except Exception as exc:  # never let one action stop the others
            self.counts.failed += 1
            self.state.fail(entry.id, self.redact(f"{type(exc).__name__}: {exc}"))
            log.error("action crashed", system=self.system, action=entry.key, error=str(exc))

    # --- kinds -------------------------------------------------------------------------

    def _create(self, entry: OutboxEntry, *, reconcile: bool) -> None:
        action = entry.action
        if reconcile:
            existing = self.adapter.find_existing(action.payload, action.person_id)
            if existing is not None:
                self._link(entry, WriteResult(existing))
                return
        try:
            result = self.adapter.create(action.payload, allow_duplicates=action.allow_duplicates)
            faultpoints.hit("after_vendor_answer")
        except DuplicateError as exc:
            if exc.existing_id is None:
                raise
            owner = self.state.person_for(self.system, exc.existing_id)
            if owner is not None and self.state.resolve_person(owner) != self.state.resolve_person(
                action.person_id
            ):
                self._cannot_hold(entry, exc, owner)
                return
            self._link(entry, WriteResult(exc.existing_id))
            return
        except RetriableError as exc:
            if not exc.maybe_applied:
                raise
            existing = self.adapter.find_existing(action.payload, action.person_id)
            if existing is None:
                raise
            result = WriteResult(existing)
        self._link(entry, result)
        self.counts.created += 1

    def _cannot_hold(self, entry: OutboxEntry, exc: DuplicateError, owner: str) -> None:
        """The system says the person's key field (e.g. a shared mailbox) is taken by a
        record of another person: this system cannot hold both. Reported once."""
        reason = self.redact(
            f"{self.system} already holds record {exc.existing_id} of person {owner} "
            f"with the same unique value ({exc.vendor_message or 'duplicate'})"
        )
        self.state.skip(entry.id, reason)
        if self.state.mark_unholdable(self.system, entry.action.person_id, reason):
            log.warning(
                "person cannot be held",
                system=self.system,
                person=entry.action.person_id,
                reason=reason,
            )

    def _link(self, entry: OutboxEntry, result: WriteResult) -> None:
        action = entry.action
        contact = self._canonical(result.external_id, result.record)
        digest = contact.content_hash() if contact is not None else ""
        payload = contact.model_dump(mode="json") if contact is not None else {}
        try:
            self.state.complete_create(
                entry.id,
                self.system,
                result.external_id,
                action.person_id,
                digest,
                payload=payload,
            )
        except StateError as exc:  # linked meanwhile to another person (a shared value)
            owner = self.state.person_for(self.system, result.external_id) or "?"
            self._cannot_hold(
                entry,
                DuplicateError(
                    str(exc),
                    existing_id=result.external_id,
                    system=self.system,
                    operation="create",
                ),
                owner,
            )
            raise _AlreadyHandled from None

    def _update(self, entry: OutboxEntry) -> None:
        action = entry.action
        assert action.external_id is not None
        stored = self.state.get_record(self.system, action.external_id)
        current = stored.raw if stored is not None and isinstance(stored.raw, dict) else None
        try:
            result = self.adapter.update(action.external_id, action.payload, current=current)
            faultpoints.hit("after_vendor_answer")
        except DuplicateError as exc:
            owner = self.state.person_for(self.system, exc.existing_id or "")
            if owner is None or self.state.resolve_person(owner) == self.state.resolve_person(
                action.person_id
            ):
                raise
            reason = self.redact(
                f"{self.system} record {action.external_id}: the update would duplicate a "
                f"unique value of record {exc.existing_id} (person {owner}): "
                f"{exc.vendor_message or 'duplicate'}; left as it is"
            )
            self.state.skip(entry.id, reason)
            log.warning(
                "update conflicts with another person",
                system=self.system,
                record=action.external_id,
                reason=reason,
            )
            return
        contact = self._canonical(action.external_id, result.record)
        digest = contact.content_hash() if contact is not None else None
        with self.state.transaction():
            self.state.complete(entry.id, digest)
            if contact is not None and digest is not None:
                self.state.upsert_record(
                    self.system,
                    action.external_id,
                    hash=digest,
                    payload=contact.model_dump(mode="json"),
                    source_updated_at=contact.updated_at,
                    raw=result.record,
                )
        self.counts.updated += 1

    def _delete(self, entry: OutboxEntry) -> None:
        action = entry.action
        assert action.external_id is not None
        self.adapter.delete(action.external_id)
        faultpoints.hit("after_vendor_answer")
        self.state.complete(entry.id)
        self.counts.deleted += 1

    def _canonical(self, external_id: str, record: dict[str, Any]) -> Contact | None:
        """The vendor's answer mapped in, so the next extract of it is seen as our echo."""
        if not record:
            return None
        contact, _errors = self.mapping.inbound(record, default_region=self.default_region)
        if contact is None:
            return None
        source = SourceRef(system=self.system, external_id=external_id)
        return contact.model_copy(update={"source": source})
