"""The contract every state backend's tests inherit (as tests/adapter_contract.py is for
adapters): what the engine relies on the state for, stated through the public methods
only, so that a second backend (PostgreSQL, say) is a swap: subclass
:class:`StateContract`, implement :meth:`open_state`, and run these tests.

Time comes from a fake clock handed to the backend, never from sleeping.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from contactsync.model.contact import Action, ActionKind, Contact, FieldChange
from contactsync.state.sqlite.store import OutboxStatus, PersonEventKind, RecordChange, StateStore

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


def contact(**fields: object) -> Contact:
    return Contact.model_validate({"first_name": "Ann", "last_name": "Lee", **fields})


def update(person_id: str, external_id: str, title: str) -> Action:
    return Action(
        kind=ActionKind.UPDATE,
        system="trackops",
        person_id=person_id,
        external_id=external_id,
        changes=[FieldChange(field="title", before=None, after=title)],
        payload={"title": title},
    )


def stage_person(state: StateStore, system: str, external_id: str, record: Contact) -> str:
    """Stage ``record`` as the one record of a new person; the person's id."""
    person = state.create_person()
    state.upsert_record(
        system,
        external_id,
        hash=record.content_hash(),
        payload=record.model_dump(mode="json"),
        person_id=person,
    )
    return person


class StateContract:
    """Behaviour any state backend must have. Subclasses implement :meth:`open_state`."""

    def open_state(self, folder: Path, clock: FakeClock) -> StateStore:
        raise NotImplementedError

    @pytest.fixture
    def clock(self) -> FakeClock:
        return FakeClock()

    @pytest.fixture
    def state(self, tmp_path: Path, clock: FakeClock) -> Iterator[StateStore]:
        opened = self.open_state(tmp_path, clock)
        try:
            yield opened
        finally:
            opened.close()

    def stage(self, state: StateStore, system: str, external_id: str, **fields: object) -> str:
        """A record of a new person; the person's id."""
        return stage_person(state, system, external_id, contact(**fields))

    # --- watermarks ---------------------------------------------------------------------

    def test_watermarks_are_kept_per_system_and_stream(self, state: StateStore) -> None:
        assert state.get_watermark("trackops") is None
        state.set_watermark("trackops", T0)
        state.set_watermark("xurrent", T0 + timedelta(hours=1), stream="people")
        assert state.get_watermark("trackops") == T0
        assert state.get_watermark("xurrent", "people") == T0 + timedelta(hours=1)
        assert state.get_watermark("xurrent") is None

    # --- records and the crosswalk -----------------------------------------------------

    def test_staging_says_created_unchanged_or_changed(self, state: StateStore) -> None:
        person = state.create_person()
        first, second = contact(job_title="Pilot"), contact(job_title="Clerk")
        kwargs = {"payload": first.model_dump(mode="json"), "person_id": person}
        created = state.upsert_record("trackops", "7", hash=first.content_hash(), **kwargs)
        unchanged = state.upsert_record("trackops", "7", hash=first.content_hash(), **kwargs)
        changed = state.upsert_record(
            "trackops", "7", hash=second.content_hash(), payload=second.model_dump(mode="json")
        )
        assert (created, unchanged, changed) == (
            RecordChange.CREATED,
            RecordChange.UNCHANGED,
            RecordChange.CHANGED,
        )
        stored = state.get_record("trackops", "7")
        assert stored is not None
        assert stored.payload["job_title"] == "Clerk"
        assert state.person_for("trackops", "7") == person  # the link survives a restage

    def test_a_deleted_record_leaves_the_live_ones_until_seen_again(
        self, state: StateStore
    ) -> None:
        person = self.stage(state, "trackops", "7")
        assert state.mark_deleted("trackops", "7")
        assert state.records_for_person(person) == []
        (kept,) = state.records_for_person(person, include_deleted=True)
        assert kept.deleted
        record = contact()
        state.upsert_record(
            "trackops", "7", hash=record.content_hash(), payload=record.model_dump(mode="json")
        )
        assert [r.external_id for r in state.records_for_person(person)] == ["7"]

    # --- persons ----------------------------------------------------------------------

    def test_a_merge_keeps_the_older_person_and_moves_the_records(
        self, state: StateStore, clock: FakeClock
    ) -> None:
        older = self.stage(state, "trackops", "7")
        clock.advance(seconds=1)
        newer = self.stage(state, "pylon", "c1")
        assert older < newer  # person ids sort by creation time
        assert state.merge_persons(newer, older) == older
        assert state.resolve_person(newer) == older
        assert {r.system for r in state.records_for_person(older)} == {"trackops", "pylon"}
        (event,) = [e for e in state.person_events(older) if e.kind is PersonEventKind.MERGE]
        assert event.other_person_id == newer
        assert event.detail["records"] == [["pylon", "c1"]]

    def test_records_split_off_make_a_new_person(self, state: StateStore) -> None:
        person = self.stage(state, "trackops", "7")
        other = self.stage(state, "pylon", "c1")
        state.merge_persons(person, other)
        new = state.split_records(person, [("pylon", "c1")])
        assert state.person_for("pylon", "c1") == new
        assert state.person_for("trackops", "7") == state.resolve_person(person)

    # --- outbox -------------------------------------------------------------------------

    def test_an_action_is_queued_once_and_claimed_once(self, state: StateStore) -> None:
        person = self.stage(state, "trackops", "7")
        action = update(person, "7", "Pilot")
        assert state.enqueue([action], "r1") == 1
        assert state.enqueue([action], "r2") == 0  # the same key: idempotent
        (entry,) = state.pending_actions("trackops")
        assert state.mark_in_flight(entry.id)
        assert not state.mark_in_flight(entry.id)  # a second worker cannot take it
        state.complete(entry.id, "hash-after")
        assert state.counts_by_status()["done"] == 1
        assert state.pushed_hash("trackops", "7") == "hash-after"

    def test_a_failed_action_is_rearmed_by_a_new_plan(self, state: StateStore) -> None:
        person = self.stage(state, "trackops", "7")
        action = update(person, "7", "Pilot")
        state.enqueue([action], "r1")
        (entry,) = state.pending_actions()
        state.mark_in_flight(entry.id)
        state.fail(entry.id, "HTTP 500")
        assert [e.status for e in state.list_actions("failed")] == [OutboxStatus.FAILED]
        assert state.enqueue([action], "r2") == 1
        assert [e.id for e in state.pending_actions()] == [entry.id]

    def test_a_create_links_its_record_when_it_completes(self, state: StateStore) -> None:
        person = state.create_person()
        create = Action(kind=ActionKind.CREATE, system="pylon", person_id=person,
                        payload={"name": "Ann Lee"})  # fmt: skip
        state.enqueue([create], "r1")
        (entry,) = state.pending_actions()
        state.mark_in_flight(entry.id)
        state.complete_create(entry.id, "pylon", "c9", person, "h")
        assert state.person_for("pylon", "c9") == person
        assert state.enqueue([create], "r2") == 0  # a done create is never repeated

    # --- runs and the lease -------------------------------------------------------------

    def test_a_run_found_still_running_is_closed_as_interrupted(self, state: StateStore) -> None:
        dead = state.start_run("sync")
        current = state.start_run("sync")
        assert state.close_interrupted_runs(current) == [dead]
        run = state.get_run(dead)
        assert run is not None
        assert run.status == "interrupted"

    def test_one_holder_of_the_lease_at_a_time(self, state: StateStore, clock: FakeClock) -> None:
        ttl = timedelta(minutes=5)
        assert state.acquire_lease("scheduler", "a", ttl)
        assert not state.acquire_lease("scheduler", "b", ttl)
        clock.advance(minutes=6)  # expired: free for another
        assert state.acquire_lease("scheduler", "b", ttl)
        assert state.release_lease("scheduler", "b")
        assert state.lease_holder("scheduler") is None

    # --- review queue -----------------------------------------------------------------

    def test_a_pair_has_one_open_review_and_a_decision_sticks(self, state: StateStore) -> None:
        self.stage(state, "trackops", "7")
        self.stage(state, "pylon", "c1")
        first = state.add_review("trackops", "7", "pylon", "c1", 0.7)
        again = state.add_review("pylon", "c1", "trackops", "7", 0.8)
        assert again.id == first.id
        assert again.score == pytest.approx(0.8)
        state.decide_review(first.id, "split")
        assert state.add_review("trackops", "7", "pylon", "c1", 0.9).status.value == "split"
        assert state.list_review() == []

    def test_an_item_whose_records_became_one_person_closes(self, state: StateStore) -> None:
        one = self.stage(state, "trackops", "7")
        other = self.stage(state, "pylon", "c1")
        item = state.add_review("trackops", "7", "pylon", "c1", 0.7)
        state.merge_persons(one, other)
        (closed,) = state.close_stale_reviews()
        assert closed.id == item.id
        assert closed.note is not None
        assert closed.note.startswith("both records are now person")

    # --- quarantine, unholdable, transactions ----------------------------------------

    def test_quarantine_is_listed_and_cleared(self, state: StateStore) -> None:
        state.quarantine("growcrm", "9", "growcrm record 9: email: invalid", {"id": 9})
        assert [q.external_id for q in state.list_quarantine("growcrm")] == ["9"]
        assert state.clear_quarantine("growcrm", "9")
        assert state.list_quarantine() == []

    def test_an_unholdable_person_is_reported_once(self, state: StateStore) -> None:
        person = state.create_person()
        assert state.mark_unholdable("growcrm", person, "missing emails")
        assert not state.mark_unholdable("growcrm", person, "missing emails")
        assert state.is_unholdable("growcrm", person)
        assert state.clear_unholdable("growcrm", person)
        assert not state.is_unholdable("growcrm", person)

    def test_a_failed_transaction_leaves_nothing(self, state: StateStore) -> None:
        class Boom(Exception):
            pass

        def work() -> None:
            with state.transaction():
                state.set_watermark("trackops", T0)
                state.create_person()
                raise Boom

        with pytest.raises(Boom):
            work()
        assert state.get_watermark("trackops") is None
        assert list(state.iter_persons()) == []
