"""Xurrent organization contacts over HTTP: list, create, update, delete, replace.

Endpoints (api-docs/xurrent-organization-contacts.txt), under the API base ``/v1``:
``GET /organizations/{id}/contacts`` (a bare array, paged like every Xurrent
collection: ``per_page`` and ``Link: rel="next"``), ``POST`` to the same path (201,
the full contact), ``PATCH`` and ``DELETE /organizations/{id}/contacts/{contact_id}``
(200 with the full contact; 204), and ``DELETE /organizations/{id}/contacts/``
(204, removes them all). Bodies are validated here before anything is sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx

from contactsync.adapters.base import OrgChannelRecord, WriteResult
from contactsync.adapters.xurrent.channels import (
    SYSTEM,
    checked_channel_body,
    plan_channels,
)
from contactsync.http.client import EXT_OPERATION, EXT_RECORD_ID
from contactsync.http.errors import (
    FatalError,
    NotFoundError,
    RecordError,
    expect_object,
    raise_for_status,
)
from contactsync.http.pagination import LinkHeaderPaginator, RequestSpec
from contactsync.model.contact import OrgChannel


def numeric_id(value: object, what: str, *, operation: str) -> str:
    """``value`` as a path-safe decimal id, or a :class:`RecordError` naming it."""
    text = str(value).strip() if isinstance(value, int | str) else ""
    if isinstance(value, bool) or not text.isdigit() or not text.isascii():
        raise RecordError(
            f"{what} must be a numeric Xurrent id, got {value!r}",
            system=SYSTEM,
            operation=operation,
            fields=[what],
        )
    return text


class OrganizationChannels:
    """The organization-contacts endpoints of one Xurrent client."""

    def __init__(self, client: httpx.Client, page_size: int) -> None:
        self.client = client
        self.paginator = LinkHeaderPaginator(size=page_size)

    # --- reads -------------------------------------------------------------------------

    def fetch(self, organization_id: str | int) -> list[dict[str, Any]]:
        """Every contact of the organization, fully paged."""
        org = numeric_id(organization_id, "organization id", operation="list organization contacts")
        spec = RequestSpec(
            "GET",
            f"/organizations/{org}/contacts",
            operation=f"list contacts of organization {org}",
        )
        return list(self.paginator.items(self.client, spec))

    def records(self, organization_ids: list[str]) -> Iterator[OrgChannelRecord]:
        for org in organization_ids:
            for row in self.fetch(org):
                if row.get("id") is None:
                    raise FatalError(
                        f"malformed envelope: a contact of organization {org} has no id",
                        system=SYSTEM,
                        operation=f"list contacts of organization {org}",
                    )
                yield OrgChannelRecord(organization_id=org, external_id=str(row["id"]), payload=row)

    # --- writes ------------------------------------------------------------------------

    def create(self, organization_id: str | int, payload: dict[str, Any]) -> WriteResult:
        operation = "create organization contact"
        org = numeric_id(organization_id, "organization id", operation=operation)
        record_id = f"organization {org}"
        body = checked_channel_body(payload, operation=operation, record_id=record_id)
        body = {key: value for key, value in body.items() if value is not None}
        response = self.client.post(
            f"/organizations/{org}/contacts",
            json=body,
            extensions={EXT_OPERATION: operation, EXT_RECORD_ID: record_id},
        )
        return self._result(response, operation, record_id)

    def update(
        self, organization_id: str | int, channel_id: str | int, payload: dict[str, Any]
    ) -> WriteResult:
        """Set the channel to ``payload`` (a full channel: label and exactly one value).

        *(assumed)* A PATCH keeps what it does not send, so the other two kinds are sent
        as null: a telephone that becomes an email loses its telephone.
        """
        operation = "update organization contact"
        org = numeric_id(organization_id, "organization id", operation=operation)
        contact = numeric_id(channel_id, "contact id", operation=operation)
        record_id = f"organization {org} contact {contact}"
        body = checked_channel_body(payload, operation=operation, record_id=record_id)
        response = self.client.patch(
            f"/organizations/{org}/contacts/{contact}",
            json=body,
            extensions={EXT_OPERATION: operation, EXT_RECORD_ID: record_id},
        )
        return self._result(response, operation, record_id)

    def delete(self, organization_id: str | int, channel_id: str | int) -> None:
        operation = "delete organization contact"
        org = numeric_id(organization_id, "organization id", operation=operation)
        contact = numeric_id(channel_id, "contact id", operation=operation)
        record_id = f"organization {org} contact {contact}"
        self._delete(f"/organizations/{org}/contacts/{contact}", operation, record_id)

    def delete_all(self, organization_id: str | int) -> None:
        operation = "delete all organization contacts"
        org = numeric_id(organization_id, "organization id", operation=operation)
        self._delete(f"/organizations/{org}/contacts/", operation, f"organization {org}")

    def replace(self, organization_id: str | int, desired: list[OrgChannel]) -> list[WriteResult]:
        """Make the organization's channels ``desired`` with the fewest writes
        (:func:`plan_channels`). Returns one result per desired channel, in order: its
        Xurrent id and the channel as Xurrent now holds it (kept, updated or created)."""
        org = numeric_id(organization_id, "organization id", operation="replace contacts")
        plan = plan_channels(self.fetch(org), desired)
        results: dict[int, WriteResult] = {
            index: WriteResult(str(raw.get("id")), dict(raw)) for index, raw in plan.keep.items()
        }
        # writes before deletes: a failure half-way leaves a channel too many, not one lost
        for index, (contact, body) in plan.update.items():
            results[index] = self.update(org, contact, body)
        for index, body in plan.create.items():
            results[index] = self.create(org, body)
        if plan.delete_all:
            self.delete_all(org)
        for contact in [] if plan.delete_all else plan.delete:
            try:
                self.delete(org, contact)
            except NotFoundError:
                continue  # already gone: what we wanted
        return [results[index] for index in range(len(desired))]

    # --- helpers -----------------------------------------------------------------------

    def _delete(self, path: str, operation: str, record_id: str) -> None:
        response = self.client.delete(
            path, extensions={EXT_OPERATION: operation, EXT_RECORD_ID: record_id}
        )
        raise_for_status(response, SYSTEM, operation, record_id)

    @staticmethod
    def _result(response: httpx.Response, operation: str, record_id: str) -> WriteResult:
        record = expect_object(response, SYSTEM, operation, record_id)
        if record.get("id") is None:
            raise FatalError(
                "malformed envelope: the answer carries no contact id",
                system=SYSTEM,
                operation=operation,
                record_id=record_id,
                status=response.status_code,
            )
        return WriteResult(str(record["id"]), record)
