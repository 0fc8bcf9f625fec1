"""First sight of a person: what the systems already agree on is kept (issue 15).

The systems here are small stand-ins for the real mappings: one that writes a single
name field (the full name, or else the parts: Pylon, Xurrent), one that writes the
parts only (Rhythm, Trackops), one that lists every phone with the primary first
(Pylon), and one with a slot per phone type whose office slot falls back on the
organization's telephone (Trackops).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import permutations
from typing import Any

from contactsync.engine.golden import SourceContact, merge
from contactsync.engine.golden_agreement import Holder, prefer_agreed, settled_keys, written_keys
from contactsync.engine.plan import diff
from contactsync.model.contact import Contact, Organization, OrgChannel, Phone, PhoneType
from contactsync.model.field_changes import FieldTime, next_times

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
PRIORITY = {"trackops": 1, "rhythm": 3, "pylon": 4, "xurrent": 5}
OFFICE = "+16045555255"  # the organization's telephone
MOBILE = "+16045551849"
HOME = "+16045552639"


def one_name(contact: Contact) -> dict[str, Any]:
    parts = [contact.first_name, contact.middle_name, contact.last_name]
    return {
        "name": contact.full_name or " ".join(p for p in parts if p) or None,
        "title": contact.job_title,
        "phone_numbers": [p.number for p in contact.phones] or None,
    }


def name_parts(contact: Contact) -> dict[str, Any]:
    def slot(kind: PhoneType) -> str | None:
        return next((p.number for p in contact.phones if p.type is kind), None)

    org = contact.organization
    general = next((c.telephone for c in org.channels if c.telephone), None) if org else None
    return {
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "title": contact.job_title,
        "phone_mobile": slot(PhoneType.MOBILE),
        "phone_office": slot(PhoneType.WORK) or general,
        "phone_home": slot(PhoneType.HOME),
    }


def name_only(contact: Contact) -> dict[str, Any]:  # writes no phones at all
    return {"name": contact.full_name}


OUTBOUND = {"pylon": one_name, "trackops": name_parts, "rhythm": name_parts, "xurrent": name_only}
WRITTEN = {
    "pylon": written_keys(["name", "job_title", "phones"]),
    "trackops": written_keys(["first_name", "last_name", "job_title", "phones"]),
    "rhythm": written_keys(["first_name", "last_name", "job_title", "phones"]),
    "xurrent": written_keys(["name"]),
}


def record(system: str, minutes: int, **fields: Any) -> SourceContact:
    return SourceContact(
        system=system,
        external_id=f"{system}-1",
        contact=Contact.model_validate(fields),
        updated_at=T0 + timedelta(minutes=minutes),
    )


def first_sight(
    sources: list[SourceContact], channels: list[OrgChannel] | None = None
) -> tuple[Contact, dict[str, Any]]:
    """Merge, the organization's channels as sync_resolve adds them, then agreement."""
    golden, provenance = merge(sources, PRIORITY)
    if channels is not None:
        golden = golden.model_copy(update={"organization": Organization(channels=channels)})
    holders = [Holder(s.system, OUTBOUND[s.system], s.contact, WRITTEN[s.system]) for s in sources]
    return prefer_agreed(golden, provenance, sources, holders, PRIORITY)


def writes(golden: Contact, sources: list[SourceContact]) -> dict[str, list[str]]:
    """The vendor fields the planner would write, by system."""
    found = {}
    for s in sources:
        changes = diff(OUTBOUND[s.system](golden), OUTBOUND[s.system](s.contact))
        if changes:
            found[s.system] = [c.field for c in changes]
    return found


def bob_scott() -> list[SourceContact]:
    # one name field holds "Bob Scot"; the parts elsewhere, newer, with the system's
    # own full-name string, which that system never writes (Rhythm's)
    return [
        record("pylon", 0, full_name="Bob Scot", first_name="Bob", last_name="Scot"),
        record("rhythm", 5, first_name="Robert", last_name="Scott", full_name="Robert Scott"),
        record("trackops", 3, first_name="Robert", last_name="Scott"),
    ]


def test_a_full_name_the_systems_agree_on_is_kept_over_a_newer_one_nobody_writes() -> None:
    sources = bob_scott()
    merged, _ = merge(sources, PRIORITY)
    assert merged.full_name == "Robert Scott"  # newest change wins: Pylon would be written
    golden, provenance = first_sight(sources)
    assert golden.full_name == "Bob Scot"
    assert (golden.first_name, golden.last_name) == ("Robert", "Scott")
    assert provenance["full_name"].system == "pylon"
    assert writes(golden, sources) == {}


def test_a_real_difference_is_still_decided_by_the_newest_change() -> None:
    sources = [
        record("pylon", 0, full_name="Ann Lee", job_title="Analyst"),
        record("rhythm", 5, first_name="Ann", last_name="Lee", job_title="Director"),
    ]
    golden, provenance = first_sight(sources)
    assert golden.job_title == "Director"
    assert provenance["job_title"].system == "rhythm"
    assert writes(golden, sources) == {"pylon": ["title"]}


def test_an_empty_value_is_never_taken_for_an_agreed_one() -> None:
    # no job title where the parts are kept: the planner never erases, so "none" would
    # write nothing anywhere; the title Pylon holds is still written there
    sources = [
        record("pylon", 0, full_name="Ann Lee", job_title="Analyst"),
        record("rhythm", 5, first_name="Ann", last_name="Lee"),
    ]
    golden, _ = first_sight(sources)
    assert golden.job_title == "Analyst"


def test_the_primary_phone_is_the_one_the_system_that_can_say_it_holds_first() -> None:
    # typed slots cannot say which phone is the primary: the record reads the mobile
    # slot first, and it is the newer record
    sources = [
        record("pylon", 0, full_name="Ann Lee", phones=[HOME, MOBILE]),
        record(
            "trackops",
            5,
            first_name="Ann",
            last_name="Lee",
            phones=[{"number": MOBILE, "type": "mobile"}, {"number": HOME, "type": "home"}],
        ),
    ]
    merged, _ = merge(sources, PRIORITY)
    assert merged.phones[0].number == MOBILE
    golden, provenance = first_sight(sources)
    assert [p.number for p in golden.phones] == [HOME, MOBILE]
    assert provenance["phones.primary"].system == "pylon"
    assert writes(golden, sources) == {}


def _office_filled_from_the_organization() -> list[SourceContact]:
    # Trackops' office slot holds the organization's telephone (the mapping's fallback),
    # read back as the person's own work phone; Pylon never had it
    return [
        record("pylon", 0, full_name="Ann Lee", phones=[MOBILE]),
        record(
            "trackops",
            5,
            first_name="Ann",
            last_name="Lee",
            phones=[{"number": MOBILE, "type": "mobile"}, {"number": OFFICE, "type": "work"}],
        ),
    ]


def test_a_number_a_system_filled_in_from_the_organization_is_left_out() -> None:
    sources = _office_filled_from_the_organization()
    merged, _ = merge(sources, PRIORITY)
    assert OFFICE in [p.number for p in merged.phones]
    golden, provenance = first_sight(sources, [OrgChannel(telephone=OFFICE)])
    assert [p.number for p in golden.phones] == [MOBILE]
    assert f"phones:{OFFICE}" not in provenance
    assert writes(golden, sources) == {}


def test_a_number_is_kept_while_a_system_that_cannot_write_phones_holds_it() -> None:
    # Xurrent writes no phones: its users may have added the number, and no other
    # system's fields could say so, so it is never left out
    xurrent = record("xurrent", 1, full_name="Ann Lee", phones=[MOBILE, OFFICE])
    sources = [*_office_filled_from_the_organization(), xurrent]
    golden, _ = first_sight(sources, [OrgChannel(telephone=OFFICE)])
    assert OFFICE in [p.number for p in golden.phones]


def test_a_phones_type_the_other_systems_hold_is_kept_over_a_newer_one() -> None:
    # the newest record types the number as a mobile, where both slot systems hold it
    # in the office slot: the merge's copy would move it in both
    sources = [
        record(
            "trackops",
            0,
            first_name="Ann",
            last_name="Lee",
            phones=[{"number": MOBILE, "type": "work"}],
        ),
        record(
            "rhythm",
            1,
            first_name="Ann",
            last_name="Lee",
            phones=[{"number": MOBILE, "type": "work"}],
        ),
        record("xurrent", 5, full_name="Ann Lee", phones=[{"number": MOBILE, "type": "mobile"}]),
    ]
    merged, _ = merge(sources, PRIORITY)
    assert merged.phones[0].type is PhoneType.MOBILE
    golden, provenance = first_sight(sources)
    assert golden.phones == [Phone(number=MOBILE, type=PhoneType.WORK)]
    assert provenance[f"phones:{MOBILE}"].system in ("trackops", "rhythm")
    assert writes(golden, sources) == {}


def test_the_result_does_not_depend_on_the_order_of_the_records() -> None:
    for sources in (bob_scott(), _office_filled_from_the_organization()):
        results = {
            first_sight(list(order), [OrgChannel(telephone=OFFICE)])[0].model_dump_json()
            for order in permutations(sources)
        }
        assert len(results) == 1


def test_written_keys_name_the_fields_a_mapping_writes_from() -> None:
    keys = written_keys(["name", "address.city", "organization.name", "phones", "sync_id"])
    assert {"full_name", "first_name", "last_name", "address", "organization.name"} <= keys
    assert "phones" in keys
    assert "organization.ref" not in keys
    assert "job_title" not in keys


def test_a_field_a_user_changed_since_first_sight_is_decided_by_the_merge_alone() -> None:
    # Pylon's name field was edited after contactsync first saw the records: the newest
    # change wins there, whatever the other systems agree on
    sources = bob_scott()
    first = next_times(None, None, sources[0].contact.model_dump(mode="json"), stamp(0))
    edited = sources[1].contact.model_copy(update={"full_name": "Rob Scott"})
    after = next_times(
        sources[1].contact.model_dump(mode="json"),
        first,
        edited.model_dump(mode="json"),
        stamp(9),
    )
    assert first["full_name"].first
    assert not after["full_name"].first
    assert after["last_name"].first  # unchanged: still only the first sight's time
    assert settled_keys([first, after]) == {"full_name"}
    sources[1] = SourceContact("rhythm", "rhythm-1", edited, T0 + timedelta(minutes=9))
    golden, provenance = merge(sources, PRIORITY)
    holders = [Holder(s.system, OUTBOUND[s.system], s.contact, WRITTEN[s.system]) for s in sources]
    kept, _ = prefer_agreed(golden, provenance, sources, holders, PRIORITY, settled={"full_name"})
    assert kept.full_name == "Rob Scott"
    agreed, _ = prefer_agreed(golden, provenance, sources, holders, PRIORITY)
    assert agreed.full_name == "Bob Scot"  # without the edit's history


def test_contactsyncs_own_copies_leave_a_field_without_history() -> None:
    own = {"job_title": FieldTime(T0, "vendor", own=True)}
    seen = {"job_title": FieldTime(T0, "vendor", first=True)}
    assert settled_keys([own, seen]) == frozenset()
    assert FieldTime.from_dict(seen["job_title"].as_dict()).first


def stamp(minutes: int) -> FieldTime:
    return FieldTime(T0 + timedelta(minutes=minutes), "vendor")
