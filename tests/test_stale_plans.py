"""An update whose plan read an older copy of the record than the one stored now.

A person planned again while a write of ours to one of their records is in flight (by
another system's loader, which found its own record changed) is planned against that
record as stored before the write. Once the write lands, the new update may already be
there: it is done, but whatever else the write left (a second email the newer golden
record no longer has) was never planned against, so the person is planned again
(tests/reliability/test_stale_replan.py has the whole sequence against the sandbox).
So is a person whose record, as a write's answer shows it, holds more than the write
sent (tests/reliability/test_hidden_slot.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from contactsync.adapters.base import RawRecord, WriteResult
from contactsync.engine.load import Loader
from contactsync.engine.stage import map_record
from contactsync.model.contact import FieldChange
from contactsync.model.run_summary import SystemCounts
from contactsync.state.sqlite.store import StateStore
from tests.test_conditional_writes import (
    MAPPINGS,
    RECORD_ID,
    AtomicVendor,
    OneRecordVendor,
    grow_record,
    loaded,
    loader_for,
    queue_update,
)

__all__ = ["loaded"]  # the fixture: the record read as "Clerk", "Clerk -> Manager" queued


def store_our_write(state: StateStore, held: dict[str, Any]) -> None:
    """Our earlier write to the record landed and was kept, after the queued plan read it."""
    contact, reason = map_record(RawRecord(RECORD_ID, held), MAPPINGS["growcrm"], "growcrm", "US")
    assert contact is not None, reason
    state.upsert_record(
        "growcrm",
        RECORD_ID,
        hash=contact.content_hash(),
        payload=contact.model_dump(mode="json"),
        source_updated_at=contact.updated_at,
        raw=held,
        own_write=True,
    )


def test_an_update_a_newer_stored_copy_already_holds_is_done_and_planned_again(
    loaded: tuple[StateStore, int, list[list[str]]],
) -> None:
    state, action_id, replans = loaded
    store_our_write(state, grow_record("Manager"))
    vendor = OneRecordVendor(grow_record("Manager"))
    loader_for(state, vendor, replans).run(concurrency=1)
    entry = state.get_action(action_id)
    assert entry is not None
    assert vendor.sent == []  # nothing left to send
    assert entry.status == "done"
    assert replans == [[state.resolve_person(entry.action.person_id)]]
    assert state.unplanned_keys() == []  # the replan took it


def test_the_same_at_a_vendor_that_tests_what_it_overwrites(
    loaded: tuple[StateStore, int, list[list[str]]],
) -> None:
    """Rhythm's path (the sequence seen): the stored copy stands for the record."""
    state, action_id, replans = loaded
    store_our_write(state, grow_record("Manager"))
    vendor = AtomicVendor(grow_record("Manager"))
    loader_for(state, vendor, replans).run(concurrency=1)
    assert vendor.sent == []
    assert state.get_action(action_id).status == "done"  # type: ignore[union-attr]
    assert len(replans) == 1


def test_without_a_planner_the_record_waits_for_the_next_plan(tmp_path: Path) -> None:
    with StateStore.open(tmp_path / "state.sqlite") as state:
        change = FieldChange(field="position", before="Clerk", after="Manager")
        queue_update(state, [change], {"position": "Manager"})
        state.mark_planned([("growcrm", RECORD_ID)])
        store_our_write(state, grow_record("Manager"))
        vendor = OneRecordVendor(grow_record("Manager"))
        loader = Loader(state, vendor, MAPPINGS["growcrm"], "US", SystemCounts())  # type: ignore[arg-type]
        loader.run(concurrency=1)
        assert vendor.sent == []
        assert state.unplanned_keys() == [("growcrm", RECORD_ID)]


def test_a_crashed_runs_write_found_landed_is_not_planned_again(
    loaded: tuple[StateStore, int, list[list[str]]],
) -> None:
    """Its record is stored as the plan read it: the plan saw the whole record."""
    state, action_id, replans = loaded
    state.mark_in_flight(action_id)
    vendor = OneRecordVendor(grow_record("Manager"))
    loader_for(state, vendor, replans).recover_interrupted()
    assert state.get_action(action_id).status == "done"  # type: ignore[union-attr]
    assert replans == []


class ShowsMore(OneRecordVendor):
    """Answers a write with a field it did not send filled (a slot the read copy hid)."""

    def update(
        self, external_id: str, payload: dict[str, Any], *, current: dict[str, Any] | None = None
    ) -> WriteResult:
        self.held["phone"] = "+1 503 555 0100"
        return super().update(external_id, payload, current=current)


def test_an_answer_showing_more_than_was_written_plans_the_person_again(
    loaded: tuple[StateStore, int, list[list[str]]],
) -> None:
    state, action_id, replans = loaded
    vendor = ShowsMore(grow_record("Clerk"))
    loader_for(state, vendor, replans).run(concurrency=1)
    entry = state.get_action(action_id)
    assert entry is not None
    assert entry.status == "done"
    stored = state.get_record("growcrm", RECORD_ID)
    assert stored is not None
    assert [p["number"] for p in stored.payload["phones"]] == ["+15035550100"]
    assert replans == [[state.resolve_person(entry.action.person_id)]]


def test_the_same_edit_by_a_user_before_the_write_was_sent_is_theirs(
    loaded: tuple[StateStore, int, list[list[str]]],
) -> None:
    """The write was never sent, and the copy the plan read lacks its values: a user typed
    them (into a one-email system, the address the write was bringing). Their edit, like
    any found by a check: the value it replaced was removed by a user, at the vendor's
    time, and that removal must reach the other systems."""
    state, action_id, replans = loaded
    vendor = OneRecordVendor(grow_record("Manager"))
    loader_for(state, vendor, replans).run(concurrency=1)
    entry = state.get_action(action_id)
    assert entry is not None
    assert vendor.sent == []
    assert entry.status == "done"
    person = state.resolve_person(entry.action.person_id)
    times = state.field_times_of_person(person)[("growcrm", RECORD_ID)]
    assert not times["job_title"].own  # the user's, not contactsync's own copy
    assert replans == [[person]]


def test_values_an_unanswered_earlier_write_may_have_put_there_are_ours(
    loaded: tuple[StateStore, int, list[list[str]]],
) -> None:
    """An update sent whose answer was lost failed, and a newer plan for the person
    superseded it with an action of no attempts. Finding the values there is our own
    earlier write landing, not a user's same edit: under faults, taking it for a user's
    made an organization's phone that contactsync itself wrote a person's own phone
    (tests/reliability/test_faults.py, Megan Brown)."""
    state, first_id, replans = loaded
    first = state.get_action(first_id)
    assert first is not None
    assert state.mark_in_flight(first_id)  # sent: its attempt counted
    state.fail(first_id, "the answer was lost")
    state.skip(first_id, "superseded by a newer plan for the person")
    # the newer plan writes the same title, and a field the record already holds
    newer = first.action.model_copy(
        update={"payload": {**first.action.payload, "email": "ann@x.io"}}
    )
    state.enqueue([newer], state.start_run("sync"))
    (second,) = state.pending_actions("growcrm")
    assert second.attempts == 0
    vendor = OneRecordVendor(grow_record("Manager"))  # the earlier write landed
    loader_for(state, vendor, replans).run(concurrency=1)
    done = state.get_action(second.id)
    assert done is not None
    assert done.status == "done"
    assert vendor.sent == []
    person = state.resolve_person(first.action.person_id)
    times = state.field_times_of_person(person)[("growcrm", RECORD_ID)]
    assert times["job_title"].own  # contactsync's own copy, no say of its own
    assert replans == []
