"""Grow CRM contacts (api-docs/growcrm-contacts.txt, api-notes.md).

Grow CRM has no "changed since" filter, so change detection is a SORTED_SCAN:
``GET /contacts?sort=updated&order=desc&limit=<page_size>&page=n`` (envelope
``{"data": [...], "meta": {...}}``), stopping at the first record older than
``window.start``; records newer than ``window.end`` (changed while the run goes on)
are skipped, not stopped on, and the next run picks them up. Paging ends at
``meta.last_page`` (or a short page), so a full scan of N records costs exactly
``ceil(N / limit)`` requests.

There is no field for our person id (``foreign_id_field`` None): a lost create is
found again by email, which Grow CRM keeps unique across all users.

Readings the vendor docs leave open, all *(assumed)* and kept here:

- ``meta`` carries Laravel's ``current_page``/``last_page``/``total`` (see
  :class:`~contactsync.http.pagination.PageMetaPaginator`).
- A record whose ``dates.updated`` cannot be read is yielded (updated_at None) and
  never ends the scan: it cannot be placed relative to the watermark.
- ``search`` is a substring match over names, email and phone, so a lookup by email
  keeps only the exact (case-insensitive) address.
- Update bodies carry only the documented update fields (first_name, last_name,
  email, phone, position); ``clientid`` cannot be changed by an update and is dropped.
  The three required fields come from ``current`` (the last extracted record) unless
  the payload changes them; without a usable ``current`` the contact is read first.
- ``DELETE`` of an unknown or already deleted contact answers 404, which counts as
  done: deletes are re-sent after a crash and must be idempotent.
- A 422 "email has already been taken" is a :class:`DuplicateError`; the holder is
  looked up by email and named as ``existing_id`` when it is a listed contact (the
  address may also belong to a soft-deleted contact or a team member, which are not).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import httpx

from contactsync.adapters._common import (
    IntegerIdAdapter,
    located,
    malformed_answer,
    naming_holder,
    parse_timestamp,
    text_of,
    utc,
)
from contactsync.adapters.base import (
    ChangeStrategy,
    ConflictCheck,
    RawRecord,
    Window,
    WriteResult,
    unusable_record,
)
from contactsync.adapters.growcrm.client import build_client
from contactsync.http.client import EXT_OPERATION, EXT_RECORD_ID, SystemClient
from contactsync.http.errors import (
    DuplicateError,
    FatalError,
    SyncError,
    expect_object,
    raise_for_status,
)
from contactsync.http.pagination import PageMetaPaginator, RequestSpec, dig

SYSTEM = "growcrm"
CONTACTS = "/contacts"
MAX_LIMIT = 100  # documented maximum of `limit`
REQUIRED_ON_UPDATE: tuple[str, ...] = ("first_name", "last_name", "email")
UPDATE_FIELDS: frozenset[str] = frozenset({*REQUIRED_ON_UPDATE, "phone", "position"})


class GrowcrmAdapter(IntegerIdAdapter):
    """Grow CRM contacts: newest-first scan, updates with the full identity, idempotent deletes."""

    system: ClassVar[str] = SYSTEM
    contacts: ClassVar[str] = CONTACTS
    vendor_label: ClassVar[str] = "Grow CRM"
    max_page_size: ClassVar[int] = MAX_LIMIT
    strategy: ClassVar[ChangeStrategy] = ChangeStrategy.SORTED_SCAN
    foreign_id_field: ClassVar[str | None] = None
    can_read_record: ClassVar[bool] = True
    #: updates checked by one listing of the records changed since the last check
    conflict_check: ClassVar[ConflictCheck] = ConflictCheck.FEED
    # The create body needs first_name, last_name and a (unique) email.
    required_for_create: ClassVar[tuple[str, ...]] = ("emails", "first_name", "last_name")
    unique_fields: ClassVar[tuple[str, ...]] = ("email",)  # across all users, any case
    default_org_setting: ClassVar[str | None] = "client_id"  # create() fills it in

    def _new_client(self) -> SystemClient:
        return build_client(self.context)

    # --- reading -----------------------------------------------------------------------

    def extract(self, window: Window) -> Iterator[RawRecord]:
        """Contacts updated in ``[window.start, window.end]``, newest first."""
        start = None if window.start is None else utc(window.start)
        end = utc(window.end)
        params = {"sort": "updated", "order": "desc"}
        for item, where in self._list(params, "list contacts"):
            updated_at = parse_timestamp(dig(item, "dates.updated"))
            if updated_at is not None and start is not None and updated_at < start:
                return  # sorted newest first: everything after this is older still
            if updated_at is not None and updated_at > end:
                continue  # changed during this run: the next window holds it
            try:
                external_id = self._record_id(item, "list contacts", where)
            except FatalError as exc:  # one unusable item: quarantined, the others go on
                yield unusable_record(item, exc.message)
                continue
            yield RawRecord(external_id=external_id, payload=item, updated_at=updated_at)

    def get(self, external_id: str) -> dict[str, Any]:
        """The contact as Grow CRM holds it now."""
        operation = "get contact"
        response = self._client.get(
            self._contact_path(external_id, operation),
            extensions={EXT_OPERATION: operation, EXT_RECORD_ID: external_id},
        )
        data = expect_object(response, SYSTEM, operation, external_id)
        record = data.get("data")
        if not isinstance(record, dict) or "id" not in record:
            raise _no_contact(response, operation, external_id)
        return record

    def read_record(self, external_id: str) -> RawRecord:
        """The contact as Grow CRM holds it now, as :meth:`extract` yields it."""
        item = self.get(external_id)
        return RawRecord(external_id, item, parse_timestamp(dig(item, "dates.updated")))

    def find_existing(self, payload: dict[str, Any], person_id: str) -> str | None:
        """The listed contact with the payload's email (no foreign-id field exists)."""
        email = text_of(payload.get("email"))
        return None if email is None else self.find_by_email(email)

    def find_by_email(self, email: str) -> str | None:
        """The id of the listed contact whose email is ``email`` (any case), or None."""
        wanted = email.strip().casefold()
        for item, where in self._list({"search": email.strip()}, "find contact by email"):
            if (text_of(item.get("email")) or "").casefold() == wanted:
                return self._record_id(item, "find contact by email", where)
        return None

    def _list(
        self, params: Mapping[str, str], operation: str
    ) -> Iterator[tuple[dict[str, Any], str]]:
        def items(data: Any) -> Any:
            if not isinstance(data, dict) or not isinstance(data.get("data"), list):
                raise FatalError(
                    'malformed envelope: the list answer has no "data" array',
                    system=SYSTEM,
                    operation=operation,
                )
            return data["data"]

        pager = PageMetaPaginator("page", "limit", self._page_size, items=items, meta="meta")
        spec = RequestSpec("GET", CONTACTS, params=dict(params), operation=operation)
        yield from located(pager.pages(self._client, spec))

    # --- writing -----------------------------------------------------------------------

    def cannot_hold(self, payload: dict[str, Any]) -> str | None:
        if not text_of(payload.get("email")):
            return "Grow CRM requires an email (unique across all users) on every contact"
        missing = [name for name in ("first_name", "last_name") if not text_of(payload.get(name))]
        if missing:
            return f"Grow CRM requires {' and '.join(missing)} on every contact"
        return None

    def create(self, payload: dict[str, Any], *, allow_duplicates: bool = False) -> WriteResult:
        """``POST /contacts``; a taken email is a duplicate whatever ``allow_duplicates``
        says (Grow CRM has no override)."""
        operation = "create contact"
        body = dict(payload)
        if body.get("clientid") in (None, ""):
            body["clientid"] = self._default_id("client_id", operation)
        response = self._client.post(CONTACTS, json=body, extensions={EXT_OPERATION: operation})
        try:
            record = self._record_of(response, operation, None)
        except DuplicateError as exc:
            raise self._with_existing_id(exc, text_of(body.get("email"))) from None
        return WriteResult(self._record_id(record, operation, "the answer"), record)

    def update(
        self, external_id: str, payload: dict[str, Any], *, current: dict[str, Any] | None = None
    ) -> WriteResult:
        """``PUT /contacts/{id}`` with first_name, last_name and email every time."""
        operation = "update contact"
        path = self._contact_path(external_id, operation)
        body = {key: value for key, value in payload.items() if key in UPDATE_FIELDS}
        missing = [key for key in REQUIRED_ON_UPDATE if not text_of(body.get(key))]
        if missing:
            known = current if current is not None and _has_required(current) else None
            known = known or self.get(external_id)
            for key in missing:
                body[key] = known.get(key)
        response = self._client.put(
            path, json=body, extensions={EXT_OPERATION: operation, EXT_RECORD_ID: external_id}
        )
        try:
            record = self._record_of(response, operation, external_id)
        except DuplicateError as exc:
            raise self._with_existing_id(exc, text_of(body.get("email"))) from None
        return WriteResult(external_id, record)

    def delete(self, external_id: str) -> None:
        """``DELETE /contacts/{id}``; a 404 (already deleted) counts as done."""
        operation = "delete contact"
        response = self._client.delete(
            self._contact_path(external_id, operation),
            extensions={EXT_OPERATION: operation, EXT_RECORD_ID: external_id},
        )
        if response.status_code == 404:
            return
        raise_for_status(response, SYSTEM, operation, external_id)

    # --- helpers -----------------------------------------------------------------------

    def _record_of(
        self, response: httpx.Response, operation: str, external_id: str | None
    ) -> dict[str, Any]:
        """The full contact a write answered with under ``data``, else read back by id."""
        data = expect_object(response, SYSTEM, operation, external_id)
        record = data.get("data")
        if isinstance(record, dict) and "id" in record and "dates" in record:
            return record
        if external_id is None and isinstance(record, dict) and "id" in record:
            external_id = self._record_id(record, operation, "the answer")
        if external_id is None:
            raise _no_contact(response, operation, None)
        return self.get(external_id)

    def _with_existing_id(self, error: DuplicateError, email: str | None) -> DuplicateError:
        """``error`` naming the contact that holds ``email``, when one is listed."""
        if error.existing_id is not None or email is None:
            return error
        try:
            existing = self.find_by_email(email)
        except SyncError:
            return error  # the lookup is a courtesy: the duplicate stands either way
        return error if existing is None else naming_holder(error, existing)


def _no_contact(response: httpx.Response, operation: str, external_id: str | None) -> FatalError:
    return malformed_answer(
        response,
        "the answer holds no contact under 'data'",
        system=SYSTEM,
        operation=operation,
        record_id=external_id,
    )


def _has_required(record: Mapping[str, Any] | None) -> bool:
    return record is not None and all(text_of(record.get(key)) for key in REQUIRED_ON_UPDATE)
