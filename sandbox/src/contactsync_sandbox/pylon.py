"""The Pylon simulator: contacts as ``specs/pylon-openapi.json`` describes them.

API base is the root (``https://api.usepylon.com``). Routes: ``GET /contacts``
(cursor + limit), ``POST /contacts``, ``POST /contacts/search``, ``GET|PATCH|DELETE
/contacts/{id}``. Bearer token auth (credential ``pylon_token``). Every error is an
``ErrorApiResponseBody`` ``{"errors": [...], "exists_id"?: ..., "request_id": ...}``.
Rate limits are per organization, per endpoint, per minute (60 list/get/create/update,
20 search, 10 delete), with remaining-quota headers on every answer. Deletes are
permanent. Contacts have no updated timestamp; a hidden version counter (shown only in
``/_sandbox/records`` as ``versions``) lets tests see that ``mutate`` changed a record.

The write rules live in ``_pylon_rules`` / ``_pylon_writes``, paging and the filter
language in ``_pylon_search``, the seed conversion in ``_pylon_seed``.
"""

from __future__ import annotations

import copy
import hmac
import json
import math
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from contactsync_sandbox._pylon_rules import (
    CUSTOM_FIELDS,
    Body,
    ContactIndex,
    PylonError,
)
from contactsync_sandbox._pylon_search import Page, compile_filter, page_of, parse_limit
from contactsync_sandbox._pylon_seed import new_id, seed_accounts, seed_contact
from contactsync_sandbox._pylon_writes import (
    VERSION_KEY,
    WriteContext,
    new_contact,
    settle,
    updated_contact,
)
from contactsync_sandbox._user_edits import new_email, new_job_title, tidy_name
from contactsync_sandbox.common import (
    Bucket,
    BucketState,
    SandboxOptions,
    VendorSimulator,
)
from contactsync_sandbox.people import SeedData

DEFAULT_CREDENTIALS: dict[str, str] = {"pylon_token": "sandbox-pylon-token"}
MINUTE = 60.0
RATE_LIMITS: dict[tuple[str, str], Bucket] = {
    ("GET", "/contacts"): Bucket("GET /contacts", 60, MINUTE),
    ("POST", "/contacts"): Bucket("POST /contacts", 60, MINUTE),
    ("POST", "/contacts/search"): Bucket("POST /contacts/search", 20, MINUTE),
    ("GET", "/contacts/{id}"): Bucket("GET /contacts/{id}", 60, MINUTE),
    ("PATCH", "/contacts/{id}"): Bucket("PATCH /contacts/{id}", 60, MINUTE),
    ("DELETE", "/contacts/{id}"): Bucket("DELETE /contacts/{id}", 10, MINUTE),
}
# (assumed) header names; the docs only say remaining quota is advertised. Reset is epoch s.
LIMIT_HEADER, REMAINING_HEADER, RESET_HEADER = (
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
)


class PylonSimulator(VendorSimulator):
    """Pylon's contacts API over the shared sandbox machinery."""

    name = "pylon"

    def __init__(self, options: SandboxOptions, seed: SeedData) -> None:
        super().__init__(options)
        self._ids = random.Random(f"pylon-ids:{options.seed}")
        self._request_ids = random.Random(f"pylon-requests:{options.seed}")
        self._request_lock = threading.Lock()
        self.accounts, account_by_key = seed_accounts(seed, self._ids)
        self.index = ContactIndex(self.store)
        self.writes = WriteContext(self.accounts, self.index)
        taken: set[str] = set()
        for record in seed.records.get(self.name, []):
            contact_id = new_id(self._ids)
            account_id = account_by_key.get(record.organization_key or "")
            account = self.accounts.by_id.get(account_id) if account_id else None
            contact = seed_contact(record, contact_id, account, taken, self._ids)
            self.store.records[contact_id] = contact
            self.store.truth[contact_id] = record.person_key
        self.store.freeze_seed()

    # --- vendor hooks ----------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/contacts", self._list, methods=["GET"]),
            Route("/contacts", self._create, methods=["POST"]),
            Route("/contacts/search", self._search, methods=["POST"]),
            Route("/contacts/{id}", self._get, methods=["GET"]),
            Route("/contacts/{id}", self._update, methods=["PATCH"]),
            Route("/contacts/{id}", self._delete, methods=["DELETE"]),
        ]

    def authenticate(self, request: Request) -> Response | None:
        expected = self.options.credential("pylon_token", DEFAULT_CREDENTIALS["pylon_token"])
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            token.strip().encode(), expected.encode()
        ):
            return None
        return self._error(PylonError(401, "unauthorized: missing or invalid API token"))

    def buckets(self, method: str, path_template: str) -> list[Bucket]:
        bucket = RATE_LIMITS.get((method, path_template))
        return [bucket] if bucket is not None else []

    def rate_headers(self, states: list[BucketState]) -> dict[str, str]:
        if not states:
            return {}
        state = states[0]
        return {
            LIMIT_HEADER: str(state.limit),
            REMAINING_HEADER: str(state.remaining),
            RESET_HEADER: str(math.ceil(state.reset_at)),
        }

    def too_many_requests(self, state: BucketState) -> Response:
        retry_after = max(1, math.ceil(state.reset_at - time.time()))
        error = PylonError(
            429, f"rate limit exceeded: {state.limit} requests per minute on {state.bucket.name}"
        )
        response = self._error(error)
        response.headers["Retry-After"] = str(retry_after)
        return response

    def server_error(self, status: int) -> Response:
        return self._error(PylonError(status, "internal server error"))

    def public_record(self, record: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in record.items() if not key.startswith("_")}

    def extra_admin_info(self) -> dict[str, Any]:
        with self.store.lock:
            versions = {key: int(r.get(VERSION_KEY, 1)) for key, r in self.store.records.items()}
        accounts = [
            {"id": a.id, "name": a.name, "external_ids": a.external_ids}
            for a in self.accounts.by_id.values()
        ]
        custom = [{"slug": slug, "type": kind} for slug, kind in CUSTOM_FIELDS.items()]
        return {"accounts": accounts, "custom_fields": custom, "versions": versions}

    def mutate_record(self, record_id: str, rng: random.Random) -> None:
        old = self.store.records[record_id]
        new = copy.deepcopy(old)
        edit = rng.choice(("job_title", "email", "phone", "name"))
        if edit == "name" and (tidied := tidy_name(new["name"])):
            new["name"] = tidied
        elif edit == "email":
            settle(new, [self._fresh_email(new, rng), *new["emails"]], *_phones(new))
        elif edit == "phone":
            phones, primary = _phones(new)
            stem = primary[:-4] if primary and len(primary) > 4 else "1415555"
            changed = f"{stem}{rng.randint(0, 9999):04d}"
            phones = [changed if p == primary else p for p in phones] if primary else [changed]
            settle(new, new["emails"], phones, changed)
        else:
            current = new["custom_fields"].get("job_title", {}).get("value")
            title = new_job_title(current, rng)
            new["custom_fields"]["job_title"] = {"slug": "job_title", "value": title}
        new[VERSION_KEY] = int(old.get(VERSION_KEY, 1)) + 1
        self.store.records[record_id] = new
        self.index.replace(record_id, old, new)

    # --- helpers ---------------------------------------------------------------------

    def version(self, record_id: str) -> int:
        """The hidden change counter of one contact (sandbox tests only)."""
        return int(self.store.records[record_id].get(VERSION_KEY, 1))

    def _fresh_email(self, record: dict[str, Any], rng: random.Random) -> str:
        words = str(record["name"]).split()
        first = words[0] if words else None
        last = words[-1] if len(words) > 1 else None
        current = record.get("email")
        candidate = new_email(first, last, current, rng)
        while self.index.email_owner(candidate) is not None:
            candidate = new_email(first, f"{last or ''}{rng.randint(2, 999)}", current, rng)
        return candidate

    def _request_id(self) -> str:
        with self._request_lock:
            return new_id(self._request_ids)

    def _error(self, error: PylonError) -> JSONResponse:
        body: dict[str, Any] = {"errors": [error.message]}
        if error.exists_id is not None:
            body["exists_id"] = error.exists_id
        body["request_id"] = self._request_id()
        return JSONResponse(body, status_code=error.status)

    def _answer(self, work: Callable[[], dict[str, Any]]) -> Response:
        """Run ``work`` under the store lock; its dict (plus request_id) is the 200 body."""
        try:
            with self.store.lock:
                payload = work()
                payload["request_id"] = self._request_id()
                return JSONResponse(payload)
        except PylonError as error:
            return self._error(error)

    def _live(self) -> dict[str, dict[str, Any]]:
        records = self.store.records
        if not self.store.deleted:
            return records
        return {k: r for k, r in records.items() if k not in self.store.deleted}

    def _find(self, record_id: str) -> dict[str, Any]:
        record = self._live().get(record_id)
        if record is None:
            raise PylonError(404, f"contact {record_id} not found")
        return record

    # --- routes ----------------------------------------------------------------------

    async def _list(self, request: Request) -> Response:
        query = request.query_params

        def work() -> dict[str, Any]:
            page = page_of(self._live(), query.get("cursor"), parse_limit(query.get("limit")))
            return {"data": [self.public_record(r) for r in page.data], **_paged(page)}

        return self._answer(work)

    async def _search(self, request: Request) -> Response:
        try:
            body = Body(await _json(request))
        except PylonError as error:
            return self._error(error)

        def work() -> dict[str, Any]:
            if body.raw.get("filter") is None:
                raise PylonError(400, "filter is required")
            keep = compile_filter(body.raw["filter"], CUSTOM_FIELDS)
            limit = parse_limit(body.raw.get("limit"), in_body=True)
            page = page_of(self._live(), body.raw.get("cursor"), limit, keep)
            return {"data": [self.public_record(r) for r in page.data], **_paged(page)}

        return self._answer(work)

    async def _create(self, request: Request) -> Response:
        try:
            body = Body(await _json(request))
        except PylonError as error:
            return self._error(error)

        def work() -> dict[str, Any]:
            record = new_contact(body, self.writes, new_id(self._ids))
            self.store.records[record["id"]] = record
            self.index.replace(record["id"], None, record)
            return {"data": self.public_record(record)}

        return self._answer(work)

    async def _get(self, request: Request) -> Response:
        record_id = request.path_params["id"]
        limit = request.query_params.get("limit")

        def work() -> dict[str, Any]:
            # The spec declares a required ``limit`` here (a quirk); it is checked when sent.
            if limit is not None:
                parse_limit(limit)
            return {"data": self.public_record(self._find(record_id))}

        return self._answer(work)

    async def _update(self, request: Request) -> Response:
        record_id = request.path_params["id"]
        try:
            body = Body(await _json(request))
        except PylonError as error:
            return self._error(error)

        def work() -> dict[str, Any]:
            old = self._find(record_id)
            new = updated_contact(old, body, self.writes)
            if _same_content(old, new):
                return {"data": self.public_record(old)}
            self.store.records[record_id] = new
            self.index.replace(record_id, old, new)
            return {"data": self.public_record(new)}

        return self._answer(work)

    async def _delete(self, request: Request) -> Response:
        record_id = request.path_params["id"]

        def work() -> dict[str, Any]:
            old = self._find(record_id)
            del self.store.records[record_id]  # permanent: the spec says "Permanently deletes"
            self.index.replace(record_id, old, None)
            return {}

        return self._answer(work)


async def _json(request: Request) -> Any:
    """The decoded body; an empty body reads as ``{}`` (every body field is optional)."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise PylonError(400, "invalid request body: not valid JSON") from None


def _paged(page: Page) -> dict[str, Any]:
    return {"pagination": page.pagination()}


def _phones(record: dict[str, Any]) -> tuple[list[str], str | None]:
    return list(record.get("phone_numbers", [])), record.get("primary_phone_number")


def _same_content(old: dict[str, Any], new: dict[str, Any]) -> bool:
    strip = {VERSION_KEY}
    return {k: v for k, v in old.items() if k not in strip} == {
        k: v for k, v in new.items() if k not in strip
    }
