"""Households are never merged: same last name and address (or home phone), different
first names, no shared personal email or phone. A property over generated households."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contactsync.matching.matcher import MatchConfig, PersonIndex, cluster
from contactsync.matching.names import first_names_compatible
from contactsync.matching.normalise import features
from contactsync.model.contact import Contact

CONFIG = MatchConfig()
FIRST_NAMES = [
    "John", "Jane", "Tim", "Maria", "Oliver", "Sophie", "Ahmed", "Priya", "Lucas",
    "Emma", "Noah", "Chloe", "Kenji", "Fatima", "Pedro", "Ingrid", "Liam", "Zoe",
]  # fmt: skip
LAST_NAMES = ["Smith", "Nguyen", "Garcia", "Okafor", "Kowalski", "Lindqvist", "Rossi"]
STREETS = ["12 Maple Street", "4 Harbour Road", "77 Elm Avenue", "9 Station Lane"]


def contact(**fields: Any) -> Contact:
    return Contact.model_validate(fields, context={"default_region": "US"})


@st.composite
def households(draw: st.DrawFn) -> list[Contact]:
    """Two to four members: one last name, one address, maybe one home landline; each
    member a different (incompatible) first name and their own email / mobile or none of
    them; no birthdays, each their own, or one birthday for all (twins, triplets)."""
    last = draw(st.sampled_from(LAST_NAMES))
    line = draw(st.sampled_from(STREETS))
    landline = draw(st.booleans())
    firsts = draw(st.lists(st.sampled_from(FIRST_NAMES), min_size=2, max_size=4, unique=True))
    birthdays = draw(st.sampled_from(["none", "own", "shared"]))
    members = []
    for number, first in enumerate(firsts):
        fields: dict[str, Any] = {
            "first_name": first,
            "last_name": last,
            "address": {"lines": [line], "city": "Springfield", "postal_code": "62704"},
        }
        phones = [{"number": "217-555-0100", "type": "home"}] if landline else []
        if draw(st.booleans()):
            phones.append({"number": f"217-555-02{number:02d}", "type": "mobile"})
        fields["phones"] = phones
        if draw(st.booleans()):
            fields["emails"] = [{"address": f"{first.lower()}.{last.lower()}@mail.example"}]
        if birthdays == "own" or (birthdays == "none" and draw(st.booleans())):
            fields["birthday"] = f"{1950 + 11 * number}-0{1 + number}-1{number}"
        elif birthdays == "shared":
            fields["birthday"] = "1984-06-21"
        if draw(st.booleans()):
            fields["organization"] = {"name": "Springfield Family Dental"}
        members.append(contact(**fields))
    return members


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(households(), st.integers(min_value=1, max_value=3))
def test_a_household_is_never_merged(members: list[Contact], copies: int) -> None:
    items = [features(m) for m in members]
    assert all(
        not first_names_compatible(a, b) for i, a in enumerate(items) for b in items[i + 1 :]
    )  # the generator's promise: different people by their first names
    # Each member may come in several copies (several systems): copies of one member
    # join, members never do.
    records = [((n, c), m) for n, m in enumerate(members) for c in range(copies)]
    clusters = cluster(records, CONFIG)
    by_member: dict[int, set[int]] = {}
    for (member, _), number in clusters.items():
        by_member.setdefault(member, set()).add(number)
    numbers = [next(iter(found)) for found in by_member.values() if len(found) == 1]
    assert len(numbers) == len(set(numbers))  # no two members share a cluster
    for found in by_member.values():
        for other in by_member.values():
            assert found is other or not found & other
    index = PersonIndex(CONFIG)
    index.add(("trackops", "0"), members[0], "P0")
    for number, member in enumerate(members[1:], start=1):
        resolution = index.resolve(("growcrm", str(number)), member)
        assert resolution.person_id is None
        assert index.persons_linked(("growcrm", str(number)), member) == []
