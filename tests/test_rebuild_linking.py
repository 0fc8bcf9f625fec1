"""Linking on a rebuilt state, record by record (issue 15): stamped records of every
system first, an unstamped record the matcher cannot place joins the one stamped
person it fits, and a unique-value note is retried once the holder lets go."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from contactsync.engine.claims import UniqueHolders
from contactsync.engine.link import link_stages, retry_released
from contactsync.engine.pass_outcome import RunOutcome
from contactsync.engine.resolve import ResolveResult, _match
from contactsync.engine.stage import StagedRecord, StageResult
from contactsync.matching.matcher import MatchConfig, PersonIndex
from contactsync.model.contact import Contact, Email, Organization, Phone
from contactsync.model.run_summary import RunSummary
from contactsync.state.sqlite.store import StateStore

STAMP_A = "p_01JBQ8ZK2M3N4P5Q6R7S8T9VWX"
STAMP_B = "p_01JBQ8ZK2M3N4P5Q6R7S8T9VWY"

Key = tuple[str, str]


@pytest.fixture
def state(tmp_path: Path) -> Iterator[StateStore]:
    with StateStore.open(tmp_path / "state.sqlite") as store:
        yield store


def _ann(sync_id: str | None = None, phone: str | None = "+46701234567") -> Contact:
    return Contact(
        first_name="Ann",
        last_name="Lindqvist",
        emails=[Email(address="ann.lindqvist@example.org")],
        phones=[Phone(number=phone)] if phone else [],
        sync_id=sync_id,
    )


def _jennifer(sync_id: str | None = None) -> Contact:
    """A person known by name and a role mailbox only (what a team shares)."""
    return Contact(
        first_name="Jennifer",
        last_name="Campbell",
        emails=[Email(address="office@blueharborrealty.ca")],
        job_title="Customer Success Manager",
        sync_id=sync_id,
    )


def _stage(state: StateStore, system: str, records: dict[str, Contact]) -> StageResult:
    result = StageResult(system)
    for external_id, contact in records.items():
        state.upsert_record(system, external_id, hash=external_id, payload=contact)
        result.staged.append(StagedRecord(system, external_id))
    return result


def _link_all(state: StateStore, stages: list[StageResult]) -> ResolveResult:
    result = ResolveResult()
    outcome = RunOutcome(RunSummary(run_id="r1", systems={}))
    link_stages(state, PersonIndex(MatchConfig()), stages, outcome, result, set())
    assert not outcome.errors
    return result


def _person(state: StateStore, system: str, external_id: str) -> str:
    person_id = state.person_for(system, external_id)
    assert person_id is not None
    return state.resolve_person(person_id)


def test_an_unstamped_record_meets_the_stamped_records_of_systems_read_after_it(
    state: StateStore,
) -> None:
    # Grow CRM is read before Pylon: its unstamped record still joins the person
    # stamped in Pylon instead of starting one of its own
    stages = [
        _stage(state, "growcrm", {"7": _ann()}),
        _stage(state, "pylon", {"p-1": _ann(STAMP_A)}),
    ]
    result = _link_all(state, stages)
    assert _person(state, "growcrm", "7") == _person(state, "pylon", "p-1") == STAMP_A
    assert (result.new_persons, result.adopted_persons, result.stamped_links) == (0, 1, 1)


def _adopt(
    state: StateStore, index: PersonIndex, key: Key, contact: Contact, result: ResolveResult
) -> str:
    person_id = _match(state, index, key, contact, result)
    state.upsert_record(key[0], key[1], hash=key[1], payload=contact, person_id=person_id)
    index.add(key, contact, person_id)
    return person_id


def _grow_record(state: StateStore, index: PersonIndex, result: ResolveResult) -> str:
    """Link Grow CRM record 9, an unstamped Jennifer, as a pass does."""
    state.upsert_record("growcrm", "9", hash="9", payload=_jennifer())
    return _match(state, index, ("growcrm", "9"), _jennifer(), result)


def _jennifer_stamped(
    state: StateStore, stamp: str, suffix: str, result: ResolveResult, index: PersonIndex
) -> None:
    for system in ("trackops", "rhythm", "pylon"):
        _adopt(state, index, (system, f"{system}-{suffix}"), _jennifer(stamp), result)


def test_a_record_the_matcher_cannot_place_joins_the_one_stamped_person_it_fits(
    state: StateStore,
) -> None:
    index, result = PersonIndex(MatchConfig()), ResolveResult()
    _jennifer_stamped(state, STAMP_A, "a", result, index)
    assert index.resolve(("growcrm", "9"), _jennifer()).person_id is None  # the matcher alone
    person = _grow_record(state, index, result)
    assert person == STAMP_A
    assert (result.new_persons, result.matched_links) == (0, 1)
    assert state.list_review() == []


_REVIEW_LOW = MatchConfig(review_threshold=0.3)


def test_a_stamped_person_that_holds_a_record_in_that_system_is_no_fit(
    state: StateStore,
) -> None:
    # its Grow CRM record is linked already: this one may be a namesake, for review (a
    # lower review threshold: a second record of the name weakens what it says)
    index, result = PersonIndex(_REVIEW_LOW), ResolveResult()
    _jennifer_stamped(state, STAMP_A, "a", result, index)
    state.upsert_record("growcrm", "8", hash="8", payload=_jennifer(), person_id=STAMP_A)
    index.add(("growcrm", "8"), _jennifer(), STAMP_A)
    person = _grow_record(state, index, result)
    assert person != STAMP_A
    assert result.new_persons == 1
    assert [
        ("growcrm", "9") in {(r.left_system, r.left_id), (r.right_system, r.right_id)}
        for r in state.list_review()
    ] == [True]


def test_two_stamped_namesakes_it_may_belong_to_leave_it_to_review(state: StateStore) -> None:
    index, result = PersonIndex(_REVIEW_LOW), ResolveResult()
    _jennifer_stamped(state, STAMP_A, "a", result, index)
    _jennifer_stamped(state, STAMP_B, "b", result, index)
    person = _grow_record(state, index, result)
    assert person not in (STAMP_A, STAMP_B)
    assert result.new_persons == 1
    assert len(state.list_review()) == 2


def test_outside_a_rebuild_the_matcher_alone_decides(state: StateStore) -> None:
    # the stamped person was adopted by an earlier pass: a new record is the matcher's
    index = PersonIndex(MatchConfig())
    _jennifer_stamped(state, STAMP_A, "a", ResolveResult(), index)
    result = ResolveResult()
    person = _grow_record(state, index, result)
    assert person != STAMP_A
    assert result.new_persons == 1
    assert len(state.list_review()) == 1


def _emma(
    sync_id: str | None,
    first: str,
    last: str,
    *emails: str,
    org: bool = True,
    mobile: str = "",
    born: date | None = None,
) -> Contact:
    return Contact(
        birthday=born,
        first_name=first,
        last_name=last,
        emails=[Email(address=e) for e in emails],
        phones=[Phone(number=mobile, type="mobile")] if mobile else [],
        job_title="Software Engineer",
        organization=Organization(name="Highland Manufacturing Inc.") if org else None,
        sync_id=sync_id,
    )


def test_a_stamped_record_it_matches_outweighs_one_from_before_a_name_change(
    state: StateStore,
) -> None:
    # Trackops' stamped record contradicts it on every field it holds (her maiden
    # name, old email and mobile, a mistyped birthday); Rhythm's, stamped alike,
    # holds her new email too
    index, result = PersonIndex(MatchConfig()), ResolveResult()
    old, new = "ewhite@highland.example", "emily_turner@highland.example"
    maiden = _emma(
        STAMP_A, "Emma", "White", old, org=False, mobile="+16195559895", born=date(1984, 3, 2)
    )
    _adopt(state, index, ("trackops", "1"), maiden, result)
    _adopt(state, index, ("rhythm", "2"), _emma(STAMP_A, "Emma", "White", old, new), result)
    record = _emma(None, "Emily", "Turner", new, mobile="+16195550142", born=date(1991, 7, 9))
    assert index.score(record, maiden).conflict
    assert index.resolve(("growcrm", "9"), record).person_id is None  # the matcher's veto
    state.upsert_record("growcrm", "9", hash="9", payload=record)
    assert _match(state, index, ("growcrm", "9"), record, result) == STAMP_A


# --- a unique value let go of ----------------------------------------------------------

HELD = "another person's record (id 472) already holds email servicedesk@example.com"


def _holder(state: StateStore, email: str) -> tuple[str, str]:
    """A Grow CRM record of one person holding ``email``, and another person kept out of
    Grow CRM for it (the planner's note), the older of the two."""
    kept_out = state.create_person()
    holder = state.create_person()
    state.upsert_record(
        "growcrm", "472", hash=email, payload=_ann(), person_id=holder, raw={"email": email}
    )
    unique = UniqueHolders(("email",), {"servicedesk@example.com": (holder, "472")})
    reason = unique.refusal({"email": "servicedesk@example.com"}, kept_out)
    assert reason == HELD  # the planner's own words, as the note keeps them
    state.mark_unholdable("growcrm", kept_out, reason)
    return holder, kept_out


def test_a_note_stays_while_the_record_holds_the_value(state: StateStore) -> None:
    _, kept_out = _holder(state, "ServiceDesk@example.com ")
    state.mark_unholdable("xurrent", kept_out, "missing emails")
    result = ResolveResult()
    retry_released(state, result)
    assert state.unholdable_systems(kept_out) == ["growcrm", "xurrent"]
    assert result.touched == set()


def test_a_note_stays_while_the_value_is_held_in_another_unique_field(state: StateStore) -> None:
    holder, kept_out = _holder(state, "servicedesk@example.com")
    raw = {"email": "own@x.org", "emails": ["own@x.org", "servicedesk@example.com"]}
    state.upsert_record("growcrm", "472", hash="2", payload=_ann(), person_id=holder, raw=raw)
    retry_released(state, ResolveResult())
    assert state.unholdable_systems(kept_out) == ["growcrm"]


def test_a_note_is_dropped_and_the_person_planned_once_the_value_is_let_go(
    state: StateStore,
) -> None:
    holder, kept_out = _holder(state, "servicedesk@example.com")
    state.upsert_record(
        "growcrm", "472", hash="2", payload=_ann(), person_id=holder, raw={"email": "own@x.org"}
    )
    result = ResolveResult()
    retry_released(state, result)
    assert state.unholdable_systems(kept_out) == []
    assert result.touched == {kept_out}


def test_a_note_is_dropped_once_its_holder_joined_the_same_person(state: StateStore) -> None:
    holder, kept_out = _holder(state, "servicedesk@example.com")
    assert state.merge_persons(holder, kept_out) == kept_out  # keeps its note
    assert state.unholdable_systems(kept_out) == ["growcrm"]
    retry_released(state, ResolveResult())
    assert state.list_unholdable() == []
