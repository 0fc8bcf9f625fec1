"""One test per comparison level: two records that must land on exactly that level.

``test_every_level_has_a_case`` fails when a level is added without a case here."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from contactsync.matching.compare import FIELDS, LEVELS, compare
from contactsync.matching.normalise import Features, features
from contactsync.matching.stats import Frequencies
from contactsync.model.contact import Contact

SHARED = "+14045550100"  # a number the population says is shared (a switchboard)


def person(**fields: Any) -> Features:
    return features(Contact.model_validate(fields, context={"default_region": "US"}))


def named(first: str = "Ann", last: str = "Lee", **fields: Any) -> Features:
    return person(first_name=first, last_name=last, **fields)


def with_emails(item: Features, *emails: str) -> Features:
    """Emails as a messy source holds them (the model would refuse some of them)."""
    values = frozenset(emails)
    return dataclasses.replace(item, emails=values, personal_emails=values)


def mail(*addresses: str) -> dict[str, Any]:
    return {"emails": [{"address": a} for a in addresses]}


def phone(number: str, kind: str = "mobile") -> dict[str, Any]:
    return {"phones": [{"number": number, "type": kind}]}


def street(line: str, **place: str) -> dict[str, Any]:
    return {"address": {"lines": [line], **place}}


NO = named()  # a record with nothing but the name

CASES: list[tuple[str, str, Features, Features]] = [
    ("first", "missing", named(first=""), NO),
    ("first", "exact", named("Ann"), named("ann")),
    ("first", "nickname", named("Robert"), named("Bob")),
    ("first", "typo", named("Michaela"), named("Michalea")),
    ("first", "initial", named("A."), named("Ann")),
    ("first", "middle", named("Ann", middle_name="Marie"), named("Marie")),
    ("first", "phonetic", named("Zoltan"), named("Soltann")),
    ("first", "similar", named("Christabel"), named("Christelle")),
    ("first", "differ", named("Ann"), named("Tom")),
    ("last", "missing", named(last=""), NO),
    ("last", "exact", named(last="Lee"), named(last="LEE")),
    ("last", "maiden", named(last="Stone", maiden_name="Lee"), named(last="Lee")),
    ("last", "part", named(last="Garcia Lopez"), named(last="Lopez")),
    ("last", "typo", named(last="Chandler"), named(last="Chnadler")),
    ("last", "phonetic", named(last="Philips"), named(last="Fillipps")),
    ("last", "similar", named(last="Hendersonn"), named(last="Hendriksonn")),
    ("last", "differ", named(last="Lee"), named(last="Novak")),
    ("middle", "missing", NO, NO),
    ("middle", "agree", named(middle_name="Marie"), named(middle_name="M.")),
    ("middle", "differ", named(middle_name="Marie"), named(middle_name="Kate")),
    ("email", "missing", named(**mail("ann@x.com")), NO),
    ("email", "same", named(**mail("Ann.Lee@x.com")), named(**mail("ann.lee@x.com"))),
    ("email", "typo", named(**mail("ann.lee@x.com")), named(**mail("ann.lee@x.cmo"))),
    ("email", "typo", named(**mail("ann.lee@x.com")), named(**mail("anne.lee@x.com"))),
    ("email", "local", named(**mail("sunnyside77@x.com")), named(**mail("sunnyside77@work.org"))),
    # the same local part elsewhere that is only the name: every Ann Lee has it
    ("email", "differ", named(**mail("ann.lee@x.com")), named(**mail("ann.lee@work.org"))),
    ("email", "differ", named(**mail("alee@x.com")), named(**mail("alee@work.org"))),
    # ... also when it is the full name behind nicknames (every Drew or Andy Murphy may be
    # murphy.andrew somewhere), or the name only one record spells right
    (
        "email",
        "differ",
        named("Drew", "Murphy", **mail("murphy.andrew@example.org")),
        named("Andy", "Murphy", **mail("murphy.andrew@work.com")),
    ),
    (
        "email",
        "differ",
        named("Gerald", "Hilll", **mail("gerald.hill@example.org")),
        named("Gerald", "Hill", **mail("gerald.hill@work.com")),
    ),
    ("email", "masked", with_emails(NO, "a***@x.com"), with_emails(NO, "ann.lee@x.com")),
    ("email", "role", named(**mail("info@x.com")), named("Tom", **mail("info@x.com"))),
    ("email", "differ", named(**mail("ann.lee@x.com")), named(**mail("tom.novak@y.com"))),
    ("phone", "missing", named(**phone("404-555-0123")), NO),
    ("phone", "mobile", named(**phone("404-555-0123")), named(**phone("(404) 555 0123"))),
    (
        "phone",
        "landline",
        named(**phone("404-555-0123", "home")),
        named(**phone("4045550123", "work")),
    ),
    ("phone", "near", named(**phone("404-555-0123")), named(**phone("404-555-0132"))),
    ("phone", "shared", named(**phone(SHARED, "work")), named(**phone(SHARED, "work"))),
    ("phone", "differ", named(**phone("404-555-0123")), named(**phone("212-555-0188"))),
    ("reference", "missing", named(reference="A1234567"), NO),
    ("reference", "same", named(reference="a-123-4567"), named(reference="A1234567")),
    ("reference", "typo", named(reference="A1234567"), named(reference="A1243567")),
    ("reference", "near", named(reference="A1234567"), named(reference="A1299567")),
    ("reference", "differ", named(reference="A1234567"), named(reference="B7654321")),
    ("birthday", "missing", named(birthday="1980-04-02"), NO),
    ("birthday", "same", named(birthday="1980-04-02"), named(birthday="1980-04-02")),
    ("birthday", "near", named(birthday="1980-04-02"), named(birthday="1980-02-04")),
    ("birthday", "differ", named(birthday="1980-04-02"), named(birthday="1975-11-30")),
    ("street", "missing", named(**street("12 Maple Street")), NO),
    ("street", "same", named(**street("12 Maple St.")), named(**street("12 maple street"))),
    ("street", "typo", named(**street("12 Maple Street")), named(**street("12 Mapel Street"))),
    ("street", "differ", named(**street("12 Maple Street")), named(**street("9 Oak Road"))),
    ("place", "missing", NO, NO),
    (
        "place",
        "postal",
        named(**street("1 A", postal_code="30301")),
        named(**street("2 B", postal_code="30301")),
    ),
    (
        "place",
        "city",
        named(**street("1 A", city="Atlanta")),
        named(**street("2 B", city="atlanta")),
    ),
    (
        "place",
        "city_typo",
        named(**street("1 A", city="Atlanta")),
        named(**street("2 B", city="Atalnta")),
    ),
    (
        "place",
        "differ",
        named(**street("1 A", city="Atlanta")),
        named(**street("2 B", city="Boston")),
    ),
    ("org", "missing", named(organization={"name": "Acme"}), NO),
    (
        "org",
        "same",
        named(organization={"name": "Acme Corp."}),
        named(organization={"name": "ACME"}),
    ),
    (
        "org",
        "similar",
        named(organization={"name": "Globex Industries"}),
        named(organization={"name": "Globex Industires"}),
    ),
    (
        "org",
        "differ",
        named(organization={"name": "Acme"}),
        named(organization={"name": "Initech"}),
    ),
]


def level_of(a: Features, b: Features, field: str) -> str:
    vector, _ = compare(a, b, Frequencies(), lambda value: value == SHARED)
    return LEVELS[field][vector[FIELDS.index(field)]]


@pytest.mark.parametrize(("field", "level", "a", "b"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_comparison_level(field: str, level: str, a: Features, b: Features) -> None:
    assert level_of(a, b, field) == level
    assert level_of(b, a, field) == level  # symmetric


def test_every_level_has_a_case() -> None:
    covered = {(field, level) for field, level, _, _ in CASES}
    assert covered == {(field, level) for field in FIELDS for level in LEVELS[field]}


def test_a_masked_email_needs_its_shown_letters_and_domain_to_fit() -> None:
    masked = with_emails(NO, "a***@x.com")
    assert level_of(masked, with_emails(NO, "tom@x.com"), "email") == "differ"
    assert level_of(masked, with_emails(NO, "ann@y.com"), "email") == "differ"


def test_a_phone_with_extra_digits_is_near_and_a_short_one_is_not() -> None:
    assert level_of(with_phones("+14045550123"), with_phones("+1404555012399"), "phone") == "near"
    assert level_of(with_phones("+1404"), with_phones("+140455"), "phone") == "differ"


def with_phones(*numbers: str) -> Features:
    values = frozenset(numbers)
    return dataclasses.replace(NO, phones=values, mobiles=values)


def test_swapped_names_weigh_as_the_more_common_reading() -> None:
    """A rare surname in the first-name field must not count as a rare first name."""
    frequencies = Frequencies()
    common = [named("Ann", "White") for _ in range(30)]
    for item in common:
        frequencies.update(item)
    swapped, straight = named("White", "Ann"), named("Ann", "White")
    vector, tf = compare(swapped, straight, frequencies, lambda _: False)
    assert LEVELS["first"][vector[FIELDS.index("first")]] == "exact"
    _, straight_tf = compare(straight, named("Ann", "White"), frequencies, lambda _: False)
    assert sum(tf) <= sum(straight_tf)


def test_addresses_differing_only_in_separators_or_digits_are_two_people() -> None:
    """How one mail domain tells two people of one name apart."""
    first = named(**mail("jeffrey.cooper@example.com"))
    assert level_of(first, named(**mail("jeffreycooper@example.com")), "email") == "differ"
    assert level_of(first, named(**mail("jeffrey_cooper@example.com")), "email") == "differ"
    assert level_of(first, named(**mail("jeffrey.cooper2@example.com")), "email") == "differ"
