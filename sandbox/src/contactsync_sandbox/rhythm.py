"""Rhythm Rolodex simulator: OAuth2 bearer tokens, tenant-scoped contacts, JSON Patch, search.

Routes (the API base is the host root): ``POST /oauth2/token`` *(assumed path)*,
``POST /contacts/{tenantId}``, ``GET|PUT|PATCH|DELETE /contacts/{tenantId}/{id}``,
``POST /contacts/{tenantId}/search``. Errors carry the status code and nothing useful
in the body (``{"message": <reason phrase>}``, assumed); 409 means the contact refers
to an organization (or spouse) that does not exist; 429 is the per-tenant limit,
sent without any rate-limit headers because none are documented.

Readings of the docs that no source settles, kept here in one place:
- one tenant, ``tenant_id`` (default "sandbox"); another tenant id answers 403;
- the server sets ``id``, ``number``, the derived name and preference fields and every
  audit ``sys_*`` field; values sent for them are ignored, except ``sys_external_id``,
  which a client may write (it exists to carry another system's id);
- a contact needs a ``first_name`` or a ``last_name`` (else 400);
- ``PUT`` must carry the record's ``id``; ``PATCH`` may not touch ``/id`` or ``/sys_*``;
- search scans ``PAGE_SIZE`` contacts per request in id order and filters them
  afterwards (DynamoDB scan semantics), so a page may be short, even empty, and still
  carry a ``LastEvaluatedKey``; only the key says whether more pages follow. String
  filters are case-insensitive equality; ``email_address`` matches any of the three
  email fields; ``city``/``state``/``country`` match the home or the work address.
"""

from __future__ import annotations

import copy
import json
import random
from http import HTTPStatus
from typing import Any, ClassVar

import jsonpatch
import jsonpointer
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from contactsync_sandbox import _user_edits as edits
from contactsync_sandbox._rhythm_auth import TokenIssuer
from contactsync_sandbox._rhythm_schema import (
    derive_fields,
    is_valid_contact,
    parse_search,
    person_fields,
    project,
)
from contactsync_sandbox._rhythm_search import (
    decode_key,
    encode_key,
    is_patch_document,
    matches,
)
from contactsync_sandbox._rhythm_seed import (
    SEED_USER_ID,
    RhythmStore,
    contact_from_seed,
    next_stamp,
    seed_history,
    seed_organizations,
)
from contactsync_sandbox.common import Bucket, BucketState, SandboxOptions, VendorSimulator
from contactsync_sandbox.people import SeedData

DEFAULT_TENANT_ID = "sandbox"
DEFAULT_CREDENTIALS: dict[str, str] = {
    "rhythm_client_id": "sandbox-rhythm-client",
    "rhythm_client_secret": "sandbox-rhythm-secret",
    "rhythm_tenant_id": DEFAULT_TENANT_ID,
}
TOKEN_PATH = "/oauth2/token"
EDITOR_USER_ID = "user-sandbox-editor"  # who makes the simulated user edits


def status_only(code: int) -> Response:
    """Rhythm's error answer: the status code, with only its reason phrase as a body."""
    return JSONResponse({"message": HTTPStatus(code).phrase}, status_code=code)


class RhythmSimulator(VendorSimulator):
    """Rhythm Rolodex: one tenant's contacts behind OAuth2 client-credentials tokens."""

    name = "rhythm"
    PAGE_SIZE: ClassVar[int] = 100  # fixed server page size for search (assumed)
    TENANT_LIMIT: ClassVar[int] = 100  # requests per tenant per window (assumed)
    TENANT_WINDOW: ClassVar[float] = 10.0

    def __init__(self, options: SandboxOptions, seed: SeedData) -> None:
        super().__init__(options)
        self.store: RhythmStore = RhythmStore()
        self.store.rng.seed(options.seed * 1_000_003 + 2)
        self.tenant_id = options.credential("rhythm_tenant_id", DEFAULT_TENANT_ID)
        self.tokens = TokenIssuer(
            options.credential("rhythm_client_id", DEFAULT_CREDENTIALS["rhythm_client_id"]),
            options.credential("rhythm_client_secret", DEFAULT_CREDENTIALS["rhythm_client_secret"]),
            self.tenant_id,
            self.clock.now,
        )
        self._load_seed(seed)
        self.store.freeze_seed()

    def _load_seed(self, seed: SeedData) -> None:
        history = random.Random(self.options.seed * 7_919 + 3)
        now = self.clock.now()
        org_ids = seed_organizations(self.store, seed)
        for record in seed.records.get(self.name, []):
            if not (record.first_name or record.last_name):
                continue  # Rhythm refuses a contact without a name (see _refusal)
            org_id = org_ids.get(record.organization_key or "")
            if org_id is None and record.organization_key and record.organization_name:
                org_id = self.store.new_id()
                self.store.organizations[org_id] = record.organization_name
                org_ids[record.organization_key] = org_id
            contact = {"id": self.store.new_id(), **contact_from_seed(record, org_id)}
            derive_fields(contact, self.store.organizations)
            created, modified = seed_history(history, now)
            contact.update(
                number=self.store.take_number(),
                sys_version=1 + history.randrange(6),
                sys_created_at=created,
                sys_last_modified_at=modified,
                sys_created_by_id=SEED_USER_ID,
                sys_last_modified_by_id=SEED_USER_ID,
            )
            self.store.records[contact["id"]] = contact
            self.store.truth[contact["id"]] = record.person_key

    # --- VendorSimulator hooks -------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        return [
            Route(TOKEN_PATH, self.tokens.token_endpoint, methods=["POST"]),
            Route("/contacts/{tenantId}/search", self._search, methods=["POST"]),
            Route("/contacts/{tenantId}", self._create, methods=["POST"]),
            Route(
                "/contacts/{tenantId}/{id}",
                self._one,
                methods=["GET", "PUT", "PATCH", "DELETE"],
            ),
        ]

    def authenticate(self, request: Request) -> Response | None:
        if request.url.path == TOKEN_PATH:
            return None  # the token endpoint checks the client credentials itself
        if self.tokens.subject(request.headers.get("authorization", "")) is None:
            return status_only(401)
        return None

    def buckets(self, method: str, path_template: str) -> list[Bucket]:
        if path_template == TOKEN_PATH:
            return []
        return [Bucket(f"rhythm:tenant:{self.tenant_id}", self.TENANT_LIMIT, self.TENANT_WINDOW)]

    def too_many_requests(self, state: BucketState) -> Response:
        return JSONResponse({"message": "Limit exceeded"}, status_code=429)

    def server_error(self, status: int) -> Response:
        return status_only(status)

    def extra_admin_info(self) -> dict[str, Any]:
        with self.store.lock:
            organizations = [
                {"id": org_id, "name": name} for org_id, name in self.store.organizations.items()
            ]
        return {
            "tenant_id": self.tenant_id,
            "organizations": organizations,
            "tokens_issued": self.tokens.issued,
        }

    def stats_payload(self) -> dict[str, Any]:
        return {**super().stats_payload(), "tokens_issued": self.tokens.issued}

    def mutate_record(self, record_id: str, rng: random.Random) -> None:
        record = self.store.records[record_id]
        fields = person_fields(record)
        edit = rng.choice(("job_title", "phone", "name", "email"))
        phone_slots = [k for k in fields if k.endswith("_phone_number") and fields[k]]
        if edit == "phone" and phone_slots:
            slot = rng.choice(sorted(phone_slots))
            fields[slot] = edits.reformat_phone(fields[slot], rng)
        elif edit == "name" and edits.tidy_name(fields.get("last_name")):
            fields["last_name"] = edits.tidy_name(fields.get("last_name"))
        elif edit == "email":
            first, last = fields.get("first_name"), fields.get("last_name")
            fields["email_address"] = edits.new_email(first, last, fields.get("email_address"), rng)
        else:
            fields["job_title"] = edits.new_job_title(fields.get("job_title"), rng)
        self._save(record_id, fields, record, EDITOR_USER_ID)

    # --- persistence -----------------------------------------------------------------

    def _save(
        self,
        record_id: str,
        fields: dict[str, Any],
        previous: dict[str, Any] | None,
        actor: str,
    ) -> dict[str, Any]:
        """Store a contact made of ``fields``; the server sets everything else."""
        now = self.clock.now()
        record: dict[str, Any] = {"id": record_id, **fields}
        derive_fields(record, self.store.organizations)
        if previous is None:
            record["number"] = self.store.take_number()
            record["sys_version"] = 1
            record["sys_created_at"] = next_stamp(now, None)
            record["sys_created_by_id"] = actor
        else:
            record["number"] = previous["number"]
            record["sys_version"] = int(previous["sys_version"]) + 1
            record["sys_created_at"] = previous["sys_created_at"]
            record["sys_created_by_id"] = previous["sys_created_by_id"]
        record["sys_last_modified_at"] = next_stamp(
            now, previous["sys_last_modified_at"] if previous else None
        )
        record["sys_last_modified_by_id"] = actor
        self.store.records[record_id] = record
        return record

    def _live(self, record_id: str) -> dict[str, Any] | None:
        if record_id in self.store.deleted:
            return None
        return self.store.records.get(record_id)

    def _refusal(self, fields: dict[str, Any]) -> Response | None:
        """400 for a contact without a name, 409 for a reference to a missing object."""
        if not fields.get("first_name") and not fields.get("last_name"):
            return status_only(400)
        org_id = fields.get("organization_id")
        if org_id is not None and org_id not in self.store.organizations:
            return status_only(409)
        spouse_id = fields.get("spouse_id")
        if spouse_id is not None and self._live(spouse_id) is None:
            return status_only(409)
        return None

    def _actor(self, request: Request) -> str:
        return self.tokens.subject(request.headers.get("authorization", "")) or "unknown"

    # --- handlers --------------------------------------------------------------------

    async def _create(self, request: Request) -> Response:
        if request.path_params["tenantId"] != self.tenant_id:
            return status_only(403)
        body = await _json_body(request)
        if not isinstance(body, dict) or body.get("id") is not None:
            return status_only(400)  # the server makes the id: one sent is an error
        if not is_valid_contact(body):
            return status_only(400)
        fields = person_fields(body)
        with self.store.lock:
            refused = self._refusal(fields)
            if refused is not None:
                return refused
            record = self._save(self.store.new_id(), fields, None, self._actor(request))
        return JSONResponse(record)

    async def _one(self, request: Request) -> Response:
        if request.path_params["tenantId"] != self.tenant_id:
            return status_only(403)
        record_id = request.path_params["id"]
        if request.method == "GET":
            with self.store.lock:
                record = copy.deepcopy(self._live(record_id))
            if record is None:
                return status_only(404)
            return JSONResponse(project(record, request.query_params.get("fields")))
        if request.method == "DELETE":
            return self._delete(request, record_id)
        body = await _json_body(request)
        with self.store.lock:
            current = self._live(record_id)
            if current is None:
                return status_only(404)
            if request.method == "PUT":
                return self._put(request, record_id, current, body)
            return self._patch(request, record_id, current, body)

    def _delete(self, request: Request, record_id: str) -> Response:
        with self.store.lock:
            record = self._live(record_id)
            if record is None:
                return status_only(404)
            record["sys_deleted_by_id"] = self._actor(request)
            self.store.deleted.add(record_id)
        return JSONResponse(record_id)

    def _put(
        self, request: Request, record_id: str, current: dict[str, Any], body: Any
    ) -> Response:
        if not isinstance(body, dict) or body.get("id") != record_id:
            return status_only(400)
        if not is_valid_contact(body):
            return status_only(400)
        fields = person_fields(body)
        refused = self._refusal(fields)
        if refused is not None:
            return refused
        return JSONResponse(self._save(record_id, fields, current, self._actor(request)))

    def _patch(
        self, request: Request, record_id: str, current: dict[str, Any], body: Any
    ) -> Response:
        if not is_patch_document(body):
            return status_only(400)
        try:
            patched = jsonpatch.apply_patch(copy.deepcopy(current), body)
        except (
            jsonpatch.JsonPatchException,
            jsonpointer.JsonPointerException,
            TypeError,
            ValueError,
            KeyError,
            IndexError,
        ):
            return status_only(400)
        if not isinstance(patched, dict) or not is_valid_contact(patched):
            return status_only(400)
        fields = person_fields(patched)
        refused = self._refusal(fields)
        if refused is not None:
            return refused
        return JSONResponse(self._save(record_id, fields, current, self._actor(request)))

    async def _search(self, request: Request) -> Response:
        if request.path_params["tenantId"] != self.tenant_id:
            return status_only(403)
        raw = await request.body()
        query = parse_search(await _json_body(request) if raw.strip() else {})
        if query is None:
            return status_only(400)
        start_key = request.query_params.get("exclusiveStartKey")
        start_after = decode_key(self.tenant_id, start_key) if start_key else ""
        if start_after is None:
            return status_only(400)
        fields = request.query_params.get("fieldsToReturn")
        with self.store.lock:
            ids = sorted(k for k in self.store.records if k not in self.store.deleted)
            remaining = [k for k in ids if k > start_after]
            window = remaining[: self.PAGE_SIZE]
            items = [
                project(copy.deepcopy(self.store.records[k]), fields)
                for k in window
                if matches(self.store.records[k], query)
            ]
        payload: dict[str, Any] = {"Items": items}
        if len(remaining) > len(window):
            payload["LastEvaluatedKey"] = encode_key(self.tenant_id, window[-1])
        return JSONResponse(payload)


async def _json_body(request: Request) -> Any:
    """The parsed JSON body, or None when it is missing or not JSON."""
    try:
        return json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
