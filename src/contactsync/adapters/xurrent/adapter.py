"""Xurrent (4me): people through the ``updated_at`` window, organization contacts by snapshot.

People (api-notes.md, "Person records in Xurrent"): ``GET /people`` is a bare array,
paged with ``per_page`` (max 100) and ``Link: <...>; rel="next"``; ``name`` and
``primary_email`` are required on create (``primary_email`` unique per account);
``PATCH /people/{id}`` takes any subset; people are archived
(``POST /people/{id}/archive``), never deleted. Our person id lives in ``sourceID``,
always written with ``source = "contactsync"`` (see mappings/xurrent.toml).

Organization contacts (api-docs/xurrent-organization-contacts.txt) are an
organization's own channels, listed per organization in
``defaults["organization_ids"]``: see :mod:`.channels` (pure helpers,
:func:`channels_to_canonical`) and :mod:`.channel_api` (the requests).

Auth is ``Authorization: Bearer <token>`` plus ``X-Xurrent-Account: <account id>``
(:class:`~contactsync.adapters.xurrent.client.XurrentAuth`); the client keeps to the
burst limit (20 requests per 2 s, :mod:`contactsync.adapters.xurrent.client`) and its
quota reader to the hourly ``X-RateLimit-*`` headers.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any, ClassVar

import httpx

from contactsync.adapters._common import SystemClientAdapter, naming_holder, parse_timestamp, utc
from contactsync.adapters.base import (
    AdapterContext,
    ChangeStrategy,
    ConflictCheck,
    OrgChannelRecord,
    RawRecord,
    Window,
    WriteResult,
    unusable_record,
)
from contactsync.adapters.xurrent.channel_api import OrganizationChannels, numeric_id
from contactsync.adapters.xurrent.channels import (
    ChannelPlan,
    channels_by_organization,
    channels_to_canonical,
    plan_channels,
)
from contactsync.adapters.xurrent.client import HTTP, XurrentAuth
from contactsync.http.client import (
    EXT_IDEMPOTENT,
    EXT_OPERATION,
    EXT_RECORD_ID,
    build_client,
)
from contactsync.http.errors import (
    DuplicateError,
    FatalError,
    RecordError,
    expect_array,
    expect_object,
)
from contactsync.http.pagination import LinkHeaderPaginator, RequestSpec
from contactsync.model.contact import OrgChannel

__all__ = [
    "SOURCE",
    "ChannelPlan",
    "XurrentAdapter",
    "channels_by_organization",
    "channels_to_canonical",
    "plan_channels",
]

SYSTEM = "xurrent"
SOURCE = "contactsync"
MAX_PAGE_SIZE = 100
#: Collections show only a few default fields (no primary_email): ask for all we map.
PERSON_FIELDS = (
    "name",
    "primary_email",
    "job_title",
    "organization",
    "site",
    "disabled",
    "source",
    "sourceID",
    "created_at",
    "updated_at",
    "contacts",
)
LOOKUP_FIELDS = "source,sourceID,primary_email"
#: characters that make a filter value an operator (``=!x``, ``=>x``, ``=a,b``)
FILTER_OPERATORS = ("!", "<", ">", ",")

log = logging.getLogger(__name__)


def filter_time(moment: datetime) -> str:
    """A window start as Xurrent's filters take it: UTC, whole seconds, ``Z``.

    Xurrent shows ``updated_at`` to the second, so the start is floored to its second
    (the edge stays inclusive; the engine drops boundary duplicates). A naive
    datetime is read as UTC.
    """
    return utc(moment).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


#: ``updated_at`` (``2016-03-14T03:10:31-06:00``) as an aware UTC datetime; None when unreadable
parse_updated_at = parse_timestamp


def _filterable(value: object) -> str | None:
    """``value`` when it can be sent as an equality filter, else None."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.startswith(("=", *FILTER_OPERATORS)) or "," in text:
        return None
    return text


class XurrentAdapter(SystemClientAdapter):
    """Xurrent people (window on ``updated_at``) and organization contacts (snapshot)."""

    system: ClassVar[str] = SYSTEM
    strategy: ClassVar[ChangeStrategy] = ChangeStrategy.WINDOW
    foreign_id_field: ClassVar[str | None] = "sourceID"
    required_for_create: ClassVar[tuple[str, ...]] = ("emails",)
    unique_fields: ClassVar[tuple[str, ...]] = ("primary_email",)  # per account, any case
    can_read_record: ClassVar[bool] = True
    #: updates checked by one listing of the records changed since the last check
    conflict_check: ClassVar[ConflictCheck] = ConflictCheck.FEED
    stamp_fields: ClassVar[tuple[str, ...]] = ("source", "sourceID")

    def __init__(self, context: AdapterContext) -> None:
        super().__init__(context)
        token = context.credentials.get("token")
        account = context.defaults.get("account_id")
        if not token:
            raise FatalError(
                "no API token configured (credential 'token')", system=SYSTEM, operation="connect"
            )
        if account in (None, ""):
            raise FatalError(
                "no account id configured (defaults.account_id)", system=SYSTEM, operation="connect"
            )
        self.page_size = max(1, min(context.page_size, MAX_PAGE_SIZE))
        self._client = build_client(
            SYSTEM,
            base_url=context.base_url,
            auth=XurrentAuth(token, str(account)),
            vendor=HTTP,  # the documented burst budget; the http layer adds its margin
            rate_scale=context.rate_scale,
            timeout=context.timeout,
            transport=context.transport,
            rate_limit=context.rate_limit,
            credentials_hint=context.credentials_hint,
        )
        self.paginator = LinkHeaderPaginator(size=self.page_size)
        self.channels = OrganizationChannels(self._client, self.page_size)

    # --- people: extract ---------------------------------------------------------------

    def extract(self, window: Window) -> Iterator[RawRecord]:
        """People changed at or after ``window.start`` (everyone when it is None).

        *(deliberate)* Only the lower bound is sent and pages are ordered by ``id``:
        Xurrent pages by offset, so a person edited during the extract would leave a
        ``<=end`` window (or move to the end of an ``updated_at`` order) and shift the
        pages under us, silently skipping someone. People edited after ``window.end``
        are read again by the next run and dropped there as boundary duplicates.
        """
        params: dict[str, Any] = {"sort": "id", "fields": ",".join(PERSON_FIELDS)}
        if window.start is not None:
            params["updated_at"] = f">={filter_time(window.start)}"
        spec = RequestSpec("GET", "/people", params=params, operation="list people")
        for person in self.paginator.items(self._client, spec):
            person_id = person.get("id")
            if not isinstance(person_id, int | str) or isinstance(person_id, bool):
                problem = (
                    "malformed record: a person in GET /people has no usable id "
                    f"(got {person_id!r})"
                )
                yield unusable_record(person, problem)
                continue
            yield RawRecord(
                external_id=str(person_id),
                payload=person,
                updated_at=parse_updated_at(person.get("updated_at")),
            )

    def read_record(self, external_id: str) -> RawRecord:
        """``GET /people/{id}`` with the fields :meth:`extract` lists."""
        operation = "get person"
        person = numeric_id(external_id, "person id", operation=operation)
        response = self._client.get(
            f"/people/{person}",
            params={"fields": ",".join(PERSON_FIELDS)},
            extensions={EXT_OPERATION: operation, EXT_RECORD_ID: person},
        )
        record = expect_object(response, SYSTEM, operation, person)
        return RawRecord(person, record, parse_updated_at(record.get("updated_at")))

    # --- people: writes ----------------------------------------------------------------

    def cannot_hold(self, payload: dict[str, Any]) -> str | None:
        missing = [field for field in ("name", "primary_email") if not _text(payload.get(field))]
        if missing:
            return f"Xurrent requires {' and '.join(missing)} on every person"
        return None

    def create(self, payload: dict[str, Any], *, allow_duplicates: bool = False) -> WriteResult:
        """``POST /people``. ``allow_duplicates`` is ignored: a primary email is unique
        per account, so a second person with it is a :class:`DuplicateError` carrying
        the existing person's id when it can be found."""
        operation = "create person"
        body = _stamped(payload)
        missing = [field for field in ("name", "primary_email") if not _text(body.get(field))]
        if missing:
            raise RecordError(
                f"missing required field(s): {', '.join(missing)}",
                system=SYSTEM,
                operation=operation,
                fields=missing,
            )
        response = self._client.post("/people", json=body, extensions={EXT_OPERATION: operation})
        try:
            record = expect_object(response, SYSTEM, operation)
        except DuplicateError as exc:
            raise self._with_existing_id(exc, body) from None
        return WriteResult(self._id_of(record, operation, response), record)

    def update(
        self, external_id: str, payload: dict[str, Any], *, current: dict[str, Any] | None = None
    ) -> WriteResult:
        """``PATCH /people/{id}`` with the mapped fields (any subset is accepted)."""
        operation = "update person"
        person = numeric_id(external_id, "person id", operation=operation)
        body = _stamped(payload)
        blank = [f for f in ("name", "primary_email") if f in body and not _text(body[f])]
        if blank:
            raise RecordError(
                f"required field(s) cannot be blank: {', '.join(blank)}",
                system=SYSTEM,
                operation=operation,
                record_id=person,
                fields=blank,
            )
        response = self._client.patch(
            f"/people/{person}",
            json=body,
            extensions={EXT_OPERATION: operation, EXT_RECORD_ID: person},
        )
        try:
            record = expect_object(response, SYSTEM, operation, person)
        except DuplicateError as exc:
            raise self._with_existing_id(exc, body) from None
        return WriteResult(self._id_of(record, operation, response), record)

    def delete(self, external_id: str) -> None:
        """Archive the person (Xurrent archives people instead of deleting them)."""
        operation = "archive person"
        person = numeric_id(external_id, "person id", operation=operation)
        response = self._client.post(
            f"/people/{person}/archive",
            # archiving an archived person changes nothing, so a retry is safe
            extensions={EXT_OPERATION: operation, EXT_RECORD_ID: person, EXT_IDEMPOTENT: True},
        )
        expect_object(response, SYSTEM, operation, person)

    def find_existing(self, payload: dict[str, Any], person_id: str) -> str | None:
        """By our stamp (``source=contactsync&sourceID=<person id>``), then by
        ``primary_email`` when that person carries no other contactsync person's stamp.
        Archived people are not listed, so they are not found *(assumed: no list
        parameter includes them)*."""
        stamp = _filterable(person_id)
        if stamp is not None:
            found = self._lookup({"source": SOURCE, "sourceID": stamp}, "find person by sourceID")
            if found:
                return str(found[0]["id"])
        email = _filterable(payload.get("primary_email"))
        if email is None:
            return None
        for row in self._lookup({"primary_email": email}, "find person by email"):
            owner = row.get("sourceID") if row.get("source") == SOURCE else None
            if owner in (None, "", person_id):
                return str(row["id"])
        return None

    # --- organization contacts ---------------------------------------------------------

    def organization_ids(self) -> list[str]:
        """The configured organizations (``defaults["organization_ids"]``), as ids."""
        raw = self.context.defaults.get("organization_ids") or []
        if isinstance(raw, str | int) or not isinstance(raw, list | tuple):
            raw = [raw]
        try:
            return [numeric_id(value, "organization id", operation="read config") for value in raw]
        except RecordError as exc:
            raise FatalError(
                f"defaults.organization_ids: {exc.message}", system=SYSTEM, operation="read config"
            ) from None

    def organization_channels(self) -> Iterator[OrgChannelRecord]:
        """Every channel of every configured organization (a snapshot, fully paged)."""
        return self.channels.records(self.organization_ids())

    def canonical_channels(self) -> dict[str, list[OrgChannel]]:
        """The configured organizations' channels, canonical (empty without organizations)."""
        if not self.organization_ids():
            return {}
        return channels_by_organization(self.organization_channels())

    def list_channels(self, org_id: str | int) -> list[dict[str, Any]]:
        return self.channels.fetch(org_id)

    def create_channel(self, org_id: str | int, payload: dict[str, Any]) -> WriteResult:
        return self.channels.create(org_id, payload)

    def update_channel(
        self, org_id: str | int, channel_id: str | int, payload: dict[str, Any]
    ) -> WriteResult:
        return self.channels.update(org_id, channel_id, payload)

    def delete_channel(self, org_id: str | int, channel_id: str | int) -> None:
        self.channels.delete(org_id, channel_id)

    def delete_all_channels(self, org_id: str | int) -> None:
        self.channels.delete_all(org_id)

    def replace_channels(self, org_id: str | int, desired: list[OrgChannel]) -> list[WriteResult]:
        return self.channels.replace(org_id, desired)

    # --- helpers -----------------------------------------------------------------------

    def _lookup(self, filters: dict[str, str], operation: str) -> list[dict[str, Any]]:
        """People matching ``filters``, lowest id first (one page: a lookup expects one)."""
        params: dict[str, str | int] = {
            **filters,
            "fields": LOOKUP_FIELDS,
            "per_page": MAX_PAGE_SIZE,
            "sort": "id",
        }
        response = self._client.get("/people", params=params, extensions={EXT_OPERATION: operation})
        rows = expect_array(response, SYSTEM, operation)
        return [
            row for row in rows if isinstance(row, dict) and isinstance(row.get("id"), int | str)
        ]

    def _with_existing_id(self, exc: DuplicateError, body: dict[str, Any]) -> DuplicateError:
        """The duplicate error, with the id of the person who holds the email."""
        if exc.existing_id is not None or "primary_email" not in exc.fields:
            return exc
        email = _filterable(body.get("primary_email"))
        rows = self._lookup({"primary_email": email}, "find person by email") if email else []
        return naming_holder(exc, str(rows[0]["id"])) if rows else exc

    @staticmethod
    def _id_of(record: dict[str, Any], operation: str, response: httpx.Response) -> str:
        if record.get("id") is None:
            raise FatalError(
                "malformed envelope: the answer carries no person id",
                system=SYSTEM,
                operation=operation,
                status=response.status_code,
            )
        return str(record["id"])


def _text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _stamped(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload with ``source = "contactsync"`` next to any ``sourceID`` we write
    (another integration's ``source`` must not keep claiming our id)."""
    body = dict(payload)
    if _text(body.get("sourceID")):
        body["source"] = SOURCE
    return body
