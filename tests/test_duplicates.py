"""Duplicate records of one person in one system, as functions and state: the policy
per system (config), which record survives, what each policy plans, and what the state
keeps (listed once; a deleted duplicate settled). End to end: tests/reliability/
test_duplicates.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from contactsync.config.settings import ConfigError, load_settings
from contactsync.engine.duplicates import resolve_duplicates, survivor_first
from contactsync.engine.targets import TargetSystem
from contactsync.model.contact import ActionKind, Contact
from contactsync.state.sqlite.store import StateStore, StoredRecord
from tests.test_config import ENV, MINIMAL, write


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    with StateStore.open(tmp_path / "state.db") as opened:
        yield opened


def contact(email: str) -> dict[str, Any]:
    return Contact(first_name="Ada", last_name="Byron", emails=[{"address": email}]).model_dump(
        mode="json"
    )


def two_records(store: StateStore, system: str = "pylon") -> tuple[str, list[StoredRecord]]:
    """One person with records a (ada@old.example) and b (ada@new.example) in ``system``."""
    person = store.create_person()
    for external_id, email in (("a", "ada@old.example"), ("b", "ada@new.example")):
        store.upsert_record(
            system, external_id, hash=external_id, payload=contact(email), person_id=person
        )
    return person, store.records_for_person(person, include_deleted=True)


def target(policy: str, *, deletes: bool = True, writable: bool = True) -> TargetSystem:
    return TargetSystem(
        system="pylon",
        outbound=lambda c: {},
        writable=writable,
        deletes_propagate=deletes,
        duplicates=policy,  # type: ignore[arg-type]
    )


GOLDEN = Contact.model_validate(contact("ada@new.example"))


def test_the_default_is_mark_and_a_wrong_value_names_its_line(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, MINIMAL), env=ENV)
    assert settings.system("pylon").duplicates == "mark"
    text = MINIMAL.replace("[systems.pylon]\n", '[systems.pylon]\nduplicates = "delete"\n')
    path = write(tmp_path, text, "wrong.toml")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env=ENV)
    line = text.splitlines().index('duplicates = "delete"') + 1
    assert str(caught.value).startswith(f"{path}:{line}: systems.pylon.duplicates:")


def test_the_survivor_of_a_merge_holds_the_golden_primary_email(store: StateStore) -> None:
    _, records = two_records(store)
    assert [r.external_id for r in survivor_first(records, GOLDEN, "merge")] == ["b", "a"]
    other = Contact.model_validate(contact("nobody@else.example"))
    assert [r.external_id for r in survivor_first(records, other, "merge")] == ["a", "b"]
    # both stay: contactsync keeps writing to the record it wrote to before
    assert [r.external_id for r in survivor_first(records, GOLDEN, "mark")] == ["a", "b"]


def test_mark_lists_the_other_record_once_and_plans_no_delete(store: StateStore) -> None:
    person, records = two_records(store)
    assert resolve_duplicates(store, person, records, [target("mark")], GOLDEN) == []
    assert resolve_duplicates(store, person, records, [target("mark")], GOLDEN) == []
    (entry,) = store.list_duplicates()
    assert (entry.external_id, entry.survivor_id, entry.policy, entry.status) == (
        "b",
        "a",
        "mark",
        "listed",
    )
    assert not store.note_duplicate("pylon", "b", person, "a", "mark")  # reported once


def test_merge_plans_the_delete_where_the_api_allows(store: StateStore) -> None:
    person, records = two_records(store)
    (action,) = resolve_duplicates(store, person, records, [target("merge")], GOLDEN)
    assert (action.kind, action.system, action.external_id) == (ActionKind.DELETE, "pylon", "a")
    assert store.list_duplicates()[0].policy == "merge"


def test_merge_without_a_delete_api_falls_back_to_mark(store: StateStore) -> None:
    person, records = two_records(store)
    assert (
        resolve_duplicates(store, person, records, [target("merge", deletes=False)], GOLDEN) == []
    )
    assert [e.policy for e in store.list_duplicates()] == ["mark"]


@pytest.mark.parametrize("chosen", [target("keep"), target("merge", writable=False)])
def test_keep_and_a_read_only_system_leave_both_unlisted(
    store: StateStore, chosen: TargetSystem
) -> None:
    person, records = two_records(store)
    assert resolve_duplicates(store, person, records, [chosen], GOLDEN) == []
    assert store.list_duplicates() == []


def test_a_deleted_duplicate_is_settled_and_its_survivor_planned_again(
    store: StateStore,
) -> None:
    person, records = two_records(store)
    resolve_duplicates(store, person, records, [target("merge")], GOLDEN)
    store.mark_planned([("pylon", "a"), ("pylon", "b")])
    assert store.duplicate_deleted("pylon", "a")
    gone = store.get_record("pylon", "a")
    assert gone is not None
    assert gone.deleted
    assert gone.person_id == person  # still linked: the golden record keeps its values
    assert store.is_deleted_duplicate("pylon", "a")
    assert store.unplanned_keys() == [("pylon", "b")]  # the survivor's update comes next
    assert store.list_duplicates()[0].status == "deleted"
    assert not store.duplicate_deleted("pylon", "b")  # not a duplicate: nothing settled


def test_a_pair_parted_again_is_no_longer_listed(store: StateStore) -> None:
    person, records = two_records(store)
    resolve_duplicates(store, person, records, [target("mark")], GOLDEN)
    assert len(store.list_duplicates()) == 1
    store.split_record("pylon", "b")  # a persons split or review undo: two persons again
    assert store.list_duplicates() == []
