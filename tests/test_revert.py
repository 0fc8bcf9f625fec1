"""``plan_revert``: which writes restore what a run changed, and what it leaves (why)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from contactsync.engine.revert import is_revert, plan_revert, staging_of, unflatten
from contactsync.model.contact import Action, ActionKind, Contact, FieldChange
from contactsync.state.sqlite.store import StateStore
from tests.state_contract import stage_person


def outbound(contact: Contact) -> dict[str, Any]:
    """A vendor with a title and a nested name (the shape the changes are in)."""
    return {"title": contact.job_title, "name": {"last": contact.last_name}}


def staged(store: StateStore, external_id: str, **fields: Any) -> str:
    contact = Contact.model_validate({"first_name": "Ann", **fields})
    return stage_person(store, "trackops", external_id, contact)


def done(store: StateStore, run_id: str, action: Action) -> None:
    store.enqueue([action], run_id)
    (entry,) = [e for e in store.pending_actions() if e.key == action.key]
    assert store.mark_in_flight(entry.id)
    if action.kind is ActionKind.CREATE:
        store.complete_create(entry.id, action.system, "new-1", action.person_id, "h")
    else:
        store.complete(entry.id)


def update(person: str, external_id: str, *changes: tuple[str, Any, Any]) -> Action:
    return Action(
        kind=ActionKind.UPDATE, system="trackops", person_id=person, external_id=external_id,
        changes=[FieldChange(field=f, before=b, after=a) for f, b, a in changes],
        payload=unflatten((f, a) for f, _, a in changes),
    )  # fmt: skip


def test_each_kind_of_write_is_restored_or_said_why_not(tmp_path: Path) -> None:
    with StateStore.open(tmp_path / "s.sqlite") as store:
        run_id = store.start_run("sync")
        # the run wrote title and last name; a user changed the last name since
        kept = staged(store, "7", job_title="Pilot", last_name="Lee-Smith")
        done(
            store,
            run_id,
            update(kept, "7", ("title", "Clerk", "Pilot"), ("name.last", "Li", "Lee")),
        )
        gone = staged(store, "8", job_title="Pilot")
        done(store, run_id, update(gone, "8", ("title", "Clerk", "Pilot")))
        store.mark_deleted("trackops", "8")
        created = store.create_person()
        done(store, run_id, Action(kind=ActionKind.CREATE, system="pylon", person_id=created,
                                   payload={"name": "Ann"}))  # fmt: skip
        removed = staged(store, "9")
        done(store, run_id, Action(kind=ActionKind.DELETE, system="trackops", person_id=removed,
                                   external_id="9"))  # fmt: skip
        other_run = store.start_run("sync")
        done(store, other_run, update(kept, "7", ("title", "Pilot", "Pilot II")))

        plan = plan_revert(store, run_id, {"trackops": outbound, "pylon": outbound})

    by_record = {(a.system, a.external_id): a for a in plan.actions}
    assert set(by_record) == {("trackops", "7"), ("pylon", "new-1")}
    restored = by_record[("trackops", "7")]
    assert restored.kind is ActionKind.UPDATE
    assert restored.payload == {"title": "Clerk"}  # the last name was changed since
    assert by_record[("pylon", "new-1")].kind is ActionKind.DELETE
    assert plan.queue_as == f"revert:{run_id}"
    assert plan.notes == [
        "trackops record 9: deleted by the run; a deleted record cannot be restored",
        "trackops record 8: no longer there; nothing to restore",
        "trackops record 7: name.last changed since the run; left as it is",
    ]


def test_a_create_in_a_system_whose_deletes_propagate_is_not_deleted(tmp_path: Path) -> None:
    with StateStore.open(tmp_path / "s.sqlite") as store:
        run_id = store.start_run("backfill")
        person = store.create_person()
        done(store, run_id, Action(kind=ActionKind.CREATE, system="pylon", person_id=person,
                                   payload={"name": "Ann"}))  # fmt: skip
        plan = plan_revert(store, run_id, {"pylon": outbound}, frozenset({"pylon"}))
        store.enqueue(plan.actions, plan.queue_as)
        assert not plan.actions
        assert "deletes in pylon propagate" in plan.notes[0]


def test_revert_actions_are_told_apart_in_the_outbox(tmp_path: Path) -> None:
    with StateStore.open(tmp_path / "s.sqlite") as store:
        person = staged(store, "7", job_title="Pilot")
        store.enqueue([update(person, "7", ("title", "Pilot", "Clerk"))], "revert:r_1")
        store.enqueue([update(person, "7", ("title", "Clerk", "Pilot"))], "r_2")
        assert sorted(is_revert(e) for e in store.pending_actions()) == [False, True]


def test_a_revert_stages_only_what_it_restored_as_the_users_content(tmp_path: Path) -> None:
    with StateStore.open(tmp_path / "s.sqlite") as store:
        person = staged(store, "7", job_title="Pilot", emails=[{"address": "own@x.example"}])
        ours = Contact.model_validate({"first_name": "Ann", "job_title": "Pilot",
                                       "emails": [{"address": "ours@x.example"}]})  # fmt: skip
        store.upsert_record("trackops", "7", hash=ours.content_hash(),
                            payload=ours.model_dump(mode="json"), own_write=True)  # fmt: skip
        store.enqueue([update(person, "7", ("title", "Pilot", "Clerk"))], "revert:r_1")
        store.enqueue([update(person, "7", ("title", "Clerk", "Pilot"))], "r_2")
        revert, plain = sorted(store.pending_actions(), key=lambda e: not is_revert(e))
        answered = ours.model_copy(update={"job_title": "Clerk"}).model_dump(mode="json")
        assert staging_of(store, plain, answered) == {"own_write": True}
        staging = staging_of(store, revert, answered)
    assert staging["own_write"] is False
    assert staging["unplanned"] is True
    source = staging["source_payload"]
    assert source["job_title"] == "Clerk"  # what the revert restored: an operator's edit
    assert [e["address"] for e in source["emails"]] == ["own@x.example"]  # not our write


def test_unflatten_undoes_flatten() -> None:
    assert unflatten([("a.b", 1), ("a.c", 2), ("d", None)]) == {"a": {"b": 1, "c": 2}, "d": None}
