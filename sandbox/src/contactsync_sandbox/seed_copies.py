"""Placing true persons in the five systems and making each system's copy of them.

A copy deviates from the truth the way real data does: a nickname for the first
name, a one-letter typo, an email typed in another case or with stray
whitespace, a phone in another format, fields left empty, an outdated job title,
the maiden name in one system. Grow CRM and Xurrent require a unique email, so a
copy is placed there only when the person has an address no one else holds there.
"""

from __future__ import annotations

import random

from contactsync.adapters.registry import SYSTEMS
from contactsync_sandbox import names
from contactsync_sandbox.people import SeedAddress, SeedPhone, SeedRecord
from contactsync_sandbox.seed_persons import TruePerson
from contactsync_sandbox.seed_variants import (
    PhoneNumber,
    abbreviate_street,
    email_case,
    email_whitespace,
    middle_initial,
    typo,
)

# Share of persons held by 1, 2, 3, 4 and 5 systems.
SYSTEM_COUNT_WEIGHTS = (35, 30, 20, 10, 5)
# Systems that require an email, unique among their records (a person without one is not there).
EMAIL_REQUIRED = ("growcrm", "xurrent")
# Systems whose stored emails are trimmed (they validate on input); others keep stray spaces.
TRIMS_EMAILS = ("growcrm", "xurrent", "pylon")
# Systems with a field of their own for these (others just don't carry them).
HAS_MAIDEN_NAME = ("rhythm",)
HAS_NICKNAME = ("rhythm",)

P_NICKNAME_AS_FIRST = 0.3
P_TYPO = 0.07
P_EMAIL_CASE = 0.15
P_EMAIL_WHITESPACE = 0.06
P_SWAP_EMAILS = 0.15
P_DROP_SECOND_EMAIL = 0.4
P_DROP_EMAILS = 0.1
P_DROP_PHONE = 0.2
P_DROP_FIELD = 0.15
P_TITLE_CHANGED = 0.1
P_SHORT_ORG_NAME = 0.25


def place_persons(
    rng: random.Random, persons: list[TruePerson], groups: dict[str, list[tuple[str, ...]]]
) -> None:
    """Choose each person's systems; every hard-case group shares at least one system.

    A woman known by her maiden name somewhere is held by two systems at least.
    """
    without_email = [s for s in SYSTEMS if s not in EMAIL_REQUIRED]
    for person in persons:
        eligible = list(SYSTEMS) if person.emails else without_email
        wanted = rng.choices(range(1, 6), weights=SYSTEM_COUNT_WEIGHTS)[0]
        person.systems = rng.sample(eligible, min(wanted, len(eligible)))
    by_key = {p.key: p for p in persons}
    for kind in ("same_name", "family", "shared_mailbox"):
        for keys in groups.get(kind, []):
            members = [by_key[k] for k in keys]
            shared = without_email if kind == "shared_mailbox" else _common_eligible(members)
            common = rng.choice(shared)
            for member in members:  # swap one of theirs for it: keeps the overlap shares
                if common not in member.systems:
                    member.systems[rng.randrange(len(member.systems))] = common
    for person in persons:
        if person.known_by_maiden:
            if len(person.systems) < 2:
                eligible = list(SYSTEMS) if person.emails else without_email
                person.systems.append(rng.choice([s for s in eligible if s not in person.systems]))
            person.maiden_shown_in = rng.choice(sorted(person.systems))
        person.systems.sort(key=SYSTEMS.index)


def _common_eligible(members: list[TruePerson]) -> list[str]:
    if all(m.emails for m in members):
        return list(SYSTEMS)
    return [s for s in SYSTEMS if s not in EMAIL_REQUIRED]


def make_copies(rng: random.Random, persons: list[TruePerson]) -> dict[str, list[SeedRecord]]:
    """Each system's records, in a shuffled (but seeded) order."""
    records: dict[str, list[SeedRecord]] = {system: [] for system in SYSTEMS}
    taken: dict[str, set[str]] = {system: set() for system in EMAIL_REQUIRED}
    for person in persons:
        for system in list(person.systems):
            copy = make_copy(rng, person, system, taken.get(system))
            if copy is None:
                person.systems.remove(system)
            else:
                records[system].append(copy)
    for system_records in records.values():
        rng.shuffle(system_records)
    return records


def _copy_emails(
    rng: random.Random, person: TruePerson, system: str, taken: set[str] | None
) -> list[str] | None:
    emails = list(person.emails)
    if len(emails) > 1 and rng.random() < P_SWAP_EMAILS:
        emails.reverse()
    if len(emails) > 1 and rng.random() < P_DROP_SECOND_EMAIL:
        emails = emails[:1]
    if taken is not None:  # must hold a unique primary email
        free = [e for e in person.emails if e.lower() not in taken]
        if not free:
            return None
        if not emails or emails[0].lower() in taken:
            emails = [free[0], *[e for e in emails if e != free[0]]]
        taken.add(emails[0].lower())
    elif person.shared_mailbox is not None:  # the mailbox is what makes them a hard case
        if person.shared_mailbox not in emails:
            emails.insert(0, person.shared_mailbox)
    elif rng.random() < P_DROP_EMAILS:
        return []
    shown = []
    for address in emails:
        if rng.random() < P_EMAIL_CASE:
            address = email_case(address, rng)
        if system not in TRIMS_EMAILS and rng.random() < P_EMAIL_WHITESPACE:
            address = email_whitespace(address, rng)
        shown.append(address)
    return shown


def _copy_phones(rng: random.Random, person: TruePerson) -> list[SeedPhone]:
    phones: list[SeedPhone] = []
    numbers: list[tuple[PhoneNumber | None, str]] = [
        (person.mobile, "mobile"),
        (person.work, "work"),
        (person.home, "home"),
        (person.fax, "fax"),
    ]
    for number, kind in numbers:
        if number is None or rng.random() < P_DROP_PHONE:
            continue
        text = number.any_format(rng)
        if kind == "work" and person.work_extension and rng.random() < 0.6:
            text += f" x{person.work_extension}"
        phones.append(SeedPhone(text, kind))
    return phones


def _copy_address(rng: random.Random, address: SeedAddress | None) -> SeedAddress | None:
    if address is None or rng.random() < P_DROP_FIELD:
        return None
    lines = list(address.lines)
    if rng.random() < 0.2:
        lines[0] = abbreviate_street(lines[0])
    if len(lines) > 1 and rng.random() < 0.3:
        lines = lines[:1]
    return SeedAddress(
        lines=lines,
        city=address.city,
        region=address.region if rng.random() > 0.1 else None,
        postal_code=address.postal_code if rng.random() > 0.1 else None,
        country=address.country if rng.random() > 0.15 else None,
    )


def _copy_title(rng: random.Random, title: str | None) -> str | None:
    if title is None or rng.random() < P_DROP_FIELD:
        return None
    if rng.random() >= P_TITLE_CHANGED:
        return title
    if rng.random() < 0.5:
        return title.removeprefix("Senior ") if title.startswith("Senior ") else f"Senior {title}"
    return rng.choice([t for t in names.JOB_TITLES if t != title])


def _copy_names(
    rng: random.Random, person: TruePerson, system: str
) -> tuple[str, str, str | None, str | None]:
    first, last = person.first, person.last
    if person.nickname and rng.random() < P_NICKNAME_AS_FIRST:
        first = person.nickname
    if system == person.maiden_shown_in and person.maiden:
        last = person.maiden
    if rng.random() < P_TYPO:
        if rng.random() < 0.5:
            first = typo(first, rng)
        else:
            last = typo(last, rng)
    middle = person.middle
    if middle is not None:
        style = rng.random()
        middle = middle if style < 0.4 else (middle_initial(middle) if style < 0.7 else None)
    nickname = None
    if system in HAS_NICKNAME and person.nickname and rng.random() < 0.5:
        nickname = person.nickname
    return first, last, middle, nickname


def _keep(rng: random.Random, value: str | None, share: float) -> str | None:
    return value if value is not None and rng.random() < share else None


def make_copy(
    rng: random.Random, person: TruePerson, system: str, taken: set[str] | None
) -> SeedRecord | None:
    """This system's copy of the person; None when it cannot hold them (no free email)."""
    emails = _copy_emails(rng, person, system, taken)
    if emails is None:
        return None
    first, last, middle, nickname = _copy_names(rng, person, system)
    org = person.org if rng.random() >= P_DROP_FIELD / 2 else None
    org_name = None
    if org is not None:
        org_name = org.short_name if rng.random() < P_SHORT_ORG_NAME else org.seed.name
    maiden = person.maiden if system in HAS_MAIDEN_NAME and rng.random() < 0.8 else None
    return SeedRecord(
        person_key=person.key,
        first_name=first,
        last_name=last,
        middle_name=middle,
        nickname=nickname,
        maiden_name=maiden,
        emails=emails,
        phones=_copy_phones(rng, person),
        job_title=_copy_title(rng, person.title),
        organization_key=org.seed.key if org is not None else None,
        organization_name=org_name,
        address=_copy_address(rng, person.address),
        birthday=person.birthday if rng.random() >= 2 * P_DROP_FIELD else None,
        language=_keep(rng, person.language, 0.5),
        notes=_keep(rng, person.notes, 0.5),
        reference=_keep(rng, person.reference, 0.6),
    )
