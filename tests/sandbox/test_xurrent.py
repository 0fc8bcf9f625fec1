"""The Xurrent simulator: auth, rate headers, Link paging, filters, people and org channels."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from contactsync_sandbox.common import SandboxOptions, build_app
from contactsync_sandbox.people import (
    SeedChannel,
    SeedData,
    SeedOrganization,
    SeedPhone,
    SeedRecord,
)
from contactsync_sandbox.xurrent import DEFAULT_CREDENTIALS, XurrentSimulator
from tests.sandbox.helpers import admin, assert_faults_land_at_rate_and_repeat, collect_outcomes

PEOPLE = "/v1/people"
AUTH = {
    "Authorization": f"Bearer {DEFAULT_CREDENTIALS['xurrent_token']}",
    "X-Xurrent-Account": DEFAULT_CREDENTIALS["xurrent_account"],
}
FIRSTS = ("Susie", "Mark", "Ana", "John", "Priya", "Wei", "Olga", "Tom", "Fatima", "Luis")
LASTS = ("Smith", "Obrien", "Nguyen", "Garcia", "Kowalski", "Okafor", "Berg")
ORGS = [
    SeedOrganization(
        "org-acme",
        "Acme Insurance",
        [
            SeedChannel("general", telephone="+1 (203) 413 4880"),
            SeedChannel("fax", telephone="+1 (203) 413 4881"),
            SeedChannel("service_desk", email="helpdesk@acme.example.com"),
            SeedChannel("general", website="www.acme.example.com"),
        ],
    ),
    SeedOrganization("org-globex", "Globex Brokers"),
]


def make_seed(count: int) -> SeedData:
    records = [
        SeedRecord(
            person_key=f"p{i:03d}",
            first_name=FIRSTS[i % len(FIRSTS)],
            last_name=LASTS[i % len(LASTS)],
            emails=[f"{FIRSTS[i % len(FIRSTS)]}.{i}@example.com"]
            + ([f"private{i}@home.example.net"] if i % 4 == 0 else []),
            phones=[SeedPhone(f"(404) 555-{i:04d}", "mobile")] if i % 2 == 0 else [],
            job_title="Claims Adjuster" if i % 2 else None,
            organization_key=("org-acme", "org-globex", None)[i % 3],
            reference=f"REF-{i}" if i % 5 == 0 else None,
        )
        for i in range(count)
    ]
    records.append(SeedRecord(person_key="p-noemail", first_name="Cher", last_name=None))
    return SeedData(persons=count + 1, records={"xurrent": records}, organizations=list(ORGS))


def make_client(
    options: SandboxOptions | None = None, count: int = 45
) -> tuple[TestClient, XurrentSimulator]:
    sim = XurrentSimulator(options or SandboxOptions(seed=7), make_seed(count))
    # a dropped connection (fault injection) must reach the test as a broken body
    client = TestClient(build_app(sim), headers=AUTH, raise_server_exceptions=False)
    return client, sim


@pytest.fixture
def client() -> TestClient:
    return make_client()[0]


def list_all(client: TestClient, **params: Any) -> tuple[list[dict[str, Any]], int]:
    """Every person of a listing, following ``Link: rel="next"``; also the request count."""
    response = client.get(PEOPLE, params={"per_page": 100, **params})
    rows, requests = [], 1
    while True:
        assert response.status_code == 200, response.text
        rows.extend(response.json())
        next_link = response.links.get("next")
        if next_link is None:
            return rows, requests
        response = client.get(next_link["url"])
        requests += 1


def ids(client: TestClient, **params: Any) -> list[int]:
    return [row["id"] for row in list_all(client, **params)[0]]


NEW_PERSON: dict[str, Any] = {
    "name": "Rosa Diaz",
    "primary_email": "rosa.diaz@example.com",
    "job_title": "Broker",
    "contacts_attributes": [{"label": "mobile", "telephone": "+1 404 555 0199"}],
}


# --- auth and rate limits ----------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong", "X-Xurrent-Account": "sandbox"},
        {"Authorization": AUTH["Authorization"]},
        {"Authorization": AUTH["Authorization"], "X-Xurrent-Account": "elsewhere"},
        {"Authorization": AUTH["Authorization"], "X-4me-Account": "elsewhere"},
        {
            "Authorization": f"Basic {DEFAULT_CREDENTIALS['xurrent_token']}",
            "X-Xurrent-Account": "sandbox",
        },
    ],
)
def test_missing_or_wrong_credentials_are_401(headers: dict[str, str]) -> None:
    sim = XurrentSimulator(SandboxOptions(seed=7), make_seed(3))
    response = TestClient(build_app(sim)).get(PEOPLE, headers=headers)
    assert response.status_code == 401
    assert response.json()["message"]
    assert DEFAULT_CREDENTIALS["xurrent_token"] not in response.text


def test_the_older_4me_account_header_is_accepted() -> None:
    # The vendor's own SDKs still send X-4me-Account, which the real API accepts.
    sim = XurrentSimulator(SandboxOptions(seed=7), make_seed(3))
    headers = {
        "Authorization": AUTH["Authorization"],
        "X-4me-Account": DEFAULT_CREDENTIALS["xurrent_account"],
    }
    response = TestClient(build_app(sim)).get(PEOPLE, headers=headers)
    assert response.status_code == 200
    assert len(response.json()) == 3


def test_every_answer_carries_the_hourly_quota() -> None:
    client, _ = make_client(SandboxOptions(seed=7, rate_limits="vendor"), count=3)
    first, second = client.get(PEOPLE), client.get(f"{PEOPLE}/999999")
    assert first.headers["X-RateLimit-Limit"] == "3600"
    assert int(first.headers["X-RateLimit-Remaining"]) == 3599
    assert second.status_code == 404
    assert int(second.headers["X-RateLimit-Remaining"]) == 3598
    reset = int(first.headers["X-RateLimit-Reset"])
    assert time.time() < reset <= time.time() + 3600


def test_burst_limit_answers_429_with_retry_after() -> None:
    client, _ = make_client(SandboxOptions(seed=7, rate_limits="vendor", rate_scale=0.1), count=3)
    statuses = [client.get(PEOPLE).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]  # 20 per 2 s, scaled to 2
    refused = client.get(PEOPLE)
    assert refused.json() == {"message": "Too Many Requests"}
    assert 1 <= int(refused.headers["Retry-After"]) <= 2
    assert "X-RateLimit-Remaining" in refused.headers


def test_hourly_limit_answers_429(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(XurrentSimulator, "HOURLY_LIMIT", 3)
    client, _ = make_client(SandboxOptions(seed=7, rate_limits="vendor"), count=3)
    answers = [client.get(PEOPLE) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[-1].headers["X-RateLimit-Remaining"] == "0"
    assert 60 < int(answers[-1].headers["Retry-After"]) <= 3600


# --- listing -----------------------------------------------------------------------------


def test_paging_follows_link_headers_to_the_end(client: TestClient) -> None:
    first = client.get(PEOPLE)
    assert first.headers["X-Pagination-Per-Page"] == "20"
    assert first.headers["X-Pagination-Total-Entries"] == "45"
    assert first.headers["X-Pagination-Total-Pages"] == "3"
    assert set(first.links) == {"next", "last"}
    assert first.links["next"]["url"].startswith("http://testserver/v1/people?")
    rows, requests = [], 0
    response = first
    while True:
        requests += 1
        rows.extend(response.json())
        if "next" not in response.links:
            break
        response = client.get(response.links["next"]["url"])
    assert requests == 3
    assert set(response.links) == {"first", "prev"}
    assert response.headers["X-Pagination-Current-Page"] == "3"
    assert len(rows) == 45
    assert len({r["id"] for r in rows}) == 45
    assert {r["id"] for r in rows} == {int(k) for k in client.get("/_sandbox/truth").json()}


def test_per_page_is_clamped_and_checked(client: TestClient) -> None:
    big = client.get(PEOPLE, params={"per_page": 500})
    assert big.headers["X-Pagination-Per-Page"] == "100"
    assert len(big.json()) == 45
    assert client.get(PEOPLE, params={"per_page": 0}).status_code == 400
    assert client.get(PEOPLE, params={"page": "two"}).status_code == 400
    assert client.get(PEOPLE, params={"page": 9}).json() == []


def test_collections_show_the_default_fields_unless_asked(client: TestClient) -> None:
    row = client.get(PEOPLE).json()[0]
    assert set(row) == {
        "id",
        "sourceID",
        "name",
        "organization",
        "site",
        "created_at",
        "updated_at",
    }
    asked = client.get(PEOPLE, params={"fields": "primary_email,contacts"}).json()[0]
    assert set(asked) == {"id", "primary_email", "contacts"}
    assert client.get(PEOPLE, params={"fields": "shoe_size"}).status_code == 400
    one = client.get(f"{PEOPLE}/{row['id']}").json()
    assert {"primary_email", "contacts", "job_title", "disabled"} <= set(one)


def stamps(client: TestClient) -> list[tuple[int, datetime]]:
    rows = list_all(client, fields="updated_at")[0]
    return [(r["id"], datetime.fromisoformat(r["updated_at"])) for r in rows]


def test_updated_at_filters_compare_instants(client: TestClient) -> None:
    rows = sorted(stamps(client), key=lambda pair: pair[1])
    pivot_id, pivot = rows[20]
    later = {i for i, t in rows if t > pivot}
    utc_text = pivot.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")  # same instant, in Z
    assert set(ids(client, updated_at=f">{utc_text}")) == later
    assert set(ids(client, updated_at=f">={utc_text}")) == later | {pivot_id}
    assert set(ids(client, updated_at=f"<{utc_text}")) == {i for i, t in rows if t < pivot}
    assert set(ids(client, updated_at=f"<={pivot.isoformat()}")) == {
        i for i, t in rows if t <= pivot
    }
    low, high = rows[5][1], rows[15][1]
    ranged = ids(client, updated_at=f">={low.isoformat()}<={high.isoformat()}")
    assert set(ranged) == {i for i, t in rows if low <= t <= high}
    assert set(ids(client, updated_at=f">{low.isoformat()}<{high.isoformat()}")) == {
        i for i, t in rows if low < t < high
    }


def test_created_at_filter_and_bad_filter_values(client: TestClient) -> None:
    rows = list_all(client, fields="created_at")[0]
    created = sorted(datetime.fromisoformat(r["created_at"]) for r in rows)
    cut = created[10]
    assert len(ids(client, created_at=f"<{cut.isoformat()}")) == 10
    assert client.get(PEOPLE, params={"updated_at": ">yesterday"}).status_code == 400
    # an unencoded "+" in an offset arrives as a space: the vendor cannot read it
    unencoded = client.get(f"{PEOPLE}?updated_at=>2026-01-01T00:00:00+02:00")
    assert unencoded.status_code == 400
    assert unencoded.json()["message"]


def test_attribute_filters(client: TestClient) -> None:
    everyone = {
        r["id"]: r
        for r in client.get(
            PEOPLE,
            params={"per_page": 100, "fields": "primary_email,name,disabled,sourceID,organization"},
        ).json()
    }
    some_id, some = next(iter(everyone.items()))
    assert ids(client, primary_email=some["primary_email"].upper()) == [some_id]
    assert set(ids(client, name=some["name"])) == {
        i for i, r in everyone.items() if r["name"] == some["name"]
    }
    assert set(ids(client, id=f"{some_id},{some_id + 1}")) == {some_id, some_id + 1}
    acme = next(
        r["organization"]["id"]
        for r in everyone.values()
        if r["organization"] and r["organization"]["name"] == "Acme Insurance"
    )
    assert set(ids(client, organization=str(acme))) == {
        i for i, r in everyone.items() if r["organization"] and r["organization"]["id"] == acme
    }
    assert set(ids(client, sourceID="REF-5")) == {
        i for i, r in everyone.items() if r["sourceID"] == "REF-5"
    }
    assert len(ids(client, sourceID="!")) == sum(1 for r in everyone.values() if r["sourceID"])
    client.patch(f"{PEOPLE}/{some_id}", json={"disabled": True})
    assert ids(client, disabled="true") == [some_id]
    assert client.get(PEOPLE, params={"disabled": "maybe"}).status_code == 400


def test_sorting_and_unknown_sort_fields(client: TestClient) -> None:
    by_update = stamps(client)
    ascending = ids(client, sort="updated_at")
    assert ascending == [i for i, _ in sorted(by_update, key=lambda p: (p[1], p[0]))]
    descending = ids(client, sort="-updated_at")
    assert [t for _, t in sorted(by_update, key=lambda p: p[1], reverse=True)] == [
        dict(by_update)[i] for i in descending
    ]
    assert ids(client, sort="id") == sorted(dict(by_update))
    names = [r["name"] for r in list_all(client, sort="name")[0]]
    assert names == sorted(names, key=str.casefold)
    refused = client.get(PEOPLE, params={"sort": "problem"})
    assert refused.status_code == 400
    assert refused.json() == {"message": "Sorting not allowed on fields: problem"}


# --- people writes -----------------------------------------------------------------------


def test_create_answers_201_with_the_person(client: TestClient) -> None:
    response = client.post(PEOPLE, json={**NEW_PERSON, "organization_id": None})
    assert response.status_code == 201, response.text
    person = response.json()
    assert person["name"] == "Rosa Diaz"
    assert person["created_at"] == person["updated_at"]
    assert person["created_at"].endswith("-06:00")
    assert [(c["label"], c["telephone"]) for c in person["contacts"]] == [
        ("mobile", "+1 404 555 0199")
    ]
    assert isinstance(person["contacts"][0]["id"], int)
    assert client.get(f"{PEOPLE}/{person['id']}").json() == person


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"name": "No Email"}, [["primary_email", "can't be blank"]]),
        ({"primary_email": "x@example.com"}, [["name", "can't be blank"]]),
        ({**NEW_PERSON, "primary_email": "not-an-email"}, [["primary_email", "is invalid"]]),
        ({**NEW_PERSON, "shoe_size": 9}, [["shoe_size", "is not a writable attribute"]]),
        ({**NEW_PERSON, "contacts": []}, [["contacts", "is not a writable attribute"]]),
        ({**NEW_PERSON, "organization_id": 999}, [["organization", "is invalid"]]),
        ({**NEW_PERSON, "disabled": "no"}, [["disabled", "is invalid"]]),
        (
            {**NEW_PERSON, "job_title": "x" * 256},
            [["job_title", "is too long (maximum is 255 characters)"]],
        ),
        (
            {**NEW_PERSON, "contacts_attributes": [{"label": "general", "telephone": "1"}]},
            [["contacts.label", "is not included in the list"]],
        ),
        (
            {
                **NEW_PERSON,
                "contacts_attributes": [{"label": "work", "telephone": "1", "email": "a@b.co"}],
            },
            [["contacts", "must have exactly one of telephone or email"]],
        ),
    ],
)
def test_create_validation_errors_are_422(
    client: TestClient, body: dict[str, Any], errors: list[list[str]]
) -> None:
    response = client.post(PEOPLE, json=body)
    assert response.status_code == 422
    assert response.json() == {"message": "Validation failed", "errors": errors}


def test_primary_email_is_unique_case_insensitively(client: TestClient) -> None:
    taken = client.get(PEOPLE, params={"fields": "primary_email"}).json()[0]["primary_email"]
    response = client.post(PEOPLE, json={**NEW_PERSON, "primary_email": f" {taken.upper()} "})
    assert response.status_code == 422
    assert response.json() == {
        "message": "Validation failed",
        "errors": [["primary_email", "has already been taken"]],
    }
    assert client.post(PEOPLE, content=b"not json").status_code == 400


def test_patch_changes_a_subset_and_moves_updated_at(client: TestClient) -> None:
    made = client.post(PEOPLE, json=NEW_PERSON).json()
    url = f"{PEOPLE}/{made['id']}"
    patched = client.patch(
        url, json={"job_title": "Underwriter", "primary_email": "ROSA.DIAZ@example.com"}
    )
    assert patched.status_code == 200
    person = patched.json()
    assert person["job_title"] == "Underwriter"
    assert person["name"] == "Rosa Diaz"
    assert datetime.fromisoformat(person["updated_at"]) >= datetime.fromisoformat(
        made["updated_at"]
    ) + timedelta(seconds=1)
    same = client.patch(url, json={"job_title": "Underwriter"}).json()
    assert same["updated_at"] == person["updated_at"]  # nothing changed, nothing moved
    other = client.get(PEOPLE, params={"fields": "primary_email"}).json()[0]["primary_email"]
    clash = client.patch(url, json={"primary_email": other})
    assert clash.status_code == 422
    assert clash.json()["errors"] == [["primary_email", "has already been taken"]]
    assert client.patch(url, json={"updated_at": "2020-01-01T00:00:00Z"}).status_code == 422
    assert client.patch(f"{PEOPLE}/999999", json={"job_title": "x"}).status_code == 404


def test_patch_edits_the_persons_own_channels(client: TestClient) -> None:
    made = client.post(PEOPLE, json=NEW_PERSON).json()
    url = f"{PEOPLE}/{made['id']}"
    channel_id = made["contacts"][0]["id"]
    changed = client.patch(
        url,
        json={
            "contacts_attributes": [
                {"id": channel_id, "telephone": "404-555-0100"},
                {"label": "work", "email": "rosa@work.example.com"},
            ]
        },
    ).json()
    assert changed["contacts"][0] == {
        "id": channel_id,
        "label": "mobile",
        "telephone": "404-555-0100",
    }
    assert changed["contacts"][1]["email"] == "rosa@work.example.com"
    removed = client.patch(
        url, json={"contacts_attributes": [{"id": channel_id, "_destroy": True}]}
    )
    assert [c["label"] for c in removed.json()["contacts"]] == ["work"]
    foreign = client.patch(url, json={"contacts_attributes": [{"id": 1, "_destroy": True}]})
    assert foreign.status_code == 422


def test_archive_trash_and_restore(client: TestClient) -> None:
    people = client.get(PEOPLE).json()
    archived_id, trashed_id = people[0]["id"], people[1]["id"]
    archived = client.post(f"{PEOPLE}/{archived_id}/archive")
    assert archived.status_code == 200
    assert client.post(f"{PEOPLE}/{trashed_id}/trash").status_code == 200
    listed = ids(client)
    assert archived_id not in listed
    assert trashed_id not in listed
    assert client.get(PEOPLE).headers["X-Pagination-Total-Entries"] == "43"
    assert client.get(f"{PEOPLE}/{archived_id}").status_code == 200
    info = admin(client)
    assert info["archived"] == [archived_id]
    assert info["trashed"] == [trashed_id]
    assert next(r for r in info["records"] if r["id"] == trashed_id)["_deleted"] is True
    restored = client.post(f"{PEOPLE}/{archived_id}/restore")
    assert restored.status_code == 200
    assert archived_id in ids(client)
    assert datetime.fromisoformat(restored.json()["updated_at"]) > datetime.fromisoformat(
        people[0]["updated_at"]
    )
    assert client.post(f"{PEOPLE}/{archived_id}/explode").status_code == 404
    assert client.delete(f"{PEOPLE}/{archived_id}").json() == {"message": "Not Found"}


# --- organizations and their channels ---------------------------------------------------


def acme_id(client: TestClient) -> int:
    return next(o["id"] for o in admin(client)["organizations"] if o["name"] == "Acme Insurance")


def test_organization_channels_list_and_get(client: TestClient) -> None:
    orgs = client.get("/v1/organizations").json()
    assert [o["name"] for o in orgs] == ["Acme Insurance", "Globex Brokers"]
    url = f"/v1/organizations/{acme_id(client)}/contacts"
    listed = client.get(url)
    assert listed.status_code == 200
    assert listed.headers["X-Pagination-Total-Entries"] == "4"
    channels = listed.json()
    assert [
        (c["label"], next(k for k in c if k in ("telephone", "email", "website"))) for c in channels
    ] == [
        ("general", "telephone"),
        ("fax", "telephone"),
        ("service_desk", "email"),
        ("general", "website"),
    ]
    assert all("integration" not in c for c in channels)
    single = client.get(f"{url}/{channels[0]['id']}").json()
    assert single == {**channels[0], "integration": False}
    assert client.get("/v1/organizations/9999/contacts").status_code == 404
    assert client.get(f"{url}/424242").status_code == 404


def test_organization_channel_writes(client: TestClient) -> None:
    url = f"/v1/organizations/{acme_id(client)}/contacts"
    made = client.post(url, json={"label": "service_desk_fax", "telephone": "+1 800 555 0100"})
    assert made.status_code == 201
    channel = made.json()
    assert channel["integration"] is False
    patched = client.patch(
        f"{url}/{channel['id']}", json={"telephone": "+1 800 555 0101", "integration": True}
    )
    assert patched.status_code == 200
    assert patched.json() == {**channel, "telephone": "+1 800 555 0101", "integration": True}
    switched = client.patch(
        f"{url}/{channel['id']}", json={"telephone": None, "email": "a@b.example.com"}
    )
    assert switched.status_code == 422
    assert switched.json()["errors"] == [["label", "is only valid for a telephone number"]]
    assert client.delete(f"{url}/{channel['id']}").status_code == 204
    assert client.get(f"{url}/{channel['id']}").status_code == 404
    assert client.delete(f"{url}/").status_code == 204
    assert client.get(url).json() == []
    assert admin(client)["organizations"][0]["contacts"] == []


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"telephone": "1"}, [["label", "can't be blank"]]),
        ({"label": "hq", "telephone": "1"}, [["label", "is not included in the list"]]),
        (
            {"label": "fax", "email": "a@b.example.com"},
            [["label", "is only valid for a telephone number"]],
        ),
        (
            {"label": "general"},
            [["base", "exactly one of telephone, email or website must be present"]],
        ),
        (
            {"label": "general", "telephone": "1", "website": "w.example.com"},
            [["base", "exactly one of telephone, email or website must be present"]],
        ),
        (
            {"label": "general", "website": "w" * 256},
            [["website", "is too long (maximum is 255 characters)"]],
        ),
        (
            {"label": "general", "email": "a@b.example.com", "id": 3},
            [["id", "is not a writable attribute"]],
        ),
    ],
)
def test_organization_channel_validation(
    client: TestClient, body: dict[str, Any], errors: list[list[str]]
) -> None:
    response = client.post(f"/v1/organizations/{acme_id(client)}/contacts", json=body)
    assert response.status_code == 422
    assert response.json() == {"message": "Validation failed", "errors": errors}


def test_seeded_people_carry_their_organization_and_channels(client: TestClient) -> None:
    records = admin(client)["records"]
    assert len(records) == 45  # the copy without an email cannot exist in Xurrent
    with_org = next(r for r in records if r["organization"])
    assert set(with_org["organization"]) == {"id", "name"}
    private = next(r for r in records if any("email" in c for c in r["contacts"]))
    assert next(c for c in private["contacts"] if "email" in c)["label"] == "personal"
    assert all(r["updated_at"].endswith("-06:00") for r in records)


# --- faults, mutate, reset ---------------------------------------------------------------


def fault_outcomes(seed: int, requests: int) -> list[str]:
    client, _ = make_client(SandboxOptions(seed=seed, faults=0.2, slow_seconds=0), count=3)
    return collect_outcomes(
        lambda: client.get(PEOPLE), requests, dropped=(ValueError, httpx.HTTPError)
    )


def test_faults_land_at_the_configured_rate_and_repeat_with_the_seed() -> None:
    assert_faults_land_at_rate_and_repeat(fault_outcomes)


def test_mutate_moves_updated_at_and_reset_restores_everything(client: TestClient) -> None:
    before = {r["id"]: r for r in admin(client)["records"]}
    mutated = client.post("/_sandbox/mutate", json={"count": 10, "seed": 5}).json()["mutated"]
    assert len(mutated) == 10
    after = {r["id"]: r for r in admin(client)["records"]}
    for key in mutated:
        old, new = before[int(key)], after[int(key)]
        assert datetime.fromisoformat(new["updated_at"]) > datetime.fromisoformat(old["updated_at"])
        assert {k: v for k, v in new.items() if k != "updated_at"} != {
            k: v for k, v in old.items() if k != "updated_at"
        }
    changed_since = ids(client, updated_at=f">{max(r['updated_at'] for r in before.values())}")
    assert sorted(changed_since) == sorted(int(k) for k in mutated)
    made = client.post(PEOPLE, json=NEW_PERSON).json()
    client.delete(f"/v1/organizations/{acme_id(client)}/contacts/")
    assert client.post("/_sandbox/reset").status_code == 200
    assert {r["id"]: r for r in admin(client)["records"]} == before
    assert len(admin(client)["organizations"][0]["contacts"]) == 4
    again = client.post(PEOPLE, json=NEW_PERSON).json()
    assert again["id"] == made["id"]  # counters return to the seeded state too
