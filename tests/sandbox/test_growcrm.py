"""The Grow CRM simulator: auth, envelope, paging, filters, sort, writes, uniqueness, limits."""

from __future__ import annotations

import math
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from contactsync_sandbox.common import SandboxOptions, build_app
from contactsync_sandbox.growcrm import GrowcrmSimulator
from contactsync_sandbox.people import SeedData, SeedOrganization, SeedRecord
from tests.sandbox.helpers import (
    admin,
    assert_faults_land_at_rate_and_repeat,
    collect_outcomes,
    seed_name,
    seed_phones,
)

BASE = "/api/contacts"
AUTH = {"Authorization": "Bearer sandbox-growcrm-token"}
ORGS = ("org-acme", "org-globex", "org-initech", "org-hooli", None)
PLACED = 45
DATE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
INVALID = "The given data was invalid."


def make_seed(count: int = PLACED) -> SeedData:
    """``count`` placeable copies plus three Grow CRM could not hold."""
    records = []
    for i in range(count):
        first, last = seed_name(i)
        org = ORGS[i % len(ORGS)]
        records.append(
            SeedRecord(
                person_key=f"p{i:03d}",
                first_name=first,
                last_name=last,
                emails=[
                    f" {first}.{last[0]}{i}@Example.com " if i == 7 else f"{first}.{i}@example.com"
                ],
                phones=seed_phones(i),
                job_title="Buyer" if i % 2 else None,
                organization_key=org,
                organization_name="Hooli Inc" if org == "org-hooli" else None,
            )
        )
    records += [
        SeedRecord("p-noemail", "Cher", "Sarkisian"),
        SeedRecord("p-nofirst", None, "Madonna", emails=["m@example.com"]),
        SeedRecord("p-dupe", "Susie", "Smyth", emails=["SUSIE.0@example.com"]),
    ]
    organizations = [
        SeedOrganization("org-acme", "Acme Ltd"),
        SeedOrganization("org-globex", "Globex"),
        SeedOrganization("org-initech", "Initech"),
    ]
    return SeedData(persons=count + 3, records={"growcrm": records}, organizations=organizations)


def make_client(options: SandboxOptions | None = None, count: int = PLACED) -> TestClient:
    sim = GrowcrmSimulator(options or SandboxOptions(seed=11), make_seed(count))
    # a dropped connection (fault injection) must reach the test as a broken body
    return TestClient(build_app(sim), headers=AUTH, raise_server_exceptions=False)


@pytest.fixture
def client() -> TestClient:
    return make_client()


def live(client: TestClient) -> list[dict[str, Any]]:
    return [
        {k: v for k, v in r.items() if k != "_deleted"}
        for r in admin(client)["records"]
        if not r["_deleted"]
    ]


def listed(http: TestClient, /, **params: Any) -> list[dict[str, Any]]:
    response = http.get(BASE, params={"limit": 100, **params})
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["data"]
    return rows


def ids(rows: list[dict[str, Any]]) -> list[int]:
    return [row["id"] for row in rows]


def new_contact(**overrides: Any) -> dict[str, Any]:
    return {
        "first_name": "Zed",
        "last_name": "Quimby",
        "email": "zed.quimby@example.com",
        "clientid": 2,
        **overrides,
    }


# --- seeding ---------------------------------------------------------------------------


def test_seed_places_copies_it_can_hold_and_keeps_the_truth(client: TestClient) -> None:
    records = live(client)
    truth = client.get("/_sandbox/truth").json()
    assert len(records) == PLACED
    assert sorted(truth.values()) == [f"p{i:03d}" for i in range(PLACED)]
    assert min(ids(records)) >= 10
    clients = {c["id"]: c["company_name"] for c in admin(client)["clients"]}
    assert clients == {
        1: "Acme Ltd",
        2: "Globex",
        3: "Initech",
        4: "Umbrella Logistics",
        5: "Stark Supplies",
        6: "Hooli Inc",
    }
    by_key = {truth[str(r["id"])]: r for r in records}
    assert by_key["p000"]["client"] == {"id": 1, "company_name": "Acme Ltd"}
    assert by_key["p003"]["client"]["id"] == 6
    assert by_key["p000"]["phone"] == "+1 678-555-0000"  # work preferred over mobile
    assert by_key["p002"]["phone"] == "(404) 555-0002"
    assert by_key["p001"]["phone"] is None
    assert by_key["p007"]["email"] == "Tom.S7@Example.com"  # trimmed, case kept
    assert by_key["p001"]["job_position"] == "Buyer"
    now = datetime.now(UTC)
    for record in records:
        assert record["name"] == f"{record['first_name']} {record['last_name']}"
        assert DATE.fullmatch(record["dates"]["created"])
        created = datetime.strptime(record["dates"]["created"], "%Y-%m-%dT%H:%M:%S.%fZ")
        updated = datetime.strptime(record["dates"]["updated"], "%Y-%m-%dT%H:%M:%S.%fZ")
        assert now.replace(tzinfo=None) - timedelta(days=731) < created <= updated
        assert updated < now.replace(tzinfo=None)
        assert record["role"] == {"id": 2, "name": "Client"}
        assert record["status"] in ("active", "suspended")
    owners = Counter(r["client"]["id"] for r in records if r["account_owner"] == "yes")
    assert set(owners.values()) == {1}
    assert set(owners) == {r["client"]["id"] for r in records}


def test_seed_is_deterministic() -> None:
    assert live(make_client()) == live(make_client())
    assert live(make_client()) != live(make_client(SandboxOptions(seed=12)))


# --- auth ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [None, "Bearer wrong", "Basic sandbox-growcrm-token", "sandbox-growcrm-token", "Bearer "],
)
def test_auth_refusals(client: TestClient, header: str | None) -> None:
    client.headers.pop("Authorization")
    response = client.get(BASE, headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response.json() == {"message": "Unauthenticated."}


def test_configured_key_replaces_the_default() -> None:
    client = make_client(SandboxOptions(credentials={"growcrm_token": "k-123"}))
    assert client.get(BASE).status_code == 401
    assert client.get(BASE, headers={"Authorization": "Bearer k-123"}).status_code == 200


# --- envelope and paging ---------------------------------------------------------------


@pytest.mark.parametrize("limit", [10, 15, 45, 100])
def test_paging_to_the_last_page(client: TestClient, limit: int) -> None:
    seen: list[int] = []
    page, calls = 1, 0
    while True:
        body = client.get(BASE, params={"page": page, "limit": limit}).json()
        calls += 1
        seen += ids(body["data"])
        assert body["message"] == "Contacts retrieved successfully."
        assert body["meta"]["total"] == PLACED
        assert body["meta"]["from"] == (page - 1) * limit + 1
        assert body["meta"]["to"] == (page - 1) * limit + len(body["data"])
        if body["meta"]["current_page"] >= body["meta"]["last_page"]:
            break
        page += 1
    assert calls == math.ceil(PLACED / limit)
    assert seen == sorted(seen)
    assert len(set(seen)) == PLACED


def test_default_limit_and_pages_past_the_end(client: TestClient) -> None:
    meta = client.get(BASE).json()["meta"]
    assert (meta["per_page"], meta["current_page"], meta["last_page"]) == (15, 1, 3)
    past = client.get(BASE, params={"page": 9}).json()
    assert past["data"] == []
    assert (past["meta"]["from"], past["meta"]["to"], past["meta"]["current_page"]) == (
        None,
        None,
        9,
    )


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"limit": 101}, "limit", "The limit may not be greater than 100."),
        ({"limit": 0}, "limit", "The limit must be at least 1."),
        ({"page": "two"}, "page", "The page must be an integer."),
        ({"status": "archived"}, "status", "The selected status is invalid."),
        ({"account_owner": "true"}, "account_owner", "The selected account owner is invalid."),
        ({"client_id": "acme"}, "client_id", "The client id must be an integer."),
        ({"sort": "id"}, "sort", "The selected sort is invalid."),
        ({"order": "up"}, "order", "The selected order is invalid."),
    ],
)
def test_bad_list_parameters_answer_422(
    client: TestClient, params: dict[str, Any], field: str, message: str
) -> None:
    response = client.get(BASE, params=params)
    assert response.status_code == 422
    assert response.json() == {"message": INVALID, "errors": {field: [message]}}


# --- filters and sort ------------------------------------------------------------------


def test_client_and_account_owner_filters(client: TestClient) -> None:
    records = live(client)
    for client_id in (1, 6):
        expected = [r["id"] for r in records if r["client"]["id"] == client_id]
        assert 0 < len(expected) < PLACED
        assert ids(listed(client, client_id=client_id)) == expected
    owners = [r["id"] for r in records if r["account_owner"] == "yes"]
    assert ids(listed(client, account_owner="yes")) == owners
    assert len(listed(client, account_owner="no")) == PLACED - len(owners)
    both = [r["id"] for r in records if r["client"]["id"] == 1 and r["account_owner"] == "no"]
    assert ids(listed(client, client_id=1, account_owner="no")) == both


def test_status_filter_and_soft_deleted_contacts(client: TestClient) -> None:
    records = live(client)
    suspended = [r["id"] for r in records if r["status"] == "suspended"]
    assert ids(listed(client, status="suspended")) == suspended
    assert len(listed(client, status="active")) == PLACED - len(suspended)
    gone = records[4]["id"]
    assert client.delete(f"{BASE}/{gone}").json() == {"message": "Contact deleted successfully."}
    assert gone not in ids(listed(client))
    assert gone not in ids(listed(client, status="active"))
    deleted = listed(client, status="deleted")
    assert ids(deleted) == [gone]
    assert deleted[0]["status"] == "deleted"


@pytest.mark.parametrize(
    ("needle", "matches"),
    [
        ("NGUYEN", lambda r: "nguyen" in r["last_name"].lower()),
        ("pri", lambda r: "pri" in r["first_name"].lower()),
        ("@EXAMPLE.com", lambda r: True),
        (".12@", lambda r: ".12@" in r["email"]),
        ("555-0004", lambda r: "555-0004" in (r["phone"] or "")),
    ],
)
def test_search_covers_names_email_and_phone(client: TestClient, needle: str, matches: Any) -> None:
    expected = [r["id"] for r in live(client) if matches(r)]
    assert expected
    assert ids(listed(client, search=needle)) == expected


@pytest.mark.parametrize("key", ["first_name", "last_name", "email", "created", "updated"])
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_sort_orders_with_id_as_tie_breaker(client: TestClient, key: str, order: str) -> None:
    records = live(client)

    def sort_value(r: dict[str, Any]) -> Any:
        return r["dates"][key] if key in ("created", "updated") else r[key].casefold()

    expected = sorted(records, key=lambda r: (sort_value(r), r["id"]), reverse=order == "desc")
    assert ids(listed(client, sort=key, order=order)) == ids(expected)


def test_newest_first_puts_an_edit_at_the_top(client: TestClient) -> None:
    target = live(client)[20]
    body = {k: target[k] for k in ("first_name", "last_name", "email")}
    assert client.put(f"{BASE}/{target['id']}", json={**body, "position": "CTO"}).is_success
    first = client.get(BASE, params={"sort": "updated", "order": "desc", "limit": 1}).json()
    assert ids(first["data"]) == [target["id"]]
    assert ids(listed(client, order="desc")) == sorted(ids(live(client)), reverse=True)


# --- get, create -----------------------------------------------------------------------


def test_get_one_and_404s(client: TestClient) -> None:
    record = live(client)[0]
    response = client.get(f"{BASE}/{record['id']}")
    assert response.json() == {"data": record, "message": "Contact retrieved successfully."}
    for missing in ("999999", "abc", "1"):  # 1 is a team member, not a contact
        not_found = client.get(f"{BASE}/{missing}")
        assert not_found.status_code == 404
        assert not_found.json() == {"message": "Contact not found."}


def test_create_answers_201_with_the_contact(client: TestClient) -> None:
    body = new_contact(
        first_name="  Zed ", phone="404-555-0199", position="Buyer", send_email="yes"
    )
    response = client.post(BASE, json={**body, "account_owner": "yes", "nickname": "Z"})
    assert response.status_code == 201
    payload = response.json()
    assert payload["message"] == "Contact created successfully."
    made = payload["data"]
    assert made["id"] > max(ids(live(client)[:-1]))
    assert (made["first_name"], made["name"], made["phone"], made["job_position"]) == (
        "Zed",
        "Zed Quimby",
        "404-555-0199",
        "Buyer",
    )
    assert made["account_owner"] == "no"  # only the account-owner action sets it
    assert made["client"] == {"id": 2, "company_name": "Globex"}
    assert made["dates"]["created"] == made["dates"]["updated"]
    assert DATE.fullmatch(made["dates"]["created"])
    assert client.get(f"{BASE}/{made['id']}").json()["data"] == made


def test_create_accepts_form_fields(client: TestClient) -> None:
    response = client.post(BASE, data=new_contact(clientid="3"))
    assert response.status_code == 201
    assert response.json()["data"]["client"]["id"] == 3


def test_create_names_every_missing_field(client: TestClient) -> None:
    for body in ({}, {"first_name": " ", "last_name": "", "email": None}):
        response = client.post(BASE, json=body)
        assert response.status_code == 422
        assert response.json() == {
            "message": INVALID,
            "errors": {
                "first_name": ["The first name field is required."],
                "last_name": ["The last name field is required."],
                "email": ["The email field is required."],
                "clientid": ["The clientid field is required."],
            },
        }
    broken = client.post(BASE, content=b"{nope", headers={"Content-Type": "application/json"})
    assert broken.status_code == 422


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"email": "not-an-email"}, "email", "The email must be a valid email address."),
        ({"clientid": 99}, "clientid", "The selected clientid is invalid."),
        ({"clientid": "two"}, "clientid", "The clientid must be an integer."),
        ({"clientid": True}, "clientid", "The clientid must be an integer."),
        ({"send_email": "true"}, "send_email", "The selected send email is invalid."),
        ({"first_name": 5}, "first_name", "The first name must be a string."),
        ({"phone": 4045550100}, "phone", "The phone must be a string."),
        (
            {"position": "x" * 256},
            "position",
            "The position may not be greater than 255 characters.",
        ),
    ],
)
def test_create_validates_each_field(
    client: TestClient, overrides: dict[str, Any], field: str, message: str
) -> None:
    response = client.post(BASE, json=new_contact(**overrides))
    assert response.status_code == 422
    assert response.json() == {"message": INVALID, "errors": {field: [message]}}
    assert client.get(BASE).json()["meta"]["total"] == PLACED


# --- email uniqueness ------------------------------------------------------------------

TAKEN = {"message": INVALID, "errors": {"email": ["The email has already been taken."]}}


def test_email_is_unique_across_all_users(client: TestClient) -> None:
    existing = live(client)[0]["email"]
    for email in (existing.upper(), f"  {existing} ", "SALES@growcrm-sandbox.example.com"):
        response = client.post(BASE, json=new_contact(email=email))
        assert response.status_code == 422, email
        assert response.json() == TAKEN


def test_a_soft_deleted_contact_keeps_its_email(client: TestClient) -> None:
    record = live(client)[3]
    assert client.delete(f"{BASE}/{record['id']}").status_code == 200
    assert client.post(BASE, json=new_contact(email=record["email"])).json() == TAKEN


def test_update_keeps_the_email_unique_ignoring_itself(client: TestClient) -> None:
    one, two = live(client)[:2]
    body = {"first_name": two["first_name"], "last_name": two["last_name"]}
    clash = client.put(f"{BASE}/{two['id']}", json={**body, "email": one["email"]})
    assert clash.status_code == 422
    assert clash.json() == TAKEN
    same = client.put(f"{BASE}/{two['id']}", json={**body, "email": two["email"].upper()})
    assert same.status_code == 200
    assert same.json()["data"]["email"] == two["email"].upper()


# --- update, delete, account owner -----------------------------------------------------


def test_update_needs_names_and_email_every_time(client: TestClient) -> None:
    record = live(client)[5]
    response = client.put(f"{BASE}/{record['id']}", json={"phone": "555-0100"})
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"first_name", "last_name", "email"}
    assert client.get(f"{BASE}/{record['id']}").json()["data"] == record


def test_update_changes_fields_and_moves_updated(client: TestClient) -> None:
    record = next(r for r in live(client) if r["phone"] and r["account_owner"] == "no")
    body = {"first_name": "Renamed", "last_name": record["last_name"], "email": "re@example.com"}
    response = client.put(
        f"{BASE}/{record['id']}",
        json={**body, "position": "Director", "account_owner": "yes", "clientid": 5},
    )
    assert response.status_code == 200
    assert response.json()["message"] == "Contact updated successfully."
    updated = response.json()["data"]
    assert (updated["name"], updated["email"], updated["job_position"]) == (
        f"Renamed {record['last_name']}",
        "re@example.com",
        "Director",
    )
    assert updated["phone"] == record["phone"]  # not sent: kept
    assert updated["account_owner"] == "no"
    assert updated["client"] == record["client"]
    assert updated["dates"]["updated"] > record["dates"]["updated"]
    assert updated["dates"]["created"] == record["dates"]["created"]
    cleared = client.put(f"{BASE}/{record['id']}", json={**body, "phone": ""}).json()["data"]
    assert cleared["phone"] is None


def test_writes_to_unknown_or_deleted_contacts_are_404(client: TestClient) -> None:
    record = live(client)[8]
    body = {k: record[k] for k in ("first_name", "last_name", "email")}
    assert client.put(f"{BASE}/999999", json=body).status_code == 404
    assert client.delete(f"{BASE}/999999").json() == {"message": "Contact not found."}
    assert client.delete(f"{BASE}/{record['id']}").status_code == 200
    assert client.delete(f"{BASE}/{record['id']}").status_code == 404
    assert client.get(f"{BASE}/{record['id']}").status_code == 404
    assert client.put(f"{BASE}/{record['id']}", json=body).status_code == 404
    assert client.post(f"{BASE}/{record['id']}/account-owner").status_code == 404


def test_account_owner_action_moves_the_owner_within_the_client(client: TestClient) -> None:
    records = live(client)
    old = next(r for r in records if r["account_owner"] == "yes" and r["client"]["id"] == 1)
    new = next(r for r in records if r["account_owner"] == "no" and r["client"]["id"] == 1)
    response = client.post(f"{BASE}/{new['id']}/account-owner")
    assert response.status_code == 200
    assert response.json()["message"] == "Contact set as account owner successfully."
    assert response.json()["data"]["account_owner"] == "yes"
    assert response.json()["data"]["dates"]["updated"] > new["dates"]["updated"]
    after = client.get(f"{BASE}/{old['id']}").json()["data"]
    assert after["account_owner"] == "no"
    assert ids(listed(client, client_id=1, account_owner="yes")) == [new["id"]]
    others = [r for r in records if r["client"]["id"] != 1 and r["account_owner"] == "yes"]
    assert all(client.get(f"{BASE}/{r['id']}").json()["data"] == r for r in others)


def test_account_owner_action_on_a_team_member_is_409(client: TestClient) -> None:
    response = client.post(f"{BASE}/2/account-owner")
    assert response.status_code == 409
    assert response.json()["message"]
    assert client.get(f"{BASE}/{live(client)[0]['id']}/account-owner").status_code == 405


# --- rate limits and faults ------------------------------------------------------------


def test_vendor_rate_limit_answers_429_with_laravel_headers() -> None:
    client = make_client(SandboxOptions(rate_limits="vendor", rate_scale=0.1), count=3)
    first = client.get(BASE)
    assert (first.headers["X-RateLimit-Limit"], first.headers["X-RateLimit-Remaining"]) == (
        "6",
        "5",
    )
    statuses = [client.get(BASE).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    refused = client.get(BASE)
    assert refused.json() == {"message": "Too Many Attempts."}
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert int(refused.headers["X-RateLimit-Reset"]) >= int(datetime.now(UTC).timestamp())


def test_rate_limit_is_a_class_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(GrowcrmSimulator, "requests_per_minute", 2)
    client = make_client(SandboxOptions(rate_limits="vendor"), count=3)
    assert [client.get(BASE).status_code for _ in range(3)] == [200, 200, 429]


def fault_outcomes(seed: int, requests: int) -> list[str]:
    client = make_client(SandboxOptions(seed=seed, faults=0.2, slow_seconds=0), count=3)

    def check_failure(body: Any) -> None:
        assert body["message"] in ("Server Error", "Service Unavailable")

    return collect_outcomes(lambda: client.get(f"{BASE}/10"), requests, check_failure=check_failure)


def test_faults_land_at_the_configured_rate_and_repeat_with_the_seed() -> None:
    assert_faults_land_at_rate_and_repeat(fault_outcomes)


# --- mutate and reset ------------------------------------------------------------------


def test_mutate_edits_like_a_user_and_moves_updated(client: TestClient) -> None:
    before = {r["id"]: r for r in live(client)}
    mutated = client.post("/_sandbox/mutate", json={"count": 30, "seed": 5}).json()["mutated"]
    after = {r["id"]: r for r in live(client)}
    edited: Counter[str] = Counter()
    for record_id in map(int, mutated):
        old, new = before[record_id], after[record_id]
        assert new["dates"]["updated"] > old["dates"]["updated"]
        changed = [k for k in ("job_position", "email", "phone", "first_name") if old[k] != new[k]]
        assert len(changed) == 1, (old, new)
        edited[changed[0]] += 1
    assert {"job_position", "email", "phone"} <= set(edited)
    emails = [r["email"].casefold() for r in after.values()]
    assert len(emails) == len(set(emails))
    assert all(before[i] == after[i] for i in set(before) - set(map(int, mutated)))
    again = make_client().post("/_sandbox/mutate", json={"count": 30, "seed": 5})
    assert again.json()["mutated"] == mutated


def test_reset_returns_to_the_seeded_state(client: TestClient) -> None:
    seeded = live(client)
    made = client.post(BASE, json=new_contact()).json()["data"]
    client.delete(f"{BASE}/{seeded[0]['id']}")
    client.post("/_sandbox/mutate", json={"count": 5, "seed": 1})
    assert live(client) != seeded
    client.post("/_sandbox/reset")
    assert live(client) == seeded
    assert client.get("/_sandbox/stats").json()["total"] == 0
    again = client.post(BASE, json=new_contact()).json()["data"]  # its email is free again
    assert again["id"] > made["id"]


def test_mutate_can_correct_a_badly_typed_name() -> None:
    typed = SeedRecord("p-typo", "  jane", "doe", emails=["jane@example.com"])
    seed = SeedData(persons=1, records={"growcrm": [typed]}, organizations=[])
    names = set()
    for mutate_seed in range(12):
        sim = GrowcrmSimulator(SandboxOptions(seed=7), seed)
        sim.mutate(1, mutate_seed)
        (record,) = sim.store.records.values()
        names.add(record["name"])
    assert names >= {"Jane doe", "jane Doe", "jane doe"}
