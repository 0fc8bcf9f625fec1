"""A target refusing one field: the rest of the write lands without it.

When a vendor refuses a write and names the field (a 422 with a field error: Grow CRM
``errors: {field: [...]}``, Xurrent ``errors: [[field, message]]``, Trackops
``errors: {field: [...]}``), the write is sent once more without that field. That is
safe: a refused write applied nothing, and the second one is a new, smaller write,
not a blind retry. The refused value is remembered (``field_refusals`` in the state,
listed by ``status``) and left out of later writes to that system by its mapping
(:meth:`contactsync.mapping.mapper.Mapping.refuse`), so a later sync neither plans it again
nor ends "partial" for it. A value the mapping knows how to fit (``max_length`` with
``fit``, :mod:`contactsync.mapping.fit`) never gets here.

An update refused for a record the system cannot hold as it stands (a contact staged
without a name) is skipped rather than failed again every run. Any other refusal that
names no field of the write (Pylon's plain ``errors: [...]``, Rhythm's bare status)
stays a failed write, as before.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping as MappingOf
from dataclasses import replace
from typing import Any

import structlog
from pydantic import ValidationError

from contactsync.engine.loader_view import LoaderView
from contactsync.engine.plan import with_person_id
from contactsync.engine.ports import LoadingState
from contactsync.engine.stage_values import shown_value
from contactsync.http.errors import DuplicateError, NotFoundError, RecordError, SyncError
from contactsync.mapping.mapper import Mapping
from contactsync.model.contact import ActionKind, Contact, content_hash
from contactsync.model.time import utc_now
from contactsync.state.types import FieldRefusal, OutboxEntry, StateError

log = structlog.get_logger(__name__)

#: HTTP statuses that mean "this record's content was refused" (nothing was applied)
REFUSAL_STATUSES = (400, 422)
_FIELD_HEAD = re.compile(r"[^.\[]+")


def install_refusals(state: LoadingState, mappings: MappingOf[str, Mapping]) -> None:
    """Teach each system's mapping the values that system refused in earlier runs; a
    refusal whose person no longer holds that value (it changed since) is forgotten."""
    for refusal in state.list_field_refusals():
        mapping = mappings.get(refusal.system)
        if mapping is None:
            continue
        if _still_wanted(state, mapping, refusal):
            mapping.refuse(refusal.field, refusal.value_digest)
        else:
            state.clear_field_refusal(refusal.system, refusal.field, refusal.value_digest)


def _still_wanted(state: LoadingState, mapping: Mapping, refusal: FieldRefusal) -> bool:
    """Whether the person's golden record still maps out to the refused value."""
    try:
        person = state.get_person(state.resolve_person(refusal.person_id))
        if person is None:
            return False
        golden = with_person_id(Contact.model_validate(person.golden), person.person_id)
        wanted = mapping.outbound(golden).get(refusal.field)
    except (StateError, ValidationError):  # the person is gone or unreadable
        return False
    return wanted is not None and content_hash(wanted) == refusal.value_digest


def refused_keys(error: SyncError, payload: MappingOf[str, Any]) -> list[str]:
    """The top-level payload keys a vendor's refusal names (empty when it names none
    of them, or is no refusal of the record's content)."""
    if not isinstance(error, RecordError) or isinstance(error, DuplicateError | NotFoundError):
        return []
    if error.status is not None and error.status not in REFUSAL_STATUSES:
        return []  # (no status: the adapter refused it before sending, naming the fields)
    keys: list[str] = []
    for name in error.fields:
        head = _FIELD_HEAD.match(name)
        key = head.group() if head else name
        if key in payload and key not in keys:
            keys.append(key)
    return keys


def retry_without_refused_fields(
    loader: LoaderView, entry: OutboxEntry, error: SyncError
) -> SyncError | None:
    """Send ``entry``'s write once more without the fields ``error`` says the vendor
    refused, and remember those values. Returns None when the action is now settled
    (written, or nothing was left to write), else the error to report as before."""
    action = entry.action
    unholdable = _record_unholdable(loader, entry, error)
    if unholdable is not None:
        loader.state.skip(entry.id, loader.redact(f"{unholdable}: {error}"))
        log.warning("update refused: the record cannot be saved", action=entry.key, why=unholdable)
        return None
    keys = [] if action.kind is ActionKind.DELETE else refused_keys(error, action.payload)
    if not keys:
        return error
    reason = loader.redact(str(error))
    for key in keys:
        value = action.payload[key]
        digest = content_hash(value)
        loader.state.record_field_refusal(
            FieldRefusal(
                system=loader.system,
                field=key,
                value_digest=digest,
                value=shown_value(value if isinstance(value, str) else content_text(value)),
                external_id=action.external_id,
                person_id=action.person_id,
                reason=reason,
                refused_at=utc_now(),
            )
        )
        loader.mapping.refuse(key, digest)
    log.warning(
        "field refused: the write is sent without it",
        system=loader.system,
        action=entry.key,
        fields=keys,
        error=reason,
    )
    rest = {key: value for key, value in action.payload.items() if key not in keys}
    if action.kind is ActionKind.UPDATE and not rest:
        loader.state.skip(entry.id, f"nothing left to write without {', '.join(keys)}: {reason}")
        return None
    smaller = replace(entry, action=action.model_copy(update={"payload": rest}))
    return _send(loader, smaller)


def _record_unholdable(loader: LoaderView, entry: OutboxEntry, error: SyncError) -> str | None:
    """Why the vendor refuses an update whatever it sends: the record as it stands there
    is one the system cannot hold (a Rhythm contact staged without a name, known by its
    email only). Sending it again could only fail, run after run: it is skipped and
    planned again when the person changes. None for any other refusal."""
    action = entry.action
    if action.kind is not ActionKind.UPDATE or not isinstance(error, RecordError):
        return None
    if isinstance(error, DuplicateError | NotFoundError) or action.external_id is None:
        return None
    stored = loader.state.record_raw(loader.system, action.external_id)
    held = stored if isinstance(stored, dict) else {}
    why = loader.adapter.cannot_hold({**held, **action.payload})
    if why is not None and held and loader.adapter.cannot_hold(held) is None:
        # the record is fine as it is: this write would empty a field the system requires
        # (a person whose last email was removed elsewhere); that field is refused and
        # the rest of the write goes (a job title must not wait on an email)
        return None
    return why


def content_text(value: Any) -> str:
    """A non-text payload value as one line of canonical JSON (to show it)."""
    return json.dumps(value, sort_keys=True, default=str)


def _send(loader: LoaderView, entry: OutboxEntry) -> SyncError | None:
    """The loader's own create or update of ``entry`` (its bookkeeping included)."""
    from contactsync.engine.conditional import AlreadyHandled

    try:
        if entry.kind is ActionKind.CREATE:
            loader.send_create(entry, reconcile=False)
        else:
            loader.send_update(entry)
    except AlreadyHandled:
        return None
    except SyncError as again:
        return again
    except Exception as crash:  # reported like any crashed write, never raised past here
        return SyncError(
            f"{type(crash).__name__}: {crash}", system=loader.system, operation=entry.kind.value
        )
    return None
