"""Conditional writes against the sandbox: a user's edit made after a sync planned an
update of that record, and before the update is sent, is never overwritten; the edit
wins and reaches the other systems.

The edit is injected deterministically between planning and loading (the engine's
load step is wrapped), through the vendors' own APIs, the way a user makes it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from contactsync.adapters.base import RawRecord, WriteResult
from contactsync.config.settings import DEFAULT_MAPPINGS_DIR, load_settings
from contactsync.engine.load import Loader
from contactsync.engine.stage import stage_records
from contactsync.engine.sync import Engine
from contactsync.http.errors import RecordError
from contactsync.mapping.mapper import load_mappings
from contactsync.model.contact import Action, ActionKind, FieldChange
from contactsync.model.run_summary import SystemCounts
from contactsync.state.sqlite.store import StateStore
from contactsync.wiring import open_engine
from contactsync_sandbox.common import SandboxOptions
from contactsync_sandbox.server import SandboxServer
from contactsync_sandbox.write_config import read_env_file, write_sandbox_config
from tests.fake_adapter import FakeAdapter

PEOPLE = 40
SEED = 11
#: where each system keeps a person's job title (read, and written by a user)
TITLE_FIELD = {"trackops": "title", "rhythm": "job_title", "xurrent": "job_title"}
EDITED = ("trackops", "rhythm")  # a feed-checked system and an atomically checked one


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    options = SandboxOptions(people=PEOPLE, seed=SEED, rate_limits="off")
    with SandboxServer(options, port_base=0) as server:
        config = tmp_path / "cond.toml"
        env = read_env_file(
            write_sandbox_config(config, server.urls, options, simulators=server.simulators)
        )
        engine = open_engine(load_settings(config, env=env), env)
        try:
            yield engine
        finally:
            engine.close()


def held_everywhere(engine: Engine) -> tuple[str, dict[str, str]]:
    """A person held in every system that has a title field, and their record ids."""
    by_person: dict[str, dict[str, str]] = {}
    for record in engine.state.iter_records():
        if record.person_id and not record.deleted and record.system in TITLE_FIELD:
            person = engine.state.resolve_person(record.person_id)
            by_person.setdefault(person, {})[record.system] = record.external_id
    for person, ids in sorted(by_person.items()):
        if ids.keys() == TITLE_FIELD.keys():
            return person, ids
    raise AssertionError("no person is held in every system")


def title_in(engine: Engine, system: str, external_id: str) -> Any:
    record = engine.adapters[system].read_record(external_id)
    return record.payload.get(TITLE_FIELD[system])


def user_sets_title(engine: Engine, system: str, external_id: str, title: str) -> None:
    """A user's edit through the vendor's API (the engine's adapter as a plain client)."""
    adapter = engine.adapters[system]
    current = adapter.read_record(external_id).payload
    adapter.update(external_id, {TITLE_FIELD[system]: title}, current=current)


def test_an_edit_between_plan_and_load_is_not_overwritten_and_propagates(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert engine.run("backfill").summary.status == "ok"
    engine.run("sync")
    person, ids = held_everywhere(engine)
    user_sets_title(engine, "xurrent", ids["xurrent"], "Head of Planning")
    time.sleep(1.1)  # the later edit carries a later vendor timestamp (seconds suffice)

    real_load = engine._load

    def edit_then_load(*args: Any, **kwargs: Any) -> None:
        # The plan is in the outbox (Xurrent's title on its way to the others); now, while
        # the sync writes, users change the same field in two of the target systems.
        for system in EDITED:
            user_sets_title(engine, system, ids[system], "Chief Listener")
        trackops = engine.adapters["trackops"]
        monkeypatch.setattr(trackops, "read_record", reads_counted(trackops.read_record))
        real_load(*args, **kwargs)

    reads: list[str] = []

    def reads_counted(read: Any) -> Any:
        def counted(external_id: str) -> RawRecord:
            reads.append(external_id)
            return read(external_id)

        return counted

    monkeypatch.setattr(engine, "_load", edit_then_load)
    engine.run("sync")
    monkeypatch.setattr(engine, "_load", real_load)
    assert reads == []  # Trackops: the edit was caught by the change feed, not a GET

    for system in EDITED:  # never overwritten with the older Xurrent value
        assert title_in(engine, system, ids[system]) == "Chief Listener", system
    refused = [
        entry
        for entry in engine.state.list_actions("skipped")
        if "changed since it was read" in (entry.last_error or "")
    ]
    assert {entry.action.system for entry in refused} == set(EDITED)

    engine.run("sync")  # whatever the first pass queued behind the other systems' loads
    for system, external_id in ids.items():
        assert title_in(engine, system, external_id) == "Chief Listener", system
    golden = engine.state.get_person(person)
    assert golden is not None
    assert golden.golden.get("job_title") == "Chief Listener"


# --- the loader's decision, against a stand-in vendor ------------------------------------

MAPPINGS = load_mappings(DEFAULT_MAPPINGS_DIR)
RECORD_ID = "7"


def grow_record(title: str) -> dict[str, Any]:
    return {
        "id": 7,
        "first_name": "Ann",
        "last_name": "Lee",
        "email": "ann@x.io",
        "job_position": title,
        "dates": {"updated": "2026-06-15T09:30:00.000000Z"},
    }


class OneRecordVendor(FakeAdapter):
    """Holds one Grow CRM record; records the updates it is sent."""

    system: ClassVar[str] = "growcrm"
    unique_fields: ClassVar[tuple[str, ...]] = ("email",)
    can_read_record: ClassVar[bool] = True
    stamp_fields: ClassVar[tuple[str, ...]] = ()

    def __init__(self, held: dict[str, Any]) -> None:
        super().__init__()
        self.held = held
        self.sent: list[tuple[dict[str, Any], dict[str, Any] | None]] = []

    def read_record(self, external_id: str) -> RawRecord:
        return RawRecord(external_id, dict(self.held), None)

    def update(
        self, external_id: str, payload: dict[str, Any], *, current: dict[str, Any] | None = None
    ) -> WriteResult:
        self.sent.append((payload, current))
        self.held["job_position"] = payload["position"]
        return WriteResult(external_id, dict(self.held))


@pytest.fixture
def loaded(tmp_path: Path) -> Iterator[tuple[StateStore, int, list[list[str]]]]:
    """A state holding the record as read (title "Clerk") and a queued update of its
    title to "Manager", planned against that read; and the replans asked for."""
    with StateStore.open(tmp_path / "state.sqlite") as state:
        change = FieldChange(field="position", before="Clerk", after="Manager")
        yield state, queue_update(state, [change], {"position": "Manager"}), []


def queue_update(state: StateStore, changes: list[FieldChange], payload: dict[str, Any]) -> int:
    """The Grow CRM record as read (title "Clerk"), linked to a new person, and an
    update of it planned against that read; the queued action's id."""
    person = state.create_person()
    read = [RawRecord(RECORD_ID, grow_record("Clerk"))]
    stage_records(state, "growcrm", read, MAPPINGS["growcrm"], "US")
    state.link("growcrm", RECORD_ID, person)
    action = Action(
        kind=ActionKind.UPDATE,
        system="growcrm",
        person_id=person,
        external_id=RECORD_ID,
        changes=changes,
        payload=payload,
    )
    state.enqueue([action], state.start_run("sync"))
    return state.pending_actions("growcrm")[0].id


def loader_for(state: StateStore, vendor: OneRecordVendor, replans: list[list[str]]) -> Loader:
    return Loader(
        state,
        vendor,
        MAPPINGS["growcrm"],
        "US",
        SystemCounts(),
        replan=lambda persons: replans.append(list(persons)),
    )


def test_an_unchanged_record_is_written_against_what_it_holds_now(
    loaded: tuple[StateStore, int, list[list[str]]],
) -> None:
    state, action_id, replans = loaded
    touched = {"dates": {"updated": "2026-06-16T08:00:00.000000Z"}}  # no field changed
    vendor = OneRecordVendor(grow_record("Clerk") | touched)
    loader_for(state, vendor, replans).run(concurrency=1)
    assert [payload for payload, _current in vendor.sent] == [{"position": "Manager"}]
    assert vendor.sent[0][1] == grow_record("Clerk") | touched  # as read now
    assert state.get_action(action_id).status == "done"  # type: ignore[union-attr]
    assert replans == []


def test_an_edit_of_a_field_the_write_leaves_alone_is_staged_not_absorbed(
    loaded: tuple[StateStore, int, list[list[str]]],
) -> None:
    """Sending the title would not undo the user's new phone, but keeping the answer as
    contactsync's own write would hide the phone from every later extract: it would
    never reach the other systems. So the record is staged and the person planned again."""
    state, action_id, replans = loaded
    vendor = OneRecordVendor(grow_record("Clerk") | {"phone": "+1 503 555 0100"})
    loader_for(state, vendor, replans).run(concurrency=1)
    assert vendor.sent == []
    assert state.get_action(action_id).status == "skipped"  # type: ignore[union-attr]
    stored = state.get_record("growcrm", RECORD_ID)
    assert stored is not None
    assert [p["number"] for p in stored.payload["phones"]] == ["+15035550100"]
    assert len(replans) == 1


def test_an_in_flight_update_that_landed_is_done_without_a_second_write(
    loaded: tuple[StateStore, int, list[list[str]]],
) -> None:
    state, action_id, replans = loaded
    state.mark_in_flight(action_id)  # sent, then the run died before the answer was kept
    vendor = OneRecordVendor(grow_record("Manager"))
    loader_for(state, vendor, replans).recover_interrupted()
    assert vendor.sent == []
    assert state.get_action(action_id).status == "done"  # type: ignore[union-attr]
    assert state.pushed_hash("growcrm", RECORD_ID)  # our write: its echo is recognised


def test_a_record_changed_since_the_plan_is_not_written_but_staged_and_replanned(
    loaded: tuple[StateStore, int, list[list[str]]],
) -> None:
    state, action_id, replans = loaded
    vendor = OneRecordVendor(grow_record("Owner"))  # a user's edit after the plan read it
    loader_for(state, vendor, replans).run(concurrency=1)
    assert vendor.sent == []
    entry = state.get_action(action_id)
    assert entry is not None
    assert entry.status == "skipped"
    assert "changed since it was read" in (entry.last_error or "")
    stored = state.get_record("growcrm", RECORD_ID)
    assert stored is not None
    assert stored.payload["job_title"] == "Owner"  # staged: a change of its own
    assert replans == [[state.resolve_person(entry.action.person_id)]]


def test_a_run_after_fifty_failed_creates_whose_lookups_crash_completes_and_reports(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert engine.run("backfill").summary.status == "ok"
    state = engine.state
    creates = []
    for index in range(50):
        person = state.create_person()
        creates.append(
            Action(
                kind=ActionKind.CREATE,
                system="growcrm",
                person_id=person,
                payload={
                    "first_name": "Lost",
                    "last_name": f"Create{index}",
                    "email": f"l{index}@x.io",
                },
            )
        )
    state.enqueue(creates, state.start_run("sync"))
    for entry in state.pending_actions("growcrm"):
        state.mark_in_flight(entry.id)
        state.fail(entry.id, "growcrm create contact: connection reset")
    lookups: list[str] = []

    def exploding_lookup(payload: dict[str, Any], person_id: str) -> str | None:
        lookups.append(person_id)
        raise RuntimeError("lookup answer unreadable")

    monkeypatch.setattr(engine.adapters["growcrm"], "find_existing", exploding_lookup)
    outcome = engine.run("sync")

    assert outcome.summary.status == "partial", outcome.errors  # finished, not "failed"
    assert not [error for error in outcome.errors if error.startswith("run failed")]
    failed = state.list_actions("failed", "growcrm")
    assert len(failed) == 50  # each reported on its own action, none lost
    assert all("lookup answer unreadable" in (entry.last_error or "") for entry in failed)
    assert len(lookups) >= 20  # looked up, and every crash of a lookup caught


class AtomicVendor(OneRecordVendor):
    """Tests what it overwrites (as Rhythm does): the write is refused only when the
    record differs from the ``current`` the loader sends it against."""

    conditional_updates = True

    def update_if_unchanged(
        self, external_id: str, payload: dict[str, Any], current: dict[str, Any]
    ) -> WriteResult:
        assert current == self.held, "the vendor's test would refuse this"
        return self.update(external_id, payload, current=current)


def test_a_stale_action_is_not_sent_to_a_vendor_that_tests_the_newer_record(
    loaded: tuple[StateStore, int, list[list[str]]],
) -> None:
    """The record was restaged since the plan (a user's new title, "Owner"): the vendor
    would test against that newer record and let the stale "Clerk -> Manager" through,
    undoing the edit. It is skipped and the person planned again instead."""
    state, action_id, replans = loaded
    newer = grow_record("Owner")
    stage_records(state, "growcrm", [RawRecord(RECORD_ID, newer)], MAPPINGS["growcrm"], "US")
    vendor = AtomicVendor(dict(newer))
    loader_for(state, vendor, replans).run(concurrency=1)
    assert vendor.sent == []
    assert state.get_action(action_id).status == "skipped"  # type: ignore[union-attr]
    assert len(replans) == 1


def test_an_action_still_as_planned_is_sent_to_a_vendor_that_tests(
    loaded: tuple[StateStore, int, list[list[str]]],
) -> None:
    state, action_id, replans = loaded
    vendor = AtomicVendor(grow_record("Clerk"))
    loader_for(state, vendor, replans).run(concurrency=1)
    assert [payload for payload, _ in vendor.sent] == [{"position": "Manager"}]
    assert state.get_action(action_id).status == "done"  # type: ignore[union-attr]
    assert replans == []


class RequiresEmail(OneRecordVendor):
    """Refuses a record without an email, and a write that would empty it (as Xurrent
    does with ``primary_email``)."""

    def cannot_hold(self, payload: dict[str, Any]) -> str | None:
        return None if payload.get("email") else "requires an email on every contact"

    def update(
        self, external_id: str, payload: dict[str, Any], *, current: dict[str, Any] | None = None
    ) -> WriteResult:
        if "email" in payload and not payload["email"]:
            raise RecordError(
                "required field(s) cannot be blank: email",
                system="growcrm",
                operation="update contact",
                record_id=external_id,
                fields=["email"],
            )
        return super().update(external_id, payload, current=current)


def test_a_write_that_would_empty_a_required_field_sends_the_rest(tmp_path: Path) -> None:
    """The person's last email was removed elsewhere, and the title changed: the title
    must not wait on an email this system requires."""
    with StateStore.open(tmp_path / "state.sqlite") as state:
        changes = [
            FieldChange(field="position", before="Clerk", after="Manager"),
            FieldChange(field="email", before="ann@x.io", after=None),
        ]
        queue_update(state, changes, {"position": "Manager", "email": None})
        vendor = RequiresEmail(grow_record("Clerk"))
        loader_for(state, vendor, []).run(concurrency=1)
        assert [payload for payload, _ in vendor.sent] == [{"position": "Manager"}]
        assert vendor.held["email"] == "ann@x.io"
        assert [r.field for r in state.list_field_refusals()] == ["email"]
