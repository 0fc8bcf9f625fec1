"""Survivorship and provenance of the golden record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contactsync.merge import Provenance, SourceContact, merge
from contactsync.models import Contact

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
PRIORITY = {"trackops": 1, "growcrm": 2, "rhythm": 3, "pylon": 4, "xurrent": 5}


def source(
    system: str, external_id: str, at: datetime | None, seen: datetime | None = None, **fields: Any
) -> SourceContact:
    fields.setdefault("first_name", "Ann")
    return SourceContact(
        system=system,
        external_id=external_id,
        contact=Contact.model_validate(fields),
        updated_at=at,
        seen_at=seen,
    )


def test_the_newest_change_wins_by_the_sources_own_timestamp() -> None:
    old = source("trackops", "t1", T0, job_title="Analyst", last_name="Lee")
    new = source("xurrent", "x1", T0 + timedelta(days=1), job_title="Director", last_name="Park")
    golden, provenance = merge([old, new], PRIORITY)
    assert golden.job_title == "Director"
    assert golden.last_name == "Park"
    assert provenance["job_title"] == Provenance("xurrent", "x1", T0 + timedelta(days=1))


def test_priority_breaks_ties_lower_number_first() -> None:
    low = source("xurrent", "x1", T0, job_title="From Xurrent")
    high = source("growcrm", "g1", T0, job_title="From Grow")
    golden, provenance = merge([low, high], PRIORITY)
    assert golden.job_title == "From Grow"
    assert provenance["job_title"].system == "growcrm"


def test_a_system_without_priority_loses_ties() -> None:
    known = source("pylon", "p1", T0, job_title="Known")
    unknown = source("elsewhere", "e1", T0, job_title="Unknown")
    golden, _ = merge([unknown, known], PRIORITY)
    assert golden.job_title == "Known"


def test_an_empty_value_never_overwrites_a_filled_one() -> None:
    filled = source("trackops", "t1", T0, job_title="Analyst", birthday="1980-01-02")
    newer_empty = source("growcrm", "g1", T0 + timedelta(hours=1), job_title="  ")
    golden, provenance = merge([filled, newer_empty], PRIORITY)
    assert golden.job_title == "Analyst"
    assert str(golden.birthday) == "1980-01-02"
    assert provenance["job_title"].system == "trackops"
    assert provenance["first_name"].system == "growcrm"


def test_without_an_own_timestamp_the_time_first_seen_counts() -> None:
    pylon = source("pylon", "p1", None, seen=T0 + timedelta(days=2), job_title="Seen later")
    dated = source("trackops", "t1", T0, job_title="Dated")
    golden, provenance = merge([dated, pylon], PRIORITY)
    assert golden.job_title == "Seen later"
    assert provenance["job_title"].at == T0 + timedelta(days=2)
    nothing = source("pylon", "p2", None, job_title="Never dated")
    golden, _ = merge([nothing, dated], PRIORITY)
    assert golden.job_title == "Dated"


def test_emails_and_phones_are_unioned_with_the_winners_primary_first() -> None:
    old = source(
        "trackops", "t1", T0,
        emails=[{"address": "ann@work.com"}, {"address": "ann@home.com"}],
        phones=[{"number": "+14045550100", "type": "work"}],
    )  # fmt: skip
    new = source(
        "growcrm", "g1", T0 + timedelta(days=1),
        emails=[{"address": "Ann@Home.com"}, {"address": "ann@new.com"}],
        phones=[{"number": "(404) 555-0199", "type": "mobile"},
                {"number": "404-555-0100 x12", "type": "work"}],
    )  # fmt: skip
    golden, provenance = merge([old, new], PRIORITY)
    assert [e.address for e in golden.emails] == ["ann@home.com", "ann@new.com", "ann@work.com"]
    assert [p.number for p in golden.phones] == ["+14045550199", "+14045550100"]
    assert golden.phones[1].extension == "12"
    assert provenance["emails[0]"].system == "growcrm"
    assert provenance["emails[2]"] == Provenance("trackops", "t1", T0)


def test_the_address_is_taken_whole_from_one_source() -> None:
    old = source("trackops", "t1", T0, address={"lines": ["1 Old Rd"], "city": "Boston"})
    new = source("rhythm", "r1", T0 + timedelta(days=1), address={"lines": ["9 New St"]})
    golden, provenance = merge([old, new], PRIORITY)
    assert golden.address is not None
    assert golden.address.lines == ["9 New St"]
    assert golden.address.city is None
    assert provenance["address"].system == "rhythm"


def test_organization_channels_and_refs_are_kept() -> None:
    xurrent = source(
        "xurrent", "x1", T0,
        organization={
            "name": "Acme Corp.", "refs": {"xurrent": "org-7"},
            "channels": [{"label": "service_desk", "email": "help@acme.com"},
                         {"label": "general", "telephone": "+14045550000"}],
        },
    )  # fmt: skip
    grow = source(
        "growcrm", "g1", T0 + timedelta(days=1),
        organization={"name": "Acme", "refs": {"growcrm": "55"}},
    )  # fmt: skip
    golden, provenance = merge([xurrent, grow], PRIORITY)
    assert golden.organization is not None
    assert golden.organization.name == "Acme"
    assert golden.organization.refs == {"growcrm": "55", "xurrent": "org-7"}
    assert [c.email or c.telephone for c in golden.organization.channels] == [
        "help@acme.com",
        "+14045550000",
    ]
    assert provenance["organization.channels[0]"].system == "xurrent"
    assert provenance["organization.refs.growcrm"].system == "growcrm"


def test_provenance_serialises_for_storage() -> None:
    _, provenance = merge([source("pylon", "p1", None)], PRIORITY)
    assert provenance["first_name"].as_dict() == {
        "system": "pylon",
        "external_id": "p1",
        "at": None,
    }
    golden, provenance = merge([source("trackops", "t1", T0)], PRIORITY)
    assert provenance["first_name"].as_dict()["at"] == T0.isoformat()
    assert golden.updated_at == T0


def test_nothing_to_merge_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one"):
        merge([], PRIORITY)


_SOURCES = [
    source("trackops", "t1", T0, job_title="A", emails=[{"address": "a@x.com"}]),
    source("growcrm", "g1", T0, job_title="B", emails=[{"address": "b@x.com"}]),
    source("pylon", "p1", None, seen=T0, job_title="C", phones=[{"number": "+14045550101"}]),
    source("rhythm", "r1", T0 - timedelta(days=1), last_name="Lee", notes="note"),
    source("xurrent", "x1", T0, emails=[{"address": "b@x.com"}, {"address": "c@x.com"}]),
    source("xurrent", "x2", T0 + timedelta(minutes=1), nickname="Annie"),
]


@settings(max_examples=60, deadline=None)
@given(st.permutations(_SOURCES))
def test_merge_does_not_depend_on_the_order_of_sources(order: list[SourceContact]) -> None:
    expected = merge(_SOURCES, PRIORITY)
    assert merge(order, PRIORITY) == expected
