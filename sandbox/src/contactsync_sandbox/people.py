"""Seeded fake people for the sandbox, with the ground truth of who is who.

``generate(people, seed)`` makes ``people`` true persons and hands each system
its own copies (``SeedRecord``), with the differences real data has between
copies. The vendor simulators turn a ``SeedRecord`` into their own shape and
record ``store.truth[record_id] = record.person_key``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date


@dataclass
class SeedPhone:
    number: str  # as this copy shows it: "+1 404-555-0101", "(404) 555-0101", "4045550101" ...
    kind: str  # mobile | home | work | fax


@dataclass
class SeedAddress:
    lines: list[str]
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None  # ISO 3166-1 alpha-2


@dataclass
class SeedRecord:
    """One system's copy of one person (fields may be missing, misspelt or outdated)."""

    person_key: str
    first_name: str | None
    last_name: str | None
    middle_name: str | None = None
    nickname: str | None = None
    maiden_name: str | None = None
    emails: list[str] = field(default_factory=list)  # primary first; case/whitespace may vary
    phones: list[SeedPhone] = field(default_factory=list)
    job_title: str | None = None
    organization_key: str | None = None
    organization_name: str | None = None
    address: SeedAddress | None = None
    birthday: date | None = None
    language: str | None = None
    notes: str | None = None
    reference: str | None = None


@dataclass
class SeedChannel:
    label: str  # general | service_desk | fax | service_desk_fax
    telephone: str | None = None
    email: str | None = None
    website: str | None = None


@dataclass
class SeedOrganization:
    key: str
    name: str
    channels: list[SeedChannel] = field(default_factory=list)


@dataclass
class SeedData:
    persons: int
    records: dict[str, list[SeedRecord]]  # system name -> its copies
    organizations: list[SeedOrganization]
    # The hard cases in the truth: "same_name", "family", "shared_mailbox" (person keys that
    # must stay apart) and "maiden_name" (one key each: a woman one system knows by it).
    groups: dict[str, list[tuple[str, ...]]] = field(default_factory=dict)


def generate(people: int, seed: int) -> SeedData:
    """``people`` true persons over the five systems; the same (people, seed), the same data.

    Each person (key ``P000001`` ...) is held by one to five systems, each copy with
    its own small differences (see :mod:`contactsync_sandbox.seed_copies`); about one
    organization per twenty people, each with its own channels.
    """
    # The builders import the dataclasses above, so they are imported here, not at the top.
    from contactsync_sandbox.seed_copies import make_copies, place_persons
    from contactsync_sandbox.seed_negatives import add_hard_negatives
    from contactsync_sandbox.seed_persons import (
        NumberPool,
        assign_emails,
        make_organizations,
        make_persons,
    )

    if people < 0:
        raise ValueError(f"people must be zero or more, got {people}")
    rng = random.Random(f"contactsync-sandbox/{seed}")
    numbers = NumberPool()
    orgs = make_organizations(rng, max(1, round(people / 20)) if people else 0, numbers)
    persons = make_persons(rng, people, orgs, numbers)
    groups = add_hard_negatives(rng, persons, orgs, numbers)
    assign_emails(rng, persons, {m for org in orgs for m in org.mailboxes})
    place_persons(rng, persons, groups)
    records = make_copies(rng, persons)
    return SeedData(
        persons=people,
        records=records,
        organizations=[org.seed for org in orgs],
        groups=groups,
    )
