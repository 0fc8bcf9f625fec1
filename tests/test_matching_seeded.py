"""The matcher on the sandbox's seeded people: found together, hard cases kept apart.

The seeded records are turned into Contacts here (as an adapter would), so the test
does not depend on the benchmark's modules."""

from __future__ import annotations

from typing import Any

import pytest

from contactsync.matching.matcher import MatchConfig, PersonIndex, cluster
from contactsync.model.contact import (
    Address,
    Contact,
    Email,
    Organization,
    OrgChannel,
    Phone,
    PhoneType,
    SourceRef,
)
from contactsync_sandbox.people import SeedRecord

CONFIG = MatchConfig()
_PHONE_TYPES = {"mobile": PhoneType.MOBILE, "home": PhoneType.HOME, "work": PhoneType.WORK}


def seed_contact(
    record: SeedRecord, system: str, external_id: str, channels: list[OrgChannel] | None = None
) -> Contact:
    """One sandbox copy as the canonical Contact an adapter would make of it."""
    emails = []
    for address in record.emails:
        try:
            emails.append(Email(address=address))
        except ValueError:
            continue
    phones = []
    for phone in record.phones:
        try:
            phones.append(
                Phone.model_validate({"number": phone.number, "type": _phone(phone.kind)})
            )
        except ValueError:
            continue
    organization = None
    if record.organization_name:
        organization = Organization(name=record.organization_name, channels=channels or [])
    address = None
    if record.address is not None:
        a = record.address
        address = Address(
            lines=a.lines,
            city=a.city,
            region=a.region,
            postal_code=a.postal_code,
            country=a.country,
        )
    return Contact(
        first_name=record.first_name,
        middle_name=record.middle_name,
        last_name=record.last_name,
        nickname=record.nickname,
        maiden_name=record.maiden_name,
        emails=emails,
        phones=phones,
        job_title=record.job_title,
        organization=organization,
        address=address,
        birthday=record.birthday,
        language=record.language,
        reference=record.reference,
        source=SourceRef.model_validate({"system": system, "external_id": external_id}),
    )


def _phone(kind: str) -> PhoneType:
    return _PHONE_TYPES.get(kind, PhoneType.FAX if kind == "fax" else PhoneType.OTHER)


# --- on the sandbox's seeded people ----------------------------------------------------


@pytest.fixture(scope="module")
def seeded() -> tuple[list[str], list[Contact], Any]:
    from contactsync_sandbox.people import generate

    data = generate(400, seed=11)
    keys, contacts, truth = [], [], []
    for system, records in data.records.items():
        for number, record in enumerate(records):
            keys.append(f"{system}-{number}")
            contacts.append(seed_contact(record, system, f"{system}-{number}"))
            truth.append(record.person_key)
    return keys, contacts, (truth, data.groups)


def test_seeded_people_are_found_and_hard_cases_kept_apart(
    seeded: tuple[list[str], list[Contact], Any],
) -> None:
    keys, contacts, (truth, groups) = seeded
    clusters = cluster(list(zip(keys, contacts, strict=True)), CONFIG)
    person_of = dict(zip(keys, truth, strict=True))
    found = {}
    for key, number in clusters.items():
        found.setdefault(person_of[key], set()).add(number)
    split = sum(len(numbers) > 1 for numbers in found.values())
    assert split <= len(found) * 0.02  # at most 2% of people not brought together
    members: dict[int, set[str]] = {}
    for key, number in clusters.items():
        members.setdefault(number, set()).add(person_of[key])
    for kind in ("family", "shared_mailbox", "same_name"):
        for group in groups[kind]:
            for number, people in members.items():
                assert len(people & set(group)) <= 1, (kind, group, number)


def test_an_index_learns_its_weights_from_its_records(
    seeded: tuple[list[str], list[Contact], Any],
) -> None:
    keys, contacts, (truth, _) = seeded
    index = PersonIndex(CONFIG)
    for key, contact, person_id in zip(keys, contacts, truth, strict=True):
        index.add(("sandbox", key), contact, person_id)
    assert index.fit()
    assert not PersonIndex(CONFIG).fit()  # nothing to learn from
    copy = contacts[0].model_copy(update={"job_title": "Changed"})
    assert index.resolve(("elsewhere", "1"), copy).person_id == truth[0]
