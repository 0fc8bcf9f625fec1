"""The matcher's rules: households, role mailboxes, sync ids, thresholds, stable persons."""

from __future__ import annotations

from typing import Any

import pytest

from contactsync.matching.matcher import Candidate, MatchConfig, PersonIndex, RecordKey, cluster
from contactsync.model.contact import Contact

CONFIG = MatchConfig()


def person(**fields: Any) -> Contact:
    return Contact.model_validate(fields, context={"default_region": "US"})


def smith(first: str, **extra: Any) -> Contact:
    """A member of the Smith household: one address, one home landline."""
    phones = [{"number": "404-555-0100", "type": "home"}, *extra.pop("phones", [])]
    return person(
        first_name=first,
        last_name="Smith",
        address={"lines": ["12 Maple Street"], "city": "Atlanta", "postal_code": "30301"},
        phones=phones,
        **extra,
    )


def colleague(first: str, last: str, **extra: Any) -> Contact:
    """Someone at Acme who gives the company's info@ mailbox."""
    return person(
        first_name=first,
        last_name=last,
        emails=[{"address": "info@acme.com"}],
        organization={"name": "Acme Corp."},
        **extra,
    )


def index_of(*records: tuple[RecordKey, Contact, str]) -> PersonIndex:
    index = PersonIndex(CONFIG)
    for key, contact, person_id in records:
        index.add(key, contact, person_id)
    return index


def together(records: list[tuple[str, Contact]]) -> bool:
    clusters = cluster(records, CONFIG)
    return len(set(clusters.values())) == 1


# --- households and shared mailboxes ---------------------------------------------------


def test_household_members_with_different_first_names_stay_apart() -> None:
    john, jane = smith("John"), smith("Jane")
    index = index_of((("trackops", "1"), john, "P1"))
    resolution = index.resolve(("growcrm", "9"), jane)
    assert resolution.person_id is None
    assert resolution.review == []  # not even worth a person's look
    assert resolution.score < CONFIG.review_threshold
    assert not together([("a", john), ("b", jane)])
    evidence = index.score(john, jane).evidence or {}
    assert "rule:household" in evidence
    assert evidence["street:same"] == 0.0  # the shared address counts for nothing


def test_one_household_member_in_two_systems_is_one_person() -> None:
    bob = smith("Bob", emails=[{"address": "bob.smith@example.com"}])
    robert = smith("Robert", emails=[{"address": "Bob.Smith@example.com"}])
    index = index_of((("trackops", "1"), bob, "P1"))
    assert index.resolve(("growcrm", "9"), robert).person_id == "P1"
    assert together([("a", bob), ("b", robert)])


def test_household_members_stay_apart_among_many_records() -> None:
    records = [(f"{first}-{n}", smith(first)) for first in ("John", "Jane", "Tim") for n in (1, 2)]
    clusters = cluster(records, CONFIG)
    assert clusters["John-1"] == clusters["John-2"]
    assert len({clusters["John-1"], clusters["Jane-1"], clusters["Tim-1"]}) == 3


def test_a_personal_identifier_still_joins_a_renamed_record() -> None:
    # the same mobile and birthday outweigh first names that disagree
    ann = smith("Ann", phones=[{"number": "404-555-0199", "type": "mobile"}], birthday="1980-04-02")
    nan = smith(
        "Nancy", phones=[{"number": "404-555-0199", "type": "mobile"}], birthday="1980-04-02"
    )
    index = index_of((("trackops", "1"), ann, "P1"))
    assert index.resolve(("growcrm", "2"), nan).person_id == "P1"


def test_colleagues_sharing_a_role_mailbox_stay_apart() -> None:
    ann, bob = colleague("Ann", "Lee"), colleague("Bob", "Stone")
    index = index_of((("trackops", "1"), ann, "P1"))
    resolution = index.resolve(("pylon", "2"), bob)
    assert resolution.person_id is None
    assert resolution.review == []
    assert not together([("a", ann), ("b", bob)])


def test_a_role_mailbox_never_decides_identity_alone() -> None:
    with_mailbox = PersonIndex(CONFIG).score(colleague("Ann", "Lee"), colleague("Ann", "Lee"))
    without = PersonIndex(CONFIG).score(
        person(first_name="Ann", last_name="Lee", organization={"name": "Acme Corp."}),
        person(first_name="Ann", last_name="Lee", organization={"name": "Acme Corp."}),
    )
    assert with_mailbox.weight == pytest.approx(without.weight)
    assert "rule:role_mailbox" in (with_mailbox.evidence or {})
    only_mailbox = PersonIndex(CONFIG).score(
        person(first_name="Ann", emails=[{"address": "support@acme.com"}]),
        person(last_name="Lee", emails=[{"address": "support@acme.com"}]),
    )
    assert only_mailbox.score < CONFIG.review_threshold


def test_an_address_many_unrelated_people_use_is_treated_as_shared() -> None:
    def guest(first: str, last: str) -> Contact:
        return person(first_name=first, last_name=last, emails=[{"address": "desk@hotel.example"}])

    holders = [guest("Ann", "Lee"), guest("Bob", "Stone"), guest("Cid", "Moreau")]
    index = index_of(*((("pylon", str(n)), c, f"P{n}") for n, c in enumerate(holders)))
    resolution = index.resolve(("pylon", "new"), guest("Ann", "Lee"))
    assert resolution.person_id is None  # the name alone: a personal email would have merged
    assert [c.person_id for c in resolution.review] == ["P0"]
    assert "rule:role_mailbox" in resolution.review[0].evidence
    two_holders = index_of((("pylon", "0"), holders[0], "P0"), (("pylon", "1"), holders[1], "P1"))
    assert two_holders.resolve(("pylon", "new"), guest("Ann", "Lee")).person_id == "P0"


# --- evidence, thresholds, review ------------------------------------------------------


def test_copies_with_a_typo_a_nickname_and_another_phone_format_join() -> None:
    a = person(
        first_name="Katherine",
        last_name="Pemberton",
        emails=[{"address": "k.pemberton@example.com"}],
        phones=[{"number": "(404) 555-0123", "type": "mobile"}],
    )
    b = person(first_name="Kate", last_name="Pembertn", phones=[{"number": "+14045550123"}])
    index = index_of((("rhythm", "1"), a, "P1"))
    resolution = index.resolve(("xurrent", "2"), b)
    assert resolution.person_id == "P1"
    assert resolution.score >= CONFIG.merge_threshold


def test_a_name_alone_goes_to_review_not_to_a_merge() -> None:
    a = person(first_name="Ann", last_name="Lee", emails=[{"address": "ann.lee@example.com"}])
    b = person(first_name="Ann", last_name="Lee", job_title="Buyer")
    index = index_of((("rhythm", "1"), a, "P1"))
    resolution = index.resolve(("xurrent", "2"), b)
    assert resolution.person_id is None
    assert [c.person_id for c in resolution.review] == ["P1"]
    candidate = resolution.review[0]
    assert isinstance(candidate, Candidate)
    assert candidate.key == ("rhythm", "1")
    assert CONFIG.review_threshold <= candidate.score < CONFIG.merge_threshold
    assert candidate.evidence["first:exact"] > 0
    assert candidate.evidence["last:exact"] > 0
    assert candidate.evidence["prior"] < 0


def test_thresholds_come_from_the_config() -> None:
    a = person(first_name="Ann", last_name="Lee", emails=[{"address": "ann.lee@example.com"}])
    b = person(first_name="Ann", last_name="Lee")
    lenient = PersonIndex(MatchConfig(merge_threshold=0.5, review_threshold=0.3))
    lenient.add(("rhythm", "1"), a, "P1")
    assert lenient.resolve(("xurrent", "2"), b).person_id == "P1"


def test_different_birthdays_and_emails_keep_namesakes_apart() -> None:
    a = person(
        first_name="John", last_name="Smith", birthday="1970-01-01",
        emails=[{"address": "js1@example.com"}],
    )  # fmt: skip
    b = person(
        first_name="John", last_name="Smith", birthday="1985-06-30",
        emails=[{"address": "js2@example.com"}],
    )  # fmt: skip
    index = index_of((("rhythm", "1"), a, "P1"))
    resolution = index.resolve(("xurrent", "2"), b)
    assert resolution.person_id is None
    assert resolution.review == []


def test_resolve_never_returns_the_records_own_key() -> None:
    a = person(first_name="Ann", last_name="Lee", emails=[{"address": "ann.lee@example.com"}])
    index = index_of((("rhythm", "1"), a, "P1"))
    assert index.resolve(("rhythm", "1"), a).person_id is None


# --- sync ids --------------------------------------------------------------------------


def test_the_same_sync_id_is_one_person_whatever_else_differs() -> None:
    a = person(first_name="Ann", last_name="Lee", sync_id="P7")
    b = person(first_name="Robert", last_name="Stone", sync_id="P7")
    assert together([(("pylon", "1"), a), (("pylon", "2"), b)])


def test_different_sync_ids_are_different_persons_whatever_else_agrees() -> None:
    fields = {
        "first_name": "Ann",
        "last_name": "Lee",
        "emails": [{"address": "ann.lee@example.com"}],
        "birthday": "1980-01-02",
    }
    a, b = person(**fields, sync_id="P1"), person(**fields, sync_id="P2")
    c = person(**fields)  # would bridge them
    assert not together([(("pylon", "1"), a), (("pylon", "2"), b)])
    clusters = cluster([(("pylon", "1"), a), (("pylon", "2"), b), (("rhythm", "3"), c)], CONFIG)
    assert clusters[("pylon", "1")] != clusters[("pylon", "2")]
    index = index_of((("pylon", "1"), a, "P1"))
    assert index.resolve(("pylon", "2"), b).person_id is None


# --- incremental and stable ------------------------------------------------------------


class Engine:
    """The sync engine's use of the index (sync_resolve): join, merge (older id survives)."""

    def __init__(self) -> None:
        self.index = PersonIndex(CONFIG)
        self.person: dict[RecordKey, str] = {}
        self.merges: list[tuple[str, str]] = []
        self._next = 0

    def link(self, key: RecordKey, contact: Contact) -> str:
        resolution = self.index.resolve(key, contact)
        if resolution.person_id is None:
            self._next += 1
            person_id = f"P{self._next:04d}"
        else:
            person_id = resolution.person_id
            for other in self.index.persons_linked(key, contact):
                if other.person_id != person_id:
                    survivor, absorbed = sorted((person_id, other.person_id))
                    self.index.merge_persons(survivor, absorbed)
                    for record, owner in self.person.items():
                        if owner == absorbed:
                            self.person[record] = survivor
                    self.merges.append((survivor, absorbed))
                    person_id = survivor
        self.index.add(key, contact, person_id)
        self.person[key] = person_id
        return person_id


def test_new_records_join_existing_persons_and_ids_never_change() -> None:
    engine = Engine()
    ann = person(first_name="Ann", last_name="Lee", emails=[{"address": "ann@example.com"}])
    bob = person(first_name="Bob", last_name="Stone", emails=[{"address": "bob@example.com"}])
    first_ann, first_bob = engine.link(("a", "1"), ann), engine.link(("a", "2"), bob)
    before = dict(engine.person)
    again = person(first_name="Annie", last_name="Lee", emails=[{"address": "ANN@example.com"}])
    assert engine.link(("b", "1"), again) == first_ann
    for n in range(20):
        other = person(first_name=f"Someone{n}", last_name=f"Else{n}")
        engine.link(("c", str(n)), other)
    assert {k: engine.person[k] for k in before} == before
    assert engine.index.person_of(("a", "2")) == first_bob


def test_a_record_bridging_two_persons_merges_them_into_the_older_id() -> None:
    engine = Engine()
    by_email = person(first_name="Ann", last_name="Lee", emails=[{"address": "ann@example.com"}])
    by_phone = person(
        first_name="Ann", last_name="Lee", phones=[{"number": "404-555-0142", "type": "mobile"}]
    )
    older, newer = engine.link(("a", "1"), by_email), engine.link(("b", "1"), by_phone)
    assert older < newer  # apart so far: nothing but the name in common
    both = person(
        first_name="Ann", last_name="Lee", emails=[{"address": "ann@example.com"}],
        phones=[{"number": "+1 404 555 0142", "type": "mobile"}],
    )  # fmt: skip
    assert engine.link(("c", "1"), both) == older
    assert engine.merges == [(older, newer)]
    assert engine.person[("b", "1")] == older
    assert engine.index.person_of(("b", "1")) == older


def test_a_bridge_does_not_merge_persons_that_contradict_each_other() -> None:
    index = PersonIndex(CONFIG)
    index.add(
        ("a", "1"),
        person(first_name="Ann", last_name="Lee", birthday="1970-01-01",
               emails=[{"address": "shared@example.com"}], reference="EMP-1"),
        "P1",
    )  # fmt: skip
    index.add(
        ("a", "2"),
        person(first_name="Zoe", last_name="Park", birthday="1990-05-05",
               phones=[{"number": "404-555-0177", "type": "mobile"}], reference="EMP-2"),
        "P2",
    )  # fmt: skip
    bridge = person(
        first_name="Ann", last_name="Lee", emails=[{"address": "shared@example.com"}],
        phones=[{"number": "404-555-0177", "type": "mobile"}],
    )  # fmt: skip
    linked = [c.person_id for c in index.persons_linked(("b", "1"), bridge)]
    assert linked[:1] == ["P1"]
    assert "P2" not in linked


def test_removed_records_are_forgotten() -> None:
    ann = person(first_name="Ann", last_name="Lee", emails=[{"address": "ann@example.com"}])
    index = index_of((("a", "1"), ann, "P1"))
    index.remove(("a", "1"))
    index.remove(("a", "unknown"))
    assert len(index) == 0
    assert index.resolve(("b", "1"), ann).person_id is None


def test_batch_clusters_are_numbered_in_order_of_first_record() -> None:
    ann = person(first_name="Ann", last_name="Lee", emails=[{"address": "ann@example.com"}])
    bob = person(first_name="Bob", last_name="Stone", emails=[{"address": "bob@example.com"}])
    clusters = cluster([("x", bob), ("y", ann), ("z", bob)], CONFIG)
    assert clusters == {"x": 0, "y": 1, "z": 0}
