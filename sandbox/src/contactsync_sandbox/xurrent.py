"""Xurrent (4me) simulator: people, organizations and their contact channels under ``/v1``.

Auth is ``Authorization: Bearer <token>`` plus ``X-Xurrent-Account: <account id>``
(or the older ``X-4me-Account``, which the real API still accepts and the vendor's own
SDKs send); either missing or wrong answers 401 ``{"message": ...}``. Every answer carries
``X-RateLimit-Limit`` (3600 per hour), ``X-RateLimit-Remaining`` and
``X-RateLimit-Reset`` (epoch seconds); beyond the hourly limit or the burst limit
(20 requests per 2 s) the answer is 429 with ``Retry-After``.

People (``/v1/people``): lists are bare arrays, paginated and filtered as in
:mod:`._xurrent_query`, sorted by ``name`` by default *(assumed)*, and show the 4me
default collection fields unless ``?fields=`` asks for others (so ``primary_email``
must be asked for). Creates answer 201, updates 200, validation errors 422
``{"message": "Validation failed", "errors": [[field, message], ...]}``;
``primary_email`` is unique per account, case-insensitive, across every person
including archived and trashed ones *(assumed)*. ``updated_at`` moves only when a
write changes something (Rails behaviour, *assumed*), and always forward by at least
one second because it is shown to the second. Archived and trashed people leave the
lists but stay addressable by id (GET, PATCH, ``/restore``) *(assumed)*; there is no
list parameter that includes them.
"""

from __future__ import annotations

import hmac
import random
from datetime import timedelta
from typing import Any, ClassVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from contactsync_sandbox import _user_edits as edits
from contactsync_sandbox._xurrent_orgs import (
    OrganizationRoutes,
    bad_body,
    json_object,
    not_found,
    validation_failed,
)
from contactsync_sandbox._xurrent_people import (
    COLLECTION_FIELDS,
    PERSON_FIELDS,
    XurrentStore,
    apply_channels,
    person_from_seed,
    seed_organizations,
    seed_times,
    validate_person,
)
from contactsync_sandbox._xurrent_query import (
    Predicate,
    QueryError,
    bool_filter,
    id_filter,
    paginate,
    parse_instant,
    select_fields,
    sort_rows,
    text_filter,
    time_filter,
    xurrent_time,
)
from contactsync_sandbox.common import Bucket, BucketState, SandboxOptions, VendorSimulator
from contactsync_sandbox.people import SeedData

DEFAULT_ACCOUNT_ID = "sandbox"
DEFAULT_CREDENTIALS: dict[str, str] = {
    "xurrent_token": "sandbox-xurrent-token",
    "xurrent_account": DEFAULT_ACCOUNT_ID,
}
SORTABLE = ("id", "name", "created_at", "updated_at", "sourceID")


ALL_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


async def _no_route(_: Request) -> Response:
    return not_found()


def _filters(request: Request) -> list[Predicate]:
    """Predicates for the supported people filters present in the query string."""
    params = request.query_params
    found: list[Predicate] = []
    for field in ("created_at", "updated_at"):
        if field in params:
            found.append(time_filter(field, params[field]))
    for field in ("name", "source", "sourceID"):
        if field in params:
            found.append(text_filter(field, params[field]))
    if "primary_email" in params:
        found.append(text_filter("primary_email", params["primary_email"], case_sensitive=False))
    if "id" in params:
        found.append(id_filter("id", params["id"]))
    if "organization" in params:
        found.append(id_filter("organization_id", params["organization"]))
    if "disabled" in params:
        found.append(bool_filter("disabled", params["disabled"]))
    return found


class XurrentSimulator(VendorSimulator):
    """Xurrent: one account's people and organizations."""

    name = "xurrent"
    HOURLY_LIMIT: ClassVar[int] = 3600
    BURST_LIMIT: ClassVar[int] = 20
    BURST_WINDOW: ClassVar[float] = 2.0

    def __init__(self, options: SandboxOptions, seed: SeedData) -> None:
        super().__init__(options)
        self.store: XurrentStore = XurrentStore()
        self.token = options.credential("xurrent_token", DEFAULT_CREDENTIALS["xurrent_token"])
        self.account_id = options.credential("xurrent_account", DEFAULT_ACCOUNT_ID)
        self._organizations = OrganizationRoutes(self.store)
        self._load_seed(seed)
        self.store.freeze_seed()

    def _load_seed(self, seed: SeedData) -> None:
        history = random.Random(self.options.seed * 7_919 + 5)
        now = self.clock.now()
        org_ids = seed_organizations(self.store, seed, history, now)
        for record in seed.records.get(self.name, []):
            org_id = org_ids.get(record.organization_key or "")
            if org_id is None and record.organization_key and record.organization_name:
                created, updated = seed_times(history, now)
                org_id = self.store.next_id("organization")
                self.store.organizations[org_id] = {
                    "id": org_id,
                    "name": record.organization_name,
                    "created_at": created,
                    "updated_at": updated,
                    "contacts": [],
                }
                org_ids[record.organization_key] = org_id
            person = person_from_seed(self.store, record, org_id)
            if person is None:
                continue  # Xurrent cannot hold a person without a name or a unique email
            person["created_at"], person["updated_at"] = seed_times(history, now)
            key = str(person["id"])
            self.store.records[key] = person
            self.store.truth[key] = record.person_key

    # --- VendorSimulator hooks -------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        people = "/v1/people"
        return [
            Route(people, self._list_or_create, methods=["GET", "POST"]),
            Route(f"{people}/{{id:int}}", self._one, methods=["GET", "PATCH"]),
            Route(f"{people}/{{id:int}}/{{action:str}}", self._state_change, methods=["POST"]),
            *self._organizations.routes(),
            # Rails answers an unknown route (or method) with a 404, in JSON
            Route("/{path:path}", _no_route, methods=[*ALL_METHODS]),
        ]

    def authenticate(self, request: Request) -> Response | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip(), self.token):
            return JSONResponse(
                {"message": "Unauthorized: a valid personal access token is required"},
                status_code=401,
            )
        account = request.headers.get("x-xurrent-account") or request.headers.get(
            "x-4me-account", ""
        )
        if not hmac.compare_digest(account, self.account_id):
            return JSONResponse(
                {"message": "Unauthorized: the X-Xurrent-Account header names no known account"},
                status_code=401,
            )
        return None

    def buckets(self, method: str, path_template: str) -> list[Bucket]:
        return [
            Bucket(f"xurrent:{self.account_id}:hour", self.HOURLY_LIMIT, 3600.0),
            Bucket(f"xurrent:{self.account_id}:burst", self.BURST_LIMIT, self.BURST_WINDOW),
        ]

    def rate_headers(self, states: list[BucketState]) -> dict[str, str]:
        hourly = next((s for s in states if s.bucket.name.endswith(":hour")), None)
        if hourly is None:
            return {}
        return {
            "X-RateLimit-Limit": str(hourly.limit),
            "X-RateLimit-Remaining": str(hourly.remaining),
            "X-RateLimit-Reset": str(int(hourly.reset_at)),
        }

    def public_record(self, record: dict[str, Any]) -> dict[str, Any]:
        organization = self.store.organizations.get(record.get("organization_id") or -1)
        shown = {key: record.get(key) for key in PERSON_FIELDS if key != "organization"}
        shown["organization"] = (
            {"id": organization["id"], "name": organization["name"]} if organization else None
        )
        shown["contacts"] = [dict(c) for c in record.get("contacts", [])]
        return {key: shown[key] for key in PERSON_FIELDS}

    def extra_admin_info(self) -> dict[str, Any]:
        with self.store.lock:
            organizations = [
                {**org, "contacts": [dict(c) for c in org["contacts"]]}
                for org in self.store.organizations.values()
            ]
            states = {
                state: sorted(int(k) for k, p in self.store.records.items() if p["_state"] == state)
                for state in ("archived", "trashed")
            }
        return {"account_id": self.account_id, "organizations": organizations, **states}

    def mutate_record(self, record_id: str, rng: random.Random) -> None:
        person = self.store.records[record_id]
        edit = rng.choice(("job_title", "phone", "name", "email"))
        phones = [c for c in person["contacts"] if "telephone" in c]
        tidied = edits.tidy_name(person["name"])
        if edit == "phone" and phones:
            channel = rng.choice(phones)
            channel["telephone"] = edits.reformat_phone(channel["telephone"], rng)
        elif edit == "name" and tidied:
            person["name"] = tidied
        elif edit == "email":
            first, _, last = person["name"].partition(" ")
            email = edits.new_email(first, last, person["primary_email"], rng)
            while self.store.email_taken(email, person["id"]):
                email = edits.new_email(first, last, email, rng)
            person["primary_email"] = email
            self.store.touch(record_id)
        else:
            person["job_title"] = edits.new_job_title(person.get("job_title"), rng)
        self._touch(person)

    # --- helpers ---------------------------------------------------------------------

    def _touch(self, person: dict[str, Any]) -> None:
        """Move ``updated_at`` forward: to now, and at least one second past its old value."""
        now = self.clock.now()
        previous = parse_instant(person["updated_at"])
        if previous is not None and now < previous + timedelta(seconds=1):
            now = previous + timedelta(seconds=1)
        person["updated_at"] = xurrent_time(now)

    # --- handlers --------------------------------------------------------------------

    async def _list_or_create(self, request: Request) -> Response:
        if request.method == "POST":
            return await self._create(request)
        try:
            predicates = _filters(request)
            with self.store.lock:
                rows = [
                    {**self.public_record(p), "organization_id": p.get("organization_id")}
                    for p in self.store.records.values()
                    if p["_state"] == "active"
                ]
            rows = [row for row in rows if all(check(row) for check in predicates)]
            ordered = sort_rows(rows, request.query_params.get("sort"), SORTABLE, ["name"])
            page, headers = paginate(request, ordered)
            fields = request.query_params.get("fields")
            shown = [select_fields(r, fields, COLLECTION_FIELDS, PERSON_FIELDS) for r in page]
        except QueryError as exc:
            return exc.response()
        return JSONResponse(shown, headers=headers)

    async def _create(self, request: Request) -> Response:
        body = await json_object(request)
        if body is None:
            return bad_body()
        with self.store.lock:
            errors = validate_person(self.store, body, None)
            if errors:
                return validation_failed(errors)
            stamp = xurrent_time(self.clock.now())
            person: dict[str, Any] = {
                "id": self.store.next_id("person"),
                "name": body["name"].strip(),
                "primary_email": body["primary_email"].strip(),
                "job_title": body.get("job_title"),
                "organization_id": body.get("organization_id"),
                "site": None,
                "disabled": body.get("disabled", False),
                "source": body.get("source"),
                "sourceID": body.get("sourceID"),
                "contacts": apply_channels(self.store, [], body.get("contacts_attributes", [])),
                "created_at": stamp,
                "updated_at": stamp,
                "_state": "active",
            }
            self.store.records[str(person["id"])] = person
            self.store.touch(str(person["id"]))
            shown = self.public_record(person)
        return JSONResponse(shown, status_code=201)

    async def _one(self, request: Request) -> Response:
        key = str(request.path_params["id"])
        body = await json_object(request) if request.method == "PATCH" else {}
        if body is None:
            return bad_body()
        with self.store.lock:
            person = self.store.records.get(key)
            if person is None:
                return not_found()
            if request.method == "PATCH":
                errors = validate_person(self.store, body, person)
                if errors:
                    return validation_failed(errors)
                self._update(person, body)
            shown = self.public_record(person)
        try:
            fields = request.query_params.get("fields")
            return JSONResponse(select_fields(shown, fields, PERSON_FIELDS[1:], PERSON_FIELDS))
        except QueryError as exc:
            return exc.response()

    def _update(self, person: dict[str, Any], body: dict[str, Any]) -> None:
        before = self.public_record(person)
        for key, value in body.items():
            if key == "contacts_attributes":
                person["contacts"] = apply_channels(self.store, person["contacts"], value)
            elif key in ("name", "primary_email"):
                person[key] = value.strip()
            else:
                person[key] = value
        self.store.touch(str(person["id"]))
        if self.public_record(person) != before:
            self._touch(person)

    async def _state_change(self, request: Request) -> Response:
        action = request.path_params["action"]
        target = {"archive": "archived", "trash": "trashed", "restore": "active"}.get(action)
        if target is None:
            return not_found()
        key = str(request.path_params["id"])
        with self.store.lock:
            person = self.store.records.get(key)
            if person is None:
                return not_found()
            if person["_state"] != target:
                person["_state"] = target
                if target == "active":
                    self.store.deleted.discard(key)
                else:
                    self.store.deleted.add(key)
                self._touch(person)
            shown = self.public_record(person)
        return JSONResponse(shown)
