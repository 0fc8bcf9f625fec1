"""Xurrent adapter: the shared contract plus people and organization-contact rules,
live against the sandbox and replayed from cassettes.

Person payloads are produced the way the engine produces them: a canonical
``Contact`` mapped outbound through ``mappings/xurrent.toml``. Re-record the
cassettes with ``CONTACTSYNC_RECORD=1 .venv/bin/pytest tests/adapters/test_xurrent.py``.
"""

from __future__ import annotations

import math
import os
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from contactsync.adapters.base import AdapterContext, Window
from contactsync.adapters.xurrent.adapter import XurrentAdapter, channels_to_canonical
from contactsync.http.errors import DuplicateError, NotFoundError, RecordError
from contactsync.model.contact import ChannelLabel, Contact, OrgChannel, normalize_phone
from contactsync_sandbox.common import SandboxOptions
from contactsync_sandbox.server import SandboxServer
from contactsync_sandbox.xurrent import XurrentSimulator
from tests.adapter_contract import FAR_FUTURE, PERSON_ID, AdapterContract, Harness
from tests.adapters.helpers import contract_person, load_mapping, outbound

MAPPING = load_mapping("xurrent")


def mapped(contact: Contact) -> dict[str, Any]:
    return outbound(MAPPING, contact)


def person(n: int, sync_id: str | None = PERSON_ID, **changes: Any) -> Contact:
    return contract_person(n, sync_id, **{"job_title": "Claims Adjuster", **changes})


def admin_organizations(harness: Harness) -> dict[str, list[dict[str, Any]]]:
    """Organization id -> its contacts, as the sandbox holds them."""
    response = harness.admin.client.get(f"{harness.admin.admin_url}/_sandbox/records")
    response.raise_for_status()
    return {str(org["id"]): org["contacts"] for org in response.json()["organizations"]}


def xurrent(harness: Harness) -> XurrentAdapter:
    assert isinstance(harness.adapter, XurrentAdapter)
    return harness.adapter


def organization_with_channels(harness: Harness, at_least: int) -> str:
    held = admin_organizations(harness)
    configured = xurrent(harness).organization_ids()
    return next(org for org in configured if len(held.get(org, [])) >= at_least)


class TestXurrent(AdapterContract):
    system = "xurrent"
    updated_field = "updated_at"

    def new_payload(self, n: int) -> dict[str, Any]:
        return mapped(person(n))

    def changed_payload(self, payload: dict[str, Any]) -> dict[str, Any]:
        return {**payload, "job_title": "Senior Claims Adjuster", "name": payload["name"] + " Jr"}

    def invalid_payload(self) -> dict[str, Any]:
        return {"name": "Invalid Email", "primary_email": "not-an-email"}

    def assert_updated(self, record: dict[str, Any], changed: dict[str, Any]) -> None:
        assert record["job_title"] == "Senior Claims Adjuster"
        assert record["name"] == changed["name"]
        assert (record["source"], record["sourceID"]) == ("contactsync", PERSON_ID)

    def extra_list_requests(self, n: int, size: int) -> int:
        return 0  # the Link header has no rel="next" on the last page, even an exact multiple

    # --- people ---------------------------------------------------------------------------

    def test_extract_reads_the_mapped_fields_and_offset_timestamps(self, harness: Harness) -> None:
        records = self._extract_all(harness.adapter)
        assert records
        for record in records[:20]:
            assert {"name", "primary_email", "sourceID", "contacts"} <= set(record.payload)
            stamp = datetime.fromisoformat(record.payload["updated_at"])
            assert record.updated_at == stamp
            assert record.updated_at.tzinfo is UTC
            contact, errors = MAPPING.inbound(record.payload)
            assert contact is not None, errors
            assert contact.primary_email == record.payload["primary_email"].lower()

    def test_archive_hides_the_person_from_the_next_extract(self, harness: Harness) -> None:
        created = harness.adapter.create(self.new_payload(4))
        harness.adapter.delete(created.external_id)
        ids = {r.external_id for r in self._extract_all(harness.adapter)}
        assert created.external_id not in ids
        with pytest.raises(NotFoundError) as info:
            harness.adapter.delete("99999999")
        assert "xurrent" in str(info.value)
        assert "99999999" in str(info.value)

    def test_an_update_moves_the_person_into_a_later_window(self, harness: Harness) -> None:
        records = sorted(self._extract_all(harness.adapter), key=lambda r: r.updated_at or 0)
        newest = records[-1]
        assert newest.updated_at is not None
        oldest = records[0]
        harness.adapter.update(oldest.external_id, {"job_title": "Moved Into The Window"})
        later = {
            r.external_id for r in harness.adapter.extract(Window(newest.updated_at, FAR_FUTURE))
        }
        assert oldest.external_id in later

    def test_taken_email_is_a_duplicate_naming_the_holder(self, harness: Harness) -> None:
        holder = self._extract_all(harness.adapter)[0]
        payload = mapped(person(5))
        payload["primary_email"] = holder.payload["primary_email"].upper()
        with pytest.raises(DuplicateError) as info:
            harness.adapter.create(payload)
        assert info.value.existing_id == holder.external_id
        assert "primary_email" in info.value.fields

    # --- organization contacts -------------------------------------------------------------

    def test_organization_channels_are_every_configured_organizations_contacts(
        self, harness: Harness
    ) -> None:
        held = admin_organizations(harness)
        records = list(harness.adapter.organization_channels())
        configured = xurrent(harness).organization_ids()
        expected = {(org, str(c["id"])) for org in configured for c in held.get(org, [])}
        assert {(r.organization_id, r.external_id) for r in records} == expected
        assert len(records) == len(expected), "duplicates in the channel snapshot"
        canonical = channels_to_canonical(records)
        assert [c.external_id for c in canonical] == [r.external_id for r in records]

    def test_channel_create_update_delete_round_trip(self, harness: Harness) -> None:
        adapter = xurrent(harness)
        org = adapter.organization_ids()[0]
        created = adapter.create_channel(
            org, {"label": "service_desk", "email": "desk@org.example"}
        )
        assert created.record["email"] == "desk@org.example"
        updated = adapter.update_channel(
            org, created.external_id, {"label": "fax", "telephone": "+1 404 555 0199"}
        )
        assert updated.external_id == created.external_id
        held = {str(c["id"]): c for c in admin_organizations(harness)[org]}
        assert held[created.external_id]["label"] == "fax"
        assert held[created.external_id]["telephone"] == "+1 404 555 0199"
        assert "email" not in held[created.external_id]
        adapter.delete_channel(org, created.external_id)
        assert created.external_id not in {str(c["id"]) for c in admin_organizations(harness)[org]}

    def test_invalid_channel_is_refused_before_anything_is_sent(self, harness: Harness) -> None:
        adapter = xurrent(harness)
        org = adapter.organization_ids()[0]
        with pytest.raises(RecordError) as info:
            adapter.create_channel(org, {"label": "fax", "email": "fax@org.example"})
        assert "xurrent" in str(info.value)
        assert "label" in info.value.fields
        assert harness.admin.writes() == 0

    def test_replace_channels_makes_the_fewest_writes(self, harness: Harness) -> None:
        adapter = xurrent(harness)
        org = organization_with_channels(harness, 2)
        before = adapter.list_channels(org)
        kept = channels_to_canonical_rows(before[:1])
        desired = [*kept, OrgChannel(label=ChannelLabel.SERVICE_DESK, website="help.org.example")]
        results = adapter.replace_channels(org, desired)
        # the first channel stays as is; the second takes over one of the others (update)
        # and the rest are deleted one by one
        assert results[0].external_id == str(before[0]["id"])
        assert harness.admin.writes() == 1 + (len(before) - 2)
        after = admin_organizations(harness)[org]
        assert [str(c["id"]) for c in after] == [r.external_id for r in results]
        assert after[1]["website"] == "help.org.example"

    def test_replace_with_nothing_removes_all_in_one_request(self, harness: Harness) -> None:
        adapter = xurrent(harness)
        org = organization_with_channels(harness, 2)
        assert adapter.replace_channels(org, []) == []
        assert admin_organizations(harness)[org] == []
        assert harness.admin.writes() == 1


def channels_to_canonical_rows(rows: list[dict[str, Any]]) -> list[OrgChannel]:
    """Rows as canonical channels, formatted differently (a reformat is not a change)."""
    channels = []
    for row in rows:
        values = {k: row[k] for k in ("telephone", "email", "website") if row.get(k)}
        if "email" in values:
            values["email"] = values["email"].upper()
        if "telephone" in values:
            values["telephone"] = normalize_phone(values["telephone"])[0]
        channels.append(OrgChannel(label=row["label"], **values))
    return channels


# --- vendor rate limits ------------------------------------------------------------------------

#: writes in the rate-limit test: enough for several burst windows, fast enough for CI (the
#: full "extract + 200 writes" was run by hand the same way: XURRENT_VENDOR_WRITES=200)
VENDOR_WRITES = int(os.environ.get("XURRENT_VENDOR_WRITES", "70"))


def test_vendor_rate_limits_extract_and_writes_without_failures() -> None:
    """Against ``rate_limits="vendor"`` (20 requests per 2 s, 3600 per hour) a full extract,
    the organization snapshot and a batch of writes all succeed, with at most one 429 per
    burst window (the client's default budget keeps under the limit)."""
    server = SandboxServer(
        SandboxOptions(people=150, seed=11, rate_limits="vendor"), port_base=0, systems=["xurrent"]
    )
    server.start()
    try:
        simulator = server.simulators["xurrent"]
        assert isinstance(simulator, XurrentSimulator)
        adapter = XurrentAdapter(
            AdapterContext(
                system="xurrent",
                base_url=server.urls["xurrent"],
                page_size=50,
                timeout=10.0,
                credentials={"token": simulator.token},
                defaults={
                    "account_id": simulator.account_id,
                    "organization_ids": sorted(simulator.store.organizations),
                },
            )
        )
        started = time.monotonic()
        people = list(adapter.extract(Window(None, FAR_FUTURE)))
        list(adapter.organization_channels())
        created: list[str] = []
        for n in range(VENDOR_WRITES):
            if n % 3 == 0:
                created.append(adapter.create(mapped(person(100 + n))).external_id)
            elif n % 3 == 1:
                adapter.update(people[n % len(people)].external_id, {"job_title": f"Adjuster {n}"})
            else:
                adapter.delete(created[-1])
        elapsed = time.monotonic() - started
        stats = httpx.get(server.admin_url("xurrent", "stats"), timeout=10.0).json()
    finally:
        server.stop()
    by_status = Counter[int]()
    for row in stats["requests"]:
        by_status[row["status"]] += row["count"]
    assert set(by_status) <= {200, 201, 429}, by_status
    windows = math.ceil(elapsed / XurrentSimulator.BURST_WINDOW)
    assert by_status[429] <= windows, (by_status, elapsed)
    assert by_status[200] + by_status[201] >= VENDOR_WRITES + len(people) // 50
