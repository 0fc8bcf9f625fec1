"""Build and change Pylon contact records from ``POST`` / ``PATCH`` bodies.

A stored record is the ``Contact`` object as the API shows it, plus the hidden
``_version`` counter (Pylon has no updated timestamp on contacts; the version is
for the sandbox's own mutate tests only and never leaves the simulator). Optional
values that are unset are left out rather than sent as null, because the spec
declares none of them nullable *(assumed: the vendor omits empty fields)*.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from contactsync_sandbox._pylon_rules import (
    DEFAULT_PORTAL_ROLE,
    AccountDirectory,
    Body,
    ContactIndex,
    PylonError,
    applied_custom_fields,
    checked_avatar,
    checked_email,
    checked_email_entries,
    checked_external_ids,
    checked_phones,
    checked_portal_role,
    checked_portal_role_id,
    ensure_email_free,
    primary_phone,
    with_primary_email,
)

VERSION_KEY = "_version"


@dataclass
class WriteContext:
    accounts: AccountDirectory
    index: ContactIndex


def settle(
    record: dict[str, Any], emails: list[str], phones: list[str], primary: str | None
) -> None:
    """Write the email and phone lists and their primaries, dropping unset primaries."""
    record["emails"] = emails
    record["phone_numbers"] = phones
    if emails:
        record["email"] = emails[0]
    else:
        record.pop("email", None)
    if primary is not None:
        record["primary_phone_number"] = primary
    else:
        record.pop("primary_phone_number", None)


def new_contact(body: Body, ctx: WriteContext, contact_id: str) -> dict[str, Any]:
    """The record a valid ``CreateContactRequestBody`` makes; raises :class:`PylonError`."""
    name = body.string("name")
    if name is None or not name.strip():
        raise PylonError(400, "name is required")
    raw_email = body.string("email")
    email = checked_email(raw_email) if raw_email else None
    phones = checked_phones(body.strings("phone_numbers") or [])
    primary = primary_phone(phones, body.string("primary_phone_number"))
    account = ctx.accounts.resolve(body.string("account_id"), body.string("account_external_id"))
    avatar = body.string("avatar_url")
    role = body.string("portal_role")
    role_id = body.string("portal_role_id")
    if role_id:
        checked_portal_role_id(role_id)
    custom = applied_custom_fields(body.objects("custom_fields") or [], {})
    external_ids = checked_external_ids(body.objects("external_ids") or [], ctx.index, None)
    if email:
        ensure_email_free(email, ctx.index, None)
    record: dict[str, Any] = {
        "id": contact_id,
        "name": name,
        "external_ids": external_ids,
        "custom_fields": custom,
        "portal_role": checked_portal_role(role) if role else DEFAULT_PORTAL_ROLE,
        "integration_user_ids": [],
        VERSION_KEY: 1,
    }
    if account is not None:
        record["account"] = account.mini()
    if avatar:
        record["avatar_url"] = checked_avatar(avatar)
    settle(record, [email] if email else [], phones, primary)
    return record


def updated_contact(record: dict[str, Any], body: Body, ctx: WriteContext) -> dict[str, Any]:
    """The record after a valid ``UpdateContactRequestBody`` (only given fields change)."""
    if body.has("email") and body.has("emails"):
        raise PylonError(400, "email and emails cannot be used together")
    record_id = str(record["id"])
    new = copy.deepcopy(record)
    if body.has("name"):
        name = body.string("name") or ""
        if not name.strip():
            raise PylonError(400, "name cannot be empty")  # (assumed)
        new["name"] = name
    emails = _updated_emails(list(record.get("emails", [])), body)
    phones = list(record.get("phone_numbers", []))
    primary = record.get("primary_phone_number")
    given_phones = body.strings("phone_numbers")
    if given_phones is not None:
        phones = checked_phones(given_phones)
        primary = primary_phone(phones, body.string("primary_phone_number"))
    elif body.has("primary_phone_number"):
        primary = primary_phone(phones, body.string("primary_phone_number"))
    if body.has("account_id") or body.has("account_external_id"):
        account = ctx.accounts.resolve(
            body.string("account_id"), body.string("account_external_id")
        )
        if account is not None:
            new["account"] = account.mini()
    avatar = body.string("avatar_url")
    if avatar:
        new["avatar_url"] = checked_avatar(avatar)
    role = body.string("portal_role")
    if role:
        new["portal_role"] = checked_portal_role(role)
    role_id = body.string("portal_role_id")
    if role_id:
        checked_portal_role_id(role_id)
    custom_entries = body.objects("custom_fields")
    if custom_entries is not None:
        new["custom_fields"] = applied_custom_fields(custom_entries, new["custom_fields"])
    external_entries = body.objects("external_ids")
    if external_entries is not None:
        new["external_ids"] = checked_external_ids(external_entries, ctx.index, record_id)
    for email in emails:
        ensure_email_free(email, ctx.index, record_id)
    settle(new, emails, phones, primary)
    new[VERSION_KEY] = int(record.get(VERSION_KEY, 1)) + 1
    return new


def _updated_emails(current: list[str], body: Body) -> list[str]:
    email = body.string("email")
    if email:
        return with_primary_email(current, checked_email(email))
    entries = body.objects("emails")
    if entries is not None:
        return checked_email_entries(entries)
    return current
