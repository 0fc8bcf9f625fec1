"""Rhythm search: filter matching, the opaque ``LastEvaluatedKey`` and JSON Patch checks."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from contactsync_sandbox._rhythm_schema import RhythmSearchBody

PATCH_OPS = frozenset({"add", "remove", "replace", "move", "copy", "test"})


def _text_eq(value: Any, wanted: str) -> bool:
    return isinstance(value, str) and value.strip().casefold() == wanted.strip().casefold()


def matches(record: dict[str, Any], query: RhythmSearchBody) -> bool:
    """Whether a contact satisfies every filter of a search body."""
    if query.ids is not None and record["id"] not in query.ids:
        return False
    if query.status is not None and record.get("status") not in query.status:
        return False
    for key in ("first_name", "last_name", "nickname", "job_title", "organization_name"):
        wanted = getattr(query, key)
        if wanted is not None and not _text_eq(record.get(key), wanted):
            return False
    if query.email_address is not None and not any(
        _text_eq(record.get(slot), query.email_address)
        for slot in ("email_address", "email_address2", "email_address3")
    ):
        return False
    if query.contact_role_id is not None and query.contact_role_id not in record.get(
        "contact_role_ids", []
    ):
        return False
    if query.number is not None and record.get("number") not in query.number:
        return False
    if query.organization_id is not None and record.get("organization_id") not in (
        query.organization_id
    ):
        return False
    addresses = [record.get("home_address") or {}, record.get("work_address") or {}]
    for key in ("city", "state", "country"):
        wanted = getattr(query, key)
        if wanted is not None and not any(_text_eq(a.get(key), wanted) for a in addresses):
            return False
    return True


def encode_key(tenant: str, record_id: str) -> str:
    raw = json.dumps({"tenant_id": tenant, "id": record_id}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_key(tenant: str, key: str) -> str | None:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(key.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(decoded, dict) or decoded.get("tenant_id") != tenant:
        return None
    record_id = decoded.get("id")
    return record_id if isinstance(record_id, str) else None


def is_patch_document(body: Any) -> bool:
    """An RFC 6902 array that touches neither ``/id`` nor the server's ``/sys_*`` fields."""
    if not isinstance(body, list):
        return False
    for operation in body:
        if not isinstance(operation, dict) or operation.get("op") not in PATCH_OPS:
            return False
        targets = [operation.get("path")]
        if operation.get("op") == "move":
            targets.append(operation.get("from"))
        for target in targets:
            if not isinstance(target, str):
                return False
            top = target.split("/")[1] if target.count("/") >= 1 else ""
            if top == "id" or (top.startswith("sys_") and top != "sys_external_id"):
                return False
    return True
