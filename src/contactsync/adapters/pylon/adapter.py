"""Pylon contacts (``specs/pylon-openapi.json`` is the authority for every shape).

Change detection is a SNAPSHOT: Pylon keeps no last-changed time on contacts, so
every run lists every contact (``GET /contacts?limit=&cursor=``, following
``pagination.cursor`` while ``pagination.has_next_page``) and the engine diffs
content hashes.

Writes: ``POST /contacts`` (``CreateContactRequestBody``: ``name`` required),
``PATCH /contacts/{id}`` (``UpdateContactRequestBody``: any subset),
``DELETE /contacts/{id}`` (permanent). A duplicate (same email, or an external id
another contact holds) answers an ``ErrorApiResponseBody`` with ``exists_id``:
:func:`contactsync.http.errors.classify` turns it into ``DuplicateError(existing_id=...)``
and the engine links to that contact.

Our person id lives in the ``external_ids`` entry labelled ``contactsync``
(``mappings/pylon.toml``). A PATCH carrying ``external_ids`` REPLACES the whole
list, so other labels are merged in before writing: from this run's listing of the
contact (every run lists every contact, so that read is already made, and is as
fresh as the snapshot the engine diffs), else from a GET. External ids
are not filterable in ``POST /contacts/search``: :meth:`PylonAdapter.find_existing`
searches by email and then checks the stamp.

Budgets: Pylon limits each endpoint per minute (list/get/create/update 60, search
20, delete 10); the client keeps to them with per-endpoint buckets
(:mod:`contactsync.adapters.pylon.client`).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar

from contactsync.adapters._common import SystemClientAdapter, text_of
from contactsync.adapters.base import (
    AdapterContext,
    ChangeStrategy,
    ConflictCheck,
    RawRecord,
    Window,
    WriteResult,
    unusable_record,
)
from contactsync.adapters.pylon.client import HTTP
from contactsync.adapters.pylon.payload import (
    SYNC_LABEL,
    JsonObject,
    create_body,
    holds_all,
    id_of,
    merge_external_ids,
    primary_email,
    stamp_of,
    update_body,
)
from contactsync.http.client import (
    EXT_OPERATION,
    EXT_RECORD_ID,
    BearerAuth,
    Budget,
    build_client,
)
from contactsync.http.errors import (
    FatalError,
    NotFoundError,
    RecordError,
    expect_object,
    raise_for_status,
)
from contactsync.http.pagination import CursorPaginator, RequestSpec

log = logging.getLogger(__name__)

SYSTEM = "pylon"
MAX_LIMIT = 999  # "Must be greater than 0 and less than 1000"
SEARCH_LIMIT = 100


class PylonAdapter(SystemClientAdapter):
    """Pylon's contacts: snapshot extract, create/patch/delete, person id in ``external_ids``."""

    system: ClassVar[str] = SYSTEM
    strategy: ClassVar[ChangeStrategy] = ChangeStrategy.SNAPSHOT
    foreign_id_field: ClassVar[str | None] = f"external_ids[label={SYNC_LABEL}].external_id"
    # Pylon needs a `name`, which any of the canonical name fields can give: checked
    # by cannot_hold() on the payload instead (required_for_create means "all of").
    required_for_create: ClassVar[tuple[str, ...]] = ()
    # every address of every contact, any case (a create sends ``email``; ``emails``
    # lists all of a contact's addresses, the primary included)
    unique_fields: ClassVar[tuple[str, ...]] = ("email", "emails")
    can_read_record: ClassVar[bool] = True
    #: no change times: the list read again when cheaper than a GET per update
    conflict_check: ClassVar[ConflictCheck] = ConflictCheck.SNAPSHOT
    stamp_fields: ClassVar[tuple[str, ...]] = ("external_ids",)

    def __init__(
        self,
        context: AdapterContext,
        *,
        budgets: Mapping[str, Budget] | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """``budgets`` None means Pylon's documented per-endpoint limits scaled by
        ``context.rate_scale``; ``clock`` and ``sleep`` are for tests of the throttle."""
        super().__init__(context)
        token = context.credentials.get("token")
        if not token:
            raise FatalError(
                "missing credential 'token' (the Pylon API token)",
                system=SYSTEM,
                operation="configure",
            )
        self._client = build_client(
            SYSTEM,
            base_url=context.base_url,
            auth=BearerAuth(token),
            vendor=HTTP,
            rate_scale=context.rate_scale,
            timeout=context.timeout,
            transport=context.transport,
            budgets=budgets,
            rate_limit=context.rate_limit,
            credentials_hint=context.credentials_hint,
            max_connections=max(1, context.concurrency),
            clock=clock,
            sleep=sleep,
        )
        # (assumed) a configured page size beyond Pylon's 1..999 is clamped, not refused.
        self.page_size = min(max(1, context.page_size), MAX_LIMIT)
        # contact id -> its external_ids as the latest list (or our own write) showed them
        self._listed_external_ids: dict[str, Any] = {}

    # --- extract -------------------------------------------------------------------------

    def extract(self, window: Window) -> Iterator[RawRecord]:
        """Every contact (SNAPSHOT ignores ``window``); ``updated_at`` stays None."""
        pager = CursorPaginator("query", limit=self.page_size, items="data")
        spec = RequestSpec("GET", "/contacts", operation="list contacts")
        listed: dict[str, Any] = {}
        self._listed_external_ids = listed
        for page in pager.pages(self._client, spec):
            for index, item in enumerate(page.items):
                contact_id = id_of(item)
                if contact_id is None:
                    # A contact without an id cannot be addressed or diffed: quarantined.
                    where = f"page {page.number} item {index}"
                    problem = f"malformed record: {where} has no usable id (got {item.get('id')!r})"
                    yield unusable_record(item, problem)
                    continue
                listed[contact_id] = item.get("external_ids")
                yield RawRecord(external_id=contact_id, payload=item, updated_at=None)

    # --- single record -------------------------------------------------------------------

    def get(self, external_id: str) -> JsonObject:
        """The contact as Pylon holds it now (``GET /contacts/{id}``)."""
        operation = "get contact"
        response = self._client.get(
            f"/contacts/{external_id}",
            # The spec declares a REQUIRED `limit` query parameter on this single-record
            # endpoint (a copy of the list endpoints'); send limit=1 so requests conform.
            params={"limit": 1},
            extensions=_ext(operation, external_id),
        )
        data = expect_object(response, SYSTEM, operation, external_id)
        return _contact_of(data, operation, external_id)

    def read_record(self, external_id: str) -> RawRecord:
        """The contact as Pylon holds it now, as :meth:`extract` yields it (no timestamp:
        Pylon has none on contacts)."""
        return RawRecord(external_id=external_id, payload=self.get(external_id), updated_at=None)

    # --- writes --------------------------------------------------------------------------

    def cannot_hold(self, payload: dict[str, Any]) -> str | None:
        if not text_of(payload.get("name")):
            return "Pylon requires a name to create a contact"
        return None

    def create(self, payload: dict[str, Any], *, allow_duplicates: bool = False) -> WriteResult:
        """``POST /contacts``. Pylon has no allow-duplicates switch: a contact with an email
        or external id another contact holds is always refused (DuplicateError with the
        other contact's id), whatever ``allow_duplicates`` says."""
        operation = "create contact"
        reason = self.cannot_hold(payload)
        if reason is not None:
            raise RecordError(reason, system=SYSTEM, operation=operation, fields=("name",))
        body = create_body(payload)
        response = self._client.post("/contacts", json=body, extensions=_ext(operation))
        record = _contact_of(expect_object(response, SYSTEM, operation), operation)
        return WriteResult(str(record["id"]), record)

    def update(
        self, external_id: str, payload: dict[str, Any], *, current: dict[str, Any] | None = None
    ) -> WriteResult:
        """``PATCH /contacts/{id}`` with the mapped fields.

        ``external_ids`` is sent only when the payload's entries are not already on the
        record (per ``current``); then the record's other labels are merged in, because
        the PATCH replaces the whole list. They are taken from this run's listing of the
        contact (or from our own last write to it), else read with a GET.
        """
        operation = "update contact"
        body = update_body(payload)
        wanted = body.pop("external_ids", None)
        if wanted is not None and not holds_all(current, wanted):
            known = self._listed_external_ids
            fresh = (
                {"external_ids": known[external_id]}
                if external_id in known
                else self.get(external_id)
            )
            if not holds_all(fresh, wanted):
                body["external_ids"] = merge_external_ids(fresh.get("external_ids"), wanted)
        response = self._client.patch(
            f"/contacts/{external_id}", json=body, extensions=_ext(operation, external_id)
        )
        data = expect_object(response, SYSTEM, operation, external_id)
        record = _contact_of(data, operation, external_id)
        if "external_ids" in record:
            self._listed_external_ids[external_id] = record["external_ids"]
        return WriteResult(external_id, record)

    def delete(self, external_id: str) -> None:
        """``DELETE /contacts/{id}`` (permanent). A contact already gone counts as deleted:
        a retried DELETE whose first attempt landed answers 404."""
        operation = "delete contact"
        response = self._client.delete(
            f"/contacts/{external_id}", extensions=_ext(operation, external_id)
        )
        try:
            raise_for_status(response, SYSTEM, operation, external_id)
        except NotFoundError:
            log.info("pylon delete contact [record %s]: already gone", external_id)

    def find_existing(self, payload: dict[str, Any], person_id: str) -> str | None:
        """The contact carrying our stamp ``person_id``, found through its email.

        ``external_ids`` is not filterable in ``POST /contacts/search`` (id, email,
        account_id and custom fields are), so the lookup goes by the payload's email and
        only a contact stamped with ``person_id`` counts: a same-email contact without
        our stamp belongs to someone else (a create would answer a duplicate naming it).
        Without an email there is nothing to search: None, and a second create is safe
        because Pylon keeps external ids unique (it answers a duplicate with
        ``exists_id``). The search endpoint allows 20 requests a minute: reconciliation
        only.
        """
        email = primary_email(payload)
        if email is None:
            return None
        pager = CursorPaginator("body", limit=SEARCH_LIMIT, items="data")
        spec = RequestSpec(
            "POST",
            "/contacts/search",
            json={"filter": {"field": "email", "operator": "equals", "value": email}},
            operation="search contacts by email",
        )
        # (assumed) `equals` on email ignores case, as addresses do; if Pylon compared
        # case-sensitively a miss would only mean a second create, which Pylon refuses
        # as a duplicate naming the contact (the engine then links to it).
        for contact in pager.items(self._client, spec):
            if stamp_of(contact) == person_id and (found := id_of(contact)) is not None:
                return found
        return None


# --- helpers ----------------------------------------------------------------------------


def _ext(operation: str, record_id: str | None = None) -> dict[str, Any]:
    extensions: dict[str, Any] = {EXT_OPERATION: operation}
    if record_id is not None:
        extensions[EXT_RECORD_ID] = record_id
    return extensions


def _contact_of(data: JsonObject, operation: str, record_id: str | None = None) -> JsonObject:
    """The ``data`` Contact of a single-record answer; FatalError when it is not one."""
    contact = data.get("data")
    if not isinstance(contact, dict) or id_of(contact) is None:
        raise FatalError(
            "malformed envelope: expected {data: Contact with an id}",
            system=SYSTEM,
            operation=operation,
            record_id=record_id,
            body=json.dumps(data, default=str),
        )
    return contact
