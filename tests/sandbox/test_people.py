"""The seed generator: deterministic, realistic overlap and differences, hard cases in the truth."""

from __future__ import annotations

import random
import re
import time
from collections import Counter, defaultdict
from functools import cache

import pytest
from rapidfuzz.distance import Levenshtein

from contactsync.adapters.registry import SYSTEMS
from contactsync.model.contact import OrgChannel, normalize_email, normalize_phone
from contactsync_sandbox.names import NICKNAMES
from contactsync_sandbox.people import SeedData, SeedRecord, generate
from contactsync_sandbox.seed_variants import PhoneNumber, typo

Copies = dict[str, list[tuple[str, SeedRecord]]]


@cache
def big() -> SeedData:
    return generate(2000, 1)


@cache
def all_copies() -> Copies:
    """Person key -> (system, copy) for every copy in ``big()``."""
    by_person: Copies = defaultdict(list)
    for system, records in big().records.items():
        for record in records:
            by_person[record.person_key].append((system, record))
    return by_person


def _email_key(address: str) -> str:
    return address.strip().lower()


def _digits(number: str) -> str:
    return normalize_phone(number.split(" x")[0])[0]


def test_same_people_and_seed_give_identical_data() -> None:
    assert generate(150, 3) == generate(150, 3)
    assert generate(150, 3) != generate(150, 4)


def test_every_person_has_a_key_and_one_to_five_systems() -> None:
    data = big()
    by_person = all_copies()
    assert data.persons == 2000
    assert set(by_person) == {f"P{i:06d}" for i in range(1, 2001)}
    for key, copies in by_person.items():
        systems = [system for system, _ in copies]
        assert 1 <= len(systems) <= 5
        assert len(set(systems)) == len(systems), f"{key} twice in one system"
    assert set(data.records) == set(SYSTEMS)


def test_overlap_between_systems_is_spread_like_real_data() -> None:
    shares = Counter(len(held) for held in all_copies().values())
    total = sum(shares.values())
    bands = {1: (0.25, 0.42), 2: (0.25, 0.38), 3: (0.15, 0.27), 4: (0.05, 0.14), 5: (0.02, 0.08)}
    for count, (low, high) in bands.items():
        assert low <= shares[count] / total <= high, f"{count} systems: {shares[count] / total}"


def test_growcrm_and_xurrent_copies_have_unique_emails() -> None:
    for system in ("growcrm", "xurrent"):
        records = big().records[system]
        assert records
        assert all(r.emails and r.emails[0].strip() for r in records)
        primaries = [_email_key(r.emails[0]) for r in records]
        assert len(primaries) == len(set(primaries)), f"{system}: duplicate primary email"
        assert all(e == e.strip() for r in records for e in r.emails)


def test_every_email_and_phone_is_readable() -> None:
    for records in big().records.values():
        for record in records:
            for address in record.emails:
                normalize_email(address)
            for phone in record.phones:
                normalize_phone(phone.number)
                assert phone.kind in ("mobile", "home", "work", "fax")


def test_copies_differ_the_way_real_data_does() -> None:
    formal_of = {nick: formal for formal, nicks in NICKNAMES.items() for nick in nicks}
    found: Counter[str] = Counter()
    for person_copies in all_copies().values():
        for _, record in person_copies:
            if record.first_name in formal_of:
                found["nickname"] += 1
            for address in record.emails:
                if address != address.strip():
                    found["whitespace"] += 1
                elif address != address.lower():
                    found["case"] += 1
            for phone in record.phones:
                if re.fullmatch(r"\(\d{3}\) \d{3}-\d{4}", phone.number):
                    found["parentheses"] += 1
                if re.fullmatch(r"\+\d{8,15}", phone.number):
                    found["e164"] += 1
                if re.fullmatch(r"\d{3}\.\d{3}\.\d{4}", phone.number):
                    found["dots"] += 1
                if re.fullmatch(r"\d{10}", phone.number):
                    found["digits"] += 1
        titles = {r.job_title for _, r in person_copies if r.job_title}
        found["changed title"] += len(titles) > 1
        lasts = {r.last_name for _, r in person_copies}
        found["last name differs"] += len(lasts) > 1
        found["missing birthday"] += any(r.birthday is None for _, r in person_copies) and any(
            r.birthday for _, r in person_copies
        )
    kinds = ("nickname", "whitespace", "case", "parentheses", "e164", "dots", "digits")
    for kind in (*kinds, "changed title", "last name differs", "missing birthday"):
        assert found[kind] >= 10, f"too few copies with {kind}: {found[kind]}"


def test_same_name_pairs_are_different_people_with_the_same_name() -> None:
    data, by_person = big(), all_copies()
    pairs = data.groups["same_name"]
    assert len(pairs) >= 10
    for first, second in pairs:
        assert first != second
        a, b = by_person[first], by_person[second]
        last_a, last_b = {r.last_name or "" for _, r in a}, {r.last_name or "" for _, r in b}
        # the same last name, give or take the one-letter typo each copy may carry
        assert min(Levenshtein.distance(x, y) for x in last_a for y in last_b) <= 2
        assert not {_email_key(e) for _, r in a for e in r.emails} & {
            _email_key(e) for _, r in b for e in r.emails
        }
        assert not {_digits(p.number) for _, r in a for p in r.phones} & {
            _digits(p.number) for _, r in b for p in r.phones
        }
        birthdays_a = {r.birthday for _, r in a if r.birthday}
        birthdays_b = {r.birthday for _, r in b if r.birthday}
        assert not birthdays_a & birthdays_b
    # somewhere two different people carry exactly the same name
    carriers: defaultdict[tuple[str | None, str | None], set[str]] = defaultdict(set)
    for records in data.records.values():
        for record in records:
            carriers[(record.first_name, record.last_name)].add(record.person_key)
    assert sum(len(keys) > 1 for keys in carriers.values()) >= len(pairs) // 2


def test_families_share_an_address_and_a_landline_but_not_a_first_name() -> None:
    data, by_person = big(), all_copies()
    assert len(data.groups["family"]) >= 10
    for members in data.groups["family"]:
        assert len(set(members)) == len(members) >= 2
        homes = [
            {_digits(p.number) for _, r in by_person[k] for p in r.phones if p.kind == "home"}
            for k in members
        ]
        streets = [
            {r.address.lines[0].split()[0] for _, r in by_person[k] if r.address} for k in members
        ]
        firsts = [{r.first_name for _, r in by_person[k]} for k in members]
        present = [h for h in homes if h]
        assert len({frozenset(h) for h in present}) <= 1, members  # one shared landline
        if len(present) >= 2:
            assert present[0] & present[1]
        known_streets = [s for s in streets if s]
        if len(known_streets) >= 2:
            assert known_streets[0] & known_streets[1], members
        assert not firsts[0] & firsts[1], members


def test_colleagues_share_a_company_mailbox_each_with_an_own_mobile() -> None:
    data, by_person = big(), all_copies()
    org_emails = {c.email for org in data.organizations for c in org.channels if c.email}
    assert len(data.groups["shared_mailbox"]) >= 10
    for members in data.groups["shared_mailbox"]:
        assert len(set(members)) == len(members) >= 2
        emails = [{_email_key(e) for _, r in by_person[k] for e in r.emails} for k in members]
        shared = set.intersection(*emails)
        assert shared & org_emails, members
        mobiles = [
            {_digits(p.number) for _, r in by_person[k] for p in r.phones if p.kind == "mobile"}
            for k in members
        ]
        assert not mobiles[0] & mobiles[1]
        assert not {r.first_name for _, r in by_person[members[0]]} & {
            r.first_name for _, r in by_person[members[1]]
        }


def test_a_married_woman_is_known_by_her_maiden_name_in_one_system() -> None:
    data, by_person = big(), all_copies()
    assert len(data.groups["maiden_name"]) >= 10
    for (key,) in data.groups["maiden_name"]:
        copies = by_person[key]
        assert len(copies) >= 2
        lasts = Counter(r.last_name for _, r in copies)
        assert len(lasts) >= 2 or any(r.maiden_name for _, r in copies), key
        for system, record in copies:
            if system == "rhythm" and record.maiden_name:
                assert record.maiden_name != record.last_name or len(lasts) >= 2


def test_organizations_have_valid_channels_and_people_refer_to_them() -> None:
    data = big()
    assert 80 <= len(data.organizations) <= 120  # about one per twenty people
    keys = {org.key for org in data.organizations}
    assert len(keys) == len(data.organizations)
    assert len({org.name for org in data.organizations}) == len(data.organizations)
    for org in data.organizations:
        assert any(c.label == "general" and c.telephone for c in org.channels)
        for channel in org.channels:
            OrgChannel.model_validate(channel.__dict__)  # exactly one value; fax is a telephone
    referred = {r.organization_key for rs in data.records.values() for r in rs}
    assert referred - {None} <= keys


def test_small_and_empty_populations() -> None:
    empty = generate(0, 1)
    assert empty.persons == 0
    assert empty.organizations == []
    assert all(records == [] for records in empty.records.values())
    tiny = generate(5, 1)
    assert len({r.person_key for rs in tiny.records.values() for r in rs}) == 5
    with pytest.raises(ValueError, match="people"):
        generate(-1, 1)


def test_two_thousand_people_generate_in_well_under_a_second() -> None:
    generate(50, 2)  # warm imports
    started = time.perf_counter()
    generate(2000, 2)
    elapsed = time.perf_counter() - started
    print(f"generate(2000): {elapsed:.3f}s")
    assert elapsed < 1.0


def test_typo_is_one_edit_and_spares_the_first_letter() -> None:
    rng = random.Random(1)
    for word in ("Katherine", "Robertson", "Müller", "Nguyen"):
        for _ in range(50):
            changed = typo(word, rng)
            assert changed != word
            assert changed[0] == word[0]
            assert abs(len(changed) - len(word)) <= 1
    assert typo("Li", rng) == "Li"


def test_phone_formats_all_mean_the_same_number() -> None:
    number = PhoneNumber("1", ("404", "555", "0101"))
    shown = {number.formatted(style) for style in number.styles()}
    assert len(shown) == len(number.styles())
    assert {normalize_phone(text)[0] for text in shown} == {"+14045550101"}
    german = PhoneNumber("49", ("30", "1234567"))
    assert {normalize_phone(german.formatted(s))[0] for s in german.styles()} == {"+49301234567"}
    with pytest.raises(ValueError, match="North American"):
        german.formatted("dots")
