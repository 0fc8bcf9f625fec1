"""Trackops client contacts (api-docs/trackops-client-contacts.txt, api-notes.md).

Change detection is a server-side WINDOW on ``updated_from``/``updated_to`` (UTC,
both inclusive) over ``GET /client/contacts``, a bare JSON array paged with
``page``/``per_page``. Paging stops on a short page, so N records cost
``ceil(N / per_page)`` requests plus one empty page only when N is an exact
multiple. ``mode=count`` would tell the page count up front but always costs one
request of its own, and a count taken before paging can disagree with the pages
when records change meanwhile; stopping on the short page is never dearer and
needs no second source of truth.

Writes wrap the vendor fields in ``{"contact": {...}}``; creates add
``allow_duplicates`` and the required ``client_id`` (a client *location*) and
``role_id`` from ``[systems.trackops.defaults]`` when the mapped payload has none.
Our person id lives in ``account_code`` (api-notes, last row).

Readings the vendor docs leave open, all *(assumed)* and kept here:

- The last-changed field is ``updated``, UTC, e.g. ``"2026-06-15 09:30:00"`` (a naive
  value is UTC; ISO-8601 with ``T``/``Z``/an offset is read too). The window bounds are
  sent in the same ``YYYY-MM-DD HH:MM:SS`` form, the lower one floored and the upper one
  ceiled to the second, and the window is then applied exactly on our side, so the
  server's precision can only widen what is fetched, never lose a record.
- ``per_page`` above 100 (the documented example) is not relied upon: the page size is
  capped at 100.
- ``PUT /client/contacts/{id}`` is a partial update (its example sends only
  ``account_code``): only the mapped fields that changed are sent, with
  ``allow_duplicates: true``. The record already exists and contactsync's matcher has
  already decided who is who: a rename onto a name another contact holds means the
  matcher found them to be different people (two people sharing a name is normal),
  so the same-name check must not block it.
- A create/update answer is the contact object (bare, or under ``"contact"``); when it
  is not a full record the contact is read back with ``GET /client/contacts/{id}``.
- Error bodies are JSON with a ``message`` (read by :mod:`contactsync.http.errors`).
- The ``email`` list filter (its name is missing from the docs' table) matches the
  address exactly.
- Trackops documents no DELETE and no status/active flag, so :meth:`delete` refuses
  with a :class:`FatalError` and sends nothing; configure Trackops without delete
  propagation.
- A same-name refusal is a :class:`DuplicateError` without ``existing_id``: two people
  may share a name, so the other record is never assumed to be ours.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar

from contactsync.adapters._common import (
    IntegerIdAdapter,
    located,
    lost_create_answer,
    malformed_answer,
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
from contactsync.adapters.trackops.client import build_client
from contactsync.http.client import EXT_OPERATION, EXT_RECORD_ID, SystemClient
from contactsync.http.errors import FatalError, expect_object
from contactsync.http.pagination import PageNumberPaginator, RequestSpec

SYSTEM = "trackops"
CONTACTS = "/client/contacts"
MAX_PER_PAGE = 100  # (assumed) the documented example value, not a documented maximum
BOUND_FORMAT = "%Y-%m-%d %H:%M:%S"  # (assumed) the form records show `updated` in
UPDATED_FIELD = "updated"  # (assumed) the last-changed field
ACCOUNT_CODE = "account_code"


class TrackopsAdapter(IntegerIdAdapter):
    """Trackops client contacts: window extract, partial updates, no deletes."""

    system: ClassVar[str] = SYSTEM
    contacts: ClassVar[str] = CONTACTS
    vendor_label: ClassVar[str] = "Trackops"
    max_page_size: ClassVar[int] = MAX_PER_PAGE
    strategy: ClassVar[ChangeStrategy] = ChangeStrategy.WINDOW
    foreign_id_field: ClassVar[str | None] = ACCOUNT_CODE
    can_read_record: ClassVar[bool] = True
    #: updates checked by one listing of the records changed since the last check
    conflict_check: ClassVar[ConflictCheck] = ConflictCheck.FEED
    stamp_fields: ClassVar[tuple[str, ...]] = (ACCOUNT_CODE,)
    required_for_create: ClassVar[tuple[str, ...]] = ("last_name",)
    supports_delete: ClassVar[bool] = False  # no documented delete or deactivation

    def _new_client(self) -> SystemClient:
        return build_client(self.context)

    # --- reading -----------------------------------------------------------------------

    def extract(self, window: Window) -> Iterator[RawRecord]:
        """Contacts with ``updated`` in ``[window.start, window.end]`` (start None: all)."""
        params: dict[str, str] = {"updated_to": _upper_bound(window.end)}
        if window.start is not None:
            params["updated_from"] = _lower_bound(window.start)
        for item, where in self._list(params, "list contacts"):
            try:
                external_id = self._record_id(item, "list contacts", where)
            except FatalError as exc:  # one unusable item: quarantined, the others go on
                yield unusable_record(item, exc.message)
                continue
            updated_at = parse_timestamp(item.get(UPDATED_FIELD))
            if updated_at is not None and not _in_window(updated_at, window):
                continue  # outside the exact window: only the second-rounded bounds let it in
            yield RawRecord(external_id=external_id, payload=item, updated_at=updated_at)

    def get(self, external_id: str) -> dict[str, Any]:
        """The contact as Trackops holds it now."""
        operation = "get contact"
        response = self._client.get(
            self._contact_path(external_id, operation),
            extensions={EXT_OPERATION: operation, EXT_RECORD_ID: external_id},
        )
        data = expect_object(response, SYSTEM, operation, external_id)
        record = _record_of(data)
        if record is None:
            raise malformed_answer(
                response,
                "the answer holds no contact object",
                system=SYSTEM,
                operation=operation,
                record_id=external_id,
            )
        return record

    def read_record(self, external_id: str) -> RawRecord:
        """The contact as Trackops holds it now, as :meth:`extract` yields it."""
        item = self.get(external_id)
        return RawRecord(external_id, item, parse_timestamp(item.get(UPDATED_FIELD)))

    def find_existing(self, payload: dict[str, Any], person_id: str) -> str | None:
        """The contact stamped with ``person_id`` (or, unstamped, holding the payload's
        email); Trackops cannot filter on ``account_code``, so candidates are listed by
        email, or by name when the payload has no email."""
        email = text_of(payload.get("email"))
        if email:
            filters = {"email": email}
        else:
            filters = {
                name: value
                for name in ("first_name", "last_name")
                if (value := text_of(payload.get(name)))
            }
            if not filters:
                return None
        candidates = [item for item, _ in self._list(filters, "find contact")]
        for item in candidates:
            if text_of(item.get(ACCOUNT_CODE)) == person_id:
                return self._record_id(item, "find contact", "a candidate")
        if email:
            for item in candidates:
                same_email = (text_of(item.get("email")) or "").casefold() == email.casefold()
                if same_email and not text_of(item.get(ACCOUNT_CODE)):
                    return self._record_id(item, "find contact", "a candidate")
        return None

    def _list(
        self, params: Mapping[str, str], operation: str
    ) -> Iterator[tuple[dict[str, Any], str]]:
        """Every listed contact with where it was found (``page N item M``)."""
        pager = PageNumberPaginator("page", "per_page", self._page_size, items=None)
        spec = RequestSpec("GET", CONTACTS, params=dict(params), operation=operation)
        yield from located(pager.pages(self._client, spec))

    # --- writing -----------------------------------------------------------------------

    def cannot_hold(self, payload: dict[str, Any]) -> str | None:
        if not text_of(payload.get("last_name")):
            return "Trackops requires last_name on every client contact"
        return None

    def create(self, payload: dict[str, Any], *, allow_duplicates: bool = False) -> WriteResult:
        operation = "create contact"
        contact = dict(payload)
        # The mapped client_id is this person's own Trackops location; else the default.
        for field, default_key in (("client_id", "client_location_id"), ("role_id", "role_id")):
            if contact.get(field) in (None, ""):
                contact[field] = self._default_id(default_key, operation)
        body = {"contact": contact, "allow_duplicates": allow_duplicates}
        response = self._client.post(CONTACTS, json=body, extensions={EXT_OPERATION: operation})
        data = expect_object(response, SYSTEM, operation)
        record = _record_of(data)
        if record is None:
            raise lost_create_answer(
                response, "the account_code", system=SYSTEM, operation=operation
            )
        external_id = self._record_id(record, operation, "the answer")
        return WriteResult(external_id, self._complete(external_id, record))

    def update(
        self, external_id: str, payload: dict[str, Any], *, current: dict[str, Any] | None = None
    ) -> WriteResult:
        """A partial update *(assumed)*: only ``payload``'s fields are sent."""
        operation = "update contact"
        path = self._contact_path(external_id, operation)
        if not payload:
            return WriteResult(external_id, self.get(external_id))
        response = self._client.put(
            path,
            json={"contact": dict(payload), "allow_duplicates": True},
            extensions={EXT_OPERATION: operation, EXT_RECORD_ID: external_id},
        )
        data = expect_object(response, SYSTEM, operation, external_id)
        record = _record_of(data)
        if record is None:
            return WriteResult(external_id, self.get(external_id))
        return WriteResult(external_id, self._complete(external_id, record))

    def delete(self, external_id: str) -> None:
        """Trackops documents no way to delete or deactivate a client contact."""
        raise FatalError(
            "Trackops has no delete API (and no documented deactivation); the contact is "
            "left in place: turn delete propagation off for trackops",
            system=SYSTEM,
            operation="delete contact",
            record_id=external_id,
        )

    def _complete(self, external_id: str, record: dict[str, Any]) -> dict[str, Any]:
        """``record`` when it is the full contact, else the contact read back."""
        if UPDATED_FIELD in record and "last_name" in record:
            return record
        return self.get(external_id)


# --- helpers --------------------------------------------------------------------------


def _lower_bound(moment: datetime) -> str:
    return utc(moment).replace(microsecond=0).strftime(BOUND_FORMAT)


def _upper_bound(moment: datetime) -> str:
    instant = utc(moment)
    if instant.microsecond:
        instant = instant.replace(microsecond=0) + timedelta(seconds=1)
    return instant.strftime(BOUND_FORMAT)


def _in_window(moment: datetime, window: Window) -> bool:
    if window.start is not None and moment < utc(window.start):
        return False
    return moment <= utc(window.end)


def _record_of(data: dict[str, Any]) -> dict[str, Any] | None:
    """The contact in a write/get answer: the object itself, or under ``"contact"``."""
    if "id" in data:
        return data
    nested = data.get("contact")
    if isinstance(nested, dict) and "id" in nested:
        return nested
    return None
