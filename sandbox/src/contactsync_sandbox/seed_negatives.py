"""Hard cases for a matcher, made by reshaping a few true persons.

- ``same_name``: two different people with the same first and last name (their
  emails, phones and birthdays differ);
- ``family``: two or three people sharing an address and a home landline, with
  different first names (a married couple, perhaps a grown-up child);
- ``shared_mailbox``: colleagues whose email is the company's ``info@`` or
  ``support@`` mailbox, each with an own mobile;
- ``maiden_name``: a married woman one system still knows by her maiden name.

The first three must stay apart; the last must be brought together.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from contactsync_sandbox.names import CULTURES, SHARED_MAILBOXES
from contactsync_sandbox.people import SeedChannel
from contactsync_sandbox.seed_persons import (
    NumberPool,
    Org,
    TruePerson,
    pick_first_name,
    pick_nickname,
    random_birthday,
    street_address,
)

GROUP_KINDS = ("same_name", "family", "shared_mailbox", "maiden_name")
MIN_PEOPLE_FOR_GROUPS = 20


def add_hard_negatives(
    rng: random.Random, persons: list[TruePerson], orgs: list[Org], numbers: NumberPool
) -> dict[str, list[tuple[str, ...]]]:
    """Reshape disjoint sets of persons into the hard cases; returns kind -> person keys."""
    groups: dict[str, list[tuple[str, ...]]] = {kind: [] for kind in GROUP_KINDS}
    count = len(persons)
    if count < MIN_PEOPLE_FOR_GROUPS:
        return groups
    pool = list(range(count))
    rng.shuffle(pool)

    def take(size: int) -> list[TruePerson]:
        return [persons[pool.pop()] for _ in range(size)]

    for _ in range(max(1, count // 50)):
        pair = take(2)
        _same_name(rng, pair[0], pair[1])
        groups["same_name"].append(tuple(p.key for p in pair))
    for _ in range(max(1, count // 40)):
        members = take(rng.choice((2, 2, 3)))
        _family(rng, members, numbers)
        groups["family"].append(tuple(p.key for p in members))
    if orgs:
        for _ in range(max(1, count // 50)):
            members = take(rng.choice((2, 3)))
            _shared_mailbox(rng, members, rng.choice(orgs), numbers)
            groups["shared_mailbox"].append(tuple(p.key for p in members))
    for _ in range(max(1, count // 40)):
        (woman,) = take(1)
        _married(rng, woman)
    groups["maiden_name"] = [(p.key,) for p in persons if p.maiden and p.known_by_maiden]
    return groups


def _rename(rng: random.Random, person: TruePerson, gender: str, avoid: set[str]) -> None:
    person.gender = gender
    person.first = pick_first_name(rng, person.culture, gender, avoid)
    person.nickname = pick_nickname(rng, person.first)
    if person.middle is not None:
        person.middle = pick_first_name(rng, person.culture, gender, {person.first})


def _same_name(rng: random.Random, first: TruePerson, second: TruePerson) -> None:
    second.gender, second.culture = first.gender, first.culture
    second.first, second.last = first.first, first.last
    second.nickname = pick_nickname(rng, second.first)
    if second.middle is not None and second.middle == first.middle:
        second.middle = None
    if first.birthday is None:
        first.birthday = random_birthday(rng)
    second.birthday = random_birthday(rng)
    while second.birthday == first.birthday:
        second.birthday = random_birthday(rng)


def _family(rng: random.Random, members: list[TruePerson], numbers: NumberPool) -> None:
    head, spouse, *children = members
    if head.address is None:
        head.address = street_address(rng, head.city)
    if head.home is None:
        head.home = numbers.new(rng, head.city, mobile=False)
    _rename(rng, spouse, "m" if head.gender == "f" else "f", {head.first})
    husband, wife = (head, spouse) if head.gender == "m" else (spouse, head)
    family_name = husband.last
    if wife.last == family_name:
        wife.last = rng.choice([n for n in CULTURES[wife.culture].last if n != family_name])
    wife.maiden, wife.last = wife.last, family_name
    wife.known_by_maiden = rng.random() < 0.5
    taken = {head.first, spouse.first}
    for child in children:
        child.culture = husband.culture
        _rename(rng, child, rng.choice("fm"), taken)
        taken.add(child.first)
        child.last, child.maiden = family_name, None
        parent_birthday = head.birthday or date(1960, 1, 1)
        child.birthday = min(
            parent_birthday + timedelta(days=rng.randrange(25 * 365, 38 * 365)), date(2006, 6, 30)
        )
    for member in members:
        member.city, member.language = head.city, head.language
        member.address, member.home = head.address, head.home


def _shared_mailbox(
    rng: random.Random, members: list[TruePerson], org: Org, numbers: NumberPool
) -> None:
    if not org.mailboxes:
        org.mailboxes.append(f"{rng.choice(SHARED_MAILBOXES)}@{org.domain}")
        org.seed.channels.append(SeedChannel("general", email=org.mailboxes[-1]))
    mailbox = rng.choice(org.mailboxes)
    taken: set[str] = set()
    for member in members:
        if member.first in taken:
            _rename(rng, member, member.gender, taken)
        taken.add(member.first)
        member.org, member.shared_mailbox = org, mailbox
        if member.mobile is None:
            member.mobile = numbers.new(rng, member.city, mobile=True)


def _married(rng: random.Random, woman: TruePerson) -> None:
    if woman.gender != "f":
        _rename(rng, woman, "f", set())
    maiden = woman.last
    woman.last = rng.choice([n for n in CULTURES[woman.culture].last if n != maiden])
    woman.maiden, woman.known_by_maiden = maiden, True
