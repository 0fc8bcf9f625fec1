"""Pieces several adapters share word for word; each caller passes its own system name.

Only logic that is the same for every vendor that uses it lives here: where vendors
differ (envelopes, id rules, auth, budgets) the adapter keeps its own code.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any, ClassVar

import httpx

from contactsync.adapters.base import Adapter, AdapterContext
from contactsync.http.client import SystemClient, VendorHttp, build_client
from contactsync.http.errors import DuplicateError, FatalError, NotFoundError
from contactsync.http.pagination import Page
from contactsync.model.time import as_utc


class SystemClientAdapter(Adapter):
    """An adapter whose requests all go through one :class:`SystemClient` (``_client``)."""

    _client: SystemClient

    @property
    def client(self) -> SystemClient:
        return self._client

    @property
    def request_count(self) -> int:
        return self._client.stats.sent


class IntegerIdAdapter(SystemClientAdapter):
    """A vendor whose contacts live at ``{contacts}/{id}`` under decimal integer ids,
    listed in pages of at most ``max_page_size``, with integer ids as create defaults."""

    contacts: ClassVar[str]
    #: the vendor's name as messages show it ("Grow CRM")
    vendor_label: ClassVar[str]
    max_page_size: ClassVar[int]

    def __init__(self, context: AdapterContext, *, client: SystemClient | None = None) -> None:
        """``client`` replaces the one built from ``context`` (tests inject throttles)."""
        super().__init__(context)
        self._client = client or self._new_client()
        self._page_size = max(1, min(context.page_size, self.max_page_size))

    @abstractmethod
    def _new_client(self) -> SystemClient:
        """The vendor's client for ``self.context``."""

    def _contact_path(self, external_id: str, operation: str) -> str:
        return integer_id_path(
            self.contacts, external_id, self.vendor_label, self.system, operation
        )

    def _record_id(self, record: Mapping[str, Any], operation: str, where: str) -> str:
        return record_id(record, self.system, operation, where)

    def _default_id(self, key: str, operation: str) -> int:
        """``[systems.<name>.defaults] key`` as a positive integer (or a FatalError)."""
        return positive_int_default(self.context.defaults, key, self.system, operation)


def pooled_client(
    system: str, context: AdapterContext, auth: httpx.Auth, vendor: VendorHttp
) -> SystemClient:
    """The client of a vendor with no transport of its own: ``auth`` on every request,
    what ``vendor`` documents, and a pool of at least 10 connections."""
    return build_client(
        system,
        base_url=context.base_url,
        auth=auth,
        vendor=vendor,
        rate_scale=context.rate_scale,
        timeout=context.timeout,
        transport=context.transport,
        max_connections=max(10, context.concurrency),
        rate_limit=context.rate_limit,
        credentials_hint=context.credentials_hint,
    )


def text_of(value: object) -> str | None:
    """A non-blank string, stripped; None otherwise."""
    return (value.strip() or None) if isinstance(value, str) else None


utc = as_utc


def parse_timestamp(value: object) -> datetime | None:
    """A UTC instant from an ISO-8601 text (naive = UTC); None when unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return utc(moment)


def record_id(record: Mapping[str, Any], system: str, operation: str, where: str) -> str:
    """The record's ``id`` as text; a :class:`FatalError` naming ``where`` when it has
    no usable one (missing, blank, a boolean or not a scalar)."""
    raw = record.get("id")
    if isinstance(raw, bool) or not isinstance(raw, int | str) or not str(raw).strip():
        raise FatalError(
            f"malformed record: {where} has no usable id (got {raw!r})",
            system=system,
            operation=operation,
        )
    return str(raw).strip()


def located(pages: Iterable[Page]) -> Iterator[tuple[dict[str, Any], str]]:
    """Every item of ``pages`` with where it was found (``page N item M``)."""
    for page in pages:
        for index, item in enumerate(page.items):
            yield item, f"page {page.number} item {index}"


def integer_id_path(
    collection: str, external_id: str, vendor: str, system: str, operation: str
) -> str:
    """``{collection}/{external_id}`` for a vendor whose ids are decimal integers; a
    :class:`NotFoundError` (nothing sent) for any other id."""
    if not external_id.isdigit() or not external_id.isascii():
        raise NotFoundError(
            f"not a {vendor} contact id (ids are integers)",
            system=system,
            operation=operation,
            record_id=external_id,
        )
    return f"{collection}/{external_id}"


def positive_int_default(defaults: Mapping[str, Any], key: str, system: str, operation: str) -> int:
    """``[systems.<system>.defaults] key`` as a positive integer (digits in a string
    count); a :class:`FatalError` naming the setting otherwise."""
    value = defaults.get(key)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise FatalError(
            f"configuration: [systems.{system}.defaults] {key} must be a positive "
            f"integer (got {value!r})",
            system=system,
            operation=operation,
        )
    return value


def malformed_answer(
    response: httpx.Response,
    problem: str,
    *,
    system: str,
    operation: str,
    record_id: str | None = None,
) -> FatalError:
    """A :class:`FatalError` for an answer whose envelope lacks what ``problem`` says,
    carrying the answer's status and body."""
    return FatalError(
        f"malformed envelope: {problem}",
        system=system,
        operation=operation,
        record_id=record_id,
        status=response.status_code,
        body=response.text,
    )


def lost_create_answer(
    response: httpx.Response, stamp: str, *, system: str, operation: str
) -> FatalError:
    """A create answered without the new contact's id: the contact may exist all the
    same, carrying ``stamp`` (what the engine's reconciliation looks it up by)."""
    return malformed_answer(
        response,
        f"the create answer holds no contact id (the contact may exist: it carries {stamp})",
        system=system,
        operation=operation,
    )


def naming_holder(error: DuplicateError, existing_id: str) -> DuplicateError:
    """``error`` as it is, but naming ``existing_id`` as the record already holding
    the duplicated value."""
    return DuplicateError(
        error.message,
        existing_id=existing_id,
        system=error.system,
        operation=error.operation,
        record_id=error.record_id,
        status=error.status,
        vendor_message=error.vendor_message,
        body=error.body,
        fields=error.fields,
        request_id=error.request_id,
    )
