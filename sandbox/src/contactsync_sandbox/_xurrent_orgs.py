"""Xurrent organizations and their own contact channels (api-docs/xurrent-organization-contacts).

A channel is ``{"id", "label", one of "telephone"|"email"|"website", "integration"}``;
``label`` is general|service_desk|fax|service_desk_fax, the fax labels only for a
telephone; values are at most 255 characters. Lists are bare arrays, paginated like
every Xurrent collection, and show ``id``, ``label`` and the value (the documented
default fields); a single channel also shows ``integration``. Changing a channel does
not move the organization's ``updated_at`` *(assumed)*: there is no last-changed field
on organization contacts.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from contactsync_sandbox._xurrent_people import MAX_TEXT, Errors, XurrentStore
from contactsync_sandbox._xurrent_query import QueryError, paginate, sort_rows

LABELS = ("general", "service_desk", "fax", "service_desk_fax")
TELEPHONE_ONLY_LABELS = frozenset({"fax", "service_desk_fax"})
CHANNEL_KINDS = ("telephone", "email", "website")
CHANNEL_FIELDS = frozenset({"label", *CHANNEL_KINDS, "integration"})
ORGANIZATION_FIELDS = ("id", "name", "created_at", "updated_at")


def not_found() -> Response:
    return JSONResponse({"message": "Not Found"}, status_code=404)


def validation_failed(errors: Errors) -> Response:
    return JSONResponse({"message": "Validation failed", "errors": errors}, status_code=422)


def bad_body() -> Response:
    return JSONResponse({"message": "The request body must be a JSON object"}, status_code=400)


async def json_object(request: Request) -> dict[str, Any] | None:
    try:
        body = json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def channel_errors(channel: dict[str, Any]) -> Errors:
    """What is wrong with a channel as it would be stored."""
    errors: Errors = []
    if channel.get("label") is None:
        errors.append(["label", "can't be blank"])
    elif channel["label"] not in LABELS:
        errors.append(["label", "is not included in the list"])
    kinds = [k for k in CHANNEL_KINDS if channel.get(k) not in (None, "")]
    for kind in kinds:
        value = channel[kind]
        if not isinstance(value, str):
            errors.append([kind, "is invalid"])
        elif len(value) > MAX_TEXT:
            errors.append([kind, f"is too long (maximum is {MAX_TEXT} characters)"])
    if len(kinds) != 1:
        errors.append(["base", "exactly one of telephone, email or website must be present"])
    elif channel.get("label") in TELEPHONE_ONLY_LABELS and kinds != ["telephone"]:
        errors.append(["label", "is only valid for a telephone number"])
    if not isinstance(channel.get("integration", False), bool):
        errors.append(["integration", "is invalid"])
    return errors


def listed(channel: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in channel.items() if k != "integration"}


class OrganizationRoutes:
    """Handlers for ``/v1/organizations`` and ``/v1/organizations/{id}/contacts``."""

    def __init__(self, store: XurrentStore) -> None:
        self.store = store

    def routes(self) -> list[BaseRoute]:
        base = "/v1/organizations"
        return [
            Route(base, self.list_organizations, methods=["GET"]),
            Route(f"{base}/{{id:int}}", self.get_organization, methods=["GET"]),
            Route(f"{base}/{{id:int}}/contacts", self.list_or_add, methods=["GET", "POST"]),
            Route(f"{base}/{{id:int}}/contacts/", self.remove_all, methods=["DELETE"]),
            Route(
                f"{base}/{{id:int}}/contacts/{{contact_id:int}}",
                self.one_contact,
                methods=["GET", "PATCH", "DELETE"],
            ),
        ]

    def _organization(self, request: Request) -> dict[str, Any] | None:
        return self.store.organizations.get(request.path_params["id"])

    async def list_organizations(self, request: Request) -> Response:
        with self.store.lock:
            rows = [
                {k: org[k] for k in ORGANIZATION_FIELDS}
                for org in self.store.organizations.values()
            ]
        try:
            ordered = sort_rows(
                rows, request.query_params.get("sort"), ORGANIZATION_FIELDS, ["name"]
            )
            page, headers = paginate(request, ordered)
        except QueryError as exc:
            return exc.response()
        return JSONResponse(page, headers=headers)

    async def get_organization(self, request: Request) -> Response:
        with self.store.lock:
            org = self._organization(request)
            shown = {k: org[k] for k in ORGANIZATION_FIELDS} if org else None
        return JSONResponse(shown) if shown is not None else not_found()

    async def list_or_add(self, request: Request) -> Response:
        if request.method == "POST":
            return await self._add(request)
        with self.store.lock:
            org = self._organization(request)
            rows = [listed(c) for c in org["contacts"]] if org else None
        if rows is None:
            return not_found()
        try:
            page, headers = paginate(request, rows)
        except QueryError as exc:
            return exc.response()
        return JSONResponse(page, headers=headers)

    async def _add(self, request: Request) -> Response:
        body = await json_object(request)
        if body is None:
            return bad_body()
        with self.store.lock:
            org = self._organization(request)
            if org is None:
                return not_found()
            unknown = [[k, "is not a writable attribute"] for k in body if k not in CHANNEL_FIELDS]
            channel = {k: v for k, v in body.items() if v is not None and k in CHANNEL_FIELDS}
            errors = unknown + channel_errors(channel)
            if errors:
                return validation_failed(errors)
            made = {"id": self.store.next_id("contact"), **channel}
            made.setdefault("integration", False)
            org["contacts"].append(made)
        return JSONResponse(made, status_code=201)

    async def one_contact(self, request: Request) -> Response:
        body = await json_object(request) if request.method == "PATCH" else {}
        if body is None:
            return bad_body()
        with self.store.lock:
            org = self._organization(request)
            contact_id = request.path_params["contact_id"]
            contacts = org["contacts"] if org else []
            index = next((i for i, c in enumerate(contacts) if c["id"] == contact_id), None)
            if index is None:
                return not_found()
            if request.method == "GET":
                return JSONResponse(dict(contacts[index]))
            if request.method == "DELETE":
                contacts.pop(index)
                return Response(status_code=204)
            unknown = [[k, "is not a writable attribute"] for k in body if k not in CHANNEL_FIELDS]
            updated = {**contacts[index], **body}
            updated = {k: v for k, v in updated.items() if v is not None}
            errors = unknown + channel_errors(updated)
            if errors:
                return validation_failed(errors)
            updated.setdefault("integration", False)
            contacts[index] = updated
            return JSONResponse(dict(contacts[index]))

    async def remove_all(self, request: Request) -> Response:
        with self.store.lock:
            org = self._organization(request)
            if org is None:
                return not_found()
            org["contacts"].clear()
        return Response(status_code=204)
