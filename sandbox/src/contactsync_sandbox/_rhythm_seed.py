"""Rhythm's server-side state beyond the contacts, and seed records turned into contacts."""

from __future__ import annotations

import copy
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from contactsync_sandbox.common import VendorStore
from contactsync_sandbox.people import SeedData, SeedRecord

SEED_USER_ID = "user-data-import"  # who "created" the seeded records (assumed)
FIRST_CONTACT_NUMBER = 1001
HISTORY = timedelta(days=730)


class RhythmStore(VendorStore):
    """Contacts plus the organizations and counters that ``reset`` also restores."""

    def __init__(self) -> None:
        super().__init__()
        self.organizations: dict[str, str] = {}  # organization id -> name
        self.next_number = FIRST_CONTACT_NUMBER
        self.rng = random.Random(0)
        self._extra_seed: tuple[dict[str, str], int, object] | None = None

    def freeze_seed(self) -> None:
        super().freeze_seed()
        self._extra_seed = (dict(self.organizations), self.next_number, self.rng.getstate())

    def reset(self) -> None:
        super().reset()
        if self._extra_seed is not None:
            organizations, number, state = self._extra_seed
            self.organizations, self.next_number = dict(organizations), number
            self.rng.setstate(copy.deepcopy(state))  # type: ignore[arg-type]

    def new_id(self) -> str:
        """A server-made contact or organization id (a UUID, deterministic per seed)."""
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def take_number(self) -> int:
        number = self.next_number
        self.next_number += 1
        return number


def rhythm_stamp(moment: datetime) -> str:
    """ISO-8601 in UTC with milliseconds and a ``Z``, as Rhythm shows ``sys_*`` times."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_stamp(text: str) -> datetime:
    return datetime.fromisoformat(text)


def next_stamp(now: datetime, previous: str | None) -> str:
    """``now`` as a stamp, nudged past ``previous`` so the field moves on every write."""
    if previous is not None:
        floor = parse_stamp(previous) + timedelta(milliseconds=1)
        if now < floor:
            now = floor
    return rhythm_stamp(now)


def seed_history(rng: random.Random, now: datetime) -> tuple[str, str]:
    """A created and a last-modified time somewhere in the past two years, never ahead."""
    created = now - timedelta(seconds=rng.uniform(3600.0, HISTORY.total_seconds()))
    modified = created + (now - created - timedelta(minutes=5)) * rng.random()
    return rhythm_stamp(created), rhythm_stamp(max(created, modified))


def seed_organizations(store: RhythmStore, seed: SeedData) -> dict[str, str]:
    """Create the seeded organizations; returns organization key -> Rhythm id."""
    ids: dict[str, str] = {}
    for org in seed.organizations:
        org_id = store.new_id()
        store.organizations[org_id] = org.name
        ids[org.key] = org_id
    return ids


def contact_from_seed(record: SeedRecord, organization_id: str | None) -> dict[str, Any]:
    """One seed copy as the person fields of a Rhythm contact (the server adds the rest)."""
    contact: dict[str, Any] = {
        "first_name": record.first_name,
        "middle_name": record.middle_name,
        "last_name": record.last_name,
        "nickname": record.nickname,
        "maiden_name": record.maiden_name,
        "job_title": record.job_title,
        "notes": record.notes,
        "status": "active",
        "sys_external_id": record.reference,
    }
    if organization_id is not None:
        contact["organization_id"] = organization_id
    elif record.organization_name:
        contact["organization_name"] = record.organization_name
    slots = ("email_address", "email_address2", "email_address3")
    for slot, email in zip(slots, record.emails[: len(slots)], strict=False):
        contact[slot] = email
    for phone in record.phones:
        field = {
            "mobile": "mobile_phone_number",
            "home": "home_phone_number",
            "work": "work_phone_number",
            "fax": "fax_phone_number",
        }.get(phone.kind)
        if field is not None and field in contact and phone.kind == "mobile":
            field = "work_mobile_phone_number"  # a second mobile: the business one
        if field is not None and field not in contact:
            contact[field] = phone.number
    if record.address is not None:
        lines = [*record.address.lines, None, None, None]
        # (assumed) a person's one seeded address is their home address
        contact["home_address"] = {
            key: value
            for key, value in {
                "line1": lines[0],
                "line2": lines[1],
                "line3": lines[2],
                "city": record.address.city,
                "state": record.address.region,
                "postal_code": record.address.postal_code,
                "country": record.address.country,
            }.items()
            if value is not None
        }
    if record.birthday is not None:
        contact["date_of_birth"] = record.birthday.isoformat()
    return {key: value for key, value in contact.items() if value is not None}
