"""How a Rhythm update is sent: the smaller of a full ``PUT`` and an RFC 6902 ``PATCH``
(:func:`plan_update`), or a ``PATCH`` that tests what it overwrites
(:func:`conditional_patch`); and what Rhythm's 409 on a write means."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import httpx
import jsonpatch

from contactsync.http.errors import RecordError, classify

SYSTEM = "rhythm"
REFERENCE_FIELDS = ("organization_id", "spouse_id")  # what a 409 on a write can mean


@dataclass(frozen=True)
class UpdatePlan:
    """The update request to send: its method and its exact body bytes."""

    method: Literal["PUT", "PATCH"]
    body: bytes
    put_size: int
    patch_size: int


def plan_update(
    external_id: str, current: Mapping[str, Any], payload: Mapping[str, Any]
) -> UpdatePlan | None:
    """The smaller of a full ``PUT`` and an RFC 6902 patch taking ``current`` to
    ``current`` + ``payload`` (a tie goes to the patch, which touches less); None when
    the payload changes nothing."""
    before = {**current, "id": external_id}
    after = {**before, **{k: v for k, v in payload.items() if k != "id"}}
    operations = jsonpatch.make_patch(before, after).patch
    if not operations:
        return None
    put_body, patch_body = dumps(after), dumps(operations)
    sizes = {"put_size": len(put_body), "patch_size": len(patch_body)}
    if len(patch_body) <= len(put_body):
        return UpdatePlan("PATCH", patch_body, **sizes)
    return UpdatePlan("PUT", put_body, **sizes)


def conditional_patch(
    external_id: str, current: Mapping[str, Any], payload: Mapping[str, Any]
) -> tuple[list[str], bytes | None]:
    """The fields tested, and the RFC 6902 body taking ``current`` to ``current`` +
    ``payload`` behind a ``test`` of each written field ``current`` holds (None when
    the payload changes nothing). A field ``current`` lacks cannot be tested (``test``
    of a missing member fails whatever the record holds) and is written as is.

    Every other field ``current`` holds is tested too (the server's ``sys_*`` fields
    aside, which a patch may not name): an edit of any field since the read, also one
    this write leaves alone, refuses the whole patch. Without that, the answer (holding
    the edit) would be kept as contactsync's own write and the edit would never reach
    the other systems; an email a user moved to another slot would be written back into
    its old one."""
    before = {**current, "id": external_id}
    after = {**before, **{k: v for k, v in payload.items() if k != "id"}}
    operations = jsonpatch.make_patch(before, after).patch
    if not operations:
        return [], None
    tested = sorted(key for key in current if key != "id" and not key.startswith("sys_"))
    tests = [{"op": "test", "path": f"/{_pointer(key)}", "value": current[key]} for key in tested]
    return tested, dumps(tests + operations)


def _pointer(key: str) -> str:
    """``key`` as one JSON Pointer reference token (RFC 6901 escapes)."""
    return key.replace("~", "~0").replace("/", "~1")


def dumps(value: Any) -> bytes:
    """Compact JSON, exactly as sent (so body sizes compare what goes on the wire)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def missing_reference(
    response: httpx.Response, operation: str, record_id: str | None, sent: Mapping[str, Any]
) -> RecordError:
    """Rhythm's 409 on a write: the contact refers to an object that does not exist;
    the error names the reference fields the write carried."""
    fields = [key for key in REFERENCE_FIELDS if sent.get(key) not in (None, "")]
    named = ", ".join(f"{key} {sent[key]!r}" for key in fields)
    return RecordError(
        "the contact refers to a missing object" + (f" ({named})" if named else ""),
        system=SYSTEM,
        operation=operation,
        record_id=record_id,
        status=response.status_code,
        body=classify(SYSTEM, operation, response, record_id).body,
        fields=fields,
    )
