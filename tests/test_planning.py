from typing import Any

from contactsync.engine.plan import Target, diff, plan_person
from contactsync.model.contact import ActionKind, Contact


def outbound(contact: Contact) -> dict[str, Any]:
    """A tiny stand-in for a mapping: vendor keys out of canonical fields."""
    payload: dict[str, Any] = {"name": contact.display_name}
    if contact.primary_email:
        payload["email"] = contact.primary_email
    if contact.job_title:
        payload["job"] = {"title": contact.job_title}
    return payload


def contact(**fields: Any) -> Contact:
    return Contact.model_validate({"first_name": "Ann", "last_name": "Lee", **fields})


GOLDEN = contact(emails=[{"address": "ann@example.com"}], job_title="CTO")


def test_a_system_without_the_person_gets_a_create_with_the_full_payload() -> None:
    (action,) = plan_person("p1", GOLDEN, [Target(system="pylon", outbound=outbound)])
    assert action.kind is ActionKind.CREATE
    assert action.payload == {
        "name": "Ann Lee",
        "email": "ann@example.com",
        "job": {"title": "CTO"},
    }


def test_a_system_that_cannot_hold_the_person_gets_nothing() -> None:
    target = Target(system="growcrm", outbound=outbound, cannot_hold="no email")
    assert plan_person("p1", GOLDEN, [target]) == []


def test_only_changed_fields_are_updated_and_named_with_before_and_after() -> None:
    current = contact(emails=[{"address": "ANN@example.com"}], job_title="VP")
    target = Target(system="pylon", outbound=outbound, current=current, external_id="c9")
    (action,) = plan_person("p1", GOLDEN, [target])
    assert action.kind is ActionKind.UPDATE
    assert action.external_id == "c9"
    assert [(c.field, c.before, c.after) for c in action.changes] == [("job.title", "VP", "CTO")]
    assert action.payload == {"job": {"title": "CTO"}}


def test_identical_records_plan_nothing() -> None:
    target = Target(system="pylon", outbound=outbound, current=GOLDEN, external_id="c9")
    assert plan_person("p1", GOLDEN, [target]) == []


def test_an_empty_golden_field_never_erases_a_filled_one() -> None:
    golden = contact(emails=[{"address": "ann@example.com"}])
    target = Target(system="pylon", outbound=outbound, current=GOLDEN, external_id="c9")
    assert plan_person("p1", golden, [target]) == []
    assert diff({"a": None, "b": ""}, {"a": 1, "b": "x"}) == []


def test_deletes_propagate_only_where_configured() -> None:
    golden = contact(status="deleted")
    keep = Target(system="pylon", outbound=outbound, current=GOLDEN, external_id="c1")
    drop = Target(
        system="trackops",
        outbound=outbound,
        current=GOLDEN,
        external_id="7",
        propagate_deletes=True,
    )
    (action,) = plan_person("p1", golden, [keep, drop])
    assert (action.kind, action.system, action.external_id) == (ActionKind.DELETE, "trackops", "7")


def test_read_only_systems_are_never_written() -> None:
    target = Target(system="pylon", outbound=outbound, writable=False)
    assert plan_person("p1", GOLDEN, [target]) == []


def test_a_taken_name_creates_with_allow_duplicates() -> None:
    target = Target(system="trackops", outbound=outbound, name_taken=True)
    (action,) = plan_person("p1", GOLDEN, [target])
    assert action.allow_duplicates is True


def test_a_list_with_the_same_values_after_the_same_first_is_not_rewritten() -> None:
    from contactsync.engine.plan import diff

    held = {"phone_numbers": ["1312", "1313", "1314"], "primary": "1312"}
    assert diff({"phone_numbers": ["1312", "1314", "1313"]}, held) == []
    [primary_moved] = diff({"phone_numbers": ["1313", "1312", "1314"]}, held)
    assert primary_moved.field == "phone_numbers"
    [one_more] = diff({"phone_numbers": ["1312", "1313", "1314", "1315"]}, held)
    assert one_more.after == ["1312", "1313", "1314", "1315"]
    assert diff({"tags": [{"a": 1}, {"b": 2}]}, {"tags": [{"b": 2}, {"a": 1}]}) != []
