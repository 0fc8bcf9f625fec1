"""The Rhythm Rolodex simulator: tokens, tenant, search paging and filters, writes, limits."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from contactsync_sandbox.common import SandboxOptions, build_app
from contactsync_sandbox.people import SeedData, SeedOrganization, SeedRecord
from contactsync_sandbox.rhythm import DEFAULT_CREDENTIALS, RhythmSimulator
from tests.sandbox.helpers import (
    assert_faults_land_at_rate_and_repeat,
    basic,
    collect_outcomes,
    live_records,
    seed_address,
    seed_birthday,
    seed_copy,
    seed_name,
)

TENANT = "sandbox"
BASE = f"/contacts/{TENANT}"
ORGS = [
    SeedOrganization("org-acme", "Acme Insurance"),
    SeedOrganization("org-globex", "Globex Brokers"),
]


def make_seed(count: int) -> SeedData:
    records = []
    for i in range(count):
        first, last = seed_name(i)
        records.append(
            seed_copy(
                i,
                nickname="Suze" if first == "Susie" else None,
                emails=[f"{first}.{i}@example.com", f"{first}.{last}@home.example.net"],
                organization_key=("org-acme", "org-globex", None)[i % 3],
                address=seed_address(i),
                birthday=seed_birthday(i),
            )
        )
    records.append(SeedRecord("p-noname", None, None, emails=["anon@example.com"]))
    return SeedData(persons=count + 1, records={"rhythm": records}, organizations=list(ORGS))


CLIENT_BASIC = basic(
    DEFAULT_CREDENTIALS["rhythm_client_id"], DEFAULT_CREDENTIALS["rhythm_client_secret"]
)


def get_token(client: TestClient) -> str:
    """A fresh token (retried a few times: fault injection may hit the token call too)."""
    for _ in range(10):
        try:
            response = client.post(
                "/oauth2/token",
                data={"grant_type": "client_credentials"},
                headers={"Authorization": CLIENT_BASIC},
            )
            token: str = response.json()["access_token"]
        except (ValueError, KeyError):
            continue
        return token
    raise AssertionError("no token after 10 attempts")


def make_client(
    options: SandboxOptions | None = None, count: int = 30
) -> tuple[TestClient, RhythmSimulator]:
    sim = RhythmSimulator(options or SandboxOptions(seed=7), make_seed(count))
    # a dropped connection (fault injection) must reach the test as a broken body
    client = TestClient(build_app(sim), raise_server_exceptions=False)
    client.headers["Authorization"] = f"Bearer {get_token(client)}"
    return client, sim


@pytest.fixture
def client() -> TestClient:
    return make_client()[0]


def search_all(client: TestClient, body: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    """Every item of a search, following ``LastEvaluatedKey``; also the request count."""
    items: list[dict[str, Any]] = []
    params: dict[str, str] = {}
    requests = 0
    while True:
        response = client.post(f"{BASE}/search", params=params, json=body)
        requests += 1
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items, requests
        params = {"exclusiveStartKey": page["LastEvaluatedKey"]}


def org_id(client: TestClient, name: str) -> str:
    orgs = client.get("/_sandbox/records").json()["organizations"]
    return next(o["id"] for o in orgs if o["name"] == name)


NEW_CONTACT: dict[str, Any] = {
    "first_name": "Rosa",
    "last_name": "Diaz",
    "email_address": "rosa.diaz@example.com",
    "mobile_phone_number": "+1 404 555 0199",
    "home_address": {"line1": "9 Elm St", "city": "Savannah", "state": "GA", "country": "US"},
    "date_of_birth": "1985-04-02",
    "status": "active",
}


# --- auth ------------------------------------------------------------------------------


def test_token_endpoint_accepts_basic_or_form_credentials_and_counts_tokens() -> None:
    client, sim = make_client()
    form = {
        "grant_type": "client_credentials",
        "client_id": DEFAULT_CREDENTIALS["rhythm_client_id"],
        "client_secret": DEFAULT_CREDENTIALS["rhythm_client_secret"],
    }
    answer = client.post("/oauth2/token", data=form, headers={"Authorization": ""})
    assert answer.status_code == 200
    body = answer.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 86400
    assert body["access_token"].count(".") == 2  # header.claims.signature
    assert sim.tokens.issued == 2
    assert client.get("/_sandbox/stats").json()["tokens_issued"] == 2
    assert client.get("/_sandbox/records").json()["tokens_issued"] == 2


def test_token_endpoint_refuses_bad_client_or_grant() -> None:
    client, sim = make_client()
    wrong = basic(DEFAULT_CREDENTIALS["rhythm_client_id"], "not-the-secret")
    refused = client.post(
        "/oauth2/token", data={"grant_type": "client_credentials"}, headers={"Authorization": wrong}
    )
    assert refused.status_code == 401
    assert refused.json() == {"error": "invalid_client"}
    assert "not-the-secret" not in refused.text
    bad_grant = client.post(
        "/oauth2/token", data={"grant_type": "password"}, headers={"Authorization": CLIENT_BASIC}
    )
    assert bad_grant.status_code == 400
    assert bad_grant.json()["error"] == "unsupported_grant_type"
    assert sim.tokens.issued == 1


def test_api_calls_need_a_valid_unexpired_bearer_token() -> None:
    client, sim = make_client()
    some_id = live_records(client)[0]["id"]
    assert client.get(f"{BASE}/{some_id}").status_code == 200
    assert client.get(f"{BASE}/{some_id}", headers={"Authorization": ""}).status_code == 401
    forged = client.get(f"{BASE}/{some_id}", headers={"Authorization": "Bearer a.b.c"})
    assert forged.status_code == 401
    sim.clock.offset = timedelta(hours=24, seconds=1)
    assert client.get(f"{BASE}/{some_id}").status_code == 401


def test_configured_credentials_replace_the_defaults() -> None:
    options = SandboxOptions(credentials={"rhythm_client_id": "me", "rhythm_client_secret": "s3"})
    sim = RhythmSimulator(options, make_seed(2))
    client = TestClient(build_app(sim))
    default = client.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": CLIENT_BASIC},
    )
    assert default.status_code == 401
    mine = client.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": basic("me", "s3")},
    )
    assert mine.status_code == 200


def test_another_tenant_is_forbidden(client: TestClient) -> None:
    some_id = live_records(client)[0]["id"]
    assert client.get(f"/contacts/other/{some_id}").status_code == 403
    assert client.post("/contacts/other/search", json={}).status_code == 403
    assert client.post("/contacts/other", json=NEW_CONTACT).status_code == 403


# --- seed shape ------------------------------------------------------------------------


def test_seeded_contacts_have_server_fields_and_truth(client: TestClient) -> None:
    records = live_records(client)
    truth = client.get("/_sandbox/truth").json()
    assert len(records) == 30  # the copy without any name cannot exist in Rhythm
    assert set(truth) == {r["id"] for r in records}
    now = datetime.now().astimezone()
    for record in records:
        created = datetime.fromisoformat(record["sys_created_at"])
        modified = datetime.fromisoformat(record["sys_last_modified_at"])
        assert record["sys_created_at"].endswith("Z")
        assert now - timedelta(days=731) <= created <= modified <= now
        assert record["name"] == f"{record['first_name']} {record['last_name']}"
        assert record["name_last_first"] == f"{record['last_name']}, {record['first_name']}"
        assert "preferred_phone_number_type_id" in record
        assert record["sys_version"] >= 1
    acme = next(r for r in records if r.get("organization_name") == "Acme Insurance")
    assert acme["organization_id"] == org_id(client, "Acme Insurance")
    with_address = next(r for r in records if "home_address" in r)
    assert with_address["home_address"]["city"] == "Atlanta"
    assert with_address["preferred_address_type"] == "home"


def test_same_seed_gives_same_ids_and_times() -> None:
    first = [r["id"] for r in live_records(make_client()[0])]
    second = [r["id"] for r in live_records(make_client()[0])]
    other = [r["id"] for r in live_records(make_client(SandboxOptions(seed=8))[0])]
    assert first == second
    assert first != other


# --- search paging and filters -----------------------------------------------------------


def test_search_pages_with_last_evaluated_key_to_the_end() -> None:
    client, _ = make_client(count=250)
    items, requests = search_all(client, {})
    assert requests == 3  # page size 100
    assert sorted(i["id"] for i in items) == sorted(r["id"] for r in live_records(client))


def test_filtered_search_pages_may_be_short_but_keep_the_key() -> None:
    client, _ = make_client(count=250)
    target = live_records(client)[123]
    items, requests = search_all(client, {"email_address": target["email_address"].upper()})
    assert [i["id"] for i in items] == [target["id"]]
    assert requests == 3


def test_invalid_start_key_or_body_is_400(client: TestClient) -> None:
    bad_key = client.post(f"{BASE}/search", params={"exclusiveStartKey": "garbage"}, json={})
    assert bad_key.status_code == 400
    assert client.post(f"{BASE}/search", json={"status": "active"}).status_code == 400
    assert client.post(f"{BASE}/search", json={"shoe_size": 9}).status_code == 400


def search_ids(client: TestClient, body: dict[str, Any]) -> set[str]:
    return {item["id"] for item in search_all(client, body)[0]}


def expected_ids(client: TestClient, predicate: Any) -> set[str]:
    return {r["id"] for r in live_records(client) if predicate(r)}


def test_each_documented_filter(client: TestClient) -> None:
    role_contact = client.post(
        BASE, json={**NEW_CONTACT, "contact_role_ids": ["role-billing"], "status": "inactive"}
    ).json()
    records = live_records(client)
    acme = org_id(client, "Acme Insurance")
    some = records[3]
    cases: list[tuple[dict[str, Any], Any]] = [
        (
            {"ids": [some["id"], role_contact["id"]]},
            lambda r: r["id"] in {some["id"], role_contact["id"]},
        ),
        ({"status": ["inactive"]}, lambda r: r["status"] == "inactive"),
        ({"first_name": "susie"}, lambda r: r["first_name"] == "Susie"),
        ({"last_name": "NGUYEN"}, lambda r: r["last_name"] == "Nguyen"),
        ({"contact_role_id": "role-billing"}, lambda r: r["id"] == role_contact["id"]),
        (
            {"email_address": some["email_address2"]},
            lambda r: r.get("email_address2") == some["email_address2"],
        ),
        (
            {"organization_name": "globex brokers"},
            lambda r: r.get("organization_name") == "Globex Brokers",
        ),
        ({"nickname": "Suze"}, lambda r: r.get("nickname") == "Suze"),
        ({"number": [some["number"]]}, lambda r: r["number"] == some["number"]),
        ({"organization_id": [acme]}, lambda r: r.get("organization_id") == acme),
        ({"job_title": "claims adjuster"}, lambda r: r.get("job_title") == "Claims Adjuster"),
        ({"city": "savannah"}, lambda r: r["id"] == role_contact["id"]),
        ({"state": "GA"}, lambda r: "home_address" in r),
        (
            {"country": "us", "last_name": "Smith"},
            lambda r: "home_address" in r and r["last_name"] == "Smith",
        ),
    ]
    for body, predicate in cases:
        wanted = expected_ids(client, predicate)
        assert wanted, body
        assert search_ids(client, body) == wanted, body
        assert len(wanted) < len(records), body  # the filter selects


def test_fields_to_return_and_get_fields_restrict_the_record(client: TestClient) -> None:
    page = client.post(f"{BASE}/search", params={"fieldsToReturn": "id,last_name"}, json={}).json()
    assert all(set(item) == {"id", "last_name"} for item in page["Items"])
    some_id = page["Items"][0]["id"]
    one = client.get(f"{BASE}/{some_id}", params={"fields": "first_name,sys_version"}).json()
    assert set(one) == {"first_name", "sys_version"}
    assert client.get(f"{BASE}/no-such-id").status_code == 404


# --- writes ------------------------------------------------------------------------------


def test_create_sets_id_and_every_sys_field(client: TestClient) -> None:
    body = {**NEW_CONTACT, "sys_version": 42, "sys_created_by_id": "me", "sys_external_id": "cs-1"}
    response = client.post(BASE, json=body)
    assert response.status_code == 200
    made = response.json()
    assert made["id"]
    assert made["sys_version"] == 1
    assert made["sys_external_id"] == "cs-1"
    assert made["sys_created_by_id"] == DEFAULT_CREDENTIALS["rhythm_client_id"]
    assert made["sys_created_at"] == made["sys_last_modified_at"]
    assert made["name"] == "Rosa Diaz"
    assert made["name_last_first"] == "Diaz, Rosa"
    assert made["preferred_phone_number"] == "+1 404 555 0199"
    assert made["preferred_phone_number_type_id"] == "mobile"
    assert client.get(f"{BASE}/{made['id']}").json() == made


@pytest.mark.parametrize(
    "body",
    [
        {**NEW_CONTACT, "id": "my-own-id"},
        {**NEW_CONTACT, "first_name": 7},
        {**NEW_CONTACT, "status": "retired"},
        {**NEW_CONTACT, "date_of_birth": "02/04/1985"},
        {**NEW_CONTACT, "do_not_call": "yes"},
        {**NEW_CONTACT, "favourite_colour": "teal"},
        {**NEW_CONTACT, "home_address": {"street": "9 Elm St"}},
        {"email_address": "nobody@example.com"},
    ],
)
def test_create_validation_is_400_with_status_only(
    client: TestClient, body: dict[str, Any]
) -> None:
    response = client.post(BASE, json=body)
    assert response.status_code == 400
    assert response.json() == {"message": "Bad Request"}


def test_reference_to_a_missing_organization_is_409(client: TestClient) -> None:
    assert client.post(BASE, json={**NEW_CONTACT, "organization_id": "nope"}).status_code == 409
    acme = org_id(client, "Acme Insurance")
    made = client.post(BASE, json={**NEW_CONTACT, "organization_id": acme}).json()
    assert made["organization_name"] == "Acme Insurance"


def test_put_replaces_the_whole_record_and_moves_the_version(client: TestClient) -> None:
    made = client.post(BASE, json={**NEW_CONTACT, "job_title": "Broker"}).json()
    body = {"id": made["id"], "first_name": "Rosa", "last_name": "Diaz-Ortiz"}
    updated = client.put(f"{BASE}/{made['id']}", json=body)
    assert updated.status_code == 200
    record = updated.json()
    assert "job_title" not in record
    assert "email_address" not in record
    assert record["last_name"] == "Diaz-Ortiz"
    assert record["sys_version"] == 2
    assert record["sys_created_at"] == made["sys_created_at"]
    assert record["sys_last_modified_at"] > made["sys_last_modified_at"]
    assert client.put(f"{BASE}/{made['id']}", json={**body, "id": "other"}).status_code == 400
    assert client.put(f"{BASE}/{made['id']}", json={"last_name": "X"}).status_code == 400
    assert client.put(f"{BASE}/missing", json={**body, "id": "missing"}).status_code == 404
    assert (
        client.put(f"{BASE}/{made['id']}", json={**body, "spouse_id": "ghost"}).status_code == 409
    )


def test_patch_applies_rfc6902_and_validates_the_result(client: TestClient) -> None:
    made = client.post(BASE, json=NEW_CONTACT).json()
    url = f"{BASE}/{made['id']}"
    patch = [
        {"op": "test", "path": "/last_name", "value": "Diaz"},
        {"op": "add", "path": "/job_title", "value": "Underwriter"},
        {"op": "remove", "path": "/mobile_phone_number"},
        {"op": "add", "path": "/work_phone_number", "value": "404-555-0100"},
    ]
    patched = client.patch(url, json=patch)
    assert patched.status_code == 200, patched.text
    record = patched.json()
    assert record["job_title"] == "Underwriter"
    assert "mobile_phone_number" not in record
    assert record["preferred_phone_number"] == "404-555-0100"
    assert record["sys_version"] == 2
    refused = [
        {"op": "test", "path": "/last_name", "value": "Smith"},  # failing test
        {"op": "frobnicate", "path": "/job_title"},
        {"op": "replace", "path": "/sys_version", "value": 9},
        {"op": "replace", "path": "/id", "value": "mine"},
        {"op": "replace", "path": "/status", "value": "retired"},
        {"op": "remove", "path": "/no_such_field"},
        {"job_title": "not a patch"},
    ]
    for operation in refused:
        assert client.patch(url, json=[operation]).status_code == 400, operation
    assert client.patch(url, json={"job_title": "x"}).status_code == 400
    missing_org = [{"op": "add", "path": "/organization_id", "value": "ghost"}]
    assert client.patch(url, json=missing_org).status_code == 409
    assert client.get(url).json()["sys_version"] == 2
    assert client.patch(f"{BASE}/missing", json=patch[1:2]).status_code == 404


def test_delete_answers_the_id_and_hides_the_record(client: TestClient) -> None:
    victim = live_records(client)[0]["id"]
    deleted = client.delete(f"{BASE}/{victim}")
    assert deleted.status_code == 200
    assert deleted.json() == victim
    assert client.get(f"{BASE}/{victim}").status_code == 404
    assert client.delete(f"{BASE}/{victim}").status_code == 404
    assert victim not in search_ids(client, {})
    rows = client.get("/_sandbox/records").json()["records"]
    assert next(r for r in rows if r["id"] == victim)["_deleted"] is True


# --- limits, faults, mutate, reset -----------------------------------------------------


def test_tenant_limit_answers_429_without_headers() -> None:
    client, _ = make_client(SandboxOptions(seed=7, rate_limits="vendor", rate_scale=0.03))
    url = f"{BASE}/search"
    statuses = [client.post(url, json={}).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = client.post(url, json={})
    assert refused.status_code == 429
    assert "retry-after" not in refused.headers
    assert not any(h.lower().startswith("x-ratelimit") for h in refused.headers)
    assert get_token(client)  # the token endpoint is not a tenant call


def fault_outcomes(seed: int, requests: int) -> list[str]:
    client, _ = make_client(SandboxOptions(seed=seed, faults=0.2, slow_seconds=0), count=3)
    some_id = live_records(client)[0]["id"]
    return collect_outcomes(lambda: client.get(f"{BASE}/{some_id}"), requests)


def test_faults_land_at_the_configured_rate_and_repeat_with_the_seed() -> None:
    assert_faults_land_at_rate_and_repeat(fault_outcomes)


def test_mutate_edits_like_a_user_and_reset_restores_the_seed(client: TestClient) -> None:
    before = {r["id"]: r for r in live_records(client)}
    mutated = client.post("/_sandbox/mutate", json={"count": 12, "seed": 5}).json()["mutated"]
    assert len(mutated) == 12
    after = {r["id"]: r for r in live_records(client)}
    for record_id in mutated:
        old, new = before[record_id], after[record_id]
        assert new["sys_version"] == old["sys_version"] + 1
        assert new["sys_last_modified_at"] > old["sys_last_modified_at"]
        person = {k: v for k, v in new.items() if not k.startswith("sys_")}
        assert person != {k: v for k, v in old.items() if not k.startswith("sys_")}
    untouched = set(before) - set(mutated)
    assert all(before[i] == after[i] for i in untouched)
    made = client.post(BASE, json=NEW_CONTACT).json()
    client.delete(f"{BASE}/{next(iter(untouched))}")
    assert client.post("/_sandbox/reset").status_code == 200
    assert {r["id"]: r for r in live_records(client)} == before
    assert client.get(f"{BASE}/{made['id']}").status_code == 404


def test_a_record_read_back_can_be_put_unchanged(client: TestClient) -> None:
    record = live_records(client)[2]
    fetched = client.get(f"{BASE}/{record['id']}").json()
    replaced = client.put(f"{BASE}/{record['id']}", json={**fetched, "job_title": "Broker"})
    assert replaced.status_code == 200
    body = replaced.json()
    assert body["job_title"] == "Broker"
    assert body["sys_version"] == fetched["sys_version"] + 1
    unchanged = {k: v for k, v in body.items() if not k.startswith("sys_") and k != "job_title"}
    assert unchanged == {
        k: v for k, v in fetched.items() if not k.startswith("sys_") and k != "job_title"
    }
