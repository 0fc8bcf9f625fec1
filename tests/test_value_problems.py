"""A bad value costs that value, not the record (issues 13 and 14): staging keeps the
record without it, records the value and why, clears it when the value changes, and
quarantines only a record nothing identifies."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contactsync.adapters.base import RawRecord
from contactsync.engine.stage import stage_records
from contactsync.engine.stage_values import SHOWN_VALUE_LIMIT, shown_value
from contactsync.mapping.mapper import Mapping, load_mappings
from contactsync.model.contact import Contact
from contactsync.state.sqlite.store import StateStore

MAPPINGS = Path(__file__).resolve().parent.parent / "mappings"


@pytest.fixture(scope="module")
def mappings() -> dict[str, Mapping]:
    return load_mappings(MAPPINGS)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    with StateStore.open(tmp_path / "state.sqlite") as state:
        yield state


def trackops(external_id: str, **changes: Any) -> RawRecord:
    payload: dict[str, Any] = {
        "id": external_id,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.com",
        "phone_mobile": "+1 404 555 0101",
        "title": "Analyst",
        **changes,
    }
    return RawRecord(external_id, payload, None)


def stage(state: StateStore, mappings: dict[str, Mapping], *records: RawRecord) -> list[str]:
    result = stage_records(state, "trackops", list(records), mappings["trackops"], "US")
    return [item.external_id for item in result.staged]


def staged_contact(state: StateStore, external_id: str) -> Contact:
    record = state.get_record("trackops", external_id)
    assert record is not None
    return Contact.model_validate(record.payload)


def test_a_record_with_one_invalid_phone_is_staged_without_it(
    store: StateStore, mappings: dict[str, Mapping]
) -> None:
    assert stage(store, mappings, trackops("7", phone_office="12")) == ["7"]
    contact = staged_contact(store, "7")
    assert contact.job_title == "Analyst"
    assert [p.number for p in contact.phones] == ["+14045550101"]
    assert store.list_quarantine() == []
    [stored] = store.list_value_problems()
    assert (stored.system, stored.external_id) == ("trackops", "7")
    assert stored.problem.field == "phone_office -> phones"
    assert "not a possible number" in stored.problem.reason
    assert stored.problem.value == "'12'"


def test_the_problem_clears_when_the_value_becomes_valid(
    store: StateStore, mappings: dict[str, Mapping]
) -> None:
    stage(store, mappings, trackops("7", phone_office="12"))
    store.mark_planned([("trackops", "7")])
    assert stage(store, mappings, trackops("7", phone_office="12")) == []  # unchanged
    assert len(store.list_value_problems()) == 1  # still listed while the value stays
    assert stage(store, mappings, trackops("7", phone_office="+1 404 555 0199")) == ["7"]
    assert store.list_value_problems() == []


def test_an_unchanged_bad_value_does_not_make_the_record_look_changed(
    store: StateStore, mappings: dict[str, Mapping]
) -> None:
    stage(store, mappings, trackops("7", phone_office="12"))
    store.mark_planned([("trackops", "7")])
    before = store.get_record("trackops", "7")
    # the same content under another raw shape (its keys in another order): mapped again,
    # same hash, so nothing is handed on
    shuffled = trackops("7", phone_office="12")
    shuffled = RawRecord("7", dict(reversed(list(shuffled.payload.items()))), None)
    assert stage(store, mappings, shuffled) == []
    after = store.get_record("trackops", "7")
    assert before is not None
    assert after is not None
    assert before.hash == after.hash


def test_a_phone_in_the_email_field_is_moved_to_phones(
    store: StateStore, mappings: dict[str, Mapping]
) -> None:
    stage(store, mappings, trackops("8", email="(404) 555-0177", phone_mobile=None))
    contact = staged_contact(store, "8")
    assert contact.emails == []
    assert [p.number for p in contact.phones] == ["+14045550177"]
    [stored] = store.list_value_problems()
    assert stored.problem.moved_to == "phones"


def test_an_email_in_a_phone_field_is_moved_to_emails(
    store: StateStore, mappings: dict[str, Mapping]
) -> None:
    stage(store, mappings, trackops("9", phone_home="Ada.L@Example.org"))
    contact = staged_contact(store, "9")
    assert [e.address for e in contact.emails] == ["ada@example.com", "ada.l@example.org"]
    [stored] = store.list_value_problems()
    assert (stored.problem.field, stored.problem.moved_to) == ("phone_home -> phones", "emails")


def test_text_that_cannot_be_passed_on_costs_that_text_only(
    store: StateStore, mappings: dict[str, Mapping]
) -> None:
    assert stage(store, mappings, trackops("10", title="Ana\x00lyst")) == ["10"]
    contact = staged_contact(store, "10")
    assert contact.job_title is None
    assert contact.last_name == "Lovelace"
    [stored] = store.list_value_problems()
    assert stored.problem.field == "job_title"
    assert "control character" in stored.problem.reason


def test_a_record_nothing_identifies_is_quarantined_and_listed(
    store: StateStore, mappings: dict[str, Mapping]
) -> None:
    nobody = trackops("11", first_name="", last_name=None, email="not-an-email", phone_mobile="12")
    assert stage(store, mappings, nobody) == []
    [entry] = store.list_quarantine()
    assert entry.external_id == "11"
    assert "needs a name" in entry.reason
    assert "invalid email" in entry.reason  # the values that were left out say why
    assert store.get_record("trackops", "11") is None


def test_a_record_with_only_an_email_is_staged(
    store: StateStore, mappings: dict[str, Mapping]
) -> None:
    assert stage(store, mappings, trackops("12", first_name=None, last_name=None)) == ["12"]
    assert staged_contact(store, "12").emails


def test_shown_values_are_cut_short() -> None:
    shown = shown_value("x" * 5000)
    assert shown is not None
    assert len(shown) == SHOWN_VALUE_LIMIT
    assert shown.endswith("…")
    assert shown_value("short") == "short"


CORRUPTIBLE = ("email", "phone_mobile", "phone_office", "birthday", "country", "language", "title")


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    key=st.sampled_from(CORRUPTIBLE),
    junk=st.one_of(
        st.text(max_size=40),
        st.integers(),
        st.booleans(),
        st.lists(st.integers(), max_size=2),
        st.dictionaries(st.text(max_size=3), st.integers(), max_size=1),
        st.text(min_size=1, max_size=3).map(lambda text: text * 20_001),  # too long
    ),
)
def test_a_bad_value_never_removes_the_record(
    tmp_path_factory: pytest.TempPathFactory, mappings: dict[str, Mapping], key: str, junk: Any
) -> None:
    with StateStore.open(tmp_path_factory.mktemp("prop") / "state.sqlite") as state:
        staged = stage(state, mappings, trackops("20", **{key: junk}))
        assert staged == ["20"], (key, junk)
        assert state.list_quarantine() == []
        kept = staged_contact(state, "20")
        assert kept.last_name == "Lovelace"  # the rest of the record is there
        if key != "email":
            assert "ada@example.com" in [e.address for e in kept.emails]


def test_an_unreadable_status_keeps_the_status_last_staged(
    store: StateStore, mappings: dict[str, Mapping]
) -> None:
    example = Path(__file__).parent / "fixtures" / "vendor_examples" / "rhythm.json"
    record: dict[str, Any] = json.loads(example.read_text())["record"]

    def rhythm(status: str) -> RawRecord:
        return RawRecord("r1", {**record, "id": "r1", "status": status}, None)

    stage_records(store, "rhythm", [rhythm("inactive")], mappings["rhythm"], "US")
    stage_records(store, "rhythm", [rhythm("archived")], mappings["rhythm"], "US")
    stored = store.get_record("rhythm", "r1")
    assert stored is not None
    assert stored.payload["status"] == "inactive"  # not the model's default, "active"
    [problem] = store.list_value_problems("rhythm")
    assert problem.problem.field == "status -> status"


def test_a_deleted_record_is_no_longer_listed(
    store: StateStore, mappings: dict[str, Mapping]
) -> None:
    stage(store, mappings, trackops("30", phone_office="12"))
    assert len(store.list_value_problems()) == 1
    store.mark_deleted("trackops", "30")
    assert store.list_value_problems() == []
