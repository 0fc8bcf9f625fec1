"""Behaviour of the SQLite state store."""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlite_utils import Database

from contactsync.model.contact import Action, ActionKind, Contact, FieldChange
from contactsync.model.run_summary import RunSummary
from contactsync.state.sqlite.schema import MIGRATIONS
from contactsync.state.sqlite.store import (
    TABLES,
    OutboxStatus,
    PersonEventKind,
    RecordChange,
    ReviewStatus,
    RunStatus,
    StateError,
    StateStore,
    new_person_id,
    raw_hash,
)
from tests.state_contract import FakeClock

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "contactsync.db"


@pytest.fixture
def store(db_path: Path, clock: FakeClock) -> Iterator[StateStore]:
    with StateStore.open(db_path, clock=clock) as opened:
        yield opened


def raw_connection(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


def update_action(external_id: str, person_id: str, email: str) -> Action:
    return Action(
        kind=ActionKind.UPDATE,
        system="pylon",
        person_id=person_id,
        external_id=external_id,
        changes=[FieldChange(field="emails", before=None, after=email)],
        payload={"email": email},
    )


# --- opening, schema, file ---------------------------------------------------------


def test_open_creates_every_table_and_reopening_is_a_no_op(db_path: Path) -> None:
    StateStore.open(db_path).close()
    conn = raw_connection(db_path)
    names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    applied = conn.execute("SELECT name, applied_at FROM _sqlite_migrations").fetchall()
    conn.close()
    assert set(TABLES) <= names
    assert [name for name, _ in applied] == [
        m.name for m in MIGRATIONS.pending(Database(memory=True))
    ]

    StateStore.open(db_path).close()
    conn = raw_connection(db_path)
    assert conn.execute("SELECT name, applied_at FROM _sqlite_migrations").fetchall() == applied
    conn.close()


def test_reviews_made_before_closed_existed_survive_the_migration(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True, exist_ok=True)
    older = Database(db_path)
    MIGRATIONS.apply(older, stop_before="0009_review_closed")
    older.execute(
        "INSERT INTO review (left_system, left_id, right_system, right_id, score, evidence, "
        "status, created_at) VALUES ('pylon', 'c1', 'trackops', '7', 0.8, '{}', 'open', "
        "'2026-11-01T00:00:00+00:00')"
    )
    older.conn.commit()
    older.close()
    with StateStore.open(db_path) as store:
        (item,) = store.list_review()
        assert (item.left_id, item.right_id, item.note) == ("c1", "7", None)
        assert store.close_stale_reviews()[0].note == "pylon record c1 was deleted"


def test_file_and_wal_sidecars_are_private(db_path: Path, clock: FakeClock) -> None:
    with StateStore.open(db_path, clock=clock) as store:
        store.set_watermark("pylon", T0)
        for candidate in (db_path, Path(f"{db_path}-wal"), Path(f"{db_path}-shm")):
            assert candidate.exists()
            assert stat.S_IMODE(candidate.stat().st_mode) == 0o600, candidate


def test_an_existing_loose_file_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "loose.db"
    StateStore.open(path).close()
    os.chmod(path, 0o644)
    StateStore.open(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_wal_mode_and_foreign_keys(store: StateStore, db_path: Path) -> None:
    conn = raw_connection(db_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    store.upsert_record("pylon", "c1", hash="h", payload={"full_name": "Ann"})
    with pytest.raises(StateError, match="person 'p_missing' does not exist"):
        store.link("pylon", "c1", "p_missing")
    with pytest.raises(StateError, match="FOREIGN KEY"):
        store.enqueue([update_action("c1", "p_missing", "a@example.com")], "r1")


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StateError, match=r"notes\.db"):
        StateStore.open(path)


def test_a_failed_transaction_leaves_nothing(store: StateStore) -> None:
    def stage_then_fail() -> None:
        with store.transaction():
            store.set_watermark("pylon", T0)
            with store.transaction():
                store.set_watermark("growcrm", T0)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        stage_then_fail()
    assert store.get_watermark("pylon") is None
    assert store.get_watermark("growcrm") is None


def test_a_failed_inner_block_rolls_back_only_itself(store: StateStore) -> None:
    def fail_inside() -> None:
        with store.transaction():
            store.set_watermark("growcrm", T0)
            raise RuntimeError("inner")

    with store.transaction():
        store.set_watermark("pylon", T0)
        with pytest.raises(RuntimeError, match="inner"):
            fail_inside()
    assert store.get_watermark("pylon") == T0
    assert store.get_watermark("growcrm") is None


def test_threads_can_share_one_store(store: StateStore) -> None:
    def stage(worker: int) -> None:
        with store.transaction():
            for n in range(50):
                store.upsert_record("pylon", f"{worker}-{n:02d}", hash="h", payload={})

    threads = [threading.Thread(target=stage, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store.record_hashes("pylon")) == 200


# --- watermarks ----------------------------------------------------------------------


def test_watermark_round_trip_is_aware_utc(store: StateStore) -> None:
    assert store.get_watermark("xurrent", "people") is None
    offset = datetime(2016, 3, 14, 3, 10, 31, 250, tzinfo=timezone(timedelta(hours=-6)))
    store.set_watermark("xurrent", offset, "people")
    store.set_watermark("xurrent", datetime(2026, 1, 1, 8, 0), "org_contacts:7")  # naive = UTC

    people = store.get_watermark("xurrent", "people")
    assert people == offset
    assert people is not None
    assert people.utcoffset() == timedelta(0)
    assert people.hour == 9
    assert people.microsecond == 250
    assert store.watermarks("xurrent") == {
        "people": offset,
        "org_contacts:7": datetime(2026, 1, 1, 8, 0, tzinfo=UTC),
    }
    assert store.get_watermark("xurrent") is None


# --- records and crosswalk -----------------------------------------------------------


def test_upsert_record_reports_changes_and_keeps_links(store: StateStore) -> None:
    person = store.create_person()
    contact = Contact(first_name="Ann", last_name="Lee", emails=[{"address": "Ann@Example.com"}])
    first = store.upsert_record(
        "growcrm",
        "42",
        hash=contact.content_hash(),
        payload=contact,
        source_updated_at=datetime(2026, 2, 1, tzinfo=UTC),
        person_id=person,
        raw={"id": 42},
    )
    again = store.upsert_record("growcrm", "42", hash=contact.content_hash(), payload=contact)
    changed = store.upsert_record("growcrm", "42", hash="other", payload={"first_name": "An"})
    assert (first, again, changed) == (
        RecordChange.CREATED,
        RecordChange.UNCHANGED,
        RecordChange.CHANGED,
    )
    record = store.get_record("growcrm", "42")
    assert record is not None
    assert record.person_id == person  # person_id=None kept the link
    assert record.payload == {"first_name": "An"}
    assert store.person_for("growcrm", "42") == person
    assert store.person_for("growcrm", "43") is None


def test_stored_contact_payload_round_trips(store: StateStore) -> None:
    contact = Contact(first_name="Ann", phones=[{"number": "(404) 555-5555"}])
    store.upsert_record("trackops", "7", hash=contact.content_hash(), payload=contact)
    record = store.get_record("trackops", "7")
    assert record is not None
    assert Contact.model_validate(record.payload) == contact


def test_deleted_records_leave_hashes_and_come_back_when_seen(store: StateStore) -> None:
    person = store.create_person()
    for external_id in ("a", "b"):
        store.upsert_record(
            "pylon", external_id, hash=f"h-{external_id}", payload={}, person_id=person
        )
    assert store.mark_deleted("pylon", "a", T0) is True
    assert store.mark_deleted("pylon", "a", T0) is False
    assert store.mark_deleted("pylon", "never", T0) is False
    assert store.record_hashes("pylon") == {"b": "h-b"}
    assert [r.external_id for r in store.records_for_person(person)] == ["b"]
    assert len(store.records_for_person(person, include_deleted=True)) == 2
    deleted = store.get_record("pylon", "a")
    assert deleted is not None
    assert deleted.deleted_at == T0

    store.upsert_record("pylon", "a", hash="h-a2", payload={})
    assert store.record_hashes("pylon") == {"a": "h-a2", "b": "h-b"}


def test_link_needs_a_staged_record(store: StateStore) -> None:
    person = store.create_person()
    with pytest.raises(StateError, match="pylon record 'x': not staged"):
        store.link("pylon", "x", person)


def test_iter_records_reads_page_by_page(store: StateStore) -> None:
    with store.transaction():
        for n in range(1100):
            store.upsert_record("rhythm", f"r{n:05d}", hash=str(n), payload={"n": n})
        store.upsert_record("pylon", "only", hash="p", payload={})
    rhythm = store.iter_records("rhythm")
    assert next(rhythm).external_id == "r00000"
    # Rows staged after iteration began still show up: nothing was loaded up front.
    store.upsert_record("rhythm", "r99999", hash="late", payload={})
    rest = [record.external_id for record in rhythm]
    assert len(rest) == 1100
    assert rest[-1] == "r99999"
    assert rest == sorted(rest)
    assert sum(1 for _ in store.iter_records()) == 1102


# --- pushed and quarantine -----------------------------------------------------------


def test_pushed_hashes(store: StateStore) -> None:
    assert store.pushed_hash("pylon", "c1") is None
    store.remember_push("pylon", "c1", "h1")
    store.remember_push("pylon", "c1", "h2")
    store.remember_push("growcrm", "c1", "g1")
    assert store.pushed_hash("pylon", "c1") == "h2"
    assert store.pushed_hashes("pylon") == {"c1": "h2"}


def test_quarantine_lifecycle(store: StateStore, clock: FakeClock) -> None:
    bad = {"id": "9", "email": "not-an-email"}
    store.quarantine("growcrm", "9", "emails[0].address: invalid email", bad)
    clock.advance(minutes=5)
    entry = store.quarantine("growcrm", "9", "emails[0].address: invalid email", bad)
    assert entry.first_seen == T0
    assert entry.last_seen == T0 + timedelta(minutes=5)
    assert store.is_same_quarantined("growcrm", "9", raw_hash(bad))
    assert not store.is_same_quarantined("growcrm", "9", raw_hash({**bad, "email": "x@y.com"}))
    assert [q.external_id for q in store.list_quarantine("growcrm")] == ["9"]
    assert store.list_quarantine("pylon") == []

    store.upsert_record("growcrm", "9", hash="fixed", payload={"first_name": "Bo"})
    assert store.list_quarantine() == []
    assert not store.is_same_quarantined("growcrm", "9", raw_hash(bad))
    store.quarantine("growcrm", "9", "again", bad)
    assert store.clear_quarantine("growcrm", "9") is True
    assert store.clear_quarantine("growcrm", "9") is False


# --- persons, merges, splits ---------------------------------------------------------


def test_person_ids_sort_by_creation_time() -> None:
    earlier = new_person_id(T0)
    later = new_person_id(T0 + timedelta(milliseconds=1))
    same_ms = [new_person_id(T0 + timedelta(seconds=5)) for _ in range(50)]
    assert earlier < later < same_ms[0]
    assert same_ms == sorted(same_ms)
    assert len(set(same_ms)) == 50
    assert earlier.startswith("p_")
    assert len(earlier) == 28


def test_save_and_iterate_persons(store: StateStore) -> None:
    first = store.create_person({"first_name": "Ann"}, {"first_name": {"system": "pylon"}})
    store.save_person(first, Contact(first_name="Anne"), {"first_name": {"system": "growcrm"}})
    person = store.get_person(first)
    assert person is not None
    assert person.golden["first_name"] == "Anne"
    assert person.provenance == {"first_name": {"system": "growcrm"}}
    second = store.create_person()
    assert [p.person_id for p in store.iter_persons()] == sorted([first, second])
    with pytest.raises(StateError, match="already exists"):
        store.create_person(person_id=first)


def test_merge_keeps_the_older_id_and_repoints(store: StateStore) -> None:
    older = store.create_person()
    newer = store.create_person()
    store.upsert_record("pylon", "p1", hash="1", payload={}, person_id=older)
    store.upsert_record("growcrm", "g1", hash="2", payload={}, person_id=newer)
    store.upsert_record("rhythm", "r1", hash="3", payload={}, person_id=newer)
    queued = Action(kind=ActionKind.CREATE, system="xurrent", person_id=newer)
    store.enqueue([queued], "r1")
    store.mark_unholdable("trackops", newer, "no client location")

    survivor = store.merge_persons(newer, older)  # argument order does not matter

    assert survivor == older
    assert store.person_for("growcrm", "g1") == older
    assert store.person_for("rhythm", "r1") == older
    assert store.records_for_person(newer) == []
    absorbed = store.get_person(newer)
    assert absorbed is not None
    assert absorbed.merged_into == older
    assert store.resolve_person(newer) == older
    assert [p.person_id for p in store.iter_persons()] == [older]
    assert [e.status for e in store.list_actions("skipped")] == [OutboxStatus.SKIPPED]
    assert not store.is_unholdable("trackops", newer)
    (event,) = [e for e in store.person_events(older) if e.kind is PersonEventKind.MERGE]
    assert (event.person_id, event.other_person_id) == (older, newer)
    assert event.detail["records"] == [["growcrm", "g1"], ["rhythm", "r1"]]
    assert store.merge_persons(older, newer) == older  # already one person


def test_writes_for_a_merged_person_go_to_the_survivor(store: StateStore) -> None:
    older, newer = store.create_person(), store.create_person()
    store.enqueue([Action(kind=ActionKind.CREATE, system="pylon", person_id=newer)], "r1")
    (entry,) = store.pending_actions()
    store.merge_persons(older, newer)
    store.upsert_record("growcrm", "g1", hash="h", payload={}, person_id=newer)
    assert store.person_for("growcrm", "g1") == older
    skipped = store.get_action(entry.id)
    assert skipped is not None
    assert skipped.status is OutboxStatus.SKIPPED
    # A loader that had already sent the create must still be able to record it.
    store.complete_create(entry.id, "pylon", "c-new", newer, "h-new")
    assert store.person_for("pylon", "c-new") == older


def test_merge_unknown_person_is_refused(store: StateStore) -> None:
    known = store.create_person()
    with pytest.raises(StateError, match="'p_nobody' does not exist"):
        store.merge_persons(known, "p_nobody")


def test_split_record_starts_a_new_person(store: StateStore) -> None:
    person = store.create_person()
    store.upsert_record("pylon", "a", hash="1", payload={}, person_id=person)
    store.upsert_record("pylon", "b", hash="2", payload={}, person_id=person)
    new = store.split_record("pylon", "b")
    assert new != person
    assert new > person
    assert store.person_for("pylon", "b") == new
    assert store.person_for("pylon", "a") == person
    split = [e for e in store.person_events(person) if e.kind is PersonEventKind.SPLIT]
    assert [(e.person_id, e.other_person_id) for e in split] == [(new, person)]
    with pytest.raises(StateError, match="not linked"):
        store.split_record("pylon", "unknown")


def test_unholdable_is_reported_once(store: StateStore) -> None:
    person = store.create_person()
    assert store.mark_unholdable("growcrm", person, "no email") is True
    assert store.mark_unholdable("growcrm", person, "no email") is False
    assert store.is_unholdable("growcrm", person)
    assert [u.reason for u in store.list_unholdable("growcrm")] == ["no email"]
    assert store.clear_unholdable("growcrm", person) is True
    assert not store.is_unholdable("growcrm", person)


# --- outbox --------------------------------------------------------------------------


def test_enqueue_is_idempotent_by_action_key(store: StateStore) -> None:
    person = store.create_person()
    create = Action(kind=ActionKind.CREATE, system="growcrm", person_id=person, payload={"a": 1})
    update = update_action("c1", person, "a@example.com")
    assert store.enqueue([create, update], "run-1") == 2
    assert store.enqueue([create, update], "run-1") == 0
    assert store.enqueue([create.model_copy(update={"payload": {"a": 2}})], "run-2") == 0
    assert store.enqueue([update_action("c1", person, "b@example.com")], "run-2") == 1
    pending = store.pending_actions()
    assert [e.key for e in pending] == [create.key, update.key, pending[2].key]
    assert pending[1].action == update
    assert store.pending_actions("growcrm")[0].action.kind is ActionKind.CREATE
    assert store.counts_by_status("pylon") == {
        "pending": 2,
        "in_flight": 0,
        "done": 0,
        "failed": 0,
        "skipped": 0,
    }


def test_failed_actions_are_rearmed_but_done_creates_never(store: StateStore) -> None:
    person = store.create_person()
    create = Action(kind=ActionKind.CREATE, system="growcrm", person_id=person)
    update = update_action("c1", person, "a@example.com")
    store.enqueue([create, update], "run-1")
    create_id, update_id = (e.id for e in store.pending_actions())
    assert store.mark_in_flight(update_id) is True
    assert store.mark_in_flight(update_id) is False  # already claimed
    store.fail(update_id, "HTTP 503 from pylon")
    failed = store.get_action(update_id)
    assert failed is not None
    assert failed.last_error == "HTTP 503 from pylon"
    assert failed.attempts == 1
    store.mark_in_flight(create_id)
    store.complete_create(create_id, "growcrm", "g-9", person, "hash-g9")

    assert store.enqueue([create, update], "run-2") == 1
    assert [e.id for e in store.pending_actions()] == [update_id]
    done = store.get_action(create_id)
    assert done is not None
    assert done.status is OutboxStatus.DONE


def test_a_done_update_is_repeated_only_after_being_overwritten(
    store: StateStore, clock: FakeClock
) -> None:
    person = store.create_person()
    store.upsert_record("pylon", "c1", hash="h0", payload={}, person_id=person)
    to_a, to_b = update_action("c1", person, "a@x.com"), update_action("c1", person, "b@x.com")

    def run(action: Action, run_id: str) -> int:
        queued = store.enqueue([action], run_id)
        for entry in store.pending_actions():
            store.mark_in_flight(entry.id)
            store.complete(entry.id, pushed_hash=entry.key)
        clock.advance(seconds=1)
        return queued

    assert run(to_a, "run-1") == 1
    assert run(to_a, "run-2") == 0  # already written, nothing in between
    assert run(to_b, "run-3") == 1
    assert run(to_a, "run-4") == 1  # A was overwritten by B: writing A again is real work
    assert store.pushed_hash("pylon", "c1") == to_a.key


def test_a_done_update_is_repeated_after_a_users_edit_overwrote_it(
    store: StateStore, clock: FakeClock
) -> None:
    # Seen in bench/edits.py: we wrote A, a user there wrote B, a newer edit elsewhere
    # said A again. The plan's update to A had the key of the done one and was dropped:
    # the newer edit never reached that system.
    person = store.create_person()
    store.upsert_record("rhythm", "r1", hash="h0", payload={}, person_id=person)
    to_a = update_action("r1", person, "a@x.com").model_copy(update={"system": "rhythm"})
    store.enqueue([to_a], "run-1")
    (entry,) = store.pending_actions()
    store.mark_in_flight(entry.id)
    store.complete(entry.id, pushed_hash="h-a")
    clock.advance(seconds=1)
    assert store.enqueue([to_a], "run-2") == 0  # nothing happened there since
    store.upsert_record("rhythm", "r1", hash="h-b", payload={"b": 1})  # the user's B
    clock.advance(seconds=1)
    assert store.enqueue([to_a], "run-3") == 1


def test_complete_create_is_one_transaction(store: StateStore, db_path: Path) -> None:
    person = store.create_person()
    create = Action(kind=ActionKind.CREATE, system="growcrm", person_id=person, payload={"x": 1})
    store.enqueue([create], "run-1")
    (entry,) = store.pending_actions()
    store.mark_in_flight(entry.id)

    conn = raw_connection(db_path)
    conn.execute(
        "CREATE TRIGGER fail_done BEFORE UPDATE OF status ON outbox WHEN NEW.status = 'done' "
        "BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
    )
    with pytest.raises(StateError, match="disk on fire"):
        store.complete_create(entry.id, "growcrm", "g-1", person, "pushed-1")
    assert store.get_record("growcrm", "g-1") is None
    assert store.pushed_hash("growcrm", "g-1") is None
    still = store.get_action(entry.id)
    assert still is not None
    assert still.status is OutboxStatus.IN_FLIGHT

    conn.execute("DROP TRIGGER fail_done")
    conn.close()
    store.complete_create(entry.id, "growcrm", "g-1", person, "pushed-1")
    record = store.get_record("growcrm", "g-1")
    assert record is not None
    assert (record.person_id, record.hash, record.payload) == (person, "pushed-1", {"x": 1})
    assert store.pushed_hash("growcrm", "g-1") == "pushed-1"
    done = store.get_action(entry.id)
    assert done is not None
    assert done.status is OutboxStatus.DONE
    assert done.action.external_id == "g-1"
    with pytest.raises(StateError, match="already done"):
        store.complete_create(entry.id, "growcrm", "g-1", person, "pushed-1")


def test_complete_create_refuses_a_mismatch(store: StateStore) -> None:
    person, other = store.create_person(), store.create_person()
    store.enqueue([Action(kind=ActionKind.CREATE, system="growcrm", person_id=person)], "r")
    (entry,) = store.pending_actions()
    with pytest.raises(StateError, match="completes via complete_create"):
        store.complete(entry.id, pushed_hash="h")
    with pytest.raises(StateError, match="not pylon"):
        store.complete_create(entry.id, "pylon", "x", person, "h")
    store.upsert_record("growcrm", "taken", hash="h", payload={}, person_id=other)
    with pytest.raises(StateError, match="already belongs"):
        store.complete_create(entry.id, "growcrm", "taken", person, "h")
    assert store.pushed_hashes("growcrm") == {}
    assert store.pending_actions()[0].status is OutboxStatus.PENDING


def test_completing_a_delete_marks_the_record_deleted(store: StateStore) -> None:
    person = store.create_person()
    store.upsert_record("rhythm", "r1", hash="h", payload={}, person_id=person)
    delete = Action(kind=ActionKind.DELETE, system="rhythm", person_id=person, external_id="r1")
    store.enqueue([delete], "run-1")
    (entry,) = store.pending_actions()
    with pytest.raises(StateError, match="is a delete, not a create"):
        store.complete_create(entry.id, "rhythm", "r1", person, "h")
    store.complete(entry.id)
    record = store.get_record("rhythm", "r1")
    assert record is not None
    assert record.deleted
    with pytest.raises(StateError, match="already done"):
        store.fail(entry.id, "late failure")


# --- runs, review, lease, status -----------------------------------------------------


def test_runs_and_last_run_per_system(store: StateStore, clock: FakeClock) -> None:
    everything = store.start_run("backfill")
    clock.advance(minutes=1)
    pylon_only = store.start_run("sync", ["pylon"])
    summary = RunSummary(run_id=pylon_only, status="partial")
    store.finish_run(pylon_only, "partial", summary)

    last_pylon = store.last_run("pylon")
    assert last_pylon is not None
    assert last_pylon.run_id == pylon_only
    assert last_pylon.status is RunStatus.PARTIAL
    assert last_pylon.summary is not None
    assert last_pylon.summary["status"] == "partial"
    last_grow = store.last_run("growcrm")
    assert last_grow is not None
    assert last_grow.run_id == everything
    assert last_grow.status is RunStatus.RUNNING
    assert [r.run_id for r in store.list_runs()] == [pylon_only, everything]
    with pytest.raises(ValueError):
        store.start_run("nonsense")
    with pytest.raises(StateError, match="no such run"):
        store.finish_run("r_missing", "ok")


def test_review_queue_has_one_open_review_per_pair(store: StateStore) -> None:
    first = store.add_review("pylon", "p1", "growcrm", "g1", 0.7, {"name": 0.9})
    again = store.add_review("growcrm", "g1", "pylon", "p1", 0.8, {"name": 0.95})
    assert again.id == first.id
    assert again.score == 0.8
    assert (again.left_system, again.right_system) == ("growcrm", "pylon")
    assert [r.id for r in store.list_review()] == [first.id]

    dismissed = store.decide_review(first.id, "dismissed")
    assert dismissed.status is ReviewStatus.DISMISSED
    assert dismissed.decided_at == T0
    assert store.add_review("pylon", "p1", "growcrm", "g1", 0.9).id == first.id
    assert store.list_review() == []

    other = store.add_review("pylon", "p2", "rhythm", "r2", 0.6)
    store.decide_review(other.id, ReviewStatus.MERGED)
    reopened = store.add_review("pylon", "p2", "rhythm", "r2", 0.6)
    assert reopened.id != other.id
    assert reopened.status is ReviewStatus.OPEN
    with pytest.raises(StateError, match="no such review"):
        store.decide_review(9999, "split")


def test_lease_is_exclusive_until_it_expires(store: StateStore) -> None:
    ttl = timedelta(minutes=5)
    assert store.acquire_lease("scheduler", "host-a:1", ttl, now=T0)
    assert not store.acquire_lease("scheduler", "host-b:2", ttl, now=T0 + timedelta(minutes=4))
    assert store.lease_holder("scheduler", now=T0) == ("host-a:1", T0 + ttl)
    assert not store.renew_lease("scheduler", "host-b:2", ttl, now=T0)
    assert store.renew_lease("scheduler", "host-a:1", ttl, now=T0 + timedelta(minutes=3))
    assert not store.acquire_lease("scheduler", "host-b:2", ttl, now=T0 + timedelta(minutes=7))

    later = T0 + timedelta(minutes=9)
    assert store.lease_holder("scheduler", now=later) is None
    assert store.acquire_lease("scheduler", "host-b:2", ttl, now=later)
    assert not store.release_lease("scheduler", "host-a:1")
    assert store.release_lease("scheduler", "host-b:2")
    assert store.lease_holder("scheduler", now=later) is None


def test_lease_is_shared_between_two_openers(db_path: Path) -> None:
    with StateStore.open(db_path) as one, StateStore.open(db_path) as two:
        assert one.acquire_lease("scheduler", "a:1", timedelta(minutes=1), now=T0)
        assert not two.acquire_lease("scheduler", "b:2", timedelta(minutes=1), now=T0)


def test_status_counts(store: StateStore) -> None:
    person, other = store.create_person(), store.create_person()
    store.upsert_record("pylon", "a", hash="1", payload={}, person_id=person)
    store.upsert_record("pylon", "b", hash="2", payload={}, person_id=other)
    store.mark_deleted("pylon", "b")
    store.quarantine("pylon", "c", "no name", {"id": "c"})
    store.enqueue([update_action("a", person, "x@example.com")], "run-1")
    store.set_watermark("pylon", T0)
    run = store.start_run("sync", ["pylon"])
    store.finish_run(run, "ok", {})
    store.start_run("plan", ["pylon"])  # a plan writes nothing: not the last pass
    store.start_run("sync", ["pylon"])  # still running: not finished
    store.add_review("pylon", "a", "growcrm", "g", 0.5)
    store.merge_persons(person, other)

    report = store.status_counts()
    pylon = report.systems["pylon"]
    assert (pylon.records, pylon.deleted, pylon.quarantined) == (1, 1, 1)
    assert (pylon.outbox_pending, pylon.outbox_failed) == (1, 0)
    assert pylon.watermarks == {"default": T0}
    assert pylon.last_run is not None
    assert pylon.last_run.run_id == run
    assert report.systems["growcrm"].records == 0
    assert report.systems["growcrm"].last_run is None
    assert (report.persons_total, report.persons_merged, report.review_open) == (1, 1, 1)


def test_runs_left_running_are_closed_as_interrupted_by_a_later_run(store: StateStore) -> None:
    dead = store.start_run("backfill", ["pylon"])
    finished = store.start_run("sync")
    store.finish_run(finished, "ok")
    current = store.start_run("sync")
    assert store.close_interrupted_runs(current) == [dead]
    runs = {run.run_id: run.status for run in store.list_runs()}
    assert runs == {dead: RunStatus.INTERRUPTED, finished: RunStatus.OK, current: "running"}
    assert store.close_interrupted_runs(current) == [], "closed twice"


def _open_when_released(path: str, start: object) -> str:
    start.wait()  # type: ignore[attr-defined]
    try:
        StateStore.open(path).close()
    except Exception as exc:  # reported to the parent, which asserts there is none
        return f"{type(exc).__name__}: {exc}"
    return "ok"


def test_processes_creating_one_new_state_together_all_open_it(tmp_path: Path) -> None:
    # A state created in place is a zero-byte file for a moment: a second process
    # opening it then refused it as empty (two one-shot syncs started together).
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        for attempt in range(3):
            path = str(tmp_path / f"race{attempt}.sqlite")
            start = manager.Event()
            with context.Pool(4) as pool:
                pending = [pool.apply_async(_open_when_released, (path, start)) for _ in range(4)]
                start.set()
                outcomes = [result.get(timeout=60) for result in pending]
            assert outcomes == ["ok"] * 4
            assert not [p for p in tmp_path.iterdir() if p.name.startswith(".race")]
