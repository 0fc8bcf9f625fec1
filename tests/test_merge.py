"""Survivorship and provenance of the golden record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contactsync.engine.golden import UNTIMED_RULES, Provenance, SourceContact, UntimedRule, merge
from contactsync.model.contact import Contact
from contactsync.model.field_changes import FieldTime, field_values

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


def test_a_first_seen_value_loses_to_any_dated_value() -> None:
    pylon = source("pylon", "p1", None, seen=T0 + timedelta(days=2), job_title="Seen later")
    dated = source("trackops", "t1", T0, job_title="Dated")
    golden, provenance = merge([dated, pylon], PRIORITY)
    assert golden.job_title == "Dated"
    assert provenance["job_title"].how == "vendor"
    alone, provenance = merge([pylon], PRIORITY)
    assert alone.job_title == "Seen later"
    assert provenance["job_title"].how == "first_seen"


def test_emails_and_phones_are_unioned_with_the_newest_primary_first() -> None:
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
    assert [e.address for e in golden.emails] == ["ann@home.com", "ann@work.com", "ann@new.com"]
    assert [p.number for p in golden.phones] == ["+14045550199", "+14045550100"]
    assert golden.phones[1].extension == "12"
    assert provenance["emails.primary"].system == "growcrm"
    assert provenance["emails:ann@work.com"] == Provenance("trackops", "t1", T0)


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
        "how": "first_seen",
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


# --- field-level change times (issue 14) ---------------------------------------------


def timed(
    system: str,
    external_id: str,
    times: dict[str, FieldTime],
    default: FieldTime | None = None,
    **fields: Any,
) -> SourceContact:
    """A source whose every field key not in ``times`` is dated ``default``."""
    contact = Contact.model_validate({"first_name": "Ann", **fields})
    keys = field_values(contact.model_dump(mode="json"))
    base = default or FieldTime(T0 - timedelta(days=30))
    return SourceContact(
        system=system,
        external_id=external_id,
        contact=contact,
        field_times={**dict.fromkeys(keys, base), **times},
    )


def at(hours: float) -> FieldTime:
    return FieldTime(T0 + timedelta(hours=hours), "vendor")


def between(start_hours: float, end_hours: float) -> FieldTime:
    return FieldTime(T0 + timedelta(hours=end_hours), "interval", T0 + timedelta(hours=start_hours))


def test_an_email_edit_survives_a_later_edit_of_another_field_elsewhere() -> None:
    # Trackops: email changed at +1h; Grow CRM: title changed at +2h (its record, and
    # so its record time, is newer, but its email is the old one from before)
    trackops = timed(
        "trackops", "t1",
        {"emails:ann@new.com": at(1), "emails:ann@old.com": at(1), "emails.primary": at(1)},
        emails=[{"address": "ann@new.com"}], job_title="Analyst",
    )  # fmt: skip
    grow = timed(
        "growcrm", "g1", {"job_title": at(2)},
        emails=[{"address": "ann@old.com"}], job_title="Director",
    )  # fmt: skip
    golden, provenance = merge([trackops, grow], PRIORITY)
    assert [e.address for e in golden.emails] == ["ann@new.com"]
    assert golden.job_title == "Director"
    assert provenance["emails:ann@old.com"].removed
    assert provenance["emails.primary"].system == "trackops"


def test_a_new_primary_becomes_primary() -> None:
    pylon = timed(
        "pylon", "p1",
        {"emails:ann@new.com": between(1, 3), "emails.primary": between(1, 3)},
        emails=[{"address": "ann@new.com"}, {"address": "ann@old.com"}],
    )  # fmt: skip
    trackops = timed("trackops", "t1", {}, emails=[{"address": "ann@old.com"}])  # priority 1
    golden, _ = merge([trackops, pylon], PRIORITY)
    assert [e.address for e in golden.emails] == ["ann@new.com", "ann@old.com"]


def test_a_removed_email_does_not_come_back_and_a_later_re_add_does() -> None:
    removed = timed("growcrm", "g1", {"emails:ann@old.com": at(2)}, emails=[{"address": "a@b.com"}])
    older_copy = timed(
        "rhythm", "r1", {"emails:ann@old.com": at(1)},
        emails=[{"address": "ann@old.com"}, {"address": "a@b.com"}],
    )  # fmt: skip
    golden, _ = merge([older_copy, removed], PRIORITY)
    assert [e.address for e in golden.emails] == ["a@b.com"]
    re_added = timed(
        "rhythm", "r1", {"emails:ann@old.com": at(3)},
        emails=[{"address": "ann@old.com"}, {"address": "a@b.com"}],
    )  # fmt: skip
    golden, _ = merge([re_added, removed], PRIORITY)
    assert sorted(e.address for e in golden.emails) == ["a@b.com", "ann@old.com"]


@pytest.mark.parametrize(
    ("pylon_time", "xurrent_time", "rule", "winner"),
    [
        (between(2, 3), at(1), "timestamped_wins", "From Pylon"),  # interval after
        (between(2, 3), at(4), "timestamped_wins", "From Xurrent"),  # interval before
        (between(2, 3), at(1), "priority", "From Pylon"),
        (between(2, 3), at(4), "priority", "From Xurrent"),
        (between(2, 4), at(3), "timestamped_wins", "From Xurrent"),  # inside: the rule
        (between(2, 4), at(3), "priority", "From Pylon"),  # pylon 4 before xurrent 5
    ],
)
def test_an_untimed_change_is_dated_by_its_interval(
    pylon_time: FieldTime, xurrent_time: FieldTime, rule: UntimedRule, winner: str
) -> None:
    pylon = timed("pylon", "p1", {"job_title": pylon_time}, job_title="From Pylon")
    xurrent = timed("xurrent", "x1", {"job_title": xurrent_time}, job_title="From Xurrent")
    golden, provenance = merge([pylon, xurrent], PRIORITY, rule)
    assert golden.job_title == winner
    assert provenance["job_title"].how == ("interval" if winner == "From Pylon" else "vendor")


def test_an_unknown_untimed_rule_is_refused() -> None:
    with pytest.raises(ValueError, match="untimed_conflicts"):
        merge([source("pylon", "p1", None)], PRIORITY, "seen_last")  # type: ignore[arg-type]


def test_our_own_copy_has_no_say() -> None:
    ours = FieldTime(T0 + timedelta(hours=5), "vendor", own=True)
    written = timed("growcrm", "g1", {"job_title": ours}, job_title="Copied")
    users = timed("trackops", "t1", {"job_title": at(1)}, job_title="Typed")
    golden, _ = merge([written, users], PRIORITY)
    assert golden.job_title == "Typed"
    golden, _ = merge([written], PRIORITY)
    assert golden.job_title is None


_TIMES = st.sampled_from(
    [at(0), at(1), at(1), between(0, 2), between(1, 3), FieldTime(None, "first_seen"),
     FieldTime(T0 + timedelta(hours=1), "vendor", own=True)]
)  # fmt: skip
_KEYS = ("job_title", "emails:a@x.com", "emails:b@x.com", "emails.primary", "phones:+14045550101")
_EMAILS = st.lists(st.sampled_from(["a@x.com", "b@x.com", "c@x.com"]), unique=True, max_size=3)


@st.composite
def _timed_sources(draw: st.DrawFn) -> list[SourceContact]:
    keys = draw(
        st.lists(
            st.tuples(st.sampled_from(sorted(PRIORITY)), st.sampled_from(["1", "2"])),
            min_size=1, max_size=5, unique=True,
        )
    )  # fmt: skip
    made = []
    for system, external_id in keys:
        times = {key: draw(_TIMES) for key in _KEYS if draw(st.booleans())}
        emails = [{"address": a} for a in draw(_EMAILS)]
        title = draw(st.sampled_from([None, "A", "B"]))
        made.append(timed(system, external_id, times, draw(_TIMES), emails=emails, job_title=title))
    return made


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_with_field_times_the_order_of_sources_does_not_matter(data: st.DataObject) -> None:
    given_sources = data.draw(_timed_sources())
    shuffled = data.draw(st.permutations(given_sources))
    for rule in UNTIMED_RULES:
        golden, provenance = merge(given_sources, PRIORITY, rule)
        again, provenance_again = merge(shuffled, PRIORITY, rule)
        assert again == golden
        assert provenance_again == provenance
