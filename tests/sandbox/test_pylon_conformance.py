"""The Pylon simulator against Pylon's own OpenAPI description, through the validating proxy.

Every exchange goes through :class:`ValidatingProxy` (openapi-core, both directions). The
full cycle must produce zero violations. Where the published spec itself disagrees with
what the vendor must do, the test below states the quirk and asserts the proxy reports it:
validation is never relaxed to hide it.

Spec quirks (``specs/pylon-openapi.json``):

* ``GET /contacts/{id}`` declares a *required* ``limit`` query parameter (copied from the
  list endpoints). Clients send it; the simulator also answers without it.
* ``DELETE /contacts/{id}`` and ``POST /contacts/search`` document only a 200, so the
  vendor's 404 for a missing contact and 400 for a refused filter are undocumented.
* No operation documents 401 or 429: an auth failure or a rate-limit answer is always a
  response violation (conformance runs with rate limits off).
* ``Filter`` requires ``field`` even for ``and`` / ``or``: compound filters must carry one
  (the simulator ignores it there) to conform.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from contactsync_sandbox.common import SandboxOptions, build_app
from contactsync_sandbox.openapi_proxy import (
    VIOLATIONS_HEADER,
    SpecValidator,
    ValidatingProxy,
    ValidatingTransport,
    Violation,
    bundled_spec,
    serving,
)
from contactsync_sandbox.people import (
    SeedData,
    SeedOrganization,
    SeedPhone,
    SeedRecord,
    generate,
)
from contactsync_sandbox.pylon import DEFAULT_CREDENTIALS, PylonSimulator

AUTH = {"Authorization": f"Bearer {DEFAULT_CREDENTIALS['pylon_token']}"}
UPSTREAM = "http://pylon.upstream"
PEOPLE = 30


def make_seed() -> SeedData:
    records = [
        SeedRecord(
            person_key=f"p{i:03d}",
            first_name=f"Given{i}",
            last_name=f"Family{i}",
            emails=[f"person{i}@example.com"] + ([f"alt{i}@example.org"] if i % 4 == 0 else []),
            phones=[SeedPhone(f"+1 404-555-{i:04d}", "mobile")] if i % 3 else [],
            job_title="Risk Manager" if i % 2 else None,
            organization_key=("org-a", "org-b", None)[i % 3],
        )
        for i in range(PEOPLE)
    ]
    orgs = [SeedOrganization("org-a", "Org A"), SeedOrganization("org-b", "Org B")]
    return SeedData(persons=PEOPLE, records={"pylon": records}, organizations=orgs)


@pytest.fixture
def sim() -> PylonSimulator:
    return PylonSimulator(SandboxOptions(seed=11, rate_limits="off"), make_seed())


@pytest.fixture
def validator() -> SpecValidator:
    return SpecValidator.pylon()


@pytest.fixture
def proxied(sim: PylonSimulator, validator: SpecValidator) -> Iterator[TestClient]:
    """A client talking to the simulator through the validating proxy (all in-process)."""
    upstream = httpx.ASGITransport(app=build_app(sim))
    proxy = ValidatingProxy(validator, UPSTREAM, transport=upstream)
    with TestClient(proxy, headers=AUTH) as client:
        yield client


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers[VIOLATIONS_HEADER] == "0", response.text
    body: dict[str, Any] = response.json()
    return body


def described(violations: list[Violation]) -> list[str]:
    return [f"{v.operation} {v.direction} {v.status}: {v.message}" for v in violations]


def test_full_cycle_through_the_proxy_has_no_violations(
    proxied: TestClient, validator: SpecValidator, sim: PylonSimulator
) -> None:
    exchanges: list[httpx.Response] = []
    proxied.event_hooks = {"response": [exchanges.append]}
    # list, paging to the end
    contacts: list[dict[str, Any]] = []
    cursor, pages = "", 0
    while True:
        params = {"limit": 7, **({"cursor": cursor} if cursor else {})}
        body = ok(proxied.get("/contacts", params=params))
        pages += 1
        contacts += body["data"]
        if not body["pagination"]["has_next_page"]:
            break
        cursor = body["pagination"]["cursor"]
    assert pages == 5
    assert len(contacts) == PEOPLE
    for contact in contacts[:5]:
        fetched = ok(proxied.get(f"/contacts/{contact['id']}", params={"limit": 1}))
        assert fetched["data"] == contact

    # search: each field, a compound filter, paging in the body
    account_id = next(c["account"]["id"] for c in contacts if "account" in c)
    filters = [
        {"field": "email", "operator": "equals", "value": "PERSON3@example.com"},
        {"field": "email", "operator": "string_contains", "value": "alt"},
        {"field": "id", "operator": "in", "values": [c["id"] for c in contacts[:3]]},
        {"field": "account_id", "operator": "not_in", "values": [account_id]},
        {"field": "job_title", "operator": "equals", "value": "Risk Manager"},
        {
            "field": "",
            "operator": "and",
            "subfilters": [
                {"field": "account_id", "operator": "equals", "value": account_id},
                {"field": "email", "operator": "string_contains", "value": "person"},
            ],
        },
    ]
    for flt in filters:
        assert ok(proxied.post("/contacts/search", json={"filter": flt}))["data"]
    found, cursor = 0, ""
    while True:
        page = ok(
            proxied.post(
                "/contacts/search", json={"filter": filters[1], "limit": 2, "cursor": cursor}
            )
        )
        found += len(page["data"])
        if not page["pagination"]["has_next_page"]:
            break
        cursor = page["pagination"]["cursor"]
    assert found == len([c for c in contacts if any("alt" in e for e in c["emails"])])

    # create (full, minimal, and the documented 400/404 refusals)
    full = {
        "name": "Fox Mulder",
        "email": "fox@fbi.example",
        "phone_numbers": ["12025550100", "12025550101"],
        "primary_phone_number": "12025550101",
        "account_external_id": "org-a",
        "external_ids": [{"external_id": "person-42", "label": "contactsync"}],
        "avatar_url": "https://img.example/fox.png",
        "portal_role": "no_access",
        "custom_fields": [{"slug": "job_title", "value": "Agent"}],
    }
    made = ok(proxied.post("/contacts", json=full))["data"]
    minimal = ok(proxied.post("/contacts", json={"name": "Dana Scully"}))["data"]
    duplicate = ok(proxied.post("/contacts", json={"name": "F", "email": "FOX@fbi.example"}), 400)
    assert duplicate["exists_id"] == made["id"]
    ok(proxied.post("/contacts", json={"name": "F", "phone_numbers": ["+1 202"]}), 400)
    ok(proxied.post("/contacts", json={"name": "F", "account_id": "acc_nope"}), 404)
    ok(proxied.get("/contacts/no-such-contact", params={"limit": 1}), 404)

    # update (each kind of change, and the documented refusals)
    url = f"/contacts/{minimal['id']}"
    ok(proxied.patch(url, json={"name": "Dana K. Scully", "account_id": account_id}))
    ok(proxied.patch(url, json={"emails": [{"email": "d@x.example"}, {"email": "s@x.example"}]}))
    ok(proxied.patch(url, json={"email": "s@x.example"}))
    ok(proxied.patch(url, json={"phone_numbers": ["15555550123"], "portal_role": "admin"}))
    ok(proxied.patch(url, json={"external_ids": [{"external_id": "person-43", "label": "cs"}]}))
    changed = ok(proxied.patch(url, json={"custom_fields": [{"slug": "language", "value": "fr"}]}))
    assert changed["data"]["email"] == "s@x.example"
    ok(proxied.patch(url, json={"email": "a@x.example", "emails": [{"email": "b@x.example"}]}), 400)
    ok(proxied.patch("/contacts/no-such-contact", json={"name": "X"}), 404)

    # delete
    assert set(ok(proxied.delete(f"/contacts/{made['id']}"))) == {"request_id"}
    ok(proxied.get(f"/contacts/{made['id']}", params={"limit": 1}), 404)

    assert described(validator.violations) == []
    assert sim.stats_payload()["total"] == len(exchanges) > 30  # each call reached the simulator
    assert proxied.get("/_proxy/violations").json() == {"count": 0, "violations": []}


def test_every_generated_contact_conforms(validator: SpecValidator) -> None:
    """The shared seed generator's Pylon copies, all listed and fetched through the proxy."""
    sim = PylonSimulator(SandboxOptions(seed=3), generate(300, 3))
    proxy = ValidatingProxy(validator, UPSTREAM, transport=httpx.ASGITransport(build_app(sim)))
    with TestClient(proxy, headers=AUTH) as client:
        body = ok(client.get("/contacts", params={"limit": 999}))
        assert len(body["data"]) == len(sim.store.records) > 50
        for contact in body["data"][:20]:
            ok(client.get(f"/contacts/{contact['id']}", params={"limit": 1}))
    assert described(validator.violations) == []


def test_spec_quirks_are_reported_not_hidden(
    proxied: TestClient, validator: SpecValidator, sim: PylonSimulator
) -> None:
    some_id = next(iter(sim.store.records))

    # GET /contacts/{id} without the (spec-required) limit: the vendor answers, the spec objects
    assert proxied.get(f"/contacts/{some_id}").status_code == 200
    (missing_limit,) = validator.violations
    assert (missing_limit.operation, missing_limit.direction) == ("GetContact", "request")
    assert "MissingRequiredParameter" in missing_limit.message
    assert "limit" in missing_limit.message
    validator.clear()

    # DELETE of a missing contact: 404 is not among DeleteContact's documented answers
    assert proxied.delete("/contacts/no-such-contact").status_code == 404
    (undocumented,) = validator.violations
    assert (undocumented.operation, undocumented.direction) == ("DeleteContact", "response")
    assert undocumented.status == 404
    validator.clear()

    # a refused search filter: SearchContacts documents only 200
    refused = {"filter": {"field": "name", "operator": "equals", "value": "x"}}
    assert proxied.post("/contacts/search", json=refused).status_code == 400
    assert [(v.operation, v.status) for v in validator.violations] == [("SearchContacts", 400)]
    validator.clear()

    # a compound filter without a field: the vendor ignores it, the spec requires it
    compound = {"operator": "or", "subfilters": [refused["filter"] | {"field": "id"}]}
    assert proxied.post("/contacts/search", json={"filter": compound}).status_code == 200
    (no_field,) = validator.violations
    assert no_field.direction == "request"
    assert "'field' is a required property" in no_field.message
    validator.clear()

    # no operation documents 401: a refused token is a request (security) and response violation
    assert proxied.get("/contacts", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert {v.direction for v in validator.violations} == {"response"}
    assert validator.violations[0].status == 401


def test_rate_limit_answers_are_undocumented(validator: SpecValidator) -> None:
    limited = PylonSimulator(SandboxOptions(rate_limits="vendor", rate_scale=0.05), make_seed())
    proxy = ValidatingProxy(validator, UPSTREAM, transport=httpx.ASGITransport(build_app(limited)))
    with TestClient(proxy, headers=AUTH) as client:
        flt = {"filter": {"field": "id", "operator": "in", "values": []}}
        assert [client.post("/contacts/search", json=flt).status_code for _ in range(2)] == [
            200,
            429,
        ]
    assert [(v.operation, v.status) for v in validator.violations] == [("SearchContacts", 429)]


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "fragment"),
    [
        ("POST", "/contacts", {"json": {"email": "x@y.example"}}, "'name' is a required property"),
        ("POST", "/contacts", {"json": {"name": "X", "phone_numbers": "1"}}, "$.phone_numbers"),
        (
            "POST",
            "/contacts",
            {"json": {"name": "X", "portal_role": "owner"}},
            "'owner' is not one",
        ),
        ("PATCH", "/contacts/abc", {"json": {"emails": [{"is_primary": True}]}}, "'email' is a"),
        ("POST", "/contacts/search", {"json": {"limit": 5}}, "'filter' is a required property"),
        (
            "POST",
            "/contacts/search",
            {"json": {"filter": {"field": "id", "operator": "like"}}},
            "'like' is not one of",
        ),
        ("GET", "/contacts", {"headers": {"Authorization": ""}}, "SecurityValidationError"),
    ],
)
def test_the_proxy_catches_malformed_requests(
    proxied: TestClient,
    validator: SpecValidator,
    method: str,
    path: str,
    kwargs: dict[str, Any],
    fragment: str,
) -> None:
    response = proxied.request(method, path, **kwargs)
    assert int(response.headers[VIOLATIONS_HEADER]) >= 1
    requests = [v for v in validator.violations if v.direction == "request"]
    assert any(fragment in v.message for v in requests), described(validator.violations)
    listed = proxied.get("/_proxy/violations").json()
    assert listed["count"] == len(validator.violations)
    assert listed["violations"][0]["method"] == method
    assert proxied.delete("/_proxy/violations").json()["count"] == 0
    assert validator.violations == []


def broken_upstream() -> Starlette:
    """A fake Pylon whose answers break the spec in typical ways."""

    async def contacts(_: Request) -> Response:
        return JSONResponse({"data": [{"id": 1, "name": "X"}], "pagination": {"has_next_page": 0}})

    async def create(_: Request) -> Response:
        return JSONResponse({"data": {"id": "c1", "name": "X", "email": None}, "request_id": "r"})

    async def one(_: Request) -> Response:
        return PlainTextResponse("not json")

    async def remove(_: Request) -> Response:
        return JSONResponse({"request_id": 42})

    return Starlette(
        routes=[
            Route("/contacts", contacts, methods=["GET"]),
            Route("/contacts", create, methods=["POST"]),
            Route("/contacts/{id}", one, methods=["GET"]),
            Route("/contacts/{id}", remove, methods=["DELETE"]),
        ]
    )


def test_the_proxy_catches_a_broken_upstream(validator: SpecValidator) -> None:
    proxy = ValidatingProxy(validator, UPSTREAM, transport=httpx.ASGITransport(broken_upstream()))
    with TestClient(proxy, headers=AUTH) as client:
        listed = client.get("/contacts")
        assert listed.json()["data"][0]["id"] == 1  # passed on untouched...
        assert listed.headers[VIOLATIONS_HEADER] == "3"  # ...and flagged
        client.post("/contacts", json={"name": "X"})
        client.get("/contacts/c1", params={"limit": 1})
        client.delete("/contacts/c1")
    messages = {(v.operation, v.message) for v in validator.violations}
    assert all(v.direction == "response" for v in validator.violations)
    assert ("GetContacts", "InvalidData at $.data[0].id: 1 is not of type 'string'") in messages
    assert (
        "GetContacts",
        "InvalidData at $.pagination: 'cursor' is a required property",
    ) in messages
    assert any(op == "GetContacts" and "0 is not of type 'boolean'" in m for op, m in messages)
    assert (
        "CreateContact",
        "InvalidData at $.data.email: None is not of type 'string'",
    ) in messages
    assert (
        "GetContact",
        "DataValidationError: Content for the following mimetype not found: "
        "text/plain; charset=utf-8. Valid mimetypes: ['application/json']",
    ) in messages
    assert any(op == "DeleteContact" and "$.request_id" in m for op, m in messages)


def test_reject_invalid_answers_422_without_forwarding(
    sim: PylonSimulator, validator: SpecValidator
) -> None:
    proxy = ValidatingProxy(
        validator, UPSTREAM, transport=httpx.ASGITransport(build_app(sim)), reject_invalid=True
    )
    with TestClient(proxy, headers=AUTH) as client:
        refused = client.post("/contacts", json={"email": "nameless@x.example"})
        assert refused.status_code == 422
        assert "'name' is a required property" in refused.json()["errors"][0]
        assert client.get("/contacts").status_code == 200
    assert sim.stats_payload()["total"] == 1  # only the valid request reached the simulator


def test_an_unreachable_upstream_is_a_502(validator: SpecValidator) -> None:
    proxy = ValidatingProxy(validator, "http://127.0.0.1:9")  # discard port: nothing listens
    with TestClient(proxy, headers=AUTH) as client:
        response = client.get("/contacts")
    assert response.status_code == 502
    assert "upstream failed" in response.json()["errors"][0]


def test_served_on_loopback_and_as_an_httpx_transport(
    sim: PylonSimulator, validator: SpecValidator
) -> None:
    with serving(build_app(sim)) as upstream, serving(ValidatingProxy(validator, upstream)) as url:
        with httpx.Client(base_url=url, headers=AUTH, timeout=10) as client:
            assert len(client.get("/contacts", params={"limit": 999}).json()["data"]) == PEOPLE
            made = client.post("/contacts", json={"name": "Walter Skinner"}).json()["data"]
            assert client.delete(f"/contacts/{made['id']}").status_code == 200
            assert client.get("/_proxy/violations").json()["count"] == 0
        checked = SpecValidator(bundled_spec())
        transport = ValidatingTransport(checked, httpx.HTTPTransport())
        with httpx.Client(base_url=upstream, headers=AUTH, transport=transport) as direct:
            assert direct.get("/contacts", params={"limit": 3}).status_code == 200
            assert checked.violations == []
            assert direct.post("/contacts", json={"email": "no-name@x.example"}).status_code == 400
    assert [(v.operation, v.direction) for v in checked.violations] == [
        ("CreateContact", "request")
    ]
