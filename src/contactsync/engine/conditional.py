"""Conditional writes: an update is sent only to a record that still holds what it was
planned against.

The planner diffs the golden record with the target's record as contactsync last read
it; every :class:`~contactsync.model.contact.FieldChange` keeps that ``before`` value. Between
that read and the write, a user may edit the record (during a long load, or while a
crashed run's write sat in flight). Sending the update anyway would silently undo the
edit. So, before an update is sent, the record as the vendor holds it now is compared
with what the plan was based on, field by field, through the system's outbound mapping
(the planner's own comparison):

* every written field still holds its ``before`` value: unchanged, the write is sent
  (against the record just read, so a vendor that resends other fields resends today's);
* every written field already holds the value the write sends: recorded as done. Ours
  when an earlier attempt was sent (a crashed run's in-flight write) or a write of ours
  queued ahead of it put the values there (then the person is planned again: the plan
  read an older copy); a user's when the write was never sent (they made the same
  edit), staged as theirs;
* anything else: the record changed. Nothing is sent; the record is staged as an extract
  would stage it (the edit becomes a change with its own time) and the person is
  planned again, so the newer edit wins and travels on to the other systems.

Where the record as it is now comes from is the adapter's declared
:class:`~contactsync.adapters.base.ConflictCheck` (:mod:`contactsync.engine.change_feed`):
the vendor's atomic check (Rhythm: RFC 6902 ``test`` operations in the ``PATCH``, no read),
the copy in one listing of the records changed since the last check made before each
page of updates (a record not listed is unchanged since it was read and is sent as
planned), a snapshot listed again when that is cheaper, or else one ``GET`` of the
record. A write that only stamps contactsync's own person id is not checked: no user
edit can be lost under it. An update found in flight after a crash is always read first.
The race left with a listing: an edit landing between the listing and the write, that
is within one page of writes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

import structlog

from contactsync.adapters.base import Adapter, RawRecord
from contactsync.engine.answers import Answer
from contactsync.engine.change_feed import ChangeFeed, overlap_of
from contactsync.engine.own_writes import is_exactly
from contactsync.engine.plan import flatten
from contactsync.engine.ports import LoadingState
from contactsync.engine.revert import staging_of
from contactsync.engine.stage import handed_on_keys, map_record, stage_records
from contactsync.mapping.mapper import Mapping
from contactsync.model.contact import Action, ActionKind, Contact
from contactsync.state.types import OutboxEntry, OutboxStatus

log = structlog.get_logger(__name__)

#: plans the persons again (``Engine.replan``): queues what they need now
Replan = Callable[[Sequence[str]], object]


class AlreadyHandled(Exception):
    """The action's outcome was already recorded (found written, or skipped as changed)."""

    def __init__(self, *, landed: bool = False) -> None:
        super().__init__("already handled")
        self.landed = landed


class Verdict(Enum):
    UNCHANGED = "unchanged"  # holds what the plan was based on: send
    WRITTEN = "written"  # already holds what the write sends: done
    CHANGED = "changed"  # changed since the read: re-stage and re-plan


def verdict(action: Action, now: dict[str, Any]) -> Verdict:
    """How the record the vendor holds now (``now``: flattened outbound mapping of it)
    stands to the update ``action``."""
    changes = action.changes
    if not changes:  # nothing to compare (not a planner's update): sent as it always was
        return Verdict.UNCHANGED
    if all(now.get(change.field) == change.after for change in changes):
        return Verdict.WRITTEN
    if all(now.get(change.field) == change.before for change in changes):
        return Verdict.UNCHANGED
    return Verdict.CHANGED


def needs_read(adapter: Adapter, action: Action) -> bool:
    """Whether the record must be read before ``action`` is sent: not when the adapter
    cannot read one record, nor when the write only stamps contactsync's person id
    (users do not keep that field, and updates there touch only the fields they send)."""
    if not capable(adapter, "can_read_record"):
        return False
    stamps = set(getattr(type(adapter), "stamp_fields", ()))
    return not (stamps and {c.field.split(".", 1)[0] for c in action.changes} <= stamps)


def capable(adapter: Adapter, flag: str) -> bool:
    """The adapter's ``can_read_record`` or ``conditional_updates`` flag (False for a
    stand-in that does not declare it)."""
    return bool(getattr(type(adapter), flag, False))


@dataclass
class ConditionalWrites:
    """Checks one system's updates against the record as it is, and settles those that
    must not be sent."""

    state: LoadingState
    adapter: Adapter
    mapping: Mapping
    default_region: str
    replan: Replan | None = None
    #: clock skew allowed when listing the records changed since the last check (None:
    #: the system's configured ``overlap``, from the adapter's context)
    overlap: timedelta | None = None
    #: when this pass read the system; None: not read in this pass (the stored
    #: watermark says when it last was): the first listing starts there
    read_at: datetime | None = None
    #: persons planned again this run (their new actions are queued behind the others)
    replanned: int = 0
    feed: ChangeFeed = field(init=False)

    def __post_init__(self) -> None:
        overlap = self.overlap or overlap_of(self.adapter)
        self.feed = ChangeFeed(self.state, self.adapter, overlap, last_check=self.read_at)

    @property
    def system(self) -> str:
        return self.adapter.system

    def prepare_page(self, page: Sequence[OutboxEntry]) -> None:
        """Before a page of actions: list the records changed since the last check, for
        the page's updates that are checked (one listing for the page, see
        :mod:`contactsync.engine.change_feed`)."""
        self.feed.prepare(
            [
                entry.action.external_id or ""
                for entry in page
                if entry.kind is ActionKind.UPDATE and needs_read(self.adapter, entry.action)
            ]
        )

    def checked(
        self, entry: OutboxEntry, current: dict[str, Any] | None, *, recovering: bool
    ) -> dict[str, Any] | None:
        """The record to send ``entry`` against: ``current`` (as last read) when it has not
        changed since, else the record as it is now. Raises :class:`AlreadyHandled` when
        it must not be sent (found written, or changed since the plan read it). A write
        that cannot lose an edit is sent unchecked, except after a crash (it may have
        landed): then the record is always read."""
        action = entry.action
        external_id = action.external_id or ""
        can_read = capable(self.adapter, "can_read_record")
        if not (needs_read(self.adapter, action) or (recovering and can_read)):
            return current
        if not recovering:
            self.feed.renew_if_stale(external_id)
        listed = None if recovering else self.feed.copy_of(external_id)
        unlisted = listed is None and not recovering and self.feed.covers(external_id)
        if unlisted and current is not None:  # not listed: unchanged since it was read
            return current
        fresh = listed or self.adapter.read_record(external_id)
        self._settle(entry, fresh, self.check(entry, fresh))
        return fresh.payload

    def as_planned(self, entry: OutboxEntry, current: dict[str, Any]) -> None:
        """For a vendor that tests what it overwrites (``atomic``): the write is tested
        against ``current``, the record as stored now, which may be newer than the one
        the plan read (restaged since: a user's edit, a replan queued behind this
        action). A stale action would pass the vendor's test and overwrite that edit, so
        its ``before`` values are checked against ``current`` first (the vendor's own
        test covers the other fields). Raises :class:`AlreadyHandled` when it must not
        be sent."""
        fresh = RawRecord(entry.action.external_id or "", current, None)
        self._settle(entry, fresh, self.check(entry, fresh, whole_record=False))

    def check(self, entry: OutboxEntry, fresh: RawRecord, *, whole_record: bool = True) -> Verdict:
        """How ``fresh`` stands to ``entry`` (:func:`verdict`), through the mapping in and
        out as the planner sees a record (one that no longer maps, or that an outbound
        rule cannot take, counts as changed). ``whole_record``: also changed when a field
        the write leaves alone differs from the copy the plan read: sending it would not
        undo that edit, but the answer stored as our own write would hide it from the
        next extract, and it would never reach the other systems."""
        contact, _reason = map_record(fresh, self.mapping, self.system, self.default_region)
        if contact is None:
            return Verdict.CHANGED
        try:
            now = flatten(self.mapping.outbound(contact))
        except Exception:  # an outbound rule that cannot take it: treat it as changed
            return Verdict.CHANGED
        found = verdict(entry.action, now)
        if found is Verdict.UNCHANGED and whole_record:
            stored = self.state.get_record(self.system, fresh.external_id)
            if stored is not None and contact.content_hash() != stored.hash:
                return Verdict.CHANGED
        return found

    def _settle(self, entry: OutboxEntry, fresh: RawRecord, found: Verdict) -> None:
        """Nothing when ``entry`` may be sent against ``fresh``; else record why not
        (done when it landed, replanned when the record changed) and raise
        :class:`AlreadyHandled`."""
        if found is Verdict.UNCHANGED:
            return
        if found is Verdict.WRITTEN:
            self.landed(entry, fresh)
            raise AlreadyHandled(landed=True)
        self.changed(entry, fresh)
        raise AlreadyHandled

    def landed(self, entry: OutboxEntry, fresh: RawRecord) -> None:
        """The record already holds what ``entry`` writes: the action is done. When the
        record is exactly the last read one changed by this write, and this write may
        have made it (an earlier attempt was sent: a crashed run's, or one whose answer
        was lost), or a write of ours queued ahead of it did (the copy stored already
        holds it), it is stored as contactsync's own write. Otherwise that is a user's
        change, staged as such: anything else changed too, or the values are there
        although the write was never sent (a user made the same edit: typed into a
        one-email system the address the write was bringing, so the address it replaced
        was removed by a user, as with any other edit found by a check)."""
        action = entry.action
        assert action.external_id is not None
        self.feed.forget(action.external_id)
        contact, _reason = map_record(fresh, self.mapping, self.system, self.default_region)
        stored = self.state.get_record(self.system, action.external_id)
        stale = stored is not None and self._planned_on_older_copy(action, stored.payload)
        if (
            contact is not None
            and stored is not None
            and (stale or self._sent_before(entry))
            and self._only_ours(stored.payload, contact, action)
        ):
            digest = contact.content_hash()
            with self.state.transaction():
                self.state.complete(entry.id, digest)
                self.state.upsert_record(
                    self.system,
                    action.external_id,
                    hash=digest,
                    payload=contact.model_dump(mode="json"),
                    source_updated_at=contact.updated_at,
                    raw=fresh.payload,
                    unplanned=stale,
                    own_write=True,
                )
            log.info("update found written", system=self.system, record=action.external_id)
            if stale:
                self._plan_again(action, [(self.system, action.external_id)])
            return
        self.state.complete(entry.id)
        self._restage(action, fresh)

    def _sent_before(self, entry: OutboxEntry) -> bool:
        """Whether a write of ours to this record was sent before and may have landed
        without an answer: an earlier attempt of this action, or an update it superseded
        (a newer plan for the person replaces a failed one, and starts with no attempts).
        Values found then are ours, not a user's same edit."""
        if entry.attempts > 0:
            return True
        record = entry.action.external_id
        return any(
            other.id != entry.id
            and other.attempts > 0
            and other.kind is ActionKind.UPDATE
            and other.action.external_id == record
            for status in (OutboxStatus.FAILED, OutboxStatus.SKIPPED)
            for other in self.state.list_actions(status, self.system)
        )

    def keep_answer(self, entry: OutboxEntry, answer: Answer | None, raw: dict[str, Any]) -> None:
        """Store the answer to the update ``entry`` sent as the record now: contactsync's
        own write (or a revert's edit, see :func:`~contactsync.revert.staging_of`).

        An own write whose answer changed more than the write sent shows a record the plan
        never saw: a vendor slot the canonical record could not show (Rhythm's second
        email slot holding a copy of the first reads as one email, until a write to the
        first slot brings the copy out). Nothing else would plan the person again (a write
        of ours marks no record for a plan), so the copy, perhaps an address a user has
        removed since, would stay: the person is planned again."""
        action = entry.action
        external_id = action.external_id or ""
        self.feed.forget(external_id)  # a listed copy is older than the write
        staging: dict[str, Any] = {}
        if answer is not None:
            staging = staging_of(self.state, entry, answer.payload)
        stored = self.state.get_record(self.system, external_id)
        unseen = (
            answer is not None
            and stored is not None
            and staging.get("own_write") is True
            and not self._only_ours(stored.payload, Contact.model_validate(answer.payload), action)
        )
        if unseen:
            staging["unplanned"] = True  # until the plan below is in the outbox
        with self.state.transaction():
            self.state.complete(entry.id, answer.digest if answer is not None else None)
            if answer is not None:
                self.state.upsert_record(
                    self.system,
                    external_id,
                    hash=answer.digest,
                    payload=answer.payload,
                    source_updated_at=answer.updated_at,
                    raw=raw,
                    **staging,
                )
        if unseen:
            log.info("answer shows more than was written; planned again", system=self.system,
                     record=external_id)  # fmt: skip
            self._plan_again(action, [(self.system, external_id)])

    def _planned_on_older_copy(self, action: Action, stored: dict[str, Any]) -> bool:
        """Whether the copy of the record stored now already held what ``action`` writes.

        A plan only writes what the copy it read lacked, so then the plan read an older
        copy: a write of ours queued ahead of it (or a user's same edit) landed in
        between, typically while another system's loader planned the person again. What
        that newer copy holds beyond the action (a second email the earlier write put
        there, which the newer golden record no longer has) was never planned against;
        closing the action as written would leave it there, with nothing to plan the
        person again (a write of ours marks no record for a plan). A crashed run's
        in-flight write is not such a case: its record is stored as the plan read it."""
        try:
            held = flatten(self.mapping.outbound(Contact.model_validate(stored)))
        except Exception:  # cannot tell: planning again costs one person's plan
            return True
        return verdict(action, held) is Verdict.WRITTEN

    def changed(self, entry: OutboxEntry, fresh: RawRecord) -> None:
        """The record changed since the plan read it: the action is not sent (skipped,
        with the reason); the record is staged and the person planned again."""
        action = entry.action
        self.feed.forget(action.external_id or "")
        fields = ", ".join(change.field for change in action.changes)
        self.state.skip(
            entry.id,
            f"not sent: {self.system} record {action.external_id} changed since it was "
            f"read (in {fields}); staged again and planned anew",
        )
        log.info(
            "record changed since it was read; planned again",
            system=self.system,
            record=action.external_id,
        )
        self._restage(action, fresh)

    def _restage(self, action: Action, fresh: RawRecord) -> None:
        """Store ``fresh`` as an extract would (a change with its own time), then plan the
        person again; without a planner it stays unplanned for the next run's plan."""
        result = stage_records(self.state, self.system, [fresh], self.mapping, self.default_region)
        self._plan_again(action, handed_on_keys([result]))

    def _plan_again(self, action: Action, unplanned: Sequence[tuple[str, str]]) -> None:
        """Plan the action's person again now; ``unplanned``: the records marked as
        waiting for that plan (without a planner they wait for the next run's plan)."""
        if self.replan is None:
            return
        external_id = action.external_id or ""
        person_id = self.state.person_for(self.system, external_id) or action.person_id
        with self.state.transaction():  # one replan at a time, whatever the loader threads
            self.replan([self.state.resolve_person(person_id)])
            self.state.mark_planned(unplanned)
        self.replanned += 1

    def _only_ours(self, stored: dict[str, Any], contact: Contact, action: Action) -> bool:
        try:
            before = flatten(self.mapping.outbound(Contact.model_validate(stored)))
            after = flatten(self.mapping.outbound(contact))
        except Exception:  # cannot tell: take it as a user's change (staged, never lost)
            return False
        return is_exactly(before, after, flatten(action.payload))
