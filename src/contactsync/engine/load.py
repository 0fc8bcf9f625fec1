"""Load: execute the outbox against the systems, exactly once per action.

Each action is claimed (``pending -> in_flight``) before it is sent. A create records
its new external id in the crosswalk in the transaction that marks it done; one found
``in_flight`` at the start of a run (killed between answer and commit) or whose answer
was lost on the wire is looked up first (by stamped person id or email) and re-sent
only when certainly absent. An update is conditional (:mod:`contactsync.engine.conditional`):
sent only while the record holds what the plan was based on; one found ``in_flight`` is
checked first, never re-sent blind. Deletes are idempotent. A revert's update is staged
as the record's own content (:mod:`contactsync.engine.revert`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog

from contactsync.adapters.base import Adapter, RecordChanged, WriteResult
from contactsync.engine import faultpoints
from contactsync.engine.answers import Answer, mapped_answer
from contactsync.engine.conditional import AlreadyHandled, ConditionalWrites, Replan, capable
from contactsync.engine.contending import contending_creates
from contactsync.engine.duplicates import complete_delete
from contactsync.engine.field_fit import retry_without_refused_fields
from contactsync.engine.ports import LoadingState
from contactsync.engine.recovery import MAX_ATTEMPTS, recover_interrupted
from contactsync.http.circuit import CircuitOpen
from contactsync.http.errors import DuplicateError, RetriableError, SyncError
from contactsync.mapping.mapper import Mapping
from contactsync.model.contact import ActionKind
from contactsync.model.run_summary import SystemCounts
from contactsync.state.types import OutboxEntry, StateError

log = structlog.get_logger(__name__)

#: outbox entries a loader reads at a time
LOAD_PAGE = 500
#: vendor payload fields holding a name (a vendor may refuse a second contact by name)
VENDOR_NAME_KEYS = ("first_name", "last_name", "name", "full_name")
#: sweeps for the actions planned anew while loading (records changed under a write)
REPLANNED_SWEEPS = 3


@dataclass
class Loader:
    state: LoadingState
    adapter: Adapter
    mapping: Mapping
    default_region: str
    counts: SystemCounts
    redact: Callable[[str], str] = str
    #: plans persons again (``Engine.replan``) when a record changed under a write
    replan: Replan | None = None
    #: when this pass read the system (its watermark is committed after the load)
    read_at: datetime | None = None

    def __post_init__(self) -> None:
        self.checks = ConditionalWrites(
            self.state,
            self.adapter,
            self.mapping,
            self.default_region,
            self.replan,
            read_at=self.read_at,
        )

    @property
    def system(self) -> str:
        return self.adapter.system

    def _answer(self, external_id: str, record: dict[str, Any]) -> Answer | None:
        return mapped_answer(self.mapping, self.default_region, self.system, external_id, record)

    def recover_interrupted(self) -> None:
        """Finish what a killed run left in flight (:mod:`contactsync.engine.recovery`)."""
        recover_interrupted(self)

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
            # Persons planned again because a record changed under a write: their new
            # actions were queued behind the pages already read.
            for _ in range(REPLANNED_SWEEPS):
                if not self.checks.replanned:
                    break
                self.checks.replanned = 0  # (creates wait for the next run's order)
                for page in self._pages(creates=False):
                    list(pool.map(self.execute, page))

    def _run_creates(self, pool: ThreadPoolExecutor) -> None:
        """Creates competing for a unique value run one after the other; one to retry holds
        back every later create competing with it (here and later): the first planned wins."""
        held_back: set[str] = set()  # unique values of creates left for a later run
        for page in self._pages(creates=True):
            groups = []
            for group, wanted in contending_creates(page, self.mapping, self.default_region):
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
        for page in self._pages(creates=False, checked=False):
            independent = [
                entry
                for entry in page
                if entry.kind is ActionKind.UPDATE and not entry.action.payload.keys() & competing
            ]
            self.checks.prepare_page(independent)  # the changed records, for these alone
            for entry in independent:
                self.execute(entry)

    def _pages(self, *, creates: bool, checked: bool = True) -> Iterator[list[OutboxEntry]]:
        """Pending actions a page at a time; before each page of updates (``checked``) one
        listing of the records changed since the last check (:mod:`sync_change_feed`)."""
        after = 0
        while page := self.state.pending_page(
            self.system, creates=creates, after_id=after, limit=LOAD_PAGE
        ):
            if checked and not creates:
                self.checks.prepare_page(page)
            yield page
            after = page[-1].id

    def _execute_in_order(self, group: list[OutboxEntry]) -> bool:
        """Creates competing for one unique value run one after the other, in queue order,
        and wait behind one that must be retried (False): the first planned wins."""
        return all(self.execute(entry) for entry in group)  # stops at the first False

    def execute(self, entry: OutboxEntry, *, recovering: bool = False) -> bool:
        """Run one action; False when it failed and will be retried on a later run.
        ``recovering``: it was found in flight after a crash (it may have landed)."""
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
                self.send_create(entry, reconcile=reconcile)
            elif entry.kind is ActionKind.UPDATE:
                self.send_update(entry, recovering=recovering)
            else:
                self._delete(entry)
        except AlreadyHandled:
            return True
        except CircuitOpen:
            return self._not_sent(entry, recovering=recovering)
        except SyncError as refused:
            if refused.status == 401:  # the credentials were refused, not this action
                return self._not_sent(entry, recovering=recovering)
            # a refusal naming a field: sent once more without it (sync_field_fit)
            exc = retry_without_refused_fields(self, entry, refused)
            if exc is None:
                return True
            self.counts.failed += 1
            self.state.fail(entry.id, self.redact(str(exc)))
            log.warning("action failed", system=self.system, action=entry.key, error=str(exc))
            return not isinstance(exc, RetriableError)
        except Exception as exc:  # never let one action stop the others
            self.counts.failed += 1
            self.state.fail(entry.id, self.redact(f"{type(exc).__name__}: {exc}"))
            log.error("action crashed", system=self.system, action=entry.key, error=str(exc))
        return True

    def _not_sent(self, entry: OutboxEntry, *, recovering: bool) -> bool:
        """Waits, unblamed, for the next pass (one found in flight stays so: checked first)."""
        if not recovering:
            self.state.release(entry.id)
        return False

    # --- kinds -------------------------------------------------------------------------

    def send_create(self, entry: OutboxEntry, *, reconcile: bool) -> None:
        action = entry.action
        if reconcile:
            existing = self.landed(entry)
            if existing is not None:
                self.link(entry, WriteResult(existing))
                return
        try:
            result = self.adapter.create(action.payload, allow_duplicates=action.allow_duplicates)
            faultpoints.hit("after_vendor_answer")
        except DuplicateError as exc:
            if exc.existing_id is None:
                raise
            owner = self._other_owner(exc.existing_id, action.person_id)
            if owner is not None:
                self._cannot_hold(entry, exc, owner)
                return
            self.link(entry, WriteResult(exc.existing_id))
            return
        except RetriableError as exc:
            if not exc.maybe_applied:
                raise
            existing = self.landed(entry)
            if existing is None:
                raise
            result = WriteResult(existing)
        self.link(entry, result)
        self.counts.created += 1

    def landed(self, entry: OutboxEntry) -> str | None:
        """The record a create whose answer was lost made, if the vendor holds it. A
        candidate the crosswalk already links to another person (an unstamped record
        holding the same shared mailbox) is that person's, not this create's: the
        create did not land, and is sent again rather than given up."""
        action = entry.action
        found = self.adapter.find_existing(action.payload, action.person_id)
        if found is None or self._other_owner(found, action.person_id) is not None:
            return None
        return found

    def _other_owner(self, external_id: str, person_id: str) -> str | None:
        """The other person the crosswalk links this system's record to, if any."""
        owner = self.state.person_for(self.system, external_id)
        resolve = self.state.resolve_person
        return None if owner is None or resolve(owner) == resolve(person_id) else owner

    def _cannot_hold(self, entry: OutboxEntry, exc: DuplicateError, owner: str) -> None:
        """The system says the person's key field (e.g. a shared mailbox) is taken by a
        record of another person: this system cannot hold both. Reported once."""
        reason = self.redact(
            f"{self.system} already holds record {exc.existing_id} of person {owner} "
            f"with the same unique value ({exc.vendor_message or 'duplicate'})"
        )
        self.state.skip(entry.id, reason)
        if self.state.mark_unholdable(self.system, person := entry.action.person_id, reason):
            log.warning("person cannot be held", system=self.system, person=person, reason=reason)

    def link(self, entry: OutboxEntry, result: WriteResult) -> None:
        action = entry.action
        answer = self._answer(result.external_id, result.record)
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
            raise AlreadyHandled from None

    def send_update(self, entry: OutboxEntry, *, recovering: bool = False) -> None:
        action = entry.action
        assert action.external_id is not None
        stored = self.state.record_raw(self.system, action.external_id)
        current = stored if isinstance(stored, dict) else None
        conditional = capable(self.adapter, "conditional_updates")
        if recovering or not (conditional and current is not None):
            current = self._checked(entry, current, recovering=recovering)
        else:  # the vendor tests what it overwrites: is that still what the plan read?
            self.checks.as_planned(entry, current)
        try:
            if conditional and current is not None:
                result = self.adapter.update_if_unchanged(
                    action.external_id, action.payload, current
                )
            else:
                result = self.adapter.update(action.external_id, action.payload, current=current)
            faultpoints.hit("after_vendor_answer")
        except RecordChanged as exc:  # the vendor refused it: changed since it was read
            self.checks.changed(entry, exc.record)
            return
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
            (log.info if holder.startswith("the same") else log.warning)(  # resolved or listed
                "update conflicts with another person",
                system=self.system,
                record=action.external_id,
                reason=reason,
            )
            return
        answer = self._answer(action.external_id, result.record)
        self.checks.keep_answer(entry, answer, result.record)
        self.counts.updated += 1

    def _checked(
        self, entry: OutboxEntry, current: dict[str, Any] | None, *, recovering: bool
    ) -> dict[str, Any] | None:
        """:meth:`ConditionalWrites.checked`, counting a write found landed."""
        try:
            return self.checks.checked(entry, current, recovering=recovering)
        except AlreadyHandled as handled:
            if handled.landed:
                self.counts.updated += 1
            raise

    def _delete(self, entry: OutboxEntry) -> None:
        action = entry.action
        assert action.external_id is not None
        self.adapter.delete(action.external_id)
        faultpoints.hit("after_vendor_answer")
        complete_delete(self.state, entry)  # a duplicate's deletion is not its person's
        self.counts.deleted += 1
