"""The Pylon simulator: auth, cursor paging, search filters, writes, duplicates, limits, faults,
mutate and reset (in-process, no sockets)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from starlette.testclient import TestClient

from contactsync_sandbox._pylon_search import decode_cursor, encode_cursor
from contactsync_sandbox.common import SandboxOptions, build_app
from contactsync_sandbox.people import SeedData, SeedOrganization, SeedPhone, SeedRecord
from contactsync_sandbox.pylon import DEFAULT_CREDENTIALS, PylonSimulator
from tests.sandbox.helpers import (
    admin,
    assert_faults_land_at_rate_and_repeat,
    collect_outcomes,
    seed_name,
)

TOKEN = DEFAULT_CREDENTIALS["pylon_token"]
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ORGS = ("org-acme", "org-globex", None)
PEOPLE = 23


def make_seed(count: int = PEOPLE) -> SeedData:
    """``count`` ordinary copies plus edge cases: nickname only, no name, a shared email."""
    records = []
    for i in range(count):
        first, last = seed_name(i)
        phones = [SeedPhone(f"+1 (404) 555-{i:04d}", "mobile")]
        if i % 3 == 0:
            phones.append(SeedPhone(f"404.555.{i + 5000:04d}", "fax"))
        if i % 4 == 0:
            phones.append(SeedPhone(f"678-555-{i:04d}", "work"))
        emails = [f"{first}.{last}{i}@Example.com".replace("'", "")]
        if i % 5 == 0:
            emails.append(f" {first.lower()}{i}@home.example.net ")
        records.append(
            SeedRecord(
                person_key=f"p{i:03d}",
                first_name=first,
                last_name=last,
                middle_name="Q" if i % 6 == 0 else None,
                emails=emails,
                phones=phones,
                job_title="Claims Adjuster" if i % 2 else None,
                language="en" if i % 7 == 0 else None,
                organization_key=ORGS[i % len(ORGS)],
                organization_name={"org-acme": "Acme", "org-globex": "Globex"}.get(
                    ORGS[i % len(ORGS)] or ""
                ),
            )
        )
    records.append(
        SeedRecord("p-nick", None, "Lee", nickname="Bobby", emails=["bobby@lee.example"])
    )
    records.append(SeedRecord("p-anon", None, None, emails=["nobody@anon.example"]))
    records.append(SeedRecord("p-dup", "Susie", "Smyth", emails=["SUSIE.SMITH0@example.com"]))
    organizations = [SeedOrganization("org-acme", "Acme"), SeedOrganization("org-lone", "Lone")]
    return SeedData(persons=count + 3, records={"pylon": records}, organizations=organizations)


def make_sim(options: SandboxOptions | None = None, count: int = PEOPLE) -> PylonSimulator:
    return PylonSimulator(options or SandboxOptions(seed=7), make_seed(count))


def make_client(options: SandboxOptions | None = None, count: int = PEOPLE) -> TestClient:
    return TestClient(
        build_app(make_sim(options, count)), headers=AUTH, raise_server_exceptions=False
    )


@pytest.fixture
def client() -> TestClient:
    return make_client()


def records(client: TestClient) -> list[dict[str, Any]]:
    """Every stored contact as the API shows it (Pylon deletes for good: none is hidden)."""
    rows: list[dict[str, Any]] = admin(client)["records"]
    assert not any(r.pop("_deleted") for r in rows)
    return rows


def by_name(client: TestClient, name: str) -> dict[str, Any]:
    return next(r for r in records(client) if r["name"] == name)


def assert_error(response: Any, status: int, *fragments: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert isinstance(body["errors"], list)
    assert body["errors"]
    assert isinstance(body["request_id"], str)
    assert body["request_id"]
    text = " ".join(body["errors"]).lower()
    for fragment in fragments:
        assert fragment.lower() in text, body
    return body


def list_all(client: TestClient, limit: int) -> tuple[list[dict[str, Any]], int]:
    rows: list[dict[str, Any]] = []
    cursor, requests = None, 0
    while True:
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/contacts", params=params)
        requests += 1
        assert page.status_code == 200, page.text
        body = page.json()
        rows += body["data"]
        if not body["pagination"]["has_next_page"]:
            assert body["pagination"]["cursor"] == ""
            return rows, requests
        cursor = body["pagination"]["cursor"]


def search(client: TestClient, flt: dict[str, Any], **extra: Any) -> Any:
    return client.post("/contacts/search", json={"filter": flt, **extra})


def search_ids(client: TestClient, flt: dict[str, Any]) -> set[str]:
    response = search(client, flt, limit=999)
    assert response.status_code == 200, response.text
    return {r["id"] for r in response.json()["data"]}


# --- seed --------------------------------------------------------------------------------


def test_seed_makes_contacts_the_way_pylon_shows_them(client: TestClient) -> None:
    rows = records(client)
    assert len(rows) == PEOPLE + 3
    truth = client.get("/_sandbox/truth").json()
    keys = [f"p{i:03d}" for i in range(PEOPLE)] + ["p-nick", "p-anon", "p-dup"]
    assert sorted(truth.values()) == sorted(keys)
    assert set(truth) == {r["id"] for r in rows}
    first = by_name(client, "Susie Smith")
    assert first["email"] == "Susie.Smith0@Example.com"
    assert first["emails"] == ["Susie.Smith0@Example.com", "susie0@home.example.net"]
    assert first["phone_numbers"] == ["14045550000", "6785550000"]  # digits; fax left out
    assert first["primary_phone_number"] == "14045550000"
    accounts = {a["id"]: a for a in admin(client)["accounts"]}
    assert first["account"]["id"] in accounts
    assert first["account"]["id"].startswith("acc_")
    assert accounts[first["account"]["id"]]["name"] == "Acme"
    assert "Lone" in {a["name"] for a in accounts.values()}
    assert by_name(client, "Bobby Lee")["email"] == "bobby@lee.example"
    assert by_name(client, "nobody")["emails"] == ["nobody@anon.example"]
    assert all("_version" not in r and "updated" not in r for r in rows)
    without_account = [r for r in rows if "account" not in r]
    assert without_account
    assert all(r.get("email") is not None for r in rows if r["emails"])


def test_a_copy_whose_email_is_taken_is_seeded_without_it() -> None:
    client = make_client()
    dup = by_name(client, "Susie Smyth")
    assert dup["emails"] == []
    assert "email" not in dup


def test_seed_is_deterministic() -> None:
    assert records(make_client()) == records(make_client())
    other = records(make_client(SandboxOptions(seed=8)))
    assert {r["id"] for r in other}.isdisjoint({r["id"] for r in records(make_client())})


# --- auth --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [None, f"Basic {TOKEN}", "Bearer wrong-token", f"Bearer {TOKEN}x", "Bearer"],
)
def test_auth_refusals(header: str | None) -> None:
    client = TestClient(build_app(make_sim()))
    headers = {"Authorization": header} if header else {}
    body = assert_error(client.get("/contacts", headers=headers), 401, "unauthorized")
    assert TOKEN not in str(body)
    assert client.post("/contacts", headers=headers, json={"name": "X"}).status_code == 401


def test_configured_credentials_replace_the_default() -> None:
    sim = make_sim(SandboxOptions(credentials={"pylon_token": "tenant-secret"}))
    client = TestClient(build_app(sim))
    assert client.get("/contacts", headers=AUTH).status_code == 401
    ok = client.get("/contacts", headers={"Authorization": "bearer tenant-secret"})
    assert ok.status_code == 200


# --- list and paging ---------------------------------------------------------------------


def test_paging_to_the_end_with_the_cursor(client: TestClient) -> None:
    rows, requests = list_all(client, limit=5)
    assert requests == 6  # 26 contacts, 5 a page; the 6th page says has_next_page false
    assert len(rows) == len({r["id"] for r in rows}) == PEOPLE + 3
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)
    assert {r["id"] for r in rows} == {r["id"] for r in records(client)}
    assert list_all(client, limit=PEOPLE + 3)[1] == 1
    assert list_all(client, limit=PEOPLE + 2)[1] == 2


def test_default_and_bounds_of_limit(client: TestClient) -> None:
    body = client.get("/contacts").json()
    assert len(body["data"]) == PEOPLE + 3
    assert body["pagination"] == {"cursor": "", "has_next_page": False}
    assert isinstance(body["request_id"], str)
    big = make_client(count=130).get("/contacts").json()
    assert len(big["data"]) == 100
    assert big["pagination"]["has_next_page"] is True
    assert client.get("/contacts", params={"limit": 999}).status_code == 200
    for bad in ("0", "1000", "-1", "ten", "1.5"):
        assert_error(client.get("/contacts", params={"limit": bad}), 400, "limit")


@pytest.mark.parametrize("cursor", ["not-base64!", encode_cursor("")[:-2] + "xx", "Zm9vYmFy"])
def test_bad_cursor_is_400(client: TestClient, cursor: str) -> None:
    assert_error(client.get("/contacts", params={"cursor": cursor}), 400, "cursor")


def test_cursor_is_opaque_and_survives_a_delete_between_pages(client: TestClient) -> None:
    first = client.get("/contacts", params={"limit": 4}).json()
    cursor = first["pagination"]["cursor"]
    assert first["data"][-1]["id"] not in cursor
    assert decode_cursor(cursor) == first["data"][-1]["id"]
    assert client.delete(f"/contacts/{first['data'][-1]['id']}").status_code == 200
    second = client.get("/contacts", params={"limit": 4, "cursor": cursor}).json()
    everything = sorted(r["id"] for r in records(client))
    assert [r["id"] for r in second["data"]] == everything[3:7]


# --- search ------------------------------------------------------------------------------


def test_search_by_id(client: TestClient) -> None:
    ids = sorted(r["id"] for r in records(client))
    assert search_ids(client, {"field": "id", "operator": "equals", "value": ids[2]}) == {ids[2]}
    assert search_ids(client, {"field": "id", "operator": "in", "values": ids[:3]}) == set(ids[:3])
    rest = search_ids(client, {"field": "id", "operator": "not_in", "values": ids[:3]})
    assert rest == set(ids[3:])


def test_search_by_email_matches_any_address_ignoring_case(client: TestClient) -> None:
    susie = by_name(client, "Susie Smith")
    flt = {"field": "email", "operator": "equals", "value": "SUSIE0@home.EXAMPLE.net"}
    assert search_ids(client, flt) == {susie["id"]}
    found = search_ids(
        client, {"field": "email", "operator": "in", "values": ["bobby@LEE.example", "x@y.z"]}
    )
    assert found == {by_name(client, "Bobby Lee")["id"]}
    contains = search_ids(
        client, {"field": "email", "operator": "string_contains", "value": "@HOME."}
    )
    assert contains == {r["id"] for r in records(client) if any("@home." in e for e in r["emails"])}
    assert len(contains) == 5
    not_in = search_ids(
        client, {"field": "email", "operator": "not_in", "values": ["bobby@lee.example"]}
    )
    assert not_in == {r["id"] for r in records(client)} - {by_name(client, "Bobby Lee")["id"]}


def test_search_by_account_and_custom_field(client: TestClient) -> None:
    rows = records(client)
    acme = by_name(client, "Susie Smith")["account"]["id"]
    in_acme = {r["id"] for r in rows if r.get("account", {}).get("id") == acme}
    assert (
        search_ids(client, {"field": "account_id", "operator": "equals", "value": acme}) == in_acme
    )
    assert (
        search_ids(client, {"field": "account_id", "operator": "in", "values": [acme]}) == in_acme
    )
    outside = search_ids(client, {"field": "account_id", "operator": "not_in", "values": [acme]})
    assert outside == {r["id"] for r in rows} - in_acme
    adjusters = {r["id"] for r in rows if "job_title" in r["custom_fields"]}
    flt = {"field": "job_title", "operator": "equals", "value": "claims adjuster"}
    assert search_ids(client, flt) == adjusters
    assert search_ids(client, {"field": "language", "operator": "is_set"}) == {
        r["id"] for r in rows if "language" in r["custom_fields"]
    }


def test_search_and_or_combine_up_to_depth_three(client: TestClient) -> None:
    rows = records(client)
    acme = by_name(client, "Susie Smith")["account"]["id"]
    bobby = by_name(client, "Bobby Lee")["id"]
    in_acme = {"field": "account_id", "operator": "equals", "value": acme}
    adjuster = {"field": "job_title", "operator": "equals", "value": "Claims Adjuster"}
    both = {"field": "", "operator": "and", "subfilters": [in_acme, adjuster]}
    expected = {
        r["id"]
        for r in rows
        if r.get("account", {}).get("id") == acme and "job_title" in r["custom_fields"]
    }
    assert expected
    assert search_ids(client, both) == expected
    either = {
        "field": "",
        "operator": "or",
        "subfilters": [both, {"field": "id", "operator": "equals", "value": bobby}],
    }
    assert search_ids(client, either) == expected | {bobby}
    too_deep = {"operator": "or", "subfilters": [{"operator": "and", "subfilters": [both]}]}
    assert_error(search(client, too_deep), 400, "depth")


@pytest.mark.parametrize(
    ("flt", "fragment"),
    [
        ({"field": "name", "operator": "equals", "value": "Susie Smith"}, "not filterable"),
        ({"field": "id", "operator": "string_contains", "value": "a"}, "not allowed"),
        ({"field": "email", "operator": "time_is_after", "value": "x"}, "not allowed"),
        ({"field": "email", "operator": "in", "value": "a@b.c"}, "values"),
        ({"field": "email", "operator": "equals"}, "value"),
        ({"field": "email"}, "operator"),
        ({"operator": "equals", "value": "x"}, "field"),
        ({"field": "", "operator": "and", "subfilters": []}, "subfilters"),
        ("email", "filter"),
    ],
)
def test_search_refuses_what_pylon_does_not_allow(
    client: TestClient, flt: Any, fragment: str
) -> None:
    assert_error(search(client, flt), 400, fragment)


def test_search_needs_a_filter_and_pages_with_cursor_and_limit_in_the_body(
    client: TestClient,
) -> None:
    assert_error(client.post("/contacts/search", json={"limit": 5}), 400, "filter")
    assert_error(client.post("/contacts/search", content=b"{nope"), 400, "json")
    flt = {"field": "email", "operator": "string_contains", "value": "example"}
    expected = search_ids(client, flt)
    seen: list[str] = []
    cursor, requests = "", 0
    while True:
        body = search(client, flt, limit=4, cursor=cursor).json()
        requests += 1
        seen += [r["id"] for r in body["data"]]
        if not body["pagination"]["has_next_page"]:
            break
        cursor = body["pagination"]["cursor"]
    assert set(seen) == expected
    assert len(seen) == len(expected)
    assert requests == -(-len(expected) // 4)
    assert_error(search(client, flt, limit=0), 400, "limit")
    assert_error(search(client, flt, limit="5"), 400, "limit")
    assert_error(search(client, flt, cursor="bogus"), 400, "cursor")


# --- create --------------------------------------------------------------------------------


def test_create_returns_the_contact(client: TestClient) -> None:
    acme = by_name(client, "Susie Smith")["account"]
    body = {
        "name": "Dana Scully",
        "email": "dana@fbi.example",
        "phone_numbers": ["12025550143", "12025550199"],
        "account_external_id": "org-acme",
        "external_ids": [{"external_id": "cs-1", "label": "contactsync"}],
        "avatar_url": "https://img.example/dana.JPEG",
        "portal_role": "admin",
        "custom_fields": [{"slug": "job_title", "value": "Agent"}],
        "ignored_by_go": True,
    }
    response = client.post("/contacts", json=body)
    assert response.status_code == 200, response.text
    made = response.json()["data"]
    assert response.json()["request_id"]
    assert made == {
        "id": made["id"],
        "name": "Dana Scully",
        "email": "dana@fbi.example",
        "emails": ["dana@fbi.example"],
        "phone_numbers": ["12025550143", "12025550199"],
        "primary_phone_number": "12025550143",
        "account": acme,
        "external_ids": [{"external_id": "cs-1", "label": "contactsync"}],
        "avatar_url": "https://img.example/dana.JPEG",
        "portal_role": "admin",
        "custom_fields": {"job_title": {"slug": "job_title", "value": "Agent"}},
        "integration_user_ids": [],
    }
    assert client.get(f"/contacts/{made['id']}").json()["data"] == made
    minimal = client.post("/contacts", json={"name": "Just A Name"}).json()["data"]
    assert minimal["portal_role"] == "member"
    assert minimal["emails"] == []
    assert "email" not in minimal
    with_primary = {"name": "P", "phone_numbers": ["1", "2"], "primary_phone_number": "2"}
    assert client.post("/contacts", json=with_primary).json()["data"]["primary_phone_number"] == "2"
    by_id = client.post("/contacts", json={"name": "Q", "account_id": acme["id"]}).json()["data"]
    assert by_id["account"] == acme


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({}, 400, "name is required"),
        ({"name": "  "}, 400, "name is required"),
        ({"name": 7}, 400, '"name" must be a string'),
        ({"name": "A", "email": "not-an-email"}, 400, "invalid email"),
        ({"name": "A", "phone_numbers": ["+1 404 555 0101"]}, 400, "only digits"),
        ({"name": "A", "phone_numbers": ["1234567890123456"]}, 400, "15 digits"),
        ({"name": "A", "phone_numbers": "14045550101"}, 400, "array of strings"),
        ({"name": "A", "phone_numbers": ["1"], "primary_phone_number": "2"}, 400, "primary"),
        ({"name": "A", "account_id": "acc_x", "account_external_id": "y"}, 400, "together"),
        ({"name": "A", "account_id": "acc_missing"}, 404, "account acc_missing not found"),
        ({"name": "A", "account_external_id": "nope"}, 404, "external id nope"),
        ({"name": "A", "avatar_url": "https://img.example/a.gif"}, 400, ".png"),
        ({"name": "A", "avatar_url": "a.png"}, 400, "avatar_url"),
        ({"name": "A", "portal_role": "owner"}, 400, "portal_role"),
        ({"name": "A", "portal_role_id": "role_1"}, 404, "portal role"),
        ({"name": "A", "custom_fields": [{"slug": "shoe_size", "value": "9"}]}, 400, "shoe_size"),
        ({"name": "A", "custom_fields": [{"slug": "job_title", "values": ["a"]}]}, 400, "single"),
        ({"name": "A", "external_ids": [{"label": "x"}]}, 400, "external_id is required"),
        (
            {
                "name": "A",
                "external_ids": [
                    {"external_id": "1", "label": "x"},
                    {"external_id": "2", "label": "x"},
                ],
            },
            400,
            "label",
        ),
        ([{"name": "A"}], 400, "json object"),
    ],
)
def test_create_validates_each_field(
    client: TestClient, body: Any, status: int, fragment: str
) -> None:
    before = len(records(client))
    assert_error(client.post("/contacts", json=body), status, fragment)
    assert len(records(client)) == before


def test_malformed_json_is_400(client: TestClient) -> None:
    assert_error(client.post("/contacts", content=b'{"name": '), 400, "json")


def test_duplicate_email_answers_exists_id(client: TestClient) -> None:
    susie = by_name(client, "Susie Smith")
    for email in ("SUSIE.SMITH0@example.COM", "susie0@home.example.net"):
        body = assert_error(client.post("/contacts", json={"name": "S", "email": email}), 400)
        assert body["exists_id"] == susie["id"]
        assert "already exists" in body["errors"][0]
    made = client.post("/contacts", json={"name": "X", "external_ids": [{"external_id": "e-1"}]})
    again = client.post("/contacts", json={"name": "Y", "external_ids": [{"external_id": "e-1"}]})
    assert assert_error(again, 400, "already exists")["exists_id"] == made.json()["data"]["id"]


# --- get, update, delete ---------------------------------------------------------------------


def test_get_with_or_without_the_spec_limit_and_404(client: TestClient) -> None:
    some = records(client)[0]
    assert client.get(f"/contacts/{some['id']}").json()["data"]["id"] == some["id"]
    assert client.get(f"/contacts/{some['id']}", params={"limit": 1}).status_code == 200
    assert_error(client.get(f"/contacts/{some['id']}", params={"limit": 0}), 400, "limit")
    assert_error(client.get("/contacts/no-such-id"), 404, "not found")


def test_update_changes_only_what_it_is_given() -> None:
    sim = make_sim()
    client = TestClient(build_app(sim), headers=AUTH)
    susie = by_name(client, "Susie Smith")
    version = sim.version(susie["id"])
    response = client.patch(f"/contacts/{susie['id']}", json={"name": "Susan Smith"})
    assert response.status_code == 200, response.text
    assert response.json()["data"] == {**susie, "name": "Susan Smith"}
    assert sim.version(susie["id"]) == version + 1
    assert client.patch(f"/contacts/{susie['id']}", json={}).json()["data"]["name"] == "Susan Smith"
    assert sim.version(susie["id"]) == version + 1  # nothing changed, nothing moved
    phones = client.patch(f"/contacts/{susie['id']}", json={"phone_numbers": ["5", "6"]}).json()
    assert phones["data"]["phone_numbers"] == ["5", "6"]
    assert phones["data"]["primary_phone_number"] == "5"
    primary = client.patch(f"/contacts/{susie['id']}", json={"primary_phone_number": "6"})
    assert primary.json()["data"]["primary_phone_number"] == "6"
    assert_error(client.patch(f"/contacts/{susie['id']}", json={"primary_phone_number": "7"}), 400)
    ext = client.patch(f"/contacts/{susie['id']}", json={"external_ids": [{"external_id": "a"}]})
    assert ext.json()["data"]["external_ids"] == [{"external_id": "a"}]
    ext = client.patch(f"/contacts/{susie['id']}", json={"external_ids": [{"external_id": "b"}]})
    assert ext.json()["data"]["external_ids"] == [{"external_id": "b"}]
    titled = client.patch(
        f"/contacts/{susie['id']}", json={"custom_fields": [{"slug": "job_title", "value": "VP"}]}
    ).json()["data"]
    assert titled["custom_fields"]["job_title"] == {"slug": "job_title", "value": "VP"}
    unset = client.patch(
        f"/contacts/{susie['id']}", json={"custom_fields": [{"slug": "job_title"}]}
    ).json()["data"]
    assert "job_title" not in unset["custom_fields"]


def test_update_emails(client: TestClient) -> None:
    susie = by_name(client, "Susie Smith")
    url = f"/contacts/{susie['id']}"
    both = client.patch(url, json={"email": "a@x.example", "emails": [{"email": "b@x.example"}]})
    assert_error(both, 400, "email and emails cannot be used together")
    listed = client.patch(
        url,
        json={"emails": [{"email": "a@x.example"}, {"email": "b@x.example", "is_primary": True}]},
    ).json()["data"]
    assert listed["emails"] == ["b@x.example", "a@x.example"]
    assert listed["email"] == "b@x.example"
    first = client.patch(url, json={"emails": [{"email": "c@x.example"}, {"email": "d@x.example"}]})
    assert first.json()["data"]["email"] == "c@x.example"
    promoted = client.patch(url, json={"email": "D@x.example"}).json()["data"]
    assert promoted["emails"] == ["D@x.example", "c@x.example"]
    replaced = client.patch(url, json={"email": "e@x.example"}).json()["data"]
    assert replaced["emails"] == ["e@x.example", "c@x.example"]
    cleared = client.patch(url, json={"emails": []}).json()["data"]
    assert cleared["emails"] == []
    assert "email" not in cleared
    two_primaries = [{"email": "f@x.example", "is_primary": True}] * 2
    assert_error(client.patch(url, json={"emails": two_primaries}), 400)
    assert_error(client.patch(url, json={"emails": [{"is_primary": True}]}), 400, "needs an email")


def test_update_duplicates_validation_and_404(client: TestClient) -> None:
    susie, bobby = by_name(client, "Susie Smith"), by_name(client, "Bobby Lee")
    taken = client.patch(f"/contacts/{susie['id']}", json={"email": "BOBBY@lee.example"})
    assert assert_error(taken, 400, "already exists")["exists_id"] == bobby["id"]
    own = client.patch(f"/contacts/{susie['id']}", json={"email": susie["emails"][1].upper()})
    assert own.status_code == 200
    assert_error(client.patch(f"/contacts/{susie['id']}", json={"name": ""}), 400, "name")
    assert_error(client.patch(f"/contacts/{susie['id']}", json={"portal_role": "x"}), 400)
    assert_error(client.patch("/contacts/missing", json={"name": "X"}), 404, "not found")
    assert by_name(client, "Bobby Lee") == bobby


def test_freed_email_can_be_taken_again(client: TestClient) -> None:
    bobby = by_name(client, "Bobby Lee")
    client.patch(f"/contacts/{bobby['id']}", json={"email": "robert@lee.example"})
    # the PATCH email replaced the primary: the old address is free
    reuse = client.post("/contacts", json={"name": "B", "email": "bobby@lee.example"})
    assert reuse.status_code == 200, reuse.text


def test_delete_is_permanent(client: TestClient) -> None:
    bobby = by_name(client, "Bobby Lee")
    response = client.delete(f"/contacts/{bobby['id']}")
    assert response.status_code == 200
    assert set(response.json()) == {"request_id"}
    assert_error(client.get(f"/contacts/{bobby['id']}"), 404)
    assert_error(client.delete(f"/contacts/{bobby['id']}"), 404)
    assert bobby["id"] not in {r["id"] for r in records(client)}
    assert client.post("/contacts", json={"name": "B", "email": "bobby@lee.example"}).is_success


# --- rate limits and faults ------------------------------------------------------------------


def test_vendor_rate_limits_per_endpoint_with_quota_headers() -> None:
    client = make_client(SandboxOptions(rate_limits="vendor", rate_scale=0.1))
    flt = {"field": "id", "operator": "in", "values": []}
    answers = [search(client, flt) for _ in range(3)]  # search: 20/min * 0.1 = 2
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["1", "0", "0"]
    assert {a.headers["X-RateLimit-Limit"] for a in answers} == {"2"}
    refused = answers[2]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert int(refused.headers["X-RateLimit-Reset"]) >= int(answers[0].headers["X-RateLimit-Reset"])
    assert_error(refused, 429, "rate limit")
    listed = client.get("/contacts")  # another endpoint, another bucket: 60 * 0.1 = 6
    assert listed.status_code == 200
    assert listed.headers["X-RateLimit-Limit"] == "6"
    assert listed.headers["X-RateLimit-Remaining"] == "5"
    ids = [r["id"] for r in records(client)]
    deletes = [client.delete(f"/contacts/{i}").status_code for i in ids[:2]]
    assert deletes == [200, 429]  # delete: 10/min * 0.1 = 1


def test_no_limits_and_no_quota_headers_when_off(client: TestClient) -> None:
    flt = {"field": "id", "operator": "in", "values": []}
    assert all(search(client, flt).status_code == 200 for _ in range(30))
    assert "X-RateLimit-Remaining" not in client.get("/contacts").headers


def fault_outcomes(seed: int, requests: int) -> list[str]:
    client = make_client(SandboxOptions(seed=seed, faults=0.2, slow_seconds=0), count=3)

    def check_failure(body: Any) -> None:
        assert body["errors"]
        assert body["request_id"]

    return collect_outcomes(lambda: client.get("/contacts"), requests, check_failure=check_failure)


def test_faults_land_at_the_configured_rate_and_repeat_with_the_seed() -> None:
    assert_faults_land_at_rate_and_repeat(fault_outcomes)


# --- mutate and reset -----------------------------------------------------------------------

EDITS = {
    "job_title": {"custom_fields"},
    "email": {"email", "emails"},
    "phone": {"phone_numbers", "primary_phone_number"},
    "name": {"name"},
}


def test_mutate_edits_like_a_user_and_moves_the_hidden_version(client: TestClient) -> None:
    before = {r["id"]: r for r in records(client)}
    versions = admin(client)["versions"]
    mutated = client.post("/_sandbox/mutate", json={"count": 20, "seed": 5}).json()["mutated"]
    assert len(mutated) == 20
    after = {r["id"]: r for r in records(client)}
    new_versions = admin(client)["versions"]
    edited: Counter[str] = Counter()
    for record_id in mutated:
        old, new = before[record_id], after[record_id]
        assert new_versions[record_id] == versions[record_id] + 1
        changed = {k for k in old.keys() | new.keys() if old.get(k) != new.get(k)}
        assert changed in EDITS.values(), changed
        edited[next(kind for kind, fields in EDITS.items() if fields == changed)] += 1
        assert all(p.isdigit() and len(p) <= 15 for p in new["phone_numbers"])
    assert set(edited) >= {"job_title", "email", "phone"}, edited
    assert all(before[i] == after[i] for i in set(before) - set(mutated))
    emails = [e.lower() for r in after.values() for e in r["emails"]]
    assert len(emails) == len(set(emails))  # never a duplicate address
    assert make_client().post("/_sandbox/mutate", json={"count": 20, "seed": 5}).json() == {
        "mutated": mutated
    }


def test_reset_returns_to_the_seeded_state(client: TestClient) -> None:
    seeded = records(client)
    bobby = by_name(client, "Bobby Lee")
    made = client.post("/contacts", json={"name": "Temp", "email": "temp@x.example"}).json()
    client.patch(f"/contacts/{bobby['id']}", json={"email": "new@lee.example"})
    client.delete(f"/contacts/{seeded[0]['id']}")
    client.post("/_sandbox/mutate", json={"count": 5, "seed": 1})
    assert records(client) != seeded
    assert client.post("/_sandbox/reset").json() == {"reset": True}
    assert records(client) == seeded
    assert client.get("/_sandbox/stats").json()["total"] == 0
    # the duplicate index follows the reset: the seeded address is taken again, the temp one free
    again = client.post("/contacts", json={"name": "B", "email": "bobby@lee.example"})
    assert again.json()["exists_id"] == bobby["id"]
    assert client.post("/contacts", json={"name": "T", "email": "temp@x.example"}).is_success
    assert made["data"]["id"] not in {r["id"] for r in seeded}
