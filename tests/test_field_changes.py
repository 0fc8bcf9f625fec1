"""Per-field change times: staged versions diffed field by field, and survivorship on them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from contactsync.engine.resolve import rebuild_golden
from contactsync.model.contact import Contact
from contactsync.model.field_changes import FieldTime, next_times
from contactsync.state.sqlite.store import StateStore

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PRIORITY = {"trackops": 1, "growcrm": 2, "rhythm": 3, "pylon": 4, "xurrent": 5}


class FakeClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> Iterator[StateStore]:
    with StateStore.open(tmp_path / "state.sqlite", clock=clock) as opened:
        yield opened


def payload(**fields: Any) -> dict[str, Any]:
    return Contact.model_validate({"first_name": "Ann", **fields}).model_dump(mode="json")


def stage(
    store: StateStore,
    system: str,
    external_id: str,
    contact: dict[str, Any],
    updated_at: datetime | None,
    *,
    person_id: str | None = None,
    own_write: bool = False,
) -> None:
    store.upsert_record(
        system,
        external_id,
        hash=Contact.model_validate(contact).content_hash(),
        payload=contact,
        source_updated_at=updated_at,
        person_id=person_id,
        own_write=own_write,
    )


def times(store: StateStore, person_id: str, system: str, external_id: str) -> dict[str, Any]:
    return store.field_times_of_person(person_id)[(system, external_id)]


def test_a_field_that_did_not_change_keeps_its_time(store: StateStore) -> None:
    person = store.create_person()
    stage(
        store, "trackops", "t1", payload(job_title="Analyst", last_name="Lee"), T0, person_id=person
    )
    later = T0 + timedelta(hours=1)
    stage(store, "trackops", "t1", payload(job_title="Director", last_name="Lee"), later)
    found = times(store, person, "trackops", "t1")
    assert found["job_title"] == FieldTime(later, "vendor")
    assert found["last_name"] == FieldTime(T0, "vendor")


def test_an_untimed_change_is_dated_by_the_snapshot_interval(
    store: StateStore, clock: FakeClock
) -> None:
    person = store.create_person()
    stage(store, "pylon", "p1", payload(job_title="Analyst"), None, person_id=person)
    assert times(store, person, "pylon", "p1")["job_title"] == FieldTime(T0, "first_seen")
    clock.advance(hours=1)
    store.set_watermark("pylon", clock.now)  # the previous snapshot's run
    clock.advance(hours=1)
    stage(store, "pylon", "p1", payload(job_title="Director"), None)
    found = times(store, person, "pylon", "p1")
    assert found["job_title"] == FieldTime(clock.now, "interval", T0 + timedelta(hours=1))
    assert found["first_name"] == FieldTime(T0, "first_seen")


def test_a_users_removal_leaves_a_tombstone_our_own_none(store: StateStore) -> None:
    person = store.create_person()
    two = payload(emails=[{"address": "a@x.com"}, {"address": "b@x.com"}])
    stage(store, "rhythm", "r1", two, T0, person_id=person)
    stage(store, "rhythm", "r1", payload(emails=[{"address": "b@x.com"}]), T0 + timedelta(hours=1))
    assert times(store, person, "rhythm", "r1")["emails:a@x.com"] == FieldTime(
        T0 + timedelta(hours=1), "vendor"
    )
    stage(store, "growcrm", "g1", two, T0, person_id=person)
    users_word = times(store, person, "growcrm", "g1")["emails:a@x.com"]
    stage(store, "growcrm", "g1", payload(emails=[{"address": "b@x.com"}]), None, own_write=True)
    # our write displaced it (a one-email slot): no tombstone, the users' word and time stand
    assert times(store, person, "growcrm", "g1")["emails:a@x.com"] == users_word
    assert users_word.at == T0


def test_our_own_write_carries_the_time_of_the_edit_it_came_from(
    store: StateStore, clock: FakeClock
) -> None:
    person = store.create_person()
    stage(store, "trackops", "t1", payload(job_title="Director"), T0, person_id=person)
    stage(store, "growcrm", "g1", payload(job_title="Analyst"), T0 - timedelta(days=1),
          person_id=person)  # fmt: skip
    rebuild_golden(store, person, PRIORITY)
    clock.advance(hours=3)  # written later than the edit it came from
    stage(store, "growcrm", "g1", payload(job_title="Director"), None, own_write=True)
    assert times(store, person, "growcrm", "g1")["job_title"] == FieldTime(T0, "vendor", own=True)


def test_a_record_stored_before_field_times_is_dated_by_its_record_time(
    store: StateStore,
) -> None:
    person = store.create_person()
    stage(store, "trackops", "t1", payload(job_title="Analyst"), T0, person_id=person)
    store._write("UPDATE records SET field_times = NULL")
    assert times(store, person, "trackops", "t1")["job_title"] == FieldTime(T0, "vendor")


def test_an_email_edit_is_not_undone_by_a_later_title_edit_elsewhere(store: StateStore) -> None:
    """Issue 14, item 1, through the state: stage, rebuild, echo, edit, rebuild."""
    person = store.create_person()
    old = {"address": "ann@old.com"}
    stage(store, "trackops", "t1", payload(emails=[old], job_title="Analyst"), T0,
          person_id=person)  # fmt: skip
    stage(store, "growcrm", "g1", payload(emails=[old], job_title="Analyst"), T0,
          person_id=person)  # fmt: skip
    rebuild_golden(store, person, PRIORITY)
    edited = T0 + timedelta(hours=1)
    stage(store, "trackops", "t1", payload(emails=[{"address": "ann@new.com"}],
          job_title="Analyst"), edited)  # fmt: skip
    golden = rebuild_golden(store, person, PRIORITY)
    assert golden is not None
    assert [e.address for e in golden.emails] == ["ann@new.com"]
    # Grow CRM's user changes the title before contactsync wrote the new email there
    stage(store, "growcrm", "g1", payload(emails=[old], job_title="Director"),
          T0 + timedelta(hours=2))  # fmt: skip
    golden = rebuild_golden(store, person, PRIORITY)
    assert golden is not None
    assert [e.address for e in golden.emails] == ["ann@new.com"]
    assert golden.job_title == "Director"


def test_next_times_on_first_sight_dates_every_field() -> None:
    stamp = FieldTime(T0, "vendor")
    found = next_times(None, None, payload(emails=[{"address": "a@x.com"}]), stamp)
    assert found == dict.fromkeys(
        ["first_name", "status", "emails:a@x.com", "emails.primary"], stamp
    )


def test_content_equal_to_our_last_write_is_the_users_after_they_changed_it(
    store: StateStore, clock: FakeClock
) -> None:
    person = store.create_person()
    stage(store, "rhythm", "r1", payload(job_title="Analyst"), T0, person_id=person)
    clock.advance(minutes=1)
    store.remember_push("rhythm", "r1", "written-hash")
    assert not store.changed_by_users_since_push("rhythm", "r1")  # a read-back: an echo
    clock.advance(minutes=1)
    stage(store, "rhythm", "r1", payload(job_title="Director"), T0 + timedelta(minutes=2))
    assert store.changed_by_users_since_push("rhythm", "r1")  # then back: the user's


def test_a_user_making_our_copy_of_an_email_primary_keeps_it_in_the_golden_record(
    store: StateStore, clock: FakeClock
) -> None:
    # Seen in bench/edits.py: Rhythm's user made primary an address contactsync had
    # written there, and removed the old primary. That address was still "our own copy"
    # (no say), the old one was removed: the golden record was left with no email at all.
    person = store.create_person()
    home, work = {"address": "ann@home.com"}, {"address": "ann@work.com"}
    stage(store, "trackops", "t1", payload(emails=[home]), T0, person_id=person)
    stage(store, "rhythm", "r1", payload(emails=[work]), T0, person_id=person)
    rebuild_golden(store, person, PRIORITY)
    clock.advance(minutes=5)
    stage(store, "rhythm", "r1", payload(emails=[work, home]), None, own_write=True)
    stage(store, "trackops", "t1", payload(), T0 + timedelta(minutes=30))  # removed there
    edited = T0 + timedelta(hours=1)
    stage(store, "rhythm", "r1", payload(emails=[home]), edited)  # home primary, work gone
    assert times(store, person, "rhythm", "r1")["emails:ann@home.com"] == FieldTime(
        edited, "vendor"
    )
    golden = rebuild_golden(store, person, PRIORITY)
    assert golden is not None
    assert [e.address for e in golden.emails] == ["ann@home.com"]
