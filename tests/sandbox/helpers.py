"""What several simulator tests share: seed pieces, auth headers, the fault-rate check."""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Callable
from datetime import date
from typing import Any

import httpx
from starlette.testclient import TestClient

from contactsync_sandbox.common import VendorSimulator
from contactsync_sandbox.people import SeedAddress, SeedPhone, SeedRecord

FAKE_TOKEN = "fake-token"
#: the headers the fake simulator of conftest.py accepts
AUTH = {"Authorization": f"Bearer {FAKE_TOKEN}"}
MakeFake = Callable[..., VendorSimulator]

FIRSTS = ("Susie", "Mark", "Ana", "John", "Priya", "Wei", "Olga", "Tom", "Fatima", "Luis")
LASTS = ("Smith", "O'Brien", "Nguyen", "Garcia", "Kowalski", "Okafor", "Berg")


def basic(user: str, password: str) -> str:
    """An ``Authorization: Basic`` value."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def admin(client: TestClient) -> dict[str, Any]:
    """What the simulator holds (``GET /_sandbox/records``), deleted records included."""
    payload: dict[str, Any] = client.get("/_sandbox/records").json()
    return payload


def live_records(client: TestClient) -> list[dict[str, Any]]:
    """The simulator's records that are not deleted, as it stores them."""
    return [r for r in admin(client)["records"] if not r["_deleted"]]


# --- seed pieces: seed copy ``i`` of a test population ------------------------------------


def seed_name(i: int) -> tuple[str, str]:
    """The first and last name of copy ``i`` (they cycle through FIRSTS and LASTS)."""
    return FIRSTS[i % len(FIRSTS)], LASTS[i % len(LASTS)]


def seed_phones(i: int, *, fax: bool = False) -> list[SeedPhone]:
    """A mobile on even copies, a work phone on every third, a fax on every fifth
    when ``fax``."""
    phones = [SeedPhone(f"(404) 555-{i:04d}", "mobile")] if i % 2 == 0 else []
    if i % 3 == 0:
        phones.append(SeedPhone(f"+1 678-555-{i:04d}", "work"))
    if fax and i % 5 == 0:
        phones.append(SeedPhone(f"404.555.{i + 5000:04d}", "fax"))
    return phones


def seed_address(i: int) -> SeedAddress | None:
    """An Atlanta office address on every fourth copy."""
    if i % 4:
        return None
    return SeedAddress(["1 Peachtree St", "Suite 200"], "Atlanta", "GA", "30303", "US")


def seed_birthday(i: int) -> date | None:
    """A birthday on every sixth copy."""
    return date(1980, 1 + i % 12, 1 + i % 28) if i % 6 == 0 else None


def seed_copy(i: int, **fields: Any) -> SeedRecord:
    """Copy ``i`` of person ``p{i:03d}``: its name, an address at example.com, its
    phones, a job title on odd copies and reference ``REF-{i}``; ``fields`` add to or
    replace these."""
    first, last = seed_name(i)
    standard: dict[str, Any] = {
        "person_key": f"p{i:03d}",
        "first_name": first,
        "last_name": last,
        "emails": [f"{first}.{i}@example.com"],
        "phones": seed_phones(i),
        "job_title": "Claims Adjuster" if i % 2 else None,
        "reference": f"REF-{i}",
    }
    return SeedRecord(**{**standard, **fields})


# --- fault injection ------------------------------------------------------------------------


def collect_outcomes(
    send: Callable[[], httpx.Response],
    requests: int,
    *,
    dropped: tuple[type[Exception], ...] = (ValueError,),
    check_failure: Callable[[Any], None] | None = None,
) -> list[str]:
    """``send()`` ``requests`` times: each answer's status code, or ``"dropped"`` when
    sending or reading the JSON body raised one of ``dropped``. ``check_failure`` sees
    the body of every 5xx answer."""
    outcomes = []
    for _ in range(requests):
        try:
            response = send()
            body = response.json()
        except dropped:
            outcomes.append("dropped")
            continue
        if check_failure is not None and response.status_code >= 500:
            check_failure(body)
        outcomes.append(str(response.status_code))
    return outcomes


def assert_faults_land_at_rate_and_repeat(outcomes: Callable[[int, int], list[str]]) -> None:
    """``outcomes(seed, requests)`` under ``faults=0.2``: 500s, 503s and dropped
    connections all occur, at about the configured rate (3 of the 4 fault kinds are
    visible), and the same seed repeats the same sequence while another does not."""
    first = outcomes(3, 500)
    counts = Counter(first)
    visible = counts["500"] + counts["503"] + counts["dropped"]
    assert 45 <= visible <= 110, counts
    assert min(counts["500"], counts["503"], counts["dropped"]) > 0, counts
    assert outcomes(3, 80) == first[:80]
    assert outcomes(4, 80) != first[:80]
