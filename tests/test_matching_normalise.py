"""Normalisation: each kind of value the matcher compares, and how names relate."""

from __future__ import annotations

import pytest

from contactsync.matching.compare import FIELDS, LEVELS, compare
from contactsync.matching.names import compare_first, compare_last, crossed, is_typo, swapped
from contactsync.matching.nicknames import name_roots, related
from contactsync.matching.normalise import (
    compact,
    features,
    fold,
    is_role_mailbox,
    normalise_code,
    normalise_email,
    normalise_org,
    normalise_phone,
    normalise_street,
)
from contactsync.matching.stats import Frequencies
from contactsync.model.contact import Contact, Phone, PhoneType


def person(**fields: object) -> Contact:
    return Contact.model_validate(fields)


def level(first: Contact, second: Contact, field: str) -> str:
    vector, _ = compare(features(first), features(second), Frequencies(), lambda _: False)
    index = FIELDS.index(field)
    return LEVELS[field][vector[index]]


# --- text ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Müller", "muller"),
        ("Ørsted", "orsted"),
        ("Straße", "strasse"),
        ("O'Brien", "obrien"),
        ("  José   María ", "jose maria"),
        ("Łukasz", "lukasz"),
        ("Zoë-Anne", "zoe anne"),
        (None, ""),
    ],
)
def test_fold_unicode_case_and_punctuation(text: str | None, folded: str) -> None:
    assert fold(text) == folded


def test_compact_drops_spaces_of_multi_word_names() -> None:
    assert compact("van den Berg") == "vandenberg"
    assert compact("de Jong") == compact("De-Jong")


# --- emails and phones -----------------------------------------------------------------


def test_emails_are_trimmed_and_case_folded() -> None:
    assert normalise_email("  John.Smith@Example.COM\t") == "john.smith@example.com"
    a = features(person(first_name="John", emails=[{"address": " John.Smith@EXAMPLE.com "}]))
    b = features(person(first_name="John", emails=[{"address": "john.smith@example.com"}]))
    assert a.emails == b.emails == frozenset({"john.smith@example.com"})


@pytest.mark.parametrize(
    ("text", "region", "e164"),
    [
        ("(404) 555-0101", "US", "+14045550101"),
        ("404.555.0101", "US", "+14045550101"),
        ("1-404-555-0101", "US", "+14045550101"),
        ("020 7946 0018", "GB", "+442079460018"),
        ("+44 20 7946 0018", "US", "+442079460018"),
        ("030 1234567", "DE", "+49301234567"),
        ("not a phone", "US", ""),
        ("", "US", ""),
    ],
)
def test_phones_to_e164_with_the_default_region(text: str, region: str, e164: str) -> None:
    assert normalise_phone(text, region) == e164


def test_the_same_number_in_two_formats_agrees() -> None:
    a = person(first_name="Ann", phones=[Phone(number="(404) 555-0101", type=PhoneType.MOBILE)])
    b = person(first_name="Ann", phones=[{"number": "+1 404-555-0101", "type": "mobile"}])
    assert level(a, b, "phone") == "mobile"


@pytest.mark.parametrize(
    ("address", "role"),
    [
        ("info@acme.com", True),
        ("support@acme.com", True),
        ("help.desk@acme.com", True),
        ("info.jones@acme.com", False),
        ("helpdesk@acme.com", True),
        ("no-reply@acme.com", True),
        ("ann.lee@acme.com", False),
    ],
)
def test_role_mailboxes_are_recognised(address: str, role: bool) -> None:
    assert is_role_mailbox(address) is role


def test_an_organizations_own_channel_email_is_not_personal() -> None:
    contact = person(
        first_name="Ann",
        emails=[{"address": "frontdesk@acme.com"}, {"address": "ann@acme.com"}],
        organization={"name": "Acme", "channels": [{"email": "frontdesk@acme.com"}]},
    )
    assert features(contact).personal_emails == frozenset({"ann@acme.com"})


# --- addresses, organizations, codes ---------------------------------------------------


def test_street_abbreviations_are_expanded() -> None:
    assert normalise_street("12 Maple St.") == normalise_street("12 maple street")
    assert normalise_street("Hauptstr. 5") == normalise_street("Hauptstraße 5")
    assert normalise_street("12 Maple St.") != normalise_street("14 Maple St.")


def test_organization_legal_forms_are_dropped() -> None:
    assert normalise_org("Acme Corp.") == normalise_org("ACME") == "acme"
    assert normalise_org("Northwind Logistics GmbH") == "northwindlogistics"


def test_codes_keep_letters_and_digits_only() -> None:
    assert normalise_code("sw1a 1aa") == "SW1A1AA"
    assert normalise_code("EMP-12345") == "EMP12345"


# --- names -----------------------------------------------------------------------------


def test_nickname_table_relates_short_and_formal_names() -> None:
    assert related("bob", "robert")
    assert related("bob", "rob")  # two nicknames of one name
    assert related("pat", "patricia")
    assert related("pat", "patrick")
    assert not related("patricia", "patrick")
    assert related("hans", "johannes")  # the non-English supplement
    assert related("paco", "francisco")
    assert "robert" in name_roots("bobby")


def test_nickname_and_nickname_field_make_first_names_agree() -> None:
    robert = features(person(first_name="Robert", last_name="Smith"))
    bob = features(person(first_name="Bob", last_name="Smith"))
    assert compare_first(robert, bob)[0] == "nickname"
    stated = features(person(first_name="Robert", nickname="Robbie", last_name="Smith"))
    robbie = features(person(first_name="Robbie", last_name="Smith"))
    assert compare_first(stated, robbie)[0] == "exact"


def test_initials_agree_with_full_first_names_only_on_their_letter() -> None:
    initial = features(person(first_name="J.", last_name="Smith"))
    assert initial.is_initial
    assert compare_first(initial, features(person(first_name="John")))[0] == "initial"
    assert compare_first(initial, features(person(first_name="Mary")))[0] == "differ"


def test_typos_and_going_by_the_middle_name() -> None:
    assert is_typo("katherine", "katherien")
    assert not is_typo("ann", "anne")  # too short to tell a typo from another name
    middle = features(person(first_name="James", middle_name="Paul", last_name="Ng"))
    assert compare_first(middle, features(person(first_name="Paul", last_name="Ng")))[0] == (
        "middle"
    )


def test_first_and_last_name_swapped() -> None:
    straight = features(person(first_name="John", last_name="Smith"))
    turned = features(person(first_name="Smith", last_name="John"))
    assert swapped(straight, turned)
    assert (
        level(
            person(first_name="John", last_name="Smith"),
            person(first_name="Smith", last_name="John"),
            "first",
        )
        == "exact"
    )


def test_one_name_in_the_other_field_is_still_a_name_match() -> None:
    a = features(person(first_name="Smith", last_name="Johnny"))
    b = features(person(first_name="Anna", last_name="Smith"))
    assert crossed(a, b) == ("differ", "exact")


def test_maiden_name_matches_the_other_records_last_name() -> None:
    married = features(person(first_name="Mary", last_name="Jones", maiden_name="Smith"))
    maiden = features(person(first_name="Mary", last_name="Smith"))
    assert compare_last(married, maiden)[0] == "maiden"
    assert compare_last(maiden, married)[0] == "maiden"


def test_full_name_only_is_parsed_into_parts() -> None:
    parsed = features(person(full_name="Dr. Mary Ann Smith-Jones"))
    assert parsed.first == "mary"
    assert parsed.last == "smithjones"
    assert parsed.last_words == ("smith", "jones")
    assert compare_last(parsed, features(person(first_name="Mary", last_name="Smith")))[0] == (
        "part"
    )


# --- unicode clean-up: compatibility forms, invisible characters, look-alikes ---------


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Jo\u200bhn", "john"),  # zero-width space
        ("An\u200dn\ufeff", "ann"),  # zero-width joiner, byte-order mark
        ("Mar\u00adtin", "martin"),  # soft hyphen
        ("\uff2a\uff4f\uff48\uff4e", "john"),  # full-width letters
        ("P\u0430ul", "paul"),  # Cyrillic a in a Latin word
        ("\u0421\u043e\u0440\u0435r", "coper"),  # Cyrillic C, o, p, e with a Latin r
        ("J\u03bfhn", "john"),  # Greek omicron
    ],
)
def test_invisible_and_look_alike_characters_are_cleaned(text: str, folded: str) -> None:
    assert fold(text) == folded


def test_a_word_wholly_in_another_script_is_not_turned_into_latin() -> None:
    assert fold("\u0410\u043d\u043d\u0430") != "ahha"  # Cyrillic Anna is no spoof


def test_emails_with_look_alike_letters_agree_with_the_plain_address() -> None:
    assert normalise_email(" J\u043ehn@Ex\u0430mple.com ") == "john@example.com"
    assert normalise_email("jo\u200bhn@example.com") == "john@example.com"
