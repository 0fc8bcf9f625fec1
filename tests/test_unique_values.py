"""The planner skips a create the vendor would refuse because another person's record
in that system already holds a value the vendor keeps unique (a shared mailbox)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from contactsync.adapters.registry import adapter_class
from contactsync.engine.claims import (
    UniqueHolders,
    claim_names,
    claim_unique_values,
    names_by_system,
    unique_values_by_system,
)
from contactsync.engine.resolve import ResolveResult, link_records, plan_for_person
from contactsync.engine.stage import StagedRecord
from contactsync.engine.targets import TargetSystem
from contactsync.mapping.mapper import Mapping, load_mappings
from contactsync.model.contact import ActionKind, Contact
from contactsync.state.sqlite.store import StateStore

MAPPINGS = Path(__file__).resolve().parents[1] / "mappings"
UNIQUE_SYSTEMS = ("growcrm", "pylon", "xurrent")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    with StateStore.open(tmp_path / "state.db") as opened:
        yield opened


@pytest.fixture(scope="module")
def mappings() -> dict[str, Mapping]:
    return load_mappings(MAPPINGS)


def unique_fields() -> dict[str, tuple[str, ...]]:
    return {name: adapter_class(name).unique_fields for name in UNIQUE_SYSTEMS}


def stored(
    store: StateStore, system: str, external_id: str, raw: dict[str, Any], person_id: str | None
) -> None:
    store.upsert_record(
        system,
        external_id,
        hash=f"h-{system}-{external_id}",
        payload={"first_name": "Ann", "last_name": "Lee"},
        raw=raw,
    )
    if person_id is not None:
        store.link(system, external_id, person_id)


def person(email: str, first: str = "Ann", last: str = "Lee") -> Contact:
    return Contact.model_validate(
        {"first_name": first, "last_name": last, "emails": [{"address": email}]}
    )


def targets(mappings: dict[str, Mapping]) -> list[TargetSystem]:
    return [
        TargetSystem(
            system=name,  # type: ignore[arg-type]
            outbound=mappings[name].outbound,
            writable=True,
            required_for_create=adapter_class(name).required_for_create,
        )
        for name in UNIQUE_SYSTEMS
    ]


def test_the_vendors_that_keep_an_email_unique_declare_the_field_their_create_sends(
    mappings: dict[str, Mapping],
) -> None:
    assert adapter_class("growcrm").unique_fields == ("email",)
    assert adapter_class("xurrent").unique_fields == ("primary_email",)
    assert set(adapter_class("pylon").unique_fields) == {"email", "emails"}
    assert adapter_class("trackops").unique_fields == ()
    assert adapter_class("rhythm").unique_fields == ()
    golden = person("ann@example.com")
    for name in UNIQUE_SYSTEMS:
        payload = mappings[name].outbound(golden)
        sent = [f for f in adapter_class(name).unique_fields if f in payload]
        assert sent, f"{name}: the create payload carries none of {payload}"
        assert payload[sent[0]] == "ann@example.com"


def test_holders_are_read_per_system_from_live_linked_records_casefolded(
    store: StateStore,
) -> None:
    ann, bob, cy = store.create_person(), store.create_person(), store.create_person()
    stored(store, "growcrm", "11", {"id": 11, "email": " Shared@Example.COM "}, ann)
    stored(store, "growcrm", "12", {"id": 12, "email": "bob@example.com"}, bob)
    stored(store, "growcrm", "13", {"id": 13, "email": "gone@example.com"}, cy)
    store.mark_deleted("growcrm", "13")
    stored(store, "growcrm", "14", {"id": 14, "email": "loose@example.com"}, None)
    stored(store, "growcrm", "15", {"id": 15, "email": None}, cy)
    stored(store, "pylon", "p1", {"email": "a@x.io", "emails": ["a@x.io", "B@X.io"]}, cy)
    stored(store, "xurrent", "7", {"primary_email": "bob@example.com"}, bob)
    stored(store, "trackops", "t1", {"email": "ann@t.io"}, ann)

    held = unique_values_by_system(store, unique_fields())

    assert set(held) == set(UNIQUE_SYSTEMS)  # trackops keeps nothing unique
    assert held["growcrm"].holders == {
        "shared@example.com": (ann, "11"),
        "bob@example.com": (bob, "12"),
    }
    assert held["pylon"].holders == {"a@x.io": (cy, "p1"), "b@x.io": (cy, "p1")}
    assert held["xurrent"].holders == {"bob@example.com": (bob, "7")}
    assert unique_values_by_system(store, {}) == {}


def test_a_create_whose_unique_value_another_person_holds_is_not_planned(
    store: StateStore, mappings: dict[str, Mapping]
) -> None:
    holder, newcomer = store.create_person(), store.create_person()
    stored(store, "growcrm", "501", {"id": 501, "email": "Desk@Example.com"}, holder)
    stored(
        store, "pylon", "c-9", {"email": "x@y.io", "emails": ["x@y.io", "desk@example.com"]}, holder
    )
    stored(store, "xurrent", "1004", {"id": 1004, "primary_email": "DESK@example.com"}, holder)
    held = unique_values_by_system(store, unique_fields())

    actions, unholdable = plan_for_person(
        store,
        newcomer,
        person("desk@example.com", "Bo", "Ek"),
        targets(mappings),
        {},
        unique_held=held,
    )

    assert actions == []
    assert dict(unholdable) == {
        "growcrm": "another person's record (id 501) already holds email desk@example.com",
        "pylon": "another person's record (id c-9) already holds email desk@example.com",
        "xurrent": (
            "another person's record (id 1004) already holds primary_email desk@example.com"
        ),
    }


def test_without_a_holder_or_without_the_mapping_the_create_is_planned(
    store: StateStore, mappings: dict[str, Mapping]
) -> None:
    holder, newcomer = store.create_person(), store.create_person()
    stored(store, "growcrm", "501", {"id": 501, "email": "desk@example.com"}, holder)
    held = unique_values_by_system(store, unique_fields())
    golden = person("desk@example.com", "Bo", "Ek")

    today, unholdable = plan_for_person(store, newcomer, golden, targets(mappings), {})
    assert {a.system for a in today if a.kind is ActionKind.CREATE} == set(UNIQUE_SYSTEMS)
    assert unholdable == []

    free, unholdable = plan_for_person(
        store,
        newcomer,
        person("bo@example.com", "Bo", "Ek"),
        targets(mappings),
        {},
        unique_held=held,
    )
    assert {a.system for a in free if a.kind is ActionKind.CREATE} == set(UNIQUE_SYSTEMS)
    assert unholdable == []


def test_the_holder_itself_is_planned_as_usual(
    store: StateStore, mappings: dict[str, Mapping]
) -> None:
    holder = store.create_person()
    stored(store, "growcrm", "501", {"id": 501, "email": "desk@example.com"}, holder)
    held = unique_values_by_system(store, unique_fields())

    actions, unholdable = plan_for_person(
        store, holder, person("desk@example.com"), targets(mappings), {}, unique_held=held
    )

    assert unholdable == []
    assert {a.system for a in actions if a.kind is ActionKind.CREATE} == {"pylon", "xurrent"}


def test_a_value_claimed_by_a_create_planned_earlier_in_the_run_is_not_sent_twice(
    store: StateStore, mappings: dict[str, Mapping]
) -> None:
    first, second = store.create_person(), store.create_person()
    held = unique_values_by_system(store, unique_fields())
    assert all(not h.holders for h in held.values())

    planned, _ = plan_for_person(
        store, first, person("Desk@example.com"), targets(mappings), {}, unique_held=held
    )
    claim_unique_values(planned, held)
    later, unholdable = plan_for_person(
        store,
        second,
        person("desk@example.com", "Bo", "Ek"),
        targets(mappings),
        {},
        unique_held=held,
    )

    assert {a.system for a in planned} == set(UNIQUE_SYSTEMS)
    assert later == []
    assert dict(unholdable)["growcrm"] == (
        f"another person ({first}) is being created with email desk@example.com"
    )


def test_unique_values_of_a_payload_read_lists_and_skip_blanks() -> None:
    unique = UniqueHolders(("email", "emails"), {"b@x.io": ("p_other", "9")})
    assert unique.values_of({"email": " ", "emails": ["a@x.io", None, "B@x.io"]}) == [
        ("emails", "a@x.io"),
        ("emails", "B@x.io"),
    ]
    assert unique.refusal({"email": "a@x.io"}, "p_me") is None
    assert unique.refusal({"emails": ["B@X.IO "]}, "p_me") == (
        "another person's record (id 9) already holds emails B@X.IO"
    )
    assert unique.refusal({"email": "b@x.io"}, "p_other") is None


def test_only_a_create_reads_who_holds_names_and_unique_values(
    store: StateStore, mappings: dict[str, Mapping]
) -> None:
    """A sync of edits to people every system already holds reads no one else's names or
    unique values (its cost does not grow with the people stored); a create reads them
    for its own system only."""
    ann = store.create_person()
    other = store.create_person()
    stored(store, "growcrm", "501", {"id": 501, "email": "ann@example.com"}, ann)
    stored(store, "pylon", "c-1", {"email": "ann@example.com"}, ann)
    stored(store, "xurrent", "7", {"id": 7, "primary_email": "ann@example.com"}, ann)
    stored(store, "growcrm", "502", {"id": 502, "email": "desk@example.com"}, other)
    held = unique_values_by_system(store, unique_fields())
    names = names_by_system(store, UNIQUE_SYSTEMS)

    edits, _ = plan_for_person(
        store,
        ann,
        person("ann@example.com", "Ann", "Lea"),
        targets(mappings),
        names,
        unique_held=held,
    )
    claim_names(edits, person("ann@example.com", "Ann", "Lea"), names)
    claim_unique_values(edits, held)
    assert {a.kind for a in edits} == {ActionKind.UPDATE}
    assert held.read == []
    assert names.read == []

    newcomer = store.create_person()
    store.upsert_record(
        "pylon",
        "c-2",
        hash="h",
        payload={"first_name": "Bo", "last_name": "Ek"},
        raw={"email": "bo@example.com"},
        person_id=newcomer,
    )
    store.upsert_record(
        "xurrent",
        "8",
        hash="h",
        payload={"first_name": "Bo", "last_name": "Ek"},
        raw={"primary_email": "bo@example.com"},
        person_id=newcomer,
    )
    creates, _ = plan_for_person(
        store,
        newcomer,
        person("bo@example.com", "Bo", "Ek"),
        targets(mappings),
        names,
        unique_held=held,
    )
    assert [a.system for a in creates if a.kind is ActionKind.CREATE] == ["growcrm"]
    assert held.read == ["growcrm"]
    assert names.read == ["growcrm"]
    assert held["growcrm"].holders["desk@example.com"] == (other, "502")


@pytest.mark.parametrize("others", [0, 5])
def test_a_restaged_person_is_tried_again_where_it_was_unholdable(
    store: StateStore, others: int
) -> None:
    """Notes are read all at once when they are fewer than the staged records, else per
    person; either way a staged person's notes go (its data changed) and no one else's."""
    ann = store.create_person()
    stored(store, "pylon", "c-1", {"email": "ann@example.com"}, ann)
    store.mark_unholdable("xurrent", ann, "another person's record holds the email")
    bystanders = [store.create_person() for _ in range(others)]
    for person_id in bystanders:
        store.mark_unholdable("growcrm", person_id, "no email")
    result = ResolveResult()

    link_records(store, None, [StagedRecord("pylon", "c-1")], result)

    assert result.touched == {ann}
    assert store.unholdable_systems(ann) == []
    assert all(store.unholdable_systems(p) == ["growcrm"] for p in bystanders)
    assert store.unholdable_count() == others
