"""Trackops client contacts, simulated: ``/api/v1/client/contacts[/{id}]``.

Follows api-docs/trackops-client-contacts.txt and the Trackops column of
api-notes.md: HTTP Basic auth (user ``{username}/token``, password the company API
token), a bare JSON array paged by ``page``/``per_page`` with ``mode=count``, every
documented filter, creates and partial updates nested under ``"contact"`` with the
same-name duplicate rule. The readings the docs leave open live in
:mod:`._trackops_rules`, each marked ``(assumed)``; in short: ``created``/``updated``
are UTC ``YYYY-MM-DD HH:MM:SS``, a create answers 200 with the contact, refusals are
``{"message", "errors"}`` with 400 (bad request shape or parameter), 401, 404 or 422
(field validation, duplicates), unknown fields are refused, and Trackops documents no
DELETE, so the simulator has none (405).
"""

from __future__ import annotations

import base64
import json
import random
import zlib
from datetime import datetime, timedelta
from hmac import compare_digest
from typing import Any, ClassVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from contactsync_sandbox._trackops_rules import (
    API_BASE,
    CLIENT_LOCATIONS,
    CONTACT_ROLES,
    ROOT_CLIENT_SALESPERSON,
    STRING_FIELDS,
    ListQuery,
    TrackopsError,
    empty_contact,
    format_timestamp,
    name_key,
    parse_list_query,
    validate_contact,
)
from contactsync_sandbox._user_edits import new_email, new_job_title, reformat_phone, tidy_name
from contactsync_sandbox.common import Bucket, KeyIndex, SandboxOptions, VendorSimulator
from contactsync_sandbox.people import SeedData, SeedRecord

DEFAULT_CREDENTIALS: dict[str, str] = {
    "trackops_username": "sandbox",
    "trackops_token": "sandbox-trackops-token",
}
FIRST_CONTACT_ID = 1001
SEED_SPAN = timedelta(days=730)
PHONE_FIELDS: dict[str, str] = {
    "mobile": "phone_mobile",
    "home": "phone_home",
    "work": "phone_office",
    "fax": "phone_fax",
}
CONTACTS_PATH = f"{API_BASE}/client/contacts"


class TrackopsSimulator(VendorSimulator):
    """The Trackops client-contacts API over the sandbox store."""

    name = "trackops"
    requests_per_minute: ClassVar[int] = 120  # (assumed) undocumented; the vendor client sleeps

    def __init__(self, options: SandboxOptions, seed: SeedData) -> None:
        super().__init__(options)
        username = options.credential("trackops_username", DEFAULT_CREDENTIALS["trackops_username"])
        self._user = f"{username}/token".encode()
        self._token = options.credential("trackops_token", DEFAULT_CREDENTIALS["trackops_token"])
        self._next_id = FIRST_CONTACT_ID
        self._names = KeyIndex(self.store, lambda r: name_key(r["first_name"], r["last_name"]))
        rng = random.Random(f"{self.name}:{options.seed}")
        anchor = self.clock.now().replace(hour=0, minute=0, second=0, microsecond=0)
        for seed_record in seed.records.get(self.name, []):
            if not (seed_record.last_name or "").strip():
                continue  # Trackops requires a last name: such a copy cannot exist there
            record = self._from_seed(seed_record, rng, anchor)
            self.store.records[str(record["id"])] = record
            self.store.truth[str(record["id"])] = seed_record.person_key
        self.store.freeze_seed()

    # --- seeding -----------------------------------------------------------------------

    def _from_seed(self, seed: SeedRecord, rng: random.Random, anchor: datetime) -> dict[str, Any]:
        contact_id = self._new_id(rng.randint(1, 3))
        location = _location_for(seed.organization_key, rng)
        fields = empty_contact()
        fields.update(
            first_name=seed.first_name,
            middle_name=seed.middle_name,
            last_name=seed.last_name,
            title=seed.job_title,
            email=seed.emails[0] if seed.emails else None,
            language=seed.language,
            birthday=seed.birthday.isoformat() if seed.birthday else None,
            notes=seed.notes,
        )
        for phone in seed.phones:
            column = PHONE_FIELDS.get(phone.kind)
            if column is not None and fields[column] is None:
                fields[column] = phone.number
        if seed.address is not None:
            for index, line in enumerate(seed.address.lines[:3], start=1):
                fields[f"address_{index}"] = line
            fields.update(
                city=seed.address.city,
                state=seed.address.region,
                zip=seed.address.postal_code,
                country=seed.address.country,
            )
        # account_code stays empty: contactsync stamps its own person id there.
        created = anchor - timedelta(seconds=rng.randint(60, int(SEED_SPAN.total_seconds())))
        updated = created
        if rng.random() < 0.7:
            updated += timedelta(seconds=rng.randint(0, int((anchor - created).total_seconds())))
        role = 6 if rng.random() < 0.8 else 7
        return _shape(contact_id, location, role, fields, created, updated)

    def _new_id(self, step: int = 1) -> int:
        contact_id = self._next_id
        self._next_id += step
        return contact_id

    # --- the API -----------------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        return [
            Route(CONTACTS_PATH, self._collection, methods=["GET", "POST"]),
            Route(f"{CONTACTS_PATH}/{{contact_id}}", self._member, methods=["GET", "PUT"]),
        ]

    def buckets(self, method: str, path_template: str) -> list[Bucket]:
        return [Bucket("trackops-api", self.requests_per_minute, 60.0)]

    def authenticate(self, request: Request) -> Response | None:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(encoded.strip(), validate=True)
            except ValueError:
                decoded = b""
            user, _, password = decoded.partition(b":")
            if compare_digest(user, self._user) and compare_digest(password, self._token.encode()):
                return None
        return JSONResponse(
            {"message": "Authentication failed: a valid username and API token are required."},
            status_code=401,
            headers={"WWW-Authenticate": 'Basic realm="Trackops API"'},
        )

    async def _collection(self, request: Request) -> Response:
        try:
            if request.method == "POST":
                fields, allow_duplicates = await _contact_body(request)
                return self._create(fields, allow_duplicates)
            return self._list(parse_list_query(request.query_params))
        except TrackopsError as error:
            return error.response()

    async def _member(self, request: Request) -> Response:
        try:
            contact_id = str(request.path_params["contact_id"])
            if request.method == "PUT":
                fields, allow_duplicates = await _contact_body(request)
                return self._update(contact_id, fields, allow_duplicates)
            with self.store.lock:
                return JSONResponse(self._live_record(contact_id))
        except TrackopsError as error:
            return error.response()

    def _list(self, query: ListQuery) -> Response:
        with self.store.lock:
            rows = sorted((r for r in self.store.live() if query.matches(r)), key=_by_id)
            if query.count_only:
                pages = query.page_count(len(rows))
                return JSONResponse({"record_count": len(rows), "page_count": pages})
            start = (query.page - 1) * query.per_page
            return JSONResponse(rows[start : start + query.per_page])

    def _create(self, fields: dict[str, Any], allow_duplicates: bool) -> Response:
        with self.store.lock:
            changes = validate_contact(fields, None)
            if not allow_duplicates:
                self._refuse_duplicate(changes.get("first_name"), changes["last_name"], None)
            contact = empty_contact()
            contact.update({k: v for k, v in changes.items() if k in STRING_FIELDS})
            now = self.clock.now()
            record = _shape(
                self._new_id(), changes["client_id"], changes["role_id"], contact, now, now
            )
            self.store.records[str(record["id"])] = record
            self._names.touch(str(record["id"]))
            return JSONResponse(record)

    def _update(self, contact_id: str, fields: dict[str, Any], allow_duplicates: bool) -> Response:
        with self.store.lock:
            record = self._live_record(contact_id)
            changes = validate_contact(fields, record)
            first = changes.get("first_name", record["first_name"])
            last = changes.get("last_name", record["last_name"])
            renamed = name_key(first, last) != name_key(record["first_name"], record["last_name"])
            if renamed and not allow_duplicates:
                self._refuse_duplicate(first, last, record["id"])
            record.update(changes)
            self._names.touch(contact_id)
            record["client"] = CLIENT_LOCATIONS[record["client_id"]]
            record["updated"] = format_timestamp(self.clock.now())
            return JSONResponse(record)

    def _refuse_duplicate(self, first: Any, last: Any, ignore_id: int | None) -> None:
        ignore = None if ignore_id is None else str(ignore_id)
        found = self._names.find(name_key(first, last), ignore=ignore)
        existing = None if found is None else int(found)
        if existing is not None:
            problem = (
                f"a client contact with the same name already exists (id {existing}); "
                "send allow_duplicates=true to save it anyway"
            )
            raise TrackopsError(422, "Duplicate client contact.", {"last_name": [problem]})

    def _live_record(self, contact_id: str) -> dict[str, Any]:
        record = self.store.records.get(contact_id)
        if record is None or contact_id in self.store.deleted:
            raise TrackopsError(404, f"Client contact {contact_id!r} was not found.")
        return record

    # --- sandbox hooks -----------------------------------------------------------------

    def mutate_record(self, record_id: str, rng: random.Random) -> None:
        record = self.store.records[record_id]
        phones = [column for column in PHONE_FIELDS.values() if record[column]]
        names = [key for key in ("first_name", "last_name") if tidy_name(record[key])]
        edits = ["title", "email", *(["phone"] if phones else []), *(["name"] if names else [])]
        edit = rng.choice(edits)
        if edit == "title":
            record["title"] = new_job_title(record["title"], rng)
        elif edit == "email":
            record["email"] = new_email(
                record["first_name"], record["last_name"], record["email"], rng
            )
        elif edit == "phone":
            column = rng.choice(phones)
            record[column] = reformat_phone(record[column], rng)
        else:
            key = rng.choice(names)
            record[key] = tidy_name(record[key])
            self._names.touch(record_id)
        record["updated"] = format_timestamp(self.clock.now())

    def extra_admin_info(self) -> dict[str, Any]:
        return {
            "client_locations": [
                {"id": loc, "client": root, "salesperson": ROOT_CLIENT_SALESPERSON[root]}
                for loc, root in CLIENT_LOCATIONS.items()
            ],
            "contact_roles": [{"id": rid, "name": name} for rid, name in CONTACT_ROLES.items()],
        }


def _shape(
    contact_id: int,
    location: int,
    role: int,
    fields: dict[str, Any],
    created: datetime,
    updated: datetime,
) -> dict[str, Any]:
    """A contact as Trackops shows it, keys in the API's order."""
    return {
        "id": contact_id,
        "client_id": location,
        "client": CLIENT_LOCATIONS[location],
        "role_id": role,
        **{name: fields.get(name) for name in STRING_FIELDS},
        "created": format_timestamp(created),
        "updated": format_timestamp(updated),
    }


def _location_for(organization_key: str | None, rng: random.Random) -> int:
    """Everyone from one organization lands in the same client location."""
    locations = sorted(CLIENT_LOCATIONS)
    if organization_key is None:
        return rng.choice(locations)
    return locations[zlib.crc32(organization_key.encode()) % len(locations)]


def _by_id(record: dict[str, Any]) -> int:
    return int(record["id"])


async def _contact_body(request: Request) -> tuple[dict[str, Any], bool]:
    """The ``contact`` object and the ``allow_duplicates`` flag of a write."""
    try:
        body = json.loads(await request.body())
    except ValueError:
        raise TrackopsError(400, "The request body is not valid JSON.") from None
    if not isinstance(body, dict) or not isinstance(body.get("contact"), dict):
        raise TrackopsError(400, 'The contact fields must be nested under a "contact" object.')
    allow = body.get("allow_duplicates", False)
    if not isinstance(allow, bool):
        raise TrackopsError(
            422,
            "The client contact could not be saved.",
            {"allow_duplicates": ["must be a boolean"]},
        )
    return body["contact"], allow
