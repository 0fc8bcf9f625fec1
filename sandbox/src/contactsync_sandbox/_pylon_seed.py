"""Turn seeded people into Pylon accounts and contacts (deterministic from the sandbox seed)."""

from __future__ import annotations

import random
import re
import string
import uuid
from typing import Any

from contactsync_sandbox._pylon_rules import (
    DEFAULT_PORTAL_ROLE,
    MAX_PHONE_DIGITS,
    Account,
    AccountDirectory,
)
from contactsync_sandbox._pylon_writes import VERSION_KEY, settle
from contactsync_sandbox.people import SeedData, SeedRecord

ACCOUNT_EXTERNAL_ID_LABEL = "crm_org_key"  # (assumed) accounts synced in from a CRM


def new_id(rng: random.Random) -> str:
    """A Pylon-style UUID, reproducible from the sandbox seed."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def seed_accounts(seed: SeedData, rng: random.Random) -> tuple[AccountDirectory, dict[str, str]]:
    """Accounts for every organization (listed or only named on a record); key -> account id."""
    directory = AccountDirectory()
    by_key: dict[str, str] = {}
    names = {org.key: org.name for org in seed.organizations}
    for record in seed.records.get("pylon", []):
        if record.organization_key and record.organization_key not in names:
            names[record.organization_key] = record.organization_name or record.organization_key
    for key in sorted(names):
        account_id = "acc_" + "".join(rng.choices(string.ascii_lowercase + string.digits, k=20))
        external = [{"external_id": key, "label": ACCOUNT_EXTERNAL_ID_LABEL}]
        directory.add(Account(account_id, names[key], external))
        by_key[key] = account_id
    return directory, by_key


def contact_name(record: SeedRecord, emails: list[str]) -> str:
    """One display name: given name (the seed's nickname when that is all it has) and surname.

    (assumed) Pylon shows no middle names; with no name at all it uses the email's local part.
    """
    given = record.first_name or record.nickname
    parts = [p.strip() for p in (given, record.last_name) if p and p.strip()]
    if parts:
        return " ".join(parts)
    if emails:
        return emails[0].split("@", 1)[0]
    return "Unknown"


def phone_digits(record: SeedRecord) -> list[str]:
    """Digits only, at most 15 (the API's rule); fax lines are not contact phones (assumed)."""
    phones: list[str] = []
    for phone in record.phones:
        digits = re.sub(r"\D", "", phone.number)
        if phone.kind != "fax" and 0 < len(digits) <= MAX_PHONE_DIGITS and digits not in phones:
            phones.append(digits)
    return phones


def seed_contact(
    record: SeedRecord,
    contact_id: str,
    account: Account | None,
    taken_emails: set[str],
    rng: random.Random,
) -> dict[str, Any]:
    """A stored contact for one seed copy; emails another contact holds are dropped (Pylon
    refuses duplicates, so its data never has them)."""
    emails: list[str] = []
    for raw in record.emails:
        email = raw.strip()
        if email and email.lower() not in taken_emails:
            taken_emails.add(email.lower())
            emails.append(email)
    custom: dict[str, dict[str, Any]] = {}
    if record.job_title:
        custom["job_title"] = {"slug": "job_title", "value": record.job_title}
    if record.language:
        custom["language"] = {"slug": "language", "value": record.language}
    roll = rng.random()
    role = "no_access" if roll < 0.15 else "admin" if roll < 0.2 else DEFAULT_PORTAL_ROLE
    contact: dict[str, Any] = {
        "id": contact_id,
        "name": contact_name(record, emails),
        "external_ids": [],
        "custom_fields": custom,
        "portal_role": role,
        "integration_user_ids": _integration_ids(rng),
        VERSION_KEY: 1,
    }
    if account is not None:
        contact["account"] = account.mini()
    if rng.random() < 0.2:
        contact["avatar_url"] = f"https://avatars.example.com/{contact_id[:8]}.png"
    phones = phone_digits(record)
    settle(contact, emails, phones, phones[0] if phones else None)
    return contact


def _integration_ids(rng: random.Random) -> list[dict[str, str]]:
    if rng.random() >= 0.3:
        return []
    slack_id = "U" + "".join(rng.choices(string.ascii_uppercase + string.digits, k=10))
    return [{"id": slack_id, "source": "slack"}]
