"""A vendor field only a removed email or phone, or a leftover of our own, fills is emptied
(issue 14)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from contactsync.engine.plan import Target, plan_person
from contactsync.engine.plan_clear import fields_to_clear, own_leftovers
from contactsync.model.contact import Contact
from contactsync.model.field_changes import FieldTime
from contactsync.state.sqlite.store import StoredRecord


def outbound(contact: Contact) -> dict[str, Any]:
    """One email slot and a mobile slot, the way Trackops holds them."""
    mobile = next((p.number for p in contact.phones if p.type == "mobile"), None)
    payload: dict[str, Any] = {"first_name": contact.first_name}
    if contact.emails:
        payload["email"] = contact.emails[0].address
    if mobile:
        payload["phone_mobile"] = mobile
    return payload


HELD = Contact.model_validate(
    {
        "first_name": "Ann",
        "emails": [{"address": "ann@x.com"}],
        "phones": [{"number": "+14045550100", "type": "mobile"}],
    }
)


def test_only_fields_filled_by_a_removed_item_are_cleared() -> None:
    assert fields_to_clear(outbound, HELD, frozenset({"+14045550100"})) == {"phone_mobile"}
    assert fields_to_clear(outbound, HELD, frozenset({"+14045550199"})) == frozenset()
    assert fields_to_clear(outbound, None, frozenset({"+14045550100"})) == frozenset()


def test_a_cleared_field_is_sent_empty_and_nothing_else_is_erased() -> None:
    golden = Contact.model_validate({"first_name": "Ann", "phones": [{"number": "+14045550199"}]})
    target = Target(
        system="trackops", outbound=outbound, current=HELD, external_id="t1",
        clear=frozenset({"phone_mobile"}),
    )  # fmt: skip
    (action,) = plan_person("p1", golden, [target])
    assert action.payload == {"phone_mobile": None}  # the email the golden lacks stays
    assert [(c.field, c.after) for c in action.changes] == [("phone_mobile", None)]
    unchanged = Target(system="trackops", outbound=outbound, current=HELD, external_id="t1")
    assert plan_person("p1", golden, [unchanged]) == []


def _stored(system: str, external_id: str) -> StoredRecord:
    return StoredRecord(
        system, external_id, "p1", "h", HELD.model_dump(mode="json"), None,
        datetime(2026, 6, 1, tzinfo=UTC), None, None,
    )  # fmt: skip


def test_an_item_held_only_as_our_own_copy_and_gone_from_the_golden_is_a_leftover() -> None:
    """Own copies have no say in the golden record: nothing but this would ever take out
    an email contactsync wrote that the golden record no longer has."""
    at = datetime(2026, 6, 1, tzinfo=UTC)
    times = {
        ("rhythm", "r1"): {
            "emails:ann@x.com": FieldTime(at, own=True),  # ours, golden has it: kept
            "emails:old@x.com": FieldTime(at, own=True),  # ours, golden lost it: leftover
            "phones:+14045550100": FieldTime(at),  # a user's: never a leftover
            "job_title": FieldTime(at, own=True),  # not an item
        }
    }
    golden = Contact.model_validate({"first_name": "Ann", "emails": [{"address": "ann@x.com"}]})
    live = [_stored("rhythm", "r1")]
    assert own_leftovers(times, live, golden) == {"old@x.com"}
    assert own_leftovers(times, [], golden) == frozenset()
    assert own_leftovers({}, live, golden) == frozenset()
