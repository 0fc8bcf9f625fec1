"""The Pylon adapter through a validating proxy built from Pylon's published OpenAPI.

The adapter talks to the Pylon simulator only through
:class:`~contactsync_sandbox.openapi_proxy.ValidatingProxy` (openapi-core, both
directions, nothing relaxed), both served on loopback. Every operation the adapter
uses runs once at least: the list paged to the end, a single GET, create, update
(external_ids included), the email search, a duplicate create and a delete. The
proxy must record no violation in either direction. Rate limits are off: no Pylon
operation documents a 429, so a throttled answer would be a (response) violation.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from contactsync.adapters.base import AdapterContext, Window
from contactsync.adapters.pylon.adapter import PylonAdapter
from contactsync.http.errors import DuplicateError
from contactsync.mapping.mapper import Mapping
from contactsync.model.contact import Contact
from contactsync_sandbox.common import SandboxOptions, build_app
from contactsync_sandbox.openapi_proxy import SpecValidator, ValidatingProxy, serving
from contactsync_sandbox.pylon import DEFAULT_CREDENTIALS, PylonSimulator
from contactsync_sandbox.server import build_simulators

PEOPLE = 60
PAGE_SIZE = 7
PERSON = "p_01SPEC00000000000000000001"
MAPPING = Mapping.load(Path(__file__).parents[2] / "mappings" / "pylon.toml")
EVERYTHING = Window(None, datetime(2100, 1, 1, tzinfo=UTC))


@dataclass
class Setup:
    adapter: PylonAdapter
    sim: PylonSimulator
    validator: SpecValidator
    proxy_url: str


@pytest.fixture(scope="module")
def validator() -> SpecValidator:
    return SpecValidator.pylon()  # parsing the spec takes a second: once per module


@pytest.fixture
def setup(validator: SpecValidator) -> Iterator[Setup]:
    validator.clear()
    options = SandboxOptions(people=PEOPLE, seed=5, rate_limits="off")
    sim = build_simulators(options, ["pylon"])["pylon"]
    assert isinstance(sim, PylonSimulator)
    with (
        serving(build_app(sim)) as upstream,
        serving(ValidatingProxy(validator, upstream)) as proxy_url,
    ):
        context = AdapterContext(
            system="pylon",
            base_url=proxy_url,
            page_size=PAGE_SIZE,
            timeout=10.0,
            credentials={"token": DEFAULT_CREDENTIALS["pylon_token"]},
        )
        adapter = PylonAdapter(context)
        try:
            yield Setup(adapter, sim, validator, proxy_url)
        finally:
            adapter.close()


def payload_for(account_id: str, sync_id: str = PERSON, **changes: Any) -> dict[str, Any]:
    """A payload exactly as the engine makes it: a Contact mapped outbound."""
    fields: dict[str, Any] = {
        "first_name": "Dana",
        "last_name": "Scully",
        "emails": [{"address": "dana.scully@spec.example", "type": "work"}],
        "phones": [
            {"number": "+1 202 555 0100", "type": "work"},
            {"number": "+44 20 7946 0958", "type": "mobile"},
        ],
        "organization": {"refs": {"pylon": account_id}},
        "sync_id": sync_id,
        **changes,
    }
    payload, errors = MAPPING.outbound_checked(Contact(**fields))
    assert errors == []
    return payload


def requests_seen(sim: PylonSimulator) -> dict[tuple[str, str, int], int]:
    rows = sim.stats_payload()["requests"]
    return {(row["method"], row["path"], row["status"]): row["count"] for row in rows}


def test_every_adapter_operation_conforms_to_the_spec(setup: Setup) -> None:
    adapter, sim = setup.adapter, setup.sim
    live = sorted(sim.store.records)

    # extract, paging to the end
    records = list(adapter.extract(EVERYTHING))
    assert sorted(r.external_id for r in records) == live
    pages = sum(n for (m, p, _), n in requests_seen(sim).items() if (m, p) == ("GET", "/contacts"))
    assert pages == math.ceil(len(live) / PAGE_SIZE)

    # a single GET (with the limit the spec requires)
    assert adapter.get(records[0].external_id) == records[0].payload

    # create, every mapped field
    account_id = next(iter(sim.accounts.by_id))
    created = adapter.create(payload_for(account_id))
    assert created.record["account"]["id"] == account_id
    assert created.record["phone_numbers"] == ["12025550100", "442079460958"]

    # update: changed fields, and a stamp merged with another label (GET, then PATCH)
    other = adapter.create(
        {
            "name": "Fox Mulder",
            "email": "fox@spec.example",
            "external_ids": [{"label": "zendesk", "external_id": "zd-1"}],
        }
    )
    changed = payload_for(account_id, sync_id="p_01SPEC00000000000000000002", last_name="Mulder")
    changed |= {"email": "fox.mulder@spec.example"}
    updated = adapter.update(other.external_id, changed, current=None)
    assert updated.record["name"] == "Dana Mulder"
    assert [e["label"] for e in updated.record["external_ids"]] == ["zendesk", "contactsync"]
    plain = adapter.update(created.external_id, {"name": "Dana K. Scully"}, current=created.record)
    assert plain.record["name"] == "Dana K. Scully"

    # the email search behind find_existing
    assert adapter.find_existing(payload_for(account_id), PERSON) == created.external_id
    assert adapter.find_existing(payload_for(account_id), "p_01NOBODY") is None

    # a duplicate create names the existing contact
    with pytest.raises(DuplicateError) as info:
        adapter.create(payload_for(account_id, sync_id="p_01SPEC00000000000000000003"))
    assert info.value.existing_id == created.external_id

    # delete
    adapter.delete(other.external_id)
    assert other.external_id not in sim.store.records

    seen = requests_seen(sim)
    assert {(m, p) for (m, p, _) in seen} == {
        ("GET", "/contacts"),
        ("GET", "/contacts/{id}"),
        ("POST", "/contacts"),
        ("PATCH", "/contacts/{id}"),
        ("POST", "/contacts/search"),
        ("DELETE", "/contacts/{id}"),
    }
    assert ("POST", "/contacts", 400) in seen  # the duplicate went through the proxy too
    violations = setup.validator.violations
    assert [f"{v.operation} {v.direction} {v.status}: {v.message}" for v in violations] == []
    listed = httpx.get(f"{setup.proxy_url}/_proxy/violations", timeout=10.0).json()
    assert listed == {"count": 0, "violations": []}


def test_the_proxy_would_catch_a_get_without_the_required_limit(setup: Setup) -> None:
    """The check above can fail: the same proxy flags what the adapter avoids sending."""
    some_id = next(iter(setup.sim.store.records))
    token = DEFAULT_CREDENTIALS["pylon_token"]
    response = httpx.get(
        f"{setup.proxy_url}/contacts/{some_id}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10.0,
    )
    assert response.status_code == 200
    assert [(v.operation, v.direction) for v in setup.validator.violations] == [
        ("GetContact", "request")
    ]
