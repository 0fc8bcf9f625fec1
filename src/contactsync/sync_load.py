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

from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog

from contactsync import faultpoints
from contactsync.adapters.base import Adapter, WriteResult
from contactsync.errors import DuplicateError, RetriableError, SyncError
from contactsync.mapping import Mapping
from contactsync.models import ActionKind, SourceRef, SystemCounts, dumped_content_hash
from contactsync.state import OutboxEntry, StateError, StateStore

log = structlog.get_logger(__name__)

#: attempts after which an action is left failed (visible in ``status``) until a new
#: plan for different content replaces it
MAX_ATTEMPTS = 5
#: outbox entries a loader reads at a time
LOAD_PAGE = 500
#: vendor payload fields holding a name (a vendor may refuse a second contact by name)
VENDOR_NAME_KEYS = ("first_name", "last_name", "name", "full_name")


@dataclass(frozen=True)
class _Answer:
    """A vendor's answer to a write, mapped in: what the state keeps of the record."""

    payload: dict[str, Any]
    digest: str
    updated_at: datetime | None


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
        """Finish the actions a killed run left in flight, in queue order: a create is
        looked up first (reconciled) and only sent if it is certainly absent; an update
        or delete is sent again. Done before anything is read, so the next extract
        recognises these writes as contactsync's own."""
        for entry in self.state.in_flight_actions(self.system):
            if self.state.requeue(entry.id):
                fresh = self.state.get_action(entry.id)
                if fresh is not None:
                    self.execute(fresh)
        for entry in self.state.list_actions("failed", self.system):
            if entry.kind is ActionKind.CREATE and entry.attempts < MAX_ATTEMPTS:
                self._reconcile_failed_create(entry)

    def _reconcile_failed_create(self, entry: OutboxEntry) -> None:
        """A create that failed may still have landed (its answer was lost): look it up
        (nothing is sent) and record it if it is there, so the next extract sees it as
        contactsync's own record rather than as somebody else's new one."""
        action = entry.action
        try:
            existing = self.adapter.find_existing(action.payload, action.person_id)
        except SyncError as exc:
            log.info("lookup of a failed create failed", action=entry.key, error=str(exc))
            return
        if existing is None:
            return
        with suppress(_AlreadyHandled):
            self._link(entry, WriteResult(existing))

    def run(self, concurrency: int) -> None:
        """The system's pending creates, then its other actions, a page at a time in
        queue order, ``concurrency`` at a time. Updates that cannot change what a create
        meets at the vendor run beside the creates (see :meth:`_run_independent_updates`);
        the rest (renames, changed unique values, deletes) wait until the creates are
        done."""
        with (
            ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool,
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="updates") as side,
        ):
            alongside = side.submit(self._run_independent_updates)
            self._run_creates(pool)
            alongside.result()
            for page in self._pages(creates=False):
                list(pool.map(self.execute, page))

    def _run_creates(self, pool: ThreadPoolExecutor) -> None:
        """Creates competing for a unique value run one after the other; one that must be
        retried holds back every later create competing with it (in this page and the
        following ones), so the first planned wins, every time."""
        held_back: set[str] = set()  # unique values of creates left for a later run
        for page in self._pages(creates=True):
            groups = []
            for group, wanted in self._contending_creates(page):
                if wanted & held_back:
                    held_back |= wanted
                else:
                    groups.append((group, wanted))
            done = pool.map(self._execute_in_order, [group for group, _ in groups])
            for (_, wanted), finished in zip(groups, done, strict=True):
                if not finished:
                    held_back |= wanted

    def _run_independent_updates(self) -> None:
        """Updates that change no name and no value the vendor keeps unique cannot make
        a create succeed or fail: they run on a worker of their own while the creates
        run, so a vendor that limits each endpoint on its own (Pylon) serves both at
        once instead of one after the other."""
        competing = {*type(self.adapter).unique_fields, *VENDOR_NAME_KEYS}
        for page in self._pages(creates=False):
            for entry in page:
                if entry.kind is ActionKind.UPDATE and not entry.action.payload.keys() & competing:
                    self.execute(entry)

    def _contending_creates(
        self, page: list[OutboxEntry]
    ) -> list[tuple[list[OutboxEntry], set[str]]]:
        """The page's creates grouped by the unique values they compete for (with them)."""
        values = {entry.id: self._unique_values(entry) for entry in page}
        return [
            (group, set().union(*(values[entry.id] for entry in group)))
            for group in contending(page, lambda entry: values[entry.id])
        ]

    def _pages(self, *, creates: bool) -> Iterator[list[OutboxEntry]]:
        after = 0
        while page := self.state.pending_page(
            self.system, creates=creates, after_id=after, limit=LOAD_PAGE
        ):
            yield page
            after = page[-1].id

    def _unique_values(self, entry: OutboxEntry) -> set[str]:
        """The email addresses a create would hold (a vendor may hold each only once)."""
        try:
            contact, _errors = self.mapping.inbound(
                entry.action.payload, default_region=self.default_region
            )
        except Exception:  # a payload the mapping cannot read back competes with nobody
            return set()
        return {email.address for email in contact.emails} if contact is not None else set()

    def _execute_in_order(self, group: list[OutboxEntry]) -> bool:
        """Creates competing for one unique value run one after the other, in queue order,
        and wait behind one that must be retried (False): the first planned wins."""
        return all(self.execute(entry) for entry in group)  # stops at the first False

    def execute(self, entry: OutboxEntry) -> bool:
        """Run one action; False when it failed and will be retried on a later run."""
        if entry.attempts >= MAX_ATTEMPTS:
            self.state.fail(
                entry.id, f"gave up after {entry.attempts} attempts: {entry.last_error}"
            )
            return True
        reconcile = entry.attempts > 0 and entry.kind is ActionKind.CREATE
        if not self.state.mark_in_flight(entry.id):
            return True
        faultpoints.hit("load")
        try:
            if entry.kind is ActionKind.CREATE:
                self._create(entry, reconcile=reconcile)
            elif entry.kind is ActionKind.UPDATE:
                self._update(entry)
            else:
                self._delete(entry)
        except _AlreadyHandled:
            return True
        except SyncError as exc:
            self.counts.failed += 1
            self.state.fail(entry.id, self.redact(str(exc)))
            log.warning("action failed", system=self.system, action=entry.key, error=str(exc))
            return not isinstance(exc, RetriableError)
        except Exception as exc:  # never let one action stop the others
            self.counts.failed += 1
            self.state.fail(entry.id, self.redact(f"{type(exc).__name__}: {exc}"))
            log.error("action crashed", system=self.system, action=entry.key, error=str(exc))
        return True

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
        answer = self._canonical(result.external_id, result.record)
        try:
            self.state.complete_create(
                entry.id,
                self.system,
                result.external_id,
                action.person_id,
                answer.digest if answer is not None else "",
                payload=answer.payload if answer is not None else {},
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
        stored = self.state.record_raw(self.system, action.external_id)
        current = stored if isinstance(stored, dict) else None
        try:
            result = self.adapter.update(action.external_id, action.payload, current=current)
            faultpoints.hit("after_vendor_answer")
        except DuplicateError as exc:
            owner = self.state.person_for(self.system, exc.existing_id or "")
            if owner is None:  # e.g. a quarantined record, or one the vendor hides from lists
                holder = "a record contactsync does not track"
            elif self.state.resolve_person(owner) == self.state.resolve_person(action.person_id):
                holder = "the same person's other record"
            else:
                holder = f"record of person {owner}"
            # Retrying cannot help: the system holds the value in another record; the
            # update is planned again when the person changes.
            reason = self.redact(
                f"{self.system} record {action.external_id}: the update would duplicate a "
                f"unique value held by {holder} {exc.existing_id}: "
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
        answer = self._canonical(action.external_id, result.record)
        with self.state.transaction():
            self.state.complete(entry.id, answer.digest if answer is not None else None)
            if answer is not None:
                self.state.upsert_record(
                    self.system,
                    action.external_id,
                    hash=answer.digest,
                    payload=answer.payload,
                    source_updated_at=answer.updated_at,
                    raw=result.record,
                    own_write=True,
                )
        self.counts.updated += 1

    def _delete(self, entry: OutboxEntry) -> None:
        action = entry.action
        assert action.external_id is not None
        self.adapter.delete(action.external_id)
        faultpoints.hit("after_vendor_answer")
        self.state.complete(entry.id)
        self.counts.deleted += 1

    def _canonical(self, external_id: str, record: dict[str, Any]) -> _Answer | None:
        """The vendor's answer mapped in, so the next extract of it is seen as our echo."""
        if not record:
            return None
        contact, _errors = self.mapping.inbound(record, default_region=self.default_region)
        if contact is None:
            return None
        source = SourceRef(system=self.system, external_id=external_id)
        payload = contact.model_copy(update={"source": source}).model_dump(mode="json")
        return _Answer(payload, dumped_content_hash(payload), contact.updated_at)


def contending(
    entries: Sequence[OutboxEntry], unique_values: Callable[[OutboxEntry], Iterable[str]]
) -> list[list[OutboxEntry]]:
    """``entries`` in groups that share a unique value (directly or through another
    entry), each group in queue order; groups ordered by their first entry."""
    owner: dict[str, int] = {}
    parent = list(range(len(entries)))

    def root(index: int) -> int:
        while parent[index] != index:
            parent[index] = parent[parent[index]]
            index = parent[index]
        return index

    for index, entry in enumerate(entries):
        for value in unique_values(entry):
            if value in owner:
                first, second = root(owner[value]), root(index)
                parent[max(first, second)] = min(first, second)
            else:
                owner[value] = index
    groups: dict[int, list[OutboxEntry]] = {}
    for index, entry in enumerate(entries):
        groups.setdefault(root(index), []).append(entry)
    return [groups[key] for key in sorted(groups)]
