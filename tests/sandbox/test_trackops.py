"""The Trackops simulator: auth, paging, filters, writes, duplicates, limits, faults, mutate."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from contactsync_sandbox.common import SandboxOptions, build_app
from contactsync_sandbox.people import SeedData, SeedRecord
from contactsync_sandbox.trackops import TrackopsSimulator
from tests.sandbox.helpers import (
    assert_faults_land_at_rate_and_repeat,
    basic,
    collect_outcomes,
    live_records,
    seed_address,
    seed_birthday,
    seed_copy,
    seed_phones,
)

BASE = "/api/v1/client/contacts"
ORGS = ("org-acme", "org-globex", "org-initech", None)
PLACED = 60
FMT = "%Y-%m-%d %H:%M:%S"


AUTH = basic("sandbox/token", "sandbox-trackops-token")


def make_seed(count: int = PLACED) -> SeedData:
    """``count`` copies with distinct names, plus one without a last name (not placeable)."""
    records = [
        seed_copy(
            i,
            phones=seed_phones(i, fax=True),
            organization_key=ORGS[i % len(ORGS)],
            address=seed_address(i),
            birthday=seed_birthday(i),
        )
        for i in range(count)
    ]
    records.append(SeedRecord(person_key="p-nolast", first_name="Cher", last_name=None))
    return SeedData(persons=count + 1, records={"trackops": records}, organizations=[])


def make_client(options: SandboxOptions | None = None, count: int = PLACED) -> TestClient:
    sim = TrackopsSimulator(options or SandboxOptions(seed=7), make_seed(count))
    # a dropped connection (fault injection) must reach the test as a broken body
    return TestClient(
        build_app(sim), headers={"Authorization": AUTH}, raise_server_exceptions=False
    )


@pytest.fixture
def client() -> TestClient:
    return make_client()


def listed_ids(http: TestClient, /, **params: Any) -> list[int]:
    response = http.get(BASE, params={"per_page": 100, **params})
    assert response.status_code == 200, response.text
    return [row["id"] for row in response.json()]


def create(client: TestClient, allow: bool | None = None, **fields: Any) -> Any:
    contact = {"client_id": 12345, "role_id": 6, **fields}
    body: dict[str, Any] = {"contact": contact}
    if allow is not None:
        body["allow_duplicates"] = allow
    return client.post(BASE, json=body)


# --- seeding ---------------------------------------------------------------------------


def test_seed_places_copies_with_a_last_name_and_keeps_the_truth(client: TestClient) -> None:
    records = live_records(client)
    truth = client.get("/_sandbox/truth").json()
    assert len(records) == PLACED
    assert sorted(truth.values()) == [f"p{i:03d}" for i in range(PLACED)]
    assert all(r["account_code"] is None for r in records)
    first = next(r for r in records if truth[str(r["id"])] == "p000")
    assert first["phone_mobile"] == "(404) 555-0000"
    assert first["phone_office"] == "+1 678-555-0000"
    assert first["phone_fax"] == "404.555.5000"
    assert (first["address_1"], first["address_2"], first["state"], first["zip"]) == (
        "1 Peachtree St",
        "Suite 200",
        "GA",
        "30303",
    )
    assert first["birthday"] == "1980-01-01"
    now = datetime.now(UTC).replace(tzinfo=None)
    for record in records:
        created = datetime.strptime(record["created"], FMT)
        updated = datetime.strptime(record["updated"], FMT)
        assert now - timedelta(days=731) < created <= updated < now
        assert record["client_id"] in (12345, 12346, 22345, 22346, 32345)


def test_seed_is_deterministic_and_keeps_organizations_together() -> None:
    one, two = live_records(make_client()), live_records(make_client())
    assert one == two
    assert one != live_records(make_client(SandboxOptions(seed=8)))
    by_org: dict[str, set[int]] = {}
    for i, record in enumerate(one):
        org = ORGS[i % len(ORGS)]
        if org is not None:
            by_org.setdefault(org, set()).add(record["client_id"])
    assert all(len(locations) == 1 for locations in by_org.values())


# --- auth ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        None,
        basic("sandbox/token", "wrong-token"),
        basic("sandbox", "sandbox-trackops-token"),
        basic("other/token", "sandbox-trackops-token"),
        "Basic not-base64!!",
        "Bearer sandbox-trackops-token",
    ],
)
def test_auth_refusals(client: TestClient, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    client.headers.pop("Authorization")
    response = client.get(BASE, headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert "message" in response.json()
    assert "sandbox-trackops-token" not in response.text


def test_configured_credentials_replace_the_defaults() -> None:
    creds = {"trackops_username": "ops", "trackops_token": "s3cret"}
    client = make_client(SandboxOptions(credentials=creds))
    assert client.get(BASE).status_code == 401
    assert client.get(BASE, headers={"Authorization": basic("ops/token", "s3cret")}).is_success


# --- paging ----------------------------------------------------------------------------


@pytest.mark.parametrize(("per_page", "requests"), [(25, 3), (20, 4), (100, 1)])
def test_paging_to_the_end_stops_on_a_short_page(
    client: TestClient, per_page: int, requests: int
) -> None:
    seen: list[int] = []
    page, calls = 1, 0
    while True:
        rows = client.get(BASE, params={"page": page, "per_page": per_page}).json()
        calls += 1
        seen.extend(row["id"] for row in rows)
        if len(rows) < per_page:
            break
        page += 1
    assert calls == requests
    assert seen == sorted(seen)
    assert len(set(seen)) == PLACED


def test_default_page_size_and_count_mode(client: TestClient) -> None:
    assert len(client.get(BASE).json()) == 25
    assert client.get(BASE, params={"mode": "count"}).json() == {
        "record_count": PLACED,
        "page_count": 3,
    }
    counted = client.get(BASE, params={"mode": "count", "per_page": 7, "role": 7}).json()
    sevens = [r for r in live_records(client) if r["role_id"] == 7]
    assert counted == {"record_count": len(sevens), "page_count": -(-len(sevens) // 7)}
    assert client.get(BASE, params={"page": 9}).json() == []


@pytest.mark.parametrize(
    "params",
    [
        {"per_page": 101},
        {"per_page": 0},
        {"page": 0},
        {"page": "two"},
        {"mode": "sum"},
        {"id": "1e3"},
        {"role": "six"},
    ],
)
def test_bad_list_parameters_answer_400_naming_the_parameter(
    client: TestClient, params: dict[str, Any]
) -> None:
    response = client.get(BASE, params=params)
    assert response.status_code == 400
    assert next(iter(params)) in response.json()["message"]


# --- filters ---------------------------------------------------------------------------


def test_each_id_filter(client: TestClient) -> None:
    records = live_records(client)
    some = records[17]
    assert listed_ids(client, id=some["id"]) == [some["id"]]
    cases = {
        "client": ("client", 100),
        "client_location": ("client_id", 12346),
        "role": ("role_id", 7),
    }
    for param, (key, value) in cases.items():
        expected = [r["id"] for r in records if r[key] == value]
        assert 0 < len(expected) < PLACED, param
        assert listed_ids(client, **{param: value}) == expected, param
    by_salesperson = [r["id"] for r in records if r["client"] in (100, 300)]
    assert listed_ids(client, salesperson=501) == by_salesperson
    assert listed_ids(client, salesperson=999) == []


def test_name_and_email_filters_ignore_case(client: TestClient) -> None:
    records = live_records(client)
    garcias = [r["id"] for r in records if r["last_name"] == "Garcia"]
    assert len(garcias) > 1
    assert listed_ids(client, last_name="GARCIA") == garcias
    wei = [r["id"] for r in records if r["first_name"] == "Wei"]
    assert listed_ids(client, first_name="wei") == wei
    both = [r["id"] for r in records if r["first_name"] == "Wei" and r["client"] == 100]
    assert listed_ids(client, first_name="wei", client=100) == both
    target = records[5]
    assert listed_ids(client, email=target["email"].upper()) == [target["id"]]
    assert listed_ids(client, email="nobody@example.com") == []


@pytest.mark.parametrize("key", ["created", "updated"])
def test_time_filters_are_inclusive_and_take_several_formats(client: TestClient, key: str) -> None:
    records = live_records(client)
    pivot = sorted(records, key=lambda r: r[key])[PLACED // 2]
    moment = datetime.strptime(pivot[key], FMT)
    after = [r["id"] for r in records if r[key] >= pivot[key]]
    before = [r["id"] for r in records if r[key] <= pivot[key]]
    assert listed_ids(client, **{f"{key}_from": pivot[key]}) == after
    assert listed_ids(client, **{f"{key}_to": pivot[key]}) == before
    iso_z = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    offset = (moment + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S+02:00")
    assert listed_ids(client, **{f"{key}_from": iso_z}) == after
    assert listed_ids(client, **{f"{key}_from": offset}) == after
    later = (moment + timedelta(microseconds=500)).isoformat() + "Z"
    assert pivot["id"] not in listed_ids(client, **{f"{key}_from": later})
    assert pivot["id"] in listed_ids(client, **{f"{key}_to": later})
    window = {f"{key}_from": pivot[key], f"{key}_to": pivot[key]}
    assert pivot["id"] in listed_ids(client, **window)
    day = pivot[key][:10]
    same_day = [r["id"] for r in records if r[key][:10] <= day]
    assert listed_ids(client, **{f"{key}_to": day}) == same_day


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01", "2026-06-15 25:00:00", "1718000000"])
def test_unparseable_timestamps_answer_400(client: TestClient, value: str) -> None:
    response = client.get(BASE, params={"updated_from": value})
    assert response.status_code == 400
    assert "updated_from" in response.json()["message"]


def test_expand_field_values_is_a_boolean(client: TestClient) -> None:
    plain = client.get(BASE).json()
    assert client.get(BASE, params={"expand_field_values": "true"}).json() == plain
    assert client.get(BASE, params={"expand_field_values": "maybe"}).status_code == 400


# --- get -------------------------------------------------------------------------------


def test_get_one_and_404s(client: TestClient) -> None:
    record = live_records(client)[3]
    got = client.get(f"{BASE}/{record['id']}")
    assert got.status_code == 200
    assert got.json() == {k: v for k, v in record.items() if k != "_deleted"}
    for missing in ("999999", "abc"):
        response = client.get(f"{BASE}/{missing}")
        assert response.status_code == 404
        assert missing in response.json()["message"]


def test_soft_deleted_contacts_are_hidden() -> None:
    sim = TrackopsSimulator(SandboxOptions(seed=7), make_seed())
    client = TestClient(build_app(sim), headers={"Authorization": AUTH})
    hidden = min(sim.store.records, key=int)
    sim.store.deleted.add(hidden)
    assert client.get(f"{BASE}/{hidden}").status_code == 404
    assert int(hidden) not in listed_ids(client)
    assert client.get(BASE, params={"mode": "count"}).json()["record_count"] == PLACED - 1
    assert client.delete(f"{BASE}/{hidden}").status_code == 405


# --- create ----------------------------------------------------------------------------


def test_create_returns_the_contact_with_server_fields(client: TestClient) -> None:
    before = max(r["id"] for r in live_records(client))
    response = create(client, first_name="Zed", last_name="Quimby", email="zed@example.com")
    assert response.status_code == 200
    made = response.json()
    assert made["id"] > before
    assert (made["client_id"], made["client"], made["role_id"]) == (12345, 100, 6)
    assert made["created"] == made["updated"]
    assert made["account_code"] is None
    assert made["title"] is None
    assert client.get(f"{BASE}/{made['id']}").json() == made
    assert listed_ids(client, updated_from=made["updated"])[-1] == made["id"]
    assert client.get(BASE, params={"mode": "count"}).json()["record_count"] == PLACED + 1


def test_create_names_every_missing_required_field(client: TestClient) -> None:
    response = client.post(BASE, json={"contact": {"first_name": "Only"}})
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"client_id", "role_id", "last_name"}


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("client_id", 100, "root client"),
        ("client_id", 999, "not an existing client location"),
        ("client_id", "12345", "integer"),
        ("role_id", 3, "not available for client contacts"),
        ("role_id", 99, "not an existing role"),
        ("role_id", True, "integer"),
        ("last_name", "   ", "required"),
        ("birthday", "01/02/1979", "YYYY-MM-DD"),
        ("birthday", "1979-02-30", "not a valid date"),
        ("country", "USA", "ISO country"),
        ("country", "ZZ", "ISO country"),
        ("language", "eng", "ISO language"),
        ("email", "not-an-email", "valid email"),
        ("first_name", 12, "string"),
        ("title", "x" * 256, "too long"),
        ("phone_work", "404-555-0100", "not a client contact field"),
        ("id", 5, "read-only"),
        ("updated", "2026-01-01 00:00:00", "read-only"),
    ],
)
def test_create_validates_each_field(
    client: TestClient, field: str, value: Any, fragment: str
) -> None:
    response = create(client, **{"last_name": "Valid", field: value})
    assert response.status_code == 422
    messages = response.json()["errors"][field]
    assert any(fragment in m for m in messages), messages
    assert client.get(BASE, params={"mode": "count"}).json()["record_count"] == PLACED


def test_state_codes_are_checked_for_us_ca_au_only(client: TestClient) -> None:
    refused = create(client, last_name="Ames", country="US", state="Georgia")
    assert refused.status_code == 422
    assert "state" in refused.json()["errors"]
    assert create(client, last_name="Ames", country="DE", state="Bayern").status_code == 200
    made = create(client, last_name="Bell", country="AU", state="NSW").json()
    update = client.put(f"{BASE}/{made['id']}", json={"contact": {"state": "New South Wales"}})
    assert update.status_code == 422


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (json.dumps({"client_id": 12345, "role_id": 6, "last_name": "Flat"}).encode(), 400),
        (json.dumps({"contact": ["x"]}).encode(), 400),
        (
            json.dumps(
                {
                    "contact": {"client_id": 12345, "role_id": 6, "last_name": "X"},
                    "allow_duplicates": "yes",
                }
            ).encode(),
            422,
        ),
    ],
)
def test_malformed_write_bodies(client: TestClient, body: bytes, status: int) -> None:
    response = client.post(BASE, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == status
    assert response.json()["message"]


# --- duplicates ------------------------------------------------------------------------


def test_same_name_is_refused_unless_duplicates_are_allowed(client: TestClient) -> None:
    existing = live_records(client)[0]
    first, last = existing["first_name"].upper(), f"  {existing['last_name'].lower()} "
    refused = create(client, first_name=first, last_name=last)
    assert refused.status_code == 422
    assert str(existing["id"]) in refused.json()["errors"]["last_name"][0]
    assert create(client, allow=False, first_name=first, last_name=last).status_code == 422
    allowed = create(client, allow=True, first_name=first, last_name=last)
    assert allowed.status_code == 200
    assert len(listed_ids(client, last_name=existing["last_name"])) > 1


def test_renaming_into_an_existing_name_is_a_duplicate(client: TestClient) -> None:
    one, two = live_records(client)[:2]
    rename = {"first_name": one["first_name"], "last_name": one["last_name"]}
    refused = client.put(f"{BASE}/{two['id']}", json={"contact": rename})
    assert refused.status_code == 422
    allowed = client.put(f"{BASE}/{two['id']}", json={"contact": rename, "allow_duplicates": True})
    assert allowed.status_code == 200
    # once twins exist, edits that keep the name are not duplicate checks
    assert client.put(f"{BASE}/{two['id']}", json={"contact": {"title": "CFO"}}).status_code == 200


# --- update ----------------------------------------------------------------------------


def test_update_is_partial_and_moves_updated(client: TestClient) -> None:
    record = live_records(client)[4]
    response = client.put(f"{BASE}/{record['id']}", json={"contact": {"title": "Risk Manager"}})
    assert response.status_code == 200
    updated = response.json()
    assert updated["title"] == "Risk Manager"
    assert updated["updated"] > record["updated"]
    unchanged = {k: v for k, v in record.items() if k not in ("title", "updated", "_deleted")}
    assert {k: updated[k] for k in unchanged} == unchanged
    moved = client.put(f"{BASE}/{record['id']}", json={"contact": {"client_id": 22345}}).json()
    assert (moved["client_id"], moved["client"]) == (22345, 200)
    cleared = client.put(f"{BASE}/{record['id']}", json={"contact": {"title": ""}}).json()
    assert cleared["title"] is None


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"last_name": ""}, "last_name"),
        ({"client_id": None}, "client_id"),
        ({"role_id": 1}, "role_id"),
    ],
)
def test_update_validates_what_it_is_given(
    client: TestClient, fields: dict[str, Any], field: str
) -> None:
    record = live_records(client)[4]
    response = client.put(f"{BASE}/{record['id']}", json={"contact": fields})
    assert response.status_code == 422
    assert field in response.json()["errors"]
    assert client.get(f"{BASE}/{record['id']}").json()["updated"] == record["updated"]


def test_update_of_an_unknown_contact_is_404(client: TestClient) -> None:
    response = client.put(f"{BASE}/424242", json={"contact": {"title": "x"}})
    assert response.status_code == 404


# --- rate limits and faults ------------------------------------------------------------


def test_vendor_rate_limit_answers_429_with_retry_after() -> None:
    client = make_client(SandboxOptions(rate_limits="vendor", rate_scale=0.05), count=3)
    statuses = [client.get(f"{BASE}/1001").status_code for _ in range(7)]
    assert statuses == [200] * 6 + [429]
    refused = client.get(f"{BASE}/1001")
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.json()["message"]


def test_rate_limit_is_a_class_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(TrackopsSimulator, "requests_per_minute", 2)
    client = make_client(SandboxOptions(rate_limits="vendor"), count=3)
    assert [client.get(BASE).status_code for _ in range(3)] == [200, 200, 429]
    assert make_client(SandboxOptions(rate_limits="off"), count=3).get(BASE).status_code == 200


def fault_outcomes(seed: int, requests: int) -> list[str]:
    client = make_client(SandboxOptions(seed=seed, faults=0.2, slow_seconds=0), count=3)
    return collect_outcomes(lambda: client.get(f"{BASE}/1001"), requests)


def test_faults_land_at_the_configured_rate_and_repeat_with_the_seed() -> None:
    assert_faults_land_at_rate_and_repeat(fault_outcomes)


# --- mutate and reset ------------------------------------------------------------------

USER_FIELDS = (
    "title",
    "email",
    "first_name",
    "last_name",
    "phone_mobile",
    "phone_office",
    "phone_fax",
)


def test_mutate_edits_like_a_user_and_moves_updated(client: TestClient) -> None:
    before = {r["id"]: r for r in live_records(client)}
    mutated = client.post("/_sandbox/mutate", json={"count": 40, "seed": 5}).json()["mutated"]
    assert len(mutated) == 40
    after = {r["id"]: r for r in live_records(client)}
    edited_fields: Counter[str] = Counter()
    for record_id in map(int, mutated):
        old, new = before[record_id], after[record_id]
        assert new["updated"] > old["updated"]
        changed = [k for k in old if k not in ("updated",) and old[k] != new[k]]
        assert len(changed) == 1, changed
        assert changed[0] in USER_FIELDS
        edited_fields[changed[0]] += 1
    assert {"title", "email"} <= set(edited_fields)
    assert edited_fields.keys() & {"phone_mobile", "phone_office", "phone_fax"}
    untouched = set(before) - set(map(int, mutated))
    assert all(before[i] == after[i] for i in untouched)
    again = make_client()
    assert (
        again.post("/_sandbox/mutate", json={"count": 40, "seed": 5}).json()["mutated"] == mutated
    )


def test_reset_returns_to_the_seeded_state(client: TestClient) -> None:
    seeded = live_records(client)
    made = create(client, last_name="Temporary").json()
    client.put(f"{BASE}/{seeded[0]['id']}", json={"contact": {"title": "Changed"}})
    client.post("/_sandbox/mutate", json={"count": 5, "seed": 1})
    assert live_records(client) != seeded
    assert client.post("/_sandbox/reset").json() == {"reset": True}
    assert live_records(client) == seeded
    assert client.get("/_sandbox/stats").json()["total"] == 0
    assert create(client, last_name="Temporary").json()["id"] > made["id"]


def test_mutate_can_correct_a_badly_typed_name() -> None:
    typed = SeedRecord("p-typo", "jane", "MCDONALD", emails=["jane@example.com"])
    seed = SeedData(persons=1, records={"trackops": [typed]}, organizations=[])
    names = set()
    for mutate_seed in range(12):
        sim = TrackopsSimulator(SandboxOptions(seed=7), seed)
        sim.mutate(1, mutate_seed)
        (record,) = sim.store.records.values()
        names.add((record["first_name"], record["last_name"]))
    assert names >= {("Jane", "MCDONALD"), ("jane", "Mcdonald"), ("jane", "MCDONALD")}
