from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from contactsync.model.contact import (
    Action,
    ActionKind,
    Address,
    Contact,
    OrgChannel,
    PhoneType,
    dumped_content_hash,
    field_errors,
    normalize_email,
    normalize_phone,
    parse_contact,
)


def test_email_is_trimmed_and_case_folded() -> None:
    assert normalize_email("  Susie.Smith@Example.COM ") == "susie.smith@example.com"


@pytest.mark.parametrize("bad", ["", "susie@", "@example.com", "no at sign", "a@b@c.com"])
def test_invalid_email_names_the_value(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid email"):
        normalize_email(bad)


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("(404) 555-0101", "US", "+14045550101"),
        ("404.555.0101", "US", "+14045550101"),
        ("+1 404-555-0101", "GB", "+14045550101"),
        ("020 7946 0958", "GB", "+442079460958"),
    ],
)
def test_phones_become_e164_with_the_default_region(raw: str, region: str, expected: str) -> None:
    assert normalize_phone(raw, region)[0] == expected


def test_phone_extension_is_kept_apart() -> None:
    contact = Contact.model_validate(
        {"last_name": "Smith", "phones": [{"number": "+1 404-555-5555 x501", "type": "work"}]}
    )
    assert contact.phones[0].number == "+14045555555"
    assert contact.phones[0].extension == "501"
    assert contact.phones[0].type is PhoneType.WORK


def test_default_region_comes_from_validation_context() -> None:
    contact, errors = parse_contact({"last_name": "Smith", "phones": ["020 7946 0958"]}, "GB")
    assert errors == []
    assert contact is not None
    assert contact.phones[0].number == "+442079460958"


def test_updated_at_is_aware_utc() -> None:
    offset = timezone(timedelta(hours=-6))
    contact = Contact.model_validate(
        {"full_name": "Ann Lee", "updated_at": datetime(2016, 3, 14, 3, 10, 31, tzinfo=offset)}
    )
    assert contact.updated_at == datetime(2016, 3, 14, 9, 10, 31, tzinfo=UTC)
    naive = Contact.model_validate({"full_name": "Ann Lee", "updated_at": "2026-06-15T09:30:00"})
    assert naive.updated_at is not None
    assert naive.updated_at.tzinfo is UTC


@pytest.mark.parametrize(
    ("data", "field", "value_fragment"),
    [
        ({"last_name": "X", "emails": [{"address": "x@"}]}, "emails[0].address", "x@"),
        ({"last_name": "X", "phones": [{"number": "12"}]}, "phones[0]", "12"),
        ({"last_name": "X", "birthday": "1979-02-31"}, "birthday", "1979-02-31"),
        ({"last_name": "X", "updated_at": "yesterday"}, "updated_at", "yesterday"),
        ({"last_name": {"nested": 1}}, "last_name", None),
        ({"last_name": "X", "address": {"country": "Germany"}}, "address.country", "Germany"),
        ({"last_name": "X", "language": "english"}, "language", "english"),
    ],
)
def test_malformed_fields_are_named(data: dict, field: str, value_fragment: str | None) -> None:
    contact, errors = parse_contact(data)
    assert contact is None
    assert [e.field for e in errors] == [field]
    if value_fragment is not None:
        assert value_fragment in str(errors[0])


def test_nothing_to_identify_anyone_by_is_an_error_not_a_crash() -> None:
    contact, errors = parse_contact({"job_title": "Buyer", "notes": "met at the fair"})
    assert contact is None
    assert "needs a name" in errors[0].message


@pytest.mark.parametrize(
    "identity",
    [
        {"emails": [{"address": "a@example.com"}]},
        {"phones": ["+14045550123"]},
        {"reference": "EMP-1"},
        {"sync_id": "p-1"},
        {"full_name": "Ada"},
    ],
)
def test_a_name_an_email_a_phone_or_an_id_identifies_a_contact(identity: dict) -> None:
    contact, errors = parse_contact({"job_title": "Buyer", **identity})
    assert errors == []
    assert contact is not None


def test_field_errors_lists_every_problem() -> None:
    with pytest.raises(ValidationError) as info:
        Contact.model_validate({"last_name": "X", "birthday": "nope", "language": "zzz"})
    fields = {e.field for e in field_errors(info.value)}
    assert fields == {"birthday", "language"}


def test_org_channel_needs_exactly_one_value_and_fax_is_telephone_only() -> None:
    OrgChannel(label="general", website="www.best-it.com")
    with pytest.raises(ValidationError, match="needs one of"):
        OrgChannel(label="general", email="info@best-it.com", website="www.best-it.com")
    with pytest.raises(ValidationError, match="telephones only"):
        OrgChannel(label="fax", email="fax@best-it.com")


def test_content_hash_ignores_source_and_timestamp_only() -> None:
    base = {"first_name": "Susie", "last_name": "Smith", "birthday": date(1979, 1, 1)}
    a = Contact.model_validate({**base, "source": {"system": "trackops", "external_id": "1"}})
    b = Contact.model_validate({**base, "updated_at": "2026-01-01T00:00:00Z"})
    c = Contact.model_validate({**base, "job_title": "Adjuster"})
    assert a.content_hash() == b.content_hash()
    assert a.content_hash() != c.content_hash()
    for contact in (a, b, c):  # the loader hashes what it stores, dumped once
        assert dumped_content_hash(contact.model_dump(mode="json")) == contact.content_hash()


def test_address_drops_blank_lines_and_upper_cases_country() -> None:
    address = Address.model_validate({"lines": ["1 Main St", "  "], "country": "us"})
    assert address.lines == ["1 Main St"]
    assert address.country == "US"


def test_action_key_is_one_create_per_person_and_system() -> None:
    a = Action(kind=ActionKind.CREATE, system="pylon", person_id="p1", payload={"name": "A"})
    b = Action(kind=ActionKind.CREATE, system="pylon", person_id="p1", payload={"name": "B"})
    u1 = Action(
        kind=ActionKind.UPDATE,
        system="pylon",
        person_id="p1",
        external_id="9",
        payload={"name": "A"},
    )
    u2 = Action(
        kind=ActionKind.UPDATE,
        system="pylon",
        person_id="p1",
        external_id="9",
        payload={"name": "B"},
    )
    assert a.key == b.key
    assert u1.key != u2.key
