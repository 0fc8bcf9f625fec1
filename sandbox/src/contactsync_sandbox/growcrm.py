"""Grow CRM contacts, simulated: ``/api/contacts[/{id}[/account-owner]]``.

Follows api-docs/growcrm-contacts.txt and the Grow CRM column of api-notes.md:
Bearer-key auth, the ``{"data", "meta", "message"}`` envelope paged by ``page`` and
``limit`` (max 100) with ``sort``/``order``, the documented filters, creates (201),
updates that need first name, last name and email every time, soft deletes, the
set-as-account-owner action (``POST``, assumed), and email uniqueness across all
users with Laravel's 422 body. The readings the docs leave open live in
:mod:`._growcrm_rules`, each marked ``(assumed)``; in short: unknown input fields are
ignored, strings are trimmed and blank ones are null (Laravel's middleware), the
email must also differ from soft-deleted contacts' and team members' emails,
``status=deleted`` lists the soft-deleted contacts, and a limit above 100 is a 422.
"""

from __future__ import annotations

import json
import random
import time
from datetime import datetime, timedelta
from hmac import compare_digest
from typing import Any, ClassVar
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from contactsync_sandbox._growcrm_rules import (
    API_BASE,
    CONTACT_ROLE,
    DEFAULT_COMPANIES,
    DELETED,
    SOCIAL_KEYS,
    TEAM_USERS,
    GrowcrmError,
    clean_input,
    format_date,
    parse_contact_query,
    validate_contact_input,
)
from contactsync_sandbox._user_edits import new_email, new_job_title, reformat_phone, tidy_name
from contactsync_sandbox.common import (
    Bucket,
    BucketState,
    KeyIndex,
    SandboxOptions,
    VendorSimulator,
)
from contactsync_sandbox.people import SeedData, SeedRecord

DEFAULT_CREDENTIALS: dict[str, str] = {"growcrm_token": "sandbox-growcrm-token"}
FIRST_CONTACT_ID = 10  # ids 1-3 are team members: contacts and team share the users table
SEED_SPAN = timedelta(days=730)
PHONE_PREFERENCE: tuple[str, ...] = ("work", "mobile", "home")
CONTACTS_PATH = f"{API_BASE}/contacts"
NOT_FOUND = "Contact not found."  # (assumed) wording of the 404 message


class GrowcrmSimulator(VendorSimulator):
    """The Grow CRM contacts API over the sandbox store."""

    name = "growcrm"
    requests_per_minute: ClassVar[int] = 60  # (assumed) undocumented

    def __init__(self, options: SandboxOptions, seed: SeedData) -> None:
        super().__init__(options)
        self._token = options.credential("growcrm_token", DEFAULT_CREDENTIALS["growcrm_token"])
        self._next_id = FIRST_CONTACT_ID
        self._emails = KeyIndex(self.store, lambda r: str(r.get("email") or "").casefold() or None)
        self.clients: dict[int, str] = {}
        self._client_of_org: dict[str, int] = {}
        for organization in seed.organizations:
            self._client_of_org[organization.key] = self._add_client(organization.name)
        for company in DEFAULT_COMPANIES[len(self.clients) :]:
            self._add_client(company)
        rng = random.Random(f"{self.name}:{options.seed}")
        anchor = self.clock.now().replace(hour=0, minute=0, second=0, microsecond=0)
        taken = {address.casefold() for address in TEAM_USERS.values()}
        owned: set[int] = set()  # clients that already have their account owner
        for seed_record in seed.records.get(self.name, []):
            email = (seed_record.emails[0] if seed_record.emails else "").strip()
            first, last = (
                (seed_record.first_name or "").strip(),
                (seed_record.last_name or "").strip(),
            )
            if not (email and first and last) or email.casefold() in taken:
                continue  # required fields, and one user per email: Grow CRM could not hold it
            taken.add(email.casefold())
            record = self._from_seed(seed_record, (first, last, email), rng, anchor)
            if record["client"]["id"] not in owned:
                owned.add(record["client"]["id"])
                record["account_owner"] = "yes"
            self.store.records[str(record["id"])] = record
            self.store.truth[str(record["id"])] = seed_record.person_key
        self.store.freeze_seed()

    # --- seeding -----------------------------------------------------------------------

    def _add_client(self, company_name: str) -> int:
        client_id = len(self.clients) + 1
        self.clients[client_id] = company_name
        return client_id

    def _from_seed(
        self,
        seed: SeedRecord,
        names: tuple[str, str, str],
        rng: random.Random,
        anchor: datetime,
    ) -> dict[str, Any]:
        """The contact for one copy (first name, last name and email already trimmed)."""
        first, last, email = names
        client_id = self._client_for(seed, rng)
        created = anchor - timedelta(seconds=rng.randint(60, int(SEED_SPAN.total_seconds())))
        updated = created
        if rng.random() < 0.7:
            span = (anchor - created).total_seconds()
            updated += timedelta(seconds=rng.uniform(0, span), microseconds=rng.randint(0, 999999))
            updated = min(updated, anchor)
        phones = {p.kind: p.number for p in reversed(seed.phones)}
        phone = next((phones[k] for k in PHONE_PREFERENCE if k in phones), None)
        record = self._shape(
            self._new_id(rng.randint(1, 2)), first, last, email, client_id, created, updated
        )
        record.update(
            phone=phone,
            job_position=seed.job_title,
            status="suspended" if rng.random() < 0.05 else "active",
        )
        return record

    def _client_for(self, seed: SeedRecord, rng: random.Random) -> int:
        key = seed.organization_key
        if key is not None and key not in self._client_of_org and seed.organization_name:
            self._client_of_org[key] = self._add_client(seed.organization_name)
        if key is not None and key in self._client_of_org:
            return self._client_of_org[key]
        return rng.choice(sorted(self.clients))

    def _new_id(self, step: int = 1) -> int:
        contact_id = self._next_id
        self._next_id += step
        return contact_id

    def _shape(
        self,
        contact_id: int,
        first: str,
        last: str,
        email: str,
        client_id: int,
        created: datetime,
        updated: datetime,
    ) -> dict[str, Any]:
        """A new contact as Grow CRM shows it, keys in the API's order."""
        return {
            "id": contact_id,
            "first_name": first,
            "last_name": last,
            "name": f"{first} {last}",
            "email": email,
            "phone": None,
            "job_position": None,
            "account_owner": "no",
            "status": "active",
            "client": {"id": client_id, "company_name": self.clients[client_id]},
            "role": dict(CONTACT_ROLE),
            "social": dict.fromkeys(SOCIAL_KEYS),
            "dates": {"created": format_date(created), "updated": format_date(updated)},
        }

    def _email_taken(self, email: str, ignore_id: int | None = None) -> bool:
        """Unique across all users: team members and every contact, soft-deleted included."""
        wanted = email.strip().casefold()
        if any(address.casefold() == wanted for address in TEAM_USERS.values()):
            return True
        ignore = None if ignore_id is None else str(ignore_id)
        return self._emails.find(wanted, ignore=ignore, include_deleted=True) is not None

    # --- the API -----------------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        return [
            Route(CONTACTS_PATH, self._collection, methods=["GET", "POST"]),
            Route(
                f"{CONTACTS_PATH}/{{contact_id}}", self._member, methods=["GET", "PUT", "DELETE"]
            ),
            Route(f"{CONTACTS_PATH}/{{contact_id}}/account-owner", self._owner, methods=["POST"]),
        ]

    def buckets(self, method: str, path_template: str) -> list[Bucket]:
        return [Bucket("growcrm-api", self.requests_per_minute, 60.0)]

    def rate_headers(self, states: list[BucketState]) -> dict[str, str]:
        """(assumed) Laravel's throttle middleware headers."""
        if not states:
            return {}
        state = states[0]
        return {
            "X-RateLimit-Limit": str(state.limit),
            "X-RateLimit-Remaining": str(state.remaining),
        }

    def too_many_requests(self, state: BucketState) -> Response:
        retry_after = max(1, int(state.reset_at - time.time() + 0.999))
        headers = {"Retry-After": str(retry_after), "X-RateLimit-Reset": str(int(state.reset_at))}
        return JSONResponse({"message": "Too Many Attempts."}, status_code=429, headers=headers)

    def server_error(self, status: int) -> Response:
        message = "Service Unavailable" if status == 503 else "Server Error"
        return JSONResponse({"message": message}, status_code=status)

    def authenticate(self, request: Request) -> Response | None:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and compare_digest(
            key.strip().encode(), self._token.encode()
        ):
            return None
        return JSONResponse({"message": "Unauthenticated."}, status_code=401)

    async def _collection(self, request: Request) -> Response:
        try:
            if request.method == "POST":
                return self._create(await _input(request))
            query = parse_contact_query(request.query_params)
            with self.store.lock:
                rows = query.select(list(self.store.records.values()), self.store.deleted)
                page, meta = query.page_of(rows)
                body = {"data": page, "meta": meta, "message": "Contacts retrieved successfully."}
                return JSONResponse(body)
        except GrowcrmError as error:
            return error.response()

    async def _member(self, request: Request) -> Response:
        try:
            contact_id = request.path_params["contact_id"]
            if request.method == "PUT":
                return self._update(contact_id, await _input(request))
            with self.store.lock:
                record = self._live_contact(contact_id)
                if request.method == "DELETE":
                    self.store.deleted.add(str(record["id"]))
                    record["status"] = DELETED
                    self._touch(record)
                    return JSONResponse({"message": "Contact deleted successfully."})
                return JSONResponse({"data": record, "message": "Contact retrieved successfully."})
        except GrowcrmError as error:
            return error.response()

    async def _owner(self, request: Request) -> Response:
        contact_id = request.path_params["contact_id"]
        with self.store.lock:
            if contact_id.isdigit() and int(contact_id) in TEAM_USERS:
                message = "The contact does not belong to a client account."
                return JSONResponse({"message": message}, status_code=409)
            try:
                record = self._live_contact(contact_id)
            except GrowcrmError as error:
                return error.response()
            if record["account_owner"] != "yes":
                for other in self.store.records.values():
                    same_client = other["client"]["id"] == record["client"]["id"]
                    if same_client and other["account_owner"] == "yes":
                        other["account_owner"] = "no"
                        self._touch(other)
                record["account_owner"] = "yes"
                self._touch(record)
            message = "Contact set as account owner successfully."
            return JSONResponse({"data": record, "message": message})

    def _create(self, data: dict[str, Any]) -> Response:
        with self.store.lock:
            values = validate_contact_input(
                data,
                creating=True,
                email_taken=self._email_taken,
                client_exists=self.clients.__contains__,
            )
            now = self.clock.now()
            record = self._shape(
                self._new_id(),
                values["first_name"],
                values["last_name"],
                values["email"],
                values["clientid"],
                now,
                now,
            )
            record.update(phone=values.get("phone"), job_position=values.get("position"))
            self.store.records[str(record["id"])] = record
            self._emails.touch(str(record["id"]))
            return JSONResponse(
                {"data": record, "message": "Contact created successfully."}, status_code=201
            )

    def _update(self, contact_id: str, data: dict[str, Any]) -> Response:
        with self.store.lock:
            record = self._live_contact(contact_id)
            values = validate_contact_input(
                data,
                creating=False,
                email_taken=lambda email: self._email_taken(email, record["id"]),
                client_exists=self.clients.__contains__,
            )
            record.update(
                first_name=values["first_name"],
                last_name=values["last_name"],
                name=f"{values['first_name']} {values['last_name']}",
                email=values["email"],
            )
            self._emails.touch(contact_id)
            if "phone" in values:  # (assumed) absent keeps, null or "" clears
                record["phone"] = values["phone"]
            if "position" in values:
                record["job_position"] = values["position"]
            self._touch(record)
            return JSONResponse({"data": record, "message": "Contact updated successfully."})

    def _live_contact(self, contact_id: str) -> dict[str, Any]:
        record = self.store.records.get(contact_id) if contact_id.isdigit() else None
        if record is None or contact_id in self.store.deleted:
            raise GrowcrmError(404, NOT_FOUND)
        return record

    def _touch(self, record: dict[str, Any]) -> None:
        record["dates"]["updated"] = format_date(self.clock.now())

    # --- sandbox hooks -----------------------------------------------------------------

    def mutate_record(self, record_id: str, rng: random.Random) -> None:
        record = self.store.records[record_id]
        names = [key for key in ("first_name", "last_name") if tidy_name(record[key])]
        edits = ["position", "email", *(["phone"] if record["phone"] else [])]
        edit = rng.choice([*edits, *(["name"] if names else [])])
        if edit == "position":
            record["job_position"] = new_job_title(record["job_position"], rng)
        elif edit == "email":
            email = new_email(record["first_name"], record["last_name"], record["email"], rng)
            while self._email_taken(email):
                email = new_email(
                    record["first_name"], f"{record['last_name']}{rng.randint(2, 999)}", None, rng
                )
            record["email"] = email
            self._emails.touch(record_id)
        elif edit == "phone":
            record["phone"] = reformat_phone(record["phone"], rng)
        else:
            key = rng.choice(names)
            record[key] = tidy_name(record[key])
            record["name"] = f"{record['first_name']} {record['last_name']}"
        self._touch(record)

    def extra_admin_info(self) -> dict[str, Any]:
        return {
            "clients": [{"id": cid, "company_name": name} for cid, name in self.clients.items()],
            "team_users": [{"id": uid, "email": email} for uid, email in TEAM_USERS.items()],
        }


async def _input(request: Request) -> dict[str, Any]:
    """The request input as Laravel sees it: JSON or form fields, trimmed, blanks null.

    A body that is neither (or not an object) is empty input, so validation names the
    required fields, as Laravel does.
    """
    raw = await request.body()
    content_type = request.headers.get("content-type", "")
    data: Any = {}
    if "application/x-www-form-urlencoded" in content_type:
        data = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    elif raw:
        try:
            data = json.loads(raw)
        except ValueError:
            data = {}
    return clean_input(data) if isinstance(data, dict) else {}
