"""Emails and phones our own writes displaced from a record, kept as its users' word.

A system with one slot for an email (Xurrent's ``primary_email``, Trackops' ``email``)
holds whatever contactsync last wrote there: writing the golden primary into the slot
replaces the address a user had typed. The record's payload then no longer holds the
user's address, but nobody removed it: the record's users' content
(``records.source_payload``) still does. Survivorship merges payloads, so without this the
address would live on only in copies contactsync made elsewhere, which carry no opinion,
and the next rebuild of the person (after any edit to any field) would drop it from the
golden record and clear it from those copies: a user's value lost with no edit of it.

An item the users' content holds and the payload lacks is therefore added back (after
the payload's own items, so it never becomes the primary). It takes part with the time
the record's users last changed it, so a removal made later elsewhere still wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from contactsync.models import Contact


def with_displaced_items(contact: Contact, users_content: Mapping[str, Any] | None) -> Contact:
    """``contact`` (a record's payload) with the emails and phones its users' content
    holds and our writes displaced."""
    if not users_content:
        return contact
    try:
        theirs = Contact.model_validate(users_content)
    except ValidationError:
        return contact
    emails = {e.address for e in contact.emails}
    phones = {p.number for p in contact.phones}
    extra_emails = [e for e in theirs.emails if e.address not in emails]
    extra_phones = [p for p in theirs.phones if p.number not in phones]
    if not extra_emails and not extra_phones:
        return contact
    return contact.model_copy(
        update={
            "emails": [*contact.emails, *extra_emails],
            "phones": [*contact.phones, *extra_phones],
        }
    )
