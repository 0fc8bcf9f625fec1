"""The true persons and organizations behind the sandbox's records (before any copy is made).

:func:`make_organizations` and :func:`make_persons` draw people from the word lists in
:mod:`contactsync_sandbox.names`; :func:`add_hard_negatives` then turns some of them
into the cases a matcher must keep apart (same name, family, shared mailbox) or
must bring together (a married woman known by her maiden name somewhere), and
:func:`assign_emails` gives everyone their addresses last, from their final names.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from contactsync_sandbox import names
from contactsync_sandbox.names import City
from contactsync_sandbox.people import SeedAddress, SeedChannel, SeedOrganization
from contactsync_sandbox.seed_variants import PhoneNumber, ascii_slug, fill_pattern

_CITY_WEIGHTS = [city.weight for city in names.CITIES]
_OTHER_CULTURES = ("world", "world", "world", "en", "de", "fr", "es", "nl", "sv")
_BIRTH_START = date(1950, 1, 1)
_BIRTH_DAYS = (date(2004, 12, 31) - _BIRTH_START).days


@dataclass
class Org:
    seed: SeedOrganization
    short_name: str  # without the legal form: how many users type it
    domain: str
    city: City
    mailboxes: list[str]  # the organization's own shared addresses (info@, support@ ...)


@dataclass
class TruePerson:
    """What is really true about one person; copies in the systems deviate from it."""

    key: str
    gender: str  # "f" | "m"
    culture: str
    first: str
    last: str
    city: City
    middle: str | None = None
    nickname: str | None = None  # what the person likes to be called, if anything
    maiden: str | None = None
    org: Org | None = None
    title: str | None = None
    address: SeedAddress | None = None
    mobile: PhoneNumber | None = None
    home: PhoneNumber | None = None
    work: PhoneNumber | None = None
    work_extension: str | None = None
    fax: PhoneNumber | None = None
    birthday: date | None = None
    language: str | None = None
    reference: str | None = None
    notes: str | None = None
    shared_mailbox: str | None = None
    emails: list[str] = field(default_factory=list)
    systems: list[str] = field(default_factory=list)
    known_by_maiden: bool = False  # one system still shows her maiden name as last name
    maiden_shown_in: str | None = None  # that system, chosen once she is placed


class NumberPool:
    """Hands out phone numbers no one else has (shared landlines are shared on purpose)."""

    def __init__(self) -> None:
        self._used: set[str] = set()

    def new(self, rng: random.Random, city: City, mobile: bool) -> PhoneNumber:
        dial, mobile_groups = names.COUNTRY_PHONES[city.country]
        pattern = mobile_groups if mobile and mobile_groups else city.landline
        for _ in range(50):
            number = PhoneNumber(dial, tuple(fill_pattern(g, rng) for g in pattern))
            if number.e164 not in self._used:
                break
        self._used.add(number.e164)
        return number


def pick_city(rng: random.Random) -> City:
    return rng.choices(names.CITIES, weights=_CITY_WEIGHTS)[0]


def street_address(rng: random.Random, city: City) -> SeedAddress:
    country = city.country
    street = rng.choice(names.STREETS[country])
    if country in names.STREET_TYPES:
        street = f"{street} {rng.choice(names.STREET_TYPES[country])}"
    number = str(rng.randrange(1, 400))
    lines = [f"{number} {street}" if country in names.NUMBER_FIRST else f"{street} {number}"]
    if country in names.STREET_TYPES and rng.random() < 0.15:
        lines.append(f"{rng.choice(names.UNIT_PREFIXES)} {rng.randrange(1, 40)}")
    return SeedAddress(
        lines=lines,
        city=city.name,
        region=city.region,
        postal_code=fill_pattern(city.postal, rng),
        country=country,
    )


def make_organizations(rng: random.Random, count: int, numbers: NumberPool) -> list[Org]:
    combos = [(s, t) for s in names.COMPANY_STEMS for t in names.COMPANY_TRADES]
    rng.shuffle(combos)
    orgs: list[Org] = []
    used_domains: set[str] = set()
    for index in range(count):
        stem, trade = combos[index % len(combos)]
        round_ = index // len(combos)
        extras = names.COMPANY_EXTRAS
        short = f"{stem} {trade}" + (f" {extras[(round_ - 1) % len(extras)]}" if round_ else "")
        if round_ > len(extras):
            short += f" {round_}"
        city = pick_city(rng)
        legal = rng.choice(names.LEGAL_FORMS[city.country])
        domain = f"{ascii_slug(short)}.{names.COUNTRY_TLDS[city.country]}"
        while domain in used_domains:
            domain = (
                f"{ascii_slug(short)}{rng.randrange(10, 99)}.{names.COUNTRY_TLDS[city.country]}"
            )
        used_domains.add(domain)
        org = Org(
            seed=SeedOrganization(key=f"O{index + 1:05d}", name=f"{short} {legal}".strip()),
            short_name=short,
            domain=domain,
            city=city,
            mailboxes=[],
        )
        _add_channels(rng, org, numbers)
        orgs.append(org)
    return orgs


def _add_channels(rng: random.Random, org: Org, numbers: NumberPool) -> None:
    channels = org.seed.channels
    channels.append(
        SeedChannel("general", telephone=numbers.new(rng, org.city, False).any_format(rng))
    )
    if rng.random() < 0.7:
        org.mailboxes.append(f"{rng.choice(names.SHARED_MAILBOXES)}@{org.domain}")
        channels.append(SeedChannel("general", email=org.mailboxes[-1]))
    if rng.random() < 0.6:
        desk = f"{rng.choice(names.SERVICE_DESK_MAILBOXES)}@{org.domain}"
        if desk not in org.mailboxes:
            org.mailboxes.append(desk)
            channels.append(SeedChannel("service_desk", email=desk))
    if rng.random() < 0.9:
        channels.append(SeedChannel("general", website=f"www.{org.domain}"))
    if rng.random() < 0.15:
        channels.append(SeedChannel("service_desk", website=f"support.{org.domain}"))
    for label, share in (("service_desk", 0.25), ("fax", 0.3), ("service_desk_fax", 0.05)):
        if rng.random() < share:
            number = numbers.new(rng, org.city, False).any_format(rng)
            channels.append(SeedChannel(label, telephone=number))


def pick_first_name(rng: random.Random, culture: str, gender: str, avoid: set[str]) -> str:
    pool = names.CULTURES[culture].female if gender == "f" else names.CULTURES[culture].male
    choices = [n for n in pool if n not in avoid]
    return rng.choice(choices or list(pool))


def pick_nickname(rng: random.Random, first: str) -> str | None:
    options = names.NICKNAMES.get(first)
    if not options or rng.random() >= 0.7:
        return None
    return options[0] if rng.random() < 0.6 else rng.choice(options)


def random_birthday(rng: random.Random) -> date:
    return _BIRTH_START + timedelta(days=rng.randrange(_BIRTH_DAYS))


def make_persons(
    rng: random.Random, count: int, orgs: list[Org], numbers: NumberPool
) -> list[TruePerson]:
    persons = []
    for index in range(count):
        org = rng.choice(orgs) if orgs and rng.random() < 0.8 else None
        city = org.city if org is not None and rng.random() < 0.75 else pick_city(rng)
        culture = city.language if city.language in names.CULTURES else "en"
        if rng.random() < names.FOREIGN_NAME_SHARE:
            culture = rng.choice(_OTHER_CULTURES)
        gender = rng.choice("fm")
        first = pick_first_name(rng, culture, gender, set())
        person = TruePerson(
            key=f"P{index + 1:06d}",
            gender=gender,
            culture=culture,
            first=first,
            last=rng.choice(names.CULTURES[culture].last),
            city=city,
            org=org,
            language=city.language,
        )
        if rng.random() < 0.25:
            person.middle = pick_first_name(rng, culture, gender, {first})
        person.nickname = pick_nickname(rng, first)
        if org is not None and rng.random() < 0.9:
            person.title = rng.choice(names.JOB_TITLES)
        if rng.random() < 0.85:
            person.mobile = numbers.new(rng, city, True)
        if rng.random() < 0.4:
            person.home = numbers.new(rng, city, False)
        if org is not None and rng.random() < 0.5:
            person.work = numbers.new(rng, org.city, False)
            if rng.random() < 0.3:
                person.work_extension = str(rng.randrange(100, 999))
        if rng.random() < 0.05:
            person.fax = numbers.new(rng, city, False)
        if rng.random() < 0.8:
            person.address = street_address(rng, city)
        if rng.random() < 0.7:
            person.birthday = random_birthday(rng)
        if rng.random() < 0.3:
            person.reference = f"EMP-{rng.randrange(10000, 99999)}"
        if rng.random() < 0.1:
            person.notes = rng.choice(names.NOTES)
        persons.append(person)
    return persons


def _local_part(rng: random.Random, first: str, last: str) -> str:
    f, l_ = ascii_slug(first) or "x", ascii_slug(last) or "x"
    pattern = rng.choice(("f.l", "f.l", "fl", "f0l", "f_l", "l.f", "f.lnn"))
    return {
        "f.l": f"{f}.{l_}",
        "fl": f"{f}{l_}",
        "f0l": f"{f[0]}{l_}",
        "f_l": f"{f}_{l_}",
        "l.f": f"{l_}.{f}",
        "f.lnn": f"{f}.{l_}{rng.randrange(1, 99)}",
    }[pattern]


def _unique_email(rng: random.Random, local: str, domain: str, used: set[str]) -> str:
    address = f"{local}@{domain}"
    suffix = 2
    while address in used:
        address = f"{local}{suffix}@{domain}"
        suffix += 1
    used.add(address)
    return address


def assign_emails(rng: random.Random, persons: list[TruePerson], used: set[str]) -> None:
    """Primary first. Some people have no email at all; people sharing a mailbox lead with it."""
    for person in persons:
        emails: list[str] = []
        if person.shared_mailbox is not None:
            emails.append(person.shared_mailbox)
        elif rng.random() < 0.06:
            person.emails = []
            continue
        if person.org is not None and person.shared_mailbox is None and rng.random() < 0.75:
            local = _local_part(rng, person.first, person.last)
            emails.append(_unique_email(rng, local, person.org.domain, used))
        if not emails or rng.random() < 0.4:
            local = _local_part(rng, person.first, person.last)
            domain = rng.choice(names.PERSONAL_DOMAINS)
            emails.append(_unique_email(rng, local, domain, used))
        person.emails = emails
