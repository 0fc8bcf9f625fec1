"""Emails and phones our own writes displaced from a record, kept as its users' word.

A system with one slot for an email (Xurrent's ``primary_email``, Trackops' ``email``)
holds whatever contactsync last wrote there: writing the golden primary into the slot
replaces the address a user had typed. The record's payload then no longer holds the
user's address, but nobody removed it: the record's users' content
(``records.source_payload``) still does. Survivorship merges payloads, so when no other
record holds that address as its users' word, it would live on only in copies
contactsync made elsewhere, which carry no opinion, and the next rebuild of the person
(after any edit to any field) would drop it from the golden record and clear it from
those copies: a user's value lost with no edit of it.

Such an item is added back to the record it was displaced from (after the payload's own
items, so it never becomes the primary), with the time the record's users gave it (kept
by ``field_changes.next_times``), so a later removal elsewhere still wins. An item another
record holds as its users' word needs no such help and is left alone: survivorship
decides it as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from pydantic import ValidationError

from contactsync.engine.sources import SourceContact
from contactsync.model.contact import Contact


def restore_displaced(sources: Sequence[SourceContact]) -> list[SourceContact]:
    """The sources, each with the emails and phones our writes displaced from it that
    no other source holds as its users' word."""
    found = [_displaced(source) for source in sources]
    if not any(found):  # the common case: every merge passes here
        return list(sources)
    held_by_users = {
        key
        for source in sources
        for key in _item_keys(source.contact)
        if not source.time_of(key).own
    }
    restored = []
    for source, displaced in zip(sources, found, strict=True):
        if displaced is None:
            restored.append(source)
            continue
        theirs, missing = displaced
        back = {k for k in missing if k not in held_by_users}
        contact = source.contact.model_copy(
            update={
                "emails": [*source.contact.emails,
                           *(e for e in theirs.emails if f"emails:{e.address}" in back)],
                "phones": [*source.contact.phones,
                           *(p for p in theirs.phones if f"phones:{p.number}" in back)],
            }
        )  # fmt: skip
        # A displaced item held elsewhere as the users' word: no opinion here (its kept
        # time, with the item gone from the payload, would read as a removal).
        silent = set(missing) - back
        times = {k: t for k, t in (source.field_times or {}).items() if k not in silent}
        restored.append(replace(source, contact=contact, field_times=times))
    return restored


def _item_keys(contact: Contact) -> list[str]:
    return [f"emails:{e.address}" for e in contact.emails] + [
        f"phones:{p.number}" for p in contact.phones
    ]


def _displaced(source: SourceContact) -> tuple[Contact, list[str]] | None:
    """The users' content of the record and the item keys it holds that the payload
    lacks, or None. Read off the stored JSON first (canonical, so its addresses compare
    as they are): a record whose users' items are all in its payload is not validated."""
    raw = source.users_content
    if not raw:
        return None
    have = set(_item_keys(source.contact))
    listed = []
    for field, key in (("emails", "address"), ("phones", "number")):
        items = raw.get(field)
        if isinstance(items, list):
            listed += [f"{field}:{item.get(key)}" for item in items if isinstance(item, dict)]
    if all(k in have for k in listed):
        return None
    try:
        theirs = Contact.model_validate(raw)
    except ValidationError:
        return None
    missing = [k for k in _item_keys(theirs) if k not in have]
    return (theirs, missing) if missing else None
