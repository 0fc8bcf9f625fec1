"""Rhythm Rolodex contacts (api-docs/rhythm-rolodex-contacts.txt, api-notes.md).

SNAPSHOT change detection: the search has no "changed since" filter, so every extract
pages ``POST /contacts/{tenantId}/search`` (filter body ``{}``), sending each
``LastEvaluatedKey`` back as ``?exclusiveStartKey=`` until an answer has none. The
server's page size is fixed (``context.page_size`` plays no part).
``sys_last_modified_at`` becomes :attr:`RawRecord.updated_at`.

Auth: OAuth2 client credentials (``[systems.rhythm.auth] token_url``). The vendor caps
tokens per month; a token lives 24 h and one adapter fetches one (another only after
a 401). Hooks, to set before the first request: ``adapter.on_new_token`` sees each
token once before use (the engine wires ``contactsync.logs.register_secret``);
the engine keeps tokens in a file beside the state (``context.token_file``,
:mod:`contactsync.http.token_file`), so a one-shot ``sync`` reuses the last one's.

Writes: ``POST /contacts/{tenantId}`` (no id: the server makes one), ``PUT|PATCH|DELETE
/contacts/{tenantId}/{id}``; an update sends a full ``PUT`` or an RFC 6902 ``PATCH``,
whichever body is smaller (:func:`plan_update`). Errors are status codes only: 409 =
a reference to a missing object, 429 = the tenant limit.

Readings the docs leave open, all *(assumed)* and kept here:

- ``{}`` returns every status (active, inactive, duplicate, deceased); no status filter
  is sent, since a contact turning inactive (canonical ``inactive``) must stay in the
  snapshot or the diff would read it as deleted, and one without a status would
  vanish. Deleted contacts are not in the search.
- Our person id: ``origin_service = "contactsync"`` + ``origin_service_record_id``
  (documented, writable person fields), not ``sys_external_id``: api-notes assumes the
  server owns every ``sys_*`` field, and tenants keep import references there
  (mappings/rhythm.toml reads it as the canonical ``reference``).
- No search filter reaches ``origin_service_record_id``: :meth:`~RhythmAdapter.find_existing`
  searches by ``email_address`` (else first and last name), then checks the stamp.
- An update never clears a field: the payload's top-level fields replace the record's
  (an address object is replaced whole). The ``PUT`` body is the record as last read
  with the payload applied, its ``id`` matching the path and its server-managed
  ``sys_*`` fields sent back as read (the schema marks them required).
- A ``sys_locked`` record "cannot be changed via the API": no update is sent.
- ``DELETE`` of a contact already gone (404) is success (a retried DELETE whose first
  answer was lost must not fail).
- A contact needs a first or a last name (the simulator's rule; the docs name no
  required person field): see :meth:`~RhythmAdapter.cannot_hold`.
- A 429 has no ``Retry-After``; it is read as ``Retry-After: 10`` so the throttle holds
  the whole tenant once instead of probing it with short backoffs.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar
from urllib.parse import quote

from contactsync.adapters._common import (
    SystemClientAdapter,
    located,
    lost_create_answer,
    parse_timestamp,
    record_id,
    text_of,
)
from contactsync.adapters.base import (
    AdapterContext,
    ChangeStrategy,
    RawRecord,
    RecordChanged,
    Window,
    WriteResult,
    unusable_record,
)
from contactsync.adapters.rhythm.client import oauth, required_settings, rhythm_client
from contactsync.adapters.rhythm.patch import (
    UpdatePlan,
    conditional_patch,
    dumps,
    missing_reference,
    plan_update,
)
from contactsync.http.client import EXT_OPERATION, EXT_RECORD_ID
from contactsync.http.errors import (
    FatalError,
    NotFoundError,
    RecordError,
    classify,
    expect_object,
    raise_for_status,
)
from contactsync.http.pagination import KeyPaginator, RequestSpec

__all__ = ["RhythmAdapter", "UpdatePlan", "dumps", "plan_update", "stamped_person_id"]

SYSTEM = "rhythm"
ORIGIN_SERVICE = "contactsync"
ORIGIN_FIELD = "origin_service"
STAMP_FIELD = "origin_service_record_id"
UPDATED_FIELD = "sys_last_modified_at"
EMAIL_SLOTS = ("email_address", "email_address2", "email_address3")
ID_PATTERN = re.compile(r"^[\w|-]+$")  # the documented id pattern
JSON_HEADERS = {"Content-Type": "application/json"}


class RhythmAdapter(SystemClientAdapter):
    """Rhythm Rolodex contacts: snapshot search, smallest-body updates, real deletes."""

    system: ClassVar[str] = SYSTEM
    strategy: ClassVar[ChangeStrategy] = ChangeStrategy.SNAPSHOT
    foreign_id_field: ClassVar[str | None] = STAMP_FIELD
    can_read_record: ClassVar[bool] = True
    #: RFC 6902 ``test`` operations (documented in the PATCH's op enum) make the
    #: vendor refuse a patch of fields changed since they were read
    conditional_updates: ClassVar[bool] = True
    stamp_fields: ClassVar[tuple[str, ...]] = (ORIGIN_FIELD, STAMP_FIELD)

    def __init__(
        self,
        context: AdapterContext,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``sleep``/``clock`` drive retries and the throttle (tests pass fakes)."""
        super().__init__(context)
        #: sees each OAuth token once before it is used; the engine may set it
        self.on_new_token: Callable[[str], None] | None = None
        settings = required_settings(context)
        self.tenant_id = settings["tenant_id"]
        self.auth = oauth(context, settings, clock, self._announce_token)
        self._client = rhythm_client(context, self.auth, clock, sleep)
        self._contacts = f"/contacts/{quote(self.tenant_id, safe='')}"

    def _announce_token(self, token: str) -> None:
        if self.on_new_token is not None:
            self.on_new_token(token)

    # --- reading -----------------------------------------------------------------------

    def extract(self, window: Window) -> Iterator[RawRecord]:
        """Every contact, whatever ``window`` says (snapshot: the engine diffs hashes)."""
        seen: set[str] = set()
        for item, where in self._search({}, "search contacts"):
            try:
                external_id = _record_id(item, "search contacts", where)
            except FatalError as exc:  # one unusable item: quarantined, the others go on
                yield unusable_record(item, exc.message)
                continue
            if external_id in seen:
                continue
            seen.add(external_id)
            yield RawRecord(external_id, item, parse_timestamp(item.get(UPDATED_FIELD)))

    def get(self, external_id: str) -> dict[str, Any]:
        """The contact as Rhythm holds it now."""
        operation = "get contact"
        response = self._client.get(
            self._record_path(external_id, operation),
            extensions={EXT_OPERATION: operation, EXT_RECORD_ID: external_id},
        )
        return expect_object(response, SYSTEM, operation, external_id)

    def read_record(self, external_id: str) -> RawRecord:
        """The contact as Rhythm holds it now, as :meth:`extract` yields it."""
        item = self.get(external_id)
        return RawRecord(external_id, item, parse_timestamp(item.get(UPDATED_FIELD)))

    def _search(
        self, filters: Mapping[str, Any], operation: str
    ) -> Iterator[tuple[dict[str, Any], str]]:
        """Every contact the search finds, with where (``page N item M``)."""
        spec = RequestSpec(
            "POST", f"{self._contacts}/search", json=dict(filters), operation=operation
        )
        yield from located(KeyPaginator().pages(self._client, spec))

    def find_existing(self, payload: dict[str, Any], person_id: str) -> str | None:
        """The contact stamped with ``person_id`` among those holding the payload's email
        (or, without an email, its first and last name); else the one unstamped contact
        holding that email; else None."""
        emails = [e for slot in EMAIL_SLOTS if (e := text_of(payload.get(slot)))]
        if emails:
            filters: dict[str, str] = {"email_address": emails[0]}
        else:
            filters = {k: v for k in ("first_name", "last_name") if (v := text_of(payload.get(k)))}
            if not filters:
                return None
        operation = "find contact"
        candidates = list(self._search(filters, operation))
        for item, where in candidates:
            if stamped_person_id(item) == person_id:
                return _record_id(item, operation, where)
        wanted = emails[0].casefold() if emails else None
        unstamped = [
            (item, where)
            for item, where in candidates
            if wanted is not None
            and stamped_person_id(item) is None
            and wanted in {(text_of(item.get(slot)) or "").casefold() for slot in EMAIL_SLOTS}
        ]
        if len(unstamped) == 1:
            item, where = unstamped[0]
            return _record_id(item, operation, where)
        return None

    # --- writing -----------------------------------------------------------------------

    def cannot_hold(self, payload: dict[str, Any]) -> str | None:
        if not (text_of(payload.get("first_name")) or text_of(payload.get("last_name"))):
            return "Rhythm needs a first_name or a last_name on every contact"
        return None

    def create(self, payload: dict[str, Any], *, allow_duplicates: bool = False) -> WriteResult:
        """``POST`` the person's fields; Rhythm has no duplicate rule to override."""
        operation = "create contact"
        body = {key: value for key, value in payload.items() if key != "id"}
        response = self._client.post(
            self._contacts,
            content=dumps(body),
            headers=JSON_HEADERS,
            extensions={EXT_OPERATION: operation},
        )
        if response.status_code == 409:
            raise missing_reference(response, operation, None, body)
        data = expect_object(response, SYSTEM, operation)
        if data.get("id") in (None, ""):
            raise lost_create_answer(response, STAMP_FIELD, system=SYSTEM, operation=operation)
        external_id = _record_id(data, operation, "the answer")
        return WriteResult(external_id, self._complete(external_id, data))

    def update(
        self, external_id: str, payload: dict[str, Any], *, current: dict[str, Any] | None = None
    ) -> WriteResult:
        """Apply ``payload`` with a full ``PUT`` or a JSON Patch, whichever is smaller."""
        operation = "update contact"
        path = self._record_path(external_id, operation)
        before = current if current is not None else self.get(external_id)
        if before.get("sys_locked") is True:
            raise RecordError(
                "the contact is locked (sys_locked) and cannot be changed via the API",
                system=SYSTEM,
                operation=operation,
                record_id=external_id,
            )
        plan = plan_update(external_id, before, payload)
        if plan is None:
            return WriteResult(external_id, before)  # nothing differs: send nothing
        operation = f"{operation} ({plan.method})"
        response = self._client.request(
            plan.method,
            path,
            content=plan.body,
            headers=JSON_HEADERS,
            extensions={EXT_OPERATION: operation, EXT_RECORD_ID: external_id},
        )
        if response.status_code == 409:
            raise missing_reference(response, operation, external_id, payload)
        data = expect_object(response, SYSTEM, operation, external_id)
        return WriteResult(external_id, self._complete(external_id, data))

    def update_if_unchanged(
        self, external_id: str, payload: dict[str, Any], current: dict[str, Any]
    ) -> WriteResult:
        """A ``PATCH`` that first ``test`` s every field it writes for the value it had in
        ``current``: Rhythm applies all of it or nothing, so a field a user changed since
        ``current`` was read is never overwritten. A refused test answers 400 like any
        invalid patch; the contact is then read to tell which (:class:`RecordChanged`
        when a tested field differs, the 400 as an error otherwise)."""
        operation = "update contact (conditional PATCH)"
        path = self._record_path(external_id, operation)
        if current.get("sys_locked") is True:
            raise RecordError(
                "the contact is locked (sys_locked) and cannot be changed via the API",
                system=SYSTEM,
                operation=operation,
                record_id=external_id,
            )
        tested, body = conditional_patch(external_id, current, payload)
        if body is None:
            return WriteResult(external_id, current)  # nothing differs: send nothing
        # A field ``current`` lacks cannot be tested: a GET shows whether someone filled it
        untested = [key for key in payload if key != "id" and key not in current]
        if untested:
            fresh = self.read_record(external_id)
            if any(fresh.payload.get(key) not in (None, "") for key in untested):
                raise RecordChanged(external_id, fresh)
        response = self._client.request(
            "PATCH",
            path,
            content=body,
            headers=JSON_HEADERS,
            extensions={EXT_OPERATION: operation, EXT_RECORD_ID: external_id},
        )
        if response.status_code == 400 and tested:
            fresh = self.read_record(external_id)
            if any(fresh.payload.get(key) != current.get(key) for key in tested):
                raise RecordChanged(external_id, fresh)
        if response.status_code == 409:
            raise missing_reference(response, operation, external_id, payload)
        data = expect_object(response, SYSTEM, operation, external_id)
        return WriteResult(external_id, self._complete(external_id, data))

    def delete(self, external_id: str) -> None:
        """Delete the contact; one already gone (404) counts as deleted."""
        operation = "delete contact"
        response = self._client.delete(
            self._record_path(external_id, operation),
            extensions={EXT_OPERATION: operation, EXT_RECORD_ID: external_id},
        )
        if response.status_code == 404:
            return
        if response.status_code == 409:
            error = classify(SYSTEM, operation, response, external_id)
            raise RecordError(
                "other records refer to this contact, so it cannot be deleted",
                system=SYSTEM,
                operation=operation,
                record_id=external_id,
                status=409,
                body=error.body,
            )
        raise_for_status(response, SYSTEM, operation, external_id)

    # --- helpers -------------------------------------------------------------------------

    def _record_path(self, external_id: str, operation: str) -> str:
        if not ID_PATTERN.fullmatch(external_id):
            raise NotFoundError(
                "not a Rhythm contact id (ids match [\\w|-]+)",
                system=SYSTEM,
                operation=operation,
                record_id=external_id,
            )
        return f"{self._contacts}/{quote(external_id, safe='')}"

    def _complete(self, external_id: str, record: dict[str, Any]) -> dict[str, Any]:
        """``record`` when it is the whole contact, else the contact read back."""
        if str(record.get("id")) == external_id and UPDATED_FIELD in record:
            return record
        return self.get(external_id)


def stamped_person_id(record: Mapping[str, Any]) -> str | None:
    """The contactsync person id a contact carries, if contactsync stamped it."""
    origin = text_of(record.get(ORIGIN_FIELD))
    if origin is None or origin.casefold() != ORIGIN_SERVICE:
        return None
    return text_of(record.get(STAMP_FIELD))


def _record_id(record: Mapping[str, Any], operation: str, where: str) -> str:
    return record_id(record, SYSTEM, operation, where)
